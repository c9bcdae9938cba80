package softcpt_test

import (
	"context"
	"fmt"
	"strconv"

	"github.com/softcpt/softcpt-go/clip/imageproc"
	"github.com/softcpt/softcpt-go/data"
	"github.com/softcpt/softcpt-go/realdata"
	"github.com/softcpt/softcpt-go/shipped"
	"github.com/softcpt/softcpt-go/softcpt"
)

// Example trains SoftCPT-NATA on two tasks of the shipped benchmark with
// the shipped small CLIP: 4 shots per class, image features computed once
// and cached (Featurizer, TrainFeatures), a short schedule, then the
// per-task test scores of the learned prompts (NewClassifier, data.Score).
func Example() {
	ctx := context.Background()
	m, err := shipped.OpenModel("", "")
	if err != nil {
		fmt.Println(err)
		return
	}
	bench, _, err := shipped.OpenBenchmark("")
	if err != nil {
		fmt.Println(err)
		return
	}
	examples := func(t int, items []realdata.Item) []softcpt.Example {
		out := make([]softcpt.Example, len(items))
		for i, it := range items {
			out[i] = softcpt.Example{Task: t, Label: it.Label, Name: "image " + strconv.Itoa(it.Image),
				Load: func() (*imageproc.RGB, error) { return bench.Image(it.Image), nil }}
		}
		return out
	}
	var tasks []softcpt.TaskSpec
	var metrics []data.Metric
	var train, test []softcpt.Example
	for t, id := range []string{"nature/plants", "nature/birds"} {
		rt := bench.Task(id)
		tasks = append(tasks, softcpt.TaskSpec{Name: rt.ID, TaskName: rt.Phrase, Classes: rt.Classes, Template: rt.Template})
		metric := data.Accuracy
		if rt.Metric == realdata.MetricMeanPerClass {
			metric = data.MeanPerClass
		}
		metrics = append(metrics, metric)
		// 4 shots per class, drawn as the driver draws them.
		pool := make([]data.Item, len(rt.Train))
		for i, it := range rt.Train {
			pool[i] = data.Item{Path: strconv.Itoa(it.Image), Label: it.Label}
		}
		var shots []realdata.Item
		for _, it := range data.FewShot(pool, len(rt.Classes), 4, data.TaskSeed(rt.ID, 1)) {
			img, _ := strconv.Atoi(it.Path)
			shots = append(shots, realdata.Item{Image: img, Label: it.Label})
		}
		train = append(train, examples(t, shots)...)
		test = append(test, examples(t, rt.Test)...)
	}

	// The frozen image tower runs once per image; training reuses the features.
	f := &softcpt.Featurizer{Model: m.CLIP}
	trainFeats, err := f.Features(ctx, train, false, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	testFeats, err := f.Features(ctx, test, false, 0)
	if err != nil {
		fmt.Println(err)
		return
	}

	cfg, err := softcpt.MethodConfig("nata")
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg.NCtx, _, err = m.DefaultNCtx() // 4 for the shipped model, 16 for OpenAI's
	if err != nil {
		fmt.Println(err)
		return
	}
	l, err := softcpt.NewLearner(cfg, m.CLIP, m.Tokenizer, tasks, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	opt := softcpt.Defaults()
	opt.Epochs, opt.BatchSize, opt.LR, opt.Seed = 6, 16, 0.01, 1
	stats, err := softcpt.TrainFeatures(ctx, l, trainFeats, train, opt)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s, %d epochs: loss %.2f -> %.2f\n", cfg.Name, len(stats), stats[0].Loss, stats[len(stats)-1].Loss)

	// Evaluate: each test image is classified among its own task's classes.
	cls, err := softcpt.NewClassifier(l.AllClassFeatures(), []int{len(tasks[0].Classes), len(tasks[1].Classes)})
	if err != nil {
		fmt.Println(err)
		return
	}
	taskOf := make([]int, len(test))
	for i, ex := range test {
		taskOf[i] = ex.Task
	}
	pred := cls.Predict(testFeats, taskOf)
	for t, spec := range tasks {
		var p, y []int
		for i, ex := range test {
			if ex.Task == t {
				p, y = append(p, pred[i]), append(y, ex.Label)
			}
		}
		fmt.Printf("%s: %s %.1f%% on %d test images\n", spec.Name, metrics[t], data.Score(metrics[t], len(spec.Classes), p, y), len(y))
	}
	// Output:
	// SoftCPT-NATA, 6 epochs: loss 4.46 -> 2.48
	// nature/plants: accuracy 20.0% on 210 test images
	// nature/birds: accuracy 13.5% on 208 test images
}
