package data

import (
	"fmt"
	"math"
	"strings"

	"github.com/softcpt/softcpt-go/clip/imageproc"
)

// Item is one labelled image of a task split.
type Item struct {
	// Path is the image file: the task's ImageDir joined with the path
	// stored in the split (so it is absolute when the data root is).
	Path string
	// Label is the 0-based class index within the item's task.
	Label int
}

// Metric names the per-task evaluation metric.
type Metric string

const (
	// Accuracy is plain top-1 accuracy over all test samples (the
	// authors' "overall_acc").
	Accuracy Metric = "accuracy"
	// MeanPerClass is the mean per-class recall read off the confusion
	// matrix (the authors' "mean_acc").
	MeanPerClass Metric = "mean_per_class"
)

// ParseMetric maps a metric name to a Metric. Besides the package's own
// names it accepts the authors' "overall_acc" and "mean_acc".
func ParseMetric(s string) (Metric, error) {
	switch strings.TrimSpace(s) {
	case string(Accuracy), "overall_acc", "acc":
		return Accuracy, nil
	case string(MeanPerClass), "mean_acc", "mean_per_class_accuracy":
		return MeanPerClass, nil
	}
	return "", fmt.Errorf("unknown metric %q (want %q/%q or %q/%q)", s, Accuracy, "overall_acc", MeanPerClass, "mean_acc")
}

// Task is one few-shot classification task of a benchmark.
type Task struct {
	// Name is the task id, unique within a benchmark (e.g. "oxford_pets").
	Name string
	// TaskName is the phrase fed to SoftCPT's task prompt learner
	// (e.g. "pet breed image classification").
	TaskName string
	// Classes holds the class names, indexed by label.
	Classes []string
	// Metric is the task's evaluation metric.
	Metric Metric
	// Template is the zero-shot prompt template; "{}" marks the class name.
	Template string
	// Group is an optional grouping tag (e.g. "shoes" for Fashion-20).
	Group string
	// ImageDir is the directory the split's relative image paths were
	// resolved against. Caches store paths relative to it.
	ImageDir string
	// Train, Val and Test are the task's splits.
	Train, Val, Test []Item
}

// NumClasses returns len(t.Classes).
func (t *Task) NumClasses() int { return len(t.Classes) }

// Prompt returns the zero-shot prompt for class label c: the template with
// "{}" replaced by the class name, with underscores turned into spaces
// as CoOp does.
func (t *Task) Prompt(c int) string {
	name := strings.ReplaceAll(t.Classes[c], "_", " ")
	return strings.Replace(t.Template, "{}", name, 1)
}

// Clone returns a copy of t whose slices are new (items are values).
func (t *Task) Clone() *Task {
	c := *t
	c.Classes = append([]string(nil), t.Classes...)
	c.Train = append([]Item(nil), t.Train...)
	c.Val = append([]Item(nil), t.Val...)
	c.Test = append([]Item(nil), t.Test...)
	return &c
}

// Benchmark is an ordered list of tasks; the task id is the index.
type Benchmark struct {
	Name  string
	Tasks []*Task
	// Load decodes the image of an item path; nil reads the file
	// (imageproc.LoadRGB). Benchmarks whose images are not files (a
	// packed benchmark, realdata) set it.
	Load func(path string) (*imageproc.RGB, error)
}

// Image decodes the image of an item path with b.Load, or from the file.
func (b *Benchmark) Image(path string) (*imageproc.RGB, error) {
	if b.Load != nil {
		return b.Load(path)
	}
	return imageproc.LoadRGB(path)
}

// Task returns the task with the given name, or nil.
func (b *Benchmark) Task(name string) *Task {
	for _, t := range b.Tasks {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// NumClasses returns the total number of classes over all tasks (ΣC).
func (b *Benchmark) NumClasses() int {
	n := 0
	for _, t := range b.Tasks {
		n += len(t.Classes)
	}
	return n
}

// Score returns the metric, in percent, of the predictions preds against
// labels for a task with numClasses classes.
//
// Accuracy is 100·correct/len(labels). MeanPerClass builds the
// numClasses×numClasses confusion matrix (rows = true class) and averages
// diag/row-sum over the rows that have at least one sample: a class with
// no test samples is left out of the mean. (The authors' evaluator divides
// by every row sum, so such a class would make their mean_acc NaN; with the
// official splits every class has test samples, where both agree.)
// With no labels the score is NaN.
//
// Score panics if len(preds) != len(labels), if metric is unknown, or if a
// label or prediction lies outside [0, numClasses): those are programming
// errors, since task labels are validated when a task is loaded.
func Score(metric Metric, numClasses int, preds, labels []int) float64 {
	if len(preds) != len(labels) {
		panic(fmt.Sprintf("data.Score: %d predictions for %d labels", len(preds), len(labels)))
	}
	for i := range labels {
		if labels[i] < 0 || labels[i] >= numClasses || preds[i] < 0 || preds[i] >= numClasses {
			panic(fmt.Sprintf("data.Score: sample %d: label %d / prediction %d outside [0,%d)", i, labels[i], preds[i], numClasses))
		}
	}
	if len(labels) == 0 {
		return math.NaN()
	}
	switch metric {
	case Accuracy:
		correct := 0
		for i := range labels {
			if preds[i] == labels[i] {
				correct++
			}
		}
		return 100 * float64(correct) / float64(len(labels))
	case MeanPerClass:
		cm := ConfusionMatrix(numClasses, preds, labels)
		sum, rows := 0.0, 0
		for c := 0; c < numClasses; c++ {
			total := 0
			for _, v := range cm[c] {
				total += v
			}
			if total == 0 {
				continue
			}
			sum += float64(cm[c][c]) / float64(total)
			rows++
		}
		return 100 * sum / float64(rows)
	}
	panic(fmt.Sprintf("data.Score: unknown metric %q", metric))
}

// ConfusionMatrix returns the numClasses×numClasses matrix m with
// m[true][pred] counting the samples. Labels and predictions must lie in
// [0, numClasses).
func ConfusionMatrix(numClasses int, preds, labels []int) [][]int {
	cm := make([][]int, numClasses)
	for i := range cm {
		cm[i] = make([]int, numClasses)
	}
	for i := range labels {
		cm[labels[i]][preds[i]]++
	}
	return cm
}

// MeanScore returns the unweighted mean of per-task scores (the authors'
// overall_metric).
func MeanScore(scores []float64) float64 {
	if len(scores) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, v := range scores {
		s += v
	}
	return s / float64(len(scores))
}
