package experiment

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/clip/imageproc"
	"github.com/softcpt/softcpt-go/data"
	"github.com/softcpt/softcpt-go/report"
	"github.com/softcpt/softcpt-go/softcpt"
	"github.com/softcpt/softcpt-go/tensor"
)

// defaultTemplate is the zero-shot template of a task without one.
const defaultTemplate = "a photo of a {}."

// TaskScore is one task's evaluation result.
type TaskScore struct {
	Name   string  `json:"name"`
	Metric string  `json:"metric"`
	Value  float64 `json:"value"`
	N      int     `json:"n"`
}

func (s TaskScore) String() string {
	return fmt.Sprintf("%s %.2f (%s, n=%d)", s.Name, s.Value, s.Metric, s.N)
}

// spec returns the task as softcpt sees it.
func spec(t *data.Task) softcpt.TaskSpec {
	return softcpt.TaskSpec{Name: t.Name, TaskName: t.TaskName, Classes: t.Classes, Template: templates(t, nil)[0]}
}

// specs returns the task specs of a benchmark.
func specs(b *data.Benchmark) []softcpt.TaskSpec {
	s := make([]softcpt.TaskSpec, len(b.Tasks))
	for i, t := range b.Tasks {
		s[i] = spec(t)
	}
	return s
}

// templates returns a task's zero-shot templates: its own (or the
// default), then the extra ones.
func templates(t *data.Task, extra []string) []string {
	tmpl := t.Template
	if tmpl == "" {
		tmpl = defaultTemplate
	}
	return append([]string{tmpl}, extra...)
}

// taskExamples turns items of task ti of b into examples named by their
// paths, loaded by the benchmark.
func taskExamples(b *data.Benchmark, ti int, items []data.Item) []softcpt.Example {
	out := make([]softcpt.Example, len(items))
	for i, it := range items {
		path := it.Path
		out[i] = softcpt.Example{Task: ti, Label: it.Label, Name: path, Load: func() (*imageproc.RGB, error) { return b.Image(path) }}
	}
	return out
}

// examples returns the concatenated examples of one split of every task.
func examples(b *data.Benchmark, split func(*data.Task) []data.Item) []softcpt.Example {
	var out []softcpt.Example
	for i, t := range b.Tasks {
		out = append(out, taskExamples(b, i, split(t))...)
	}
	return out
}

// evaluate scores class features [ΣC,E] on every task's test set, each
// sample classified within its own task.
func (e *Experiment) evaluate(ctx context.Context, b *data.Benchmark, classFeats *tensor.Tensor) ([]TaskScore, float64, error) {
	sizes := make([]int, len(b.Tasks))
	for i, t := range b.Tasks {
		sizes[i] = len(t.Classes)
	}
	cls, err := softcpt.NewClassifier(classFeats, sizes)
	if err != nil {
		return nil, 0, err
	}
	test := examples(b, func(t *data.Task) []data.Item { return t.Test })
	feats, err := e.features(ctx, b.Name, test)
	if err != nil {
		return nil, 0, errors.Wrap(err, "encoding test images")
	}
	tasks := make([]int, len(test))
	for i, x := range test {
		tasks[i] = x.Task
	}
	preds := cls.Predict(feats, tasks)
	var scores []TaskScore
	var vals []float64
	off := 0
	for _, t := range b.Tasks {
		n := len(t.Test)
		labels := make([]int, n)
		for i, x := range t.Test {
			labels[i] = x.Label
		}
		v := data.Score(t.Metric, len(t.Classes), preds[off:off+n], labels)
		off += n
		scores = append(scores, TaskScore{Name: t.Name, Metric: string(t.Metric), Value: v, N: n})
		vals = append(vals, v)
	}
	return scores, data.MeanScore(vals), nil
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
		return bi.Main.Version
	}
	return "unknown"
}

// writeResult writes DIR/results.json (report.Result, atomically) of a
// cell of run; the task sizes and the run configuration ("run") go into
// the config beside the cell's settings.
func writeResult(dir, benchmark, method string, shots, seed int, overall float64, tasks []TaskScore, config map[string]any, run RunConfig) error {
	r := report.Result{Benchmark: benchmark, Method: method, Run: run.Name(), Shots: shots, Seed: seed, Overall: overall, Version: version()}
	sizes := map[string]int{}
	for _, t := range tasks {
		r.Tasks = append(r.Tasks, report.TaskResult{Name: t.Name, Metric: t.Metric, Value: t.Value})
		sizes[t.Name] = t.N
	}
	if config == nil {
		config = map[string]any{}
	}
	config["test_images"] = sizes
	config["run"] = run
	config["precision"] = cmp.Or(run.Precision, "fp32")
	b, err := json.Marshal(config)
	if err != nil {
		return errors.Wrap(err, "encoding the run's configuration")
	}
	r.Config = b
	return report.WriteResult(dir, r)
}
