package main

import (
	"context"
	"fmt"
	"sync"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/clip/imageproc"
	"github.com/softcpt/softcpt-go/data"
	"github.com/softcpt/softcpt-go/softcpt"
	"github.com/softcpt/softcpt-go/tensor"
)

// task is one task of an experiment with its examples as softcpt sees
// them (images behind loaders, so files and packed data look alike).
type task struct {
	spec              softcpt.TaskSpec
	metric            data.Metric
	templates         []string
	train, val, test  []softcpt.Example
	trainIDs, testIDs []string
}

// experiment is a frozen CLIP, its tokenizer and a benchmark's tasks, with
// a cache of image features shared by every method, shot and seed.
type experiment struct {
	benchmark string
	model     *clip.Model
	tok       softcpt.Tokenizer
	tasks     []*task
	feat      *softcpt.Featurizer

	// fullPrompts disables the shared-prefix text encoding.
	fullPrompts bool
	// dev runs the model (nil: the CPU).
	dev backend

	cache *featureCache
}

// featureCache holds frozen image features by example name, shared by
// experiments over the same images (other shots, seeds, methods).
type featureCache struct {
	mu sync.Mutex
	m  map[string][]float32
}

func newExperiment(benchmark string, m *clip.Model, tok softcpt.Tokenizer, tasks []*task) *experiment {
	return &experiment{benchmark: benchmark, model: m, tok: tok, tasks: tasks,
		feat: &softcpt.Featurizer{Model: m, BatchSize: 32}, cache: &featureCache{m: map[string][]float32{}}}
}

// device returns the backend that runs the model.
func (e *experiment) device() backend {
	if e.dev == nil {
		return cpuBackend{e.model}
	}
	return e.dev
}

// withTasks returns an experiment over other tasks (e.g. another few-shot
// draw) that shares this one's model, tokenizer and feature cache.
func (e *experiment) withTasks(tasks []*task) *experiment {
	c := *e
	c.tasks = tasks
	return &c
}

// examplesFromItems turns a data split into examples of task t.
func examplesFromItems(t int, items []data.Item) []softcpt.Example {
	out := make([]softcpt.Example, len(items))
	for i, it := range items {
		path := it.Path
		out[i] = softcpt.Example{Task: t, Label: it.Label, Name: path, Load: func() (*imageproc.RGB, error) { return imageproc.LoadRGB(path) }}
	}
	return out
}

// tasksFromBenchmark converts a (few-shot sampled) data.Benchmark.
func tasksFromBenchmark(b *data.Benchmark) []*task {
	var out []*task
	for i, t := range b.Tasks {
		tmpl := t.Template
		if tmpl == "" {
			tmpl = "a photo of a {}."
		}
		out = append(out, &task{
			spec:      softcpt.TaskSpec{Name: t.Name, TaskName: t.TaskName, Classes: t.Classes, Template: tmpl},
			metric:    t.Metric,
			templates: []string{tmpl},
			train:     examplesFromItems(i, t.Train),
			val:       examplesFromItems(i, t.Val),
			test:      examplesFromItems(i, t.Test),
		})
	}
	return out
}

// specs returns the task specs of the experiment.
func (e *experiment) specs() []softcpt.TaskSpec {
	s := make([]softcpt.TaskSpec, len(e.tasks))
	for i, t := range e.tasks {
		s[i] = t.spec
	}
	return s
}

// features returns the frozen image features of exs, computing only those
// not cached yet (keyed by example name).
func (e *experiment) features(ctx context.Context, exs []softcpt.Example) (*tensor.Tensor, error) {
	E := e.model.Config.EmbedDim
	var missing []softcpt.Example
	c := e.cache
	c.mu.Lock()
	seen := map[string]bool{}
	for _, x := range exs {
		if _, ok := c.m[x.Name]; !ok && !seen[x.Name] {
			missing = append(missing, x)
			seen[x.Name] = true
		}
	}
	c.mu.Unlock()
	if len(missing) > 0 {
		f, err := e.device().imageFeatures(ctx, e.feat, missing)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		for i, x := range missing {
			c.m[x.Name] = append([]float32(nil), f.Data()[i*E:(i+1)*E]...)
		}
		c.mu.Unlock()
	}
	out := tensor.New(len(exs), E)
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, x := range exs {
		copy(out.Data()[i*E:], c.m[x.Name])
	}
	return out, nil
}

// allTest returns the concatenated test examples of every task.
func (e *experiment) allTest() []softcpt.Example {
	var out []softcpt.Example
	for _, t := range e.tasks {
		out = append(out, t.test...)
	}
	return out
}

