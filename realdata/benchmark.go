package realdata

import (
	"io"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/clip/imageproc"
)

// Metric names a task's evaluation metric.
const (
	// MetricAccuracy is plain top-1 accuracy over the test items.
	MetricAccuracy = "accuracy"
	// MetricMeanPerClass is top-1 recall averaged over classes (for
	// imbalanced test sets).
	MetricMeanPerClass = "mean_per_class"
)

// Item is one labelled image of a task.
type Item struct {
	// Image indexes Benchmark.Images.
	Image int `json:"i"`
	// Label indexes Task.Classes.
	Label int `json:"l"`
}

// Task is one classification task of the benchmark.
type Task struct {
	// ID is unique in the benchmark, "group/name" (e.g. "general/playing-cards").
	ID string `json:"id"`
	// Group is the task set the task belongs to ("general", "nature", "attributes").
	Group string `json:"group"`
	// Phrase is the task name fed to the task encoder ("playing card"):
	// words the small CLIP was pretrained on (its captions never say
	// "recognition" or "classification", and a word it never saw makes
	// every task prompt encode alike), read after the task context as
	// "<task context> <phrase>.".
	Phrase string `json:"phrase"`
	// Classes are the class names in label order.
	Classes []string `json:"classes"`
	// Template is the zero-shot prompt; "{}" is replaced by a class name.
	Template string `json:"template"`
	// Metric is MetricAccuracy or MetricMeanPerClass.
	Metric string `json:"metric"`
	// Train is the pool few-shot training images are drawn from.
	Train []Item `json:"train"`
	// Test is the evaluation set (held out of the pretraining pairs).
	Test []Item `json:"test"`
	// Notes describes where the images come from and how they were split.
	Notes string `json:"notes,omitempty"`
	// OutsideShotCurve marks a task whose pool holds fewer than MinShots
	// training images for some class, so that its K-shot results for
	// larger K are not K-shot results; it then sits outside the shot
	// curve. No task of the shipped benchmark carries it.
	OutsideShotCurve bool `json:"outside_shot_curve,omitempty"`
}

// MinShots is the least number of training images per class a task must
// have to sit on the shot curve (1 to 16 shots).
const MinShots = 16

// MinTrainPerClass returns the smallest number of training images of any
// class of t (0 if a class has none).
func (t *Task) MinTrainPerClass() int {
	count := make([]int, len(t.Classes))
	for _, it := range t.Train {
		if it.Label >= 0 && it.Label < len(count) {
			count[it.Label]++
		}
	}
	m := -1
	for _, c := range count {
		if m < 0 || c < m {
			m = c
		}
	}
	return max(m, 0)
}

// Benchmark is the multi-task few-shot benchmark.
type Benchmark struct {
	// Kind is KindBenchmark.
	Kind string `json:"kind"`
	// ImageSize is the side of the square images.
	ImageSize int `json:"image_size"`
	// Sources lists every upstream source with its licence.
	Sources []Source `json:"sources"`
	// ImageSources gives, per image, the index into Sources it came from.
	ImageSources []int `json:"image_sources"`
	// Groups lists the task sets in order.
	Groups []string `json:"groups"`
	// Tasks lists every task.
	Tasks []Task `json:"tasks"`
	// Notes documents the protocol (splits, caps).
	Notes string `json:"notes,omitempty"`
	// Images holds the pixels of every image referenced by the tasks.
	Images *Images `json:"-"`
}

// Image returns a copy of benchmark image i.
func (b *Benchmark) Image(i int) *imageproc.RGB { return b.Images.Image(i) }

// Pixels returns benchmark image i as a read-only H×W×3 slice.
func (b *Benchmark) Pixels(i int) []uint8 { return b.Images.Pixels(i) }

// TasksIn returns the tasks of a group, in file order.
func (b *Benchmark) TasksIn(group string) []*Task {
	var out []*Task
	for i := range b.Tasks {
		if b.Tasks[i].Group == group {
			out = append(out, &b.Tasks[i])
		}
	}
	return out
}

