package realdata

import (
	"strconv"
	"strings"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/clip/imageproc"
	"github.com/softcpt/softcpt-go/data"
)

// imagePrefix starts the item paths of the benchmarks FewShot returns:
// "img:N" names image N of the pack.
const imagePrefix = "img:"

// FewShot returns the tasks of one group as a data.Benchmark named
// "real-GROUP" whose items are images of the pack (paths "img:N", loaded
// by the benchmark's Load): K training shots per class drawn from each
// task's pool with seed (data.FewShot, seeded by data.TaskSeed of the task
// id), valShots validation shots per class drawn from the rest of the
// pool (seeded by the task id + "/val"), and the whole test set. K = 0
// gives no training or validation images, K = data.AllShots the whole
// pool for training and none for validation.
func (b *Benchmark) FewShot(group string, k, valShots int, seed uint64) *data.Benchmark {
	out := &data.Benchmark{Name: "real-" + group, Load: b.load}
	for _, rt := range b.TasksIn(group) {
		items := func(its []Item) []data.Item {
			out := make([]data.Item, len(its))
			for i, it := range its {
				out[i] = data.Item{Path: imagePrefix + strconv.Itoa(it.Image), Label: it.Label}
			}
			return out
		}
		t := &data.Task{Name: rt.ID, TaskName: rt.Phrase, Classes: rt.Classes, Template: rt.Template, Group: rt.Group,
			Metric: data.Accuracy, Test: items(rt.Test)}
		if rt.Metric == MetricMeanPerClass {
			t.Metric = data.MeanPerClass
		}
		if k == data.AllShots {
			// All the training data; no image is left for validation.
			t.Train = items(rt.Train)
		} else if k > 0 {
			pool := items(rt.Train)
			t.Train = data.FewShot(pool, len(rt.Classes), k, data.TaskSeed(rt.ID, seed))
			picked := map[string]bool{}
			for _, it := range t.Train {
				picked[it.Path] = true
			}
			var rest []data.Item
			for _, it := range pool {
				if !picked[it.Path] {
					rest = append(rest, it)
				}
			}
			t.Val = data.FewShot(rest, len(rt.Classes), valShots, data.TaskSeed(rt.ID+"/val", seed))
		}
		out.Tasks = append(out.Tasks, t)
	}
	return out
}

// load decodes the image of an item path "img:N".
func (b *Benchmark) load(path string) (*imageproc.RGB, error) {
	i, err := strconv.Atoi(strings.TrimPrefix(path, imagePrefix))
	if !strings.HasPrefix(path, imagePrefix) || err != nil || i < 0 || i >= b.Images.Len() {
		return nil, errors.Errorf("realdata: no image %q in the benchmark (%d images)", path, b.Images.Len())
	}
	return b.Image(i), nil
}