// allTrain returns the concatenated training examples of every task.
func (e *experiment) allTrain() []softcpt.Example {
	var out []softcpt.Example
	for _, t := range e.tasks {
		out = append(out, t.train...)
	}
	return out
}

// taskScore is one task's evaluation result.
type taskScore struct {
	Name   string  `json:"name"`
	Metric string  `json:"metric"`
	Value  float64 `json:"value"`
	N      int     `json:"n"`
}

// evaluate scores class features [ΣC,E] on every task's test set, each
// sample classified within its own task.
func (e *experiment) evaluate(ctx context.Context, classFeats *tensor.Tensor) ([]taskScore, float64, error) {
	sizes := make([]int, len(e.tasks))
	for i, t := range e.tasks {
		sizes[i] = len(t.spec.Classes)
	}
	cls, err := softcpt.NewClassifier(classFeats, sizes)
	if err != nil {
		return nil, 0, err
	}
	test := e.allTest()
	feats, err := e.features(ctx, test)
	if err != nil {
		return nil, 0, errors.Wrap(err, "encoding test images")
	}
	tasks := make([]int, len(test))
	for i, x := range test {
		tasks[i] = x.Task
	}
	preds := cls.Predict(feats, tasks)
	var scores []taskScore
	var vals []float64
	off := 0
	for _, t := range e.tasks {
		n := len(t.test)
		labels := make([]int, n)
		for i, x := range t.test {
			labels[i] = x.Label
		}
		v := data.Score(t.metric, len(t.spec.Classes), preds[off:off+n], labels)
		off += n
		scores = append(scores, taskScore{Name: t.spec.Name, Metric: string(t.metric), Value: v, N: n})
		vals = append(vals, v)
	}
	return scores, data.MeanScore(vals), nil
}

// zeroShot evaluates zero-shot CLIP with each task's templates.
func (e *experiment) zeroShot(ctx context.Context) ([]taskScore, float64, error) {
	tmpl := make([][]string, len(e.tasks))
	for i, t := range e.tasks {
		tmpl[i] = t.templates
	}
	w, err := e.device().zeroShotFeatures(e.tok, e.specs(), tmpl)
	if err != nil {
		return nil, 0, err
	}
	return e.evaluate(ctx, w)
}

// trainMethod trains a prompt learner with cfg and evaluates it.
func (e *experiment) trainMethod(ctx context.Context, cfg softcpt.Config, opt softcpt.TrainOptions, learnerSeed uint64) ([]taskScore, float64, []softcpt.EpochStats, *softcpt.Learner, error) {
	l, err := softcpt.NewLearner(cfg, e.model, e.tok, e.specs(), learnerSeed)
	if err != nil {
		return nil, 0, nil, nil, err
	}
	l.FullPrompts = e.fullPrompts
	train := e.allTrain()
	var hist []softcpt.EpochStats
	if opt.Augment {
		if _, cpu := e.device().(cpuBackend); !cpu {
			logf("%s: --augment re-encodes the training images every epoch on the CPU; training runs on the CPU", cfg.Name)
		}
		hist, err = softcpt.Train(ctx, l, e.feat, train, opt)
	} else {
		var feats *tensor.Tensor
		if feats, err = e.features(ctx, train); err != nil {
			return nil, 0, nil, nil, errors.Wrap(err, "encoding training images")
		}
		hist, err = e.device().trainFeatures(ctx, l, e.tok, feats, train, opt)
	}
	if err != nil {
		return nil, 0, hist, nil, err
	}
	scores, overall, err := e.evaluate(ctx, l.AllClassFeatures())
	return scores, overall, hist, l, err
}

// transfer evaluates a trained learner's prompts on this experiment's
// tasks (base-to-new: the same tasks with other classes): a new learner
// is built from this experiment's class names, so the fixed prompt parts
// are those of the new classes, and the learned tensors are copied in.
func (e *experiment) transfer(ctx context.Context, trained *softcpt.Learner) ([]taskScore, float64, error) {
	l, err := softcpt.NewLearner(trained.Cfg, e.model, e.tok, e.specs(), 0)
	if err != nil {
		return nil, 0, err
	}
	if err := l.LoadState(trained.State()); err != nil {
		return nil, 0, errors.Wrapf(err, "%s prompts do not transfer to new classes (class-specific contexts)", trained.Cfg.Name)
	}
	return e.evaluate(ctx, l.AllClassFeatures())
}

func (s taskScore) String() string {
	return fmt.Sprintf("%s %.2f (%s, n=%d)", s.Name, s.Value, s.Metric, s.N)
}