// Task returns the task with the given ID, or nil.
func (b *Benchmark) Task(id string) *Task {
	for i := range b.Tasks {
		if b.Tasks[i].ID == id {
			return &b.Tasks[i]
		}
	}
	return nil
}

// OpenBenchmark reads and validates a benchmark pack.
func OpenBenchmark(path string) (*Benchmark, error) {
	b := &Benchmark{}
	imgs, err := readPack(path, b)
	return b.finish(imgs, err, path)
}

// ReadBenchmark reads and validates a benchmark pack from r (for example
// a strings.Reader or bytes.Reader over an embedded copy), whose Size
// bounds what the pack may declare; name identifies it in errors.
func ReadBenchmark(r interface {
	io.Reader
	Size() int64
}, name string) (*Benchmark, error) {
	b := &Benchmark{}
	imgs, err := decodePack(r, r.Size(), name, b)
	return b.finish(imgs, err, name)
}

// finish validates a benchmark whose pack was read from path.
func (b *Benchmark) finish(imgs *Images, err error, path string) (*Benchmark, error) {
	if err != nil {
		return nil, err
	}
	b.Images = imgs
	if err := b.validate(); err != nil {
		return nil, errors.Wrapf(err, "realdata: %s: invalid benchmark; %s", path, RegenerateHint)
	}
	return b, nil
}

// WriteBenchmark writes b (after validating it) to path.
func WriteBenchmark(path string, b *Benchmark) error {
	b.Kind = KindBenchmark
	if err := b.validate(); err != nil {
		return errors.Wrapf(err, "realdata: refusing to write invalid benchmark %s", path)
	}
	return writePack(path, b, b.Images)
}

// validate checks the internal consistency of b.
func (b *Benchmark) validate() error {
	if b.Kind != KindBenchmark {
		return errors.Errorf("kind %q, want %q", b.Kind, KindBenchmark)
	}
	if b.Images == nil || b.Images.W != b.ImageSize || b.Images.H != b.ImageSize {
		return errors.Errorf("image size mismatch (image_size %d)", b.ImageSize)
	}
	n := b.Images.Len()
	if len(b.ImageSources) != n {
		return errors.Errorf("%d image sources for %d images", len(b.ImageSources), n)
	}
	for i, s := range b.ImageSources {
		if s < 0 || s >= len(b.Sources) {
			return errors.Errorf("image %d: source index %d out of range", i, s)
		}
	}
	groups := map[string]bool{}
	for _, g := range b.Groups {
		groups[g] = true
	}
	ids := map[string]bool{}
	for ti := range b.Tasks {
		t := &b.Tasks[ti]
		if t.ID == "" || ids[t.ID] {
			return errors.Errorf("task %d: empty or duplicate id %q", ti, t.ID)
		}
		ids[t.ID] = true
		if !groups[t.Group] {
			return errors.Errorf("task %s: unknown group %q", t.ID, t.Group)
		}
		if t.Metric != MetricAccuracy && t.Metric != MetricMeanPerClass {
			return errors.Errorf("task %s: unknown metric %q", t.ID, t.Metric)
		}
		if len(t.Classes) < 2 {
			return errors.Errorf("task %s: %d classes", t.ID, len(t.Classes))
		}
		names := map[string]bool{}
		for _, c := range t.Classes {
			if c == "" || names[c] {
				return errors.Errorf("task %s: empty or duplicate class name %q", t.ID, c)
			}
			names[c] = true
		}
		for _, part := range []struct {
			name  string
			items []Item
		}{{"train", t.Train}, {"test", t.Test}} {
			for _, it := range part.items {
				if it.Image < 0 || it.Image >= n || it.Label < 0 || it.Label >= len(t.Classes) {
					return errors.Errorf("task %s: %s item %+v out of range (%d images, %d classes)", t.ID, part.name, it, n, len(t.Classes))
				}
			}
		}
	}
	return nil
}
