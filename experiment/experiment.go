// Package experiment runs experiments: a benchmark, a frozen CLIP model
// and a grid (methods × shots × seeds, with their hyper-parameters) whose
// cells write their results into an output root, in the folders that
// 'softcpt report' (package report) reads. It owns what every cell
// shares: the backend that runs the model (CPU or GPU), the feature cache
// (in memory and on disk, shared by cells and processes), the run-folder
// naming, resuming from checkpoints, evaluation, base-to-new and the
// results files.
package experiment

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/data"
	"github.com/softcpt/softcpt-go/softcpt"
	"github.com/softcpt/softcpt-go/tensor"
)

// Experiment is a benchmark and a frozen CLIP model with an output root.
// Its zero value is not usable: set Benchmark, Model, Tok and Out.
type Experiment struct {
	// Benchmark draws the benchmark with K training shots per class with
	// a seed; K = 0 asks for no draw (zero-shot: only the test sets
	// matter).
	Benchmark func(shots, seed int) (*data.Benchmark, error)
	// Model is the frozen CLIP and Tok its tokenizer.
	Model *clip.Model
	Tok   softcpt.Tokenizer
	// Backend runs the model (nil: the CPU).
	Backend Backend
	// Out is the output root: RunDir(Out, benchmark, method, K, seed)
	// receives each cell's results.json and checkpoint.
	Out string
	// CacheDir is the root of the on-disk feature cache (default
	// Out/.cache/features).
	CacheDir string
	// DataKey identifies the benchmark's images in the feature cache's
	// keys beside their names (e.g. a hash of a packed benchmark file,
	// whose image names "img:N" do not change when it is rebuilt); empty,
	// images are known by their names (file paths) alone.
	DataKey string
	// FullPrompts disables the shared-prefix text encoding of the
	// learners.
	FullPrompts bool

	memOnce sync.Once
	mem     *memCache
	keyOnce sync.Once
	key     string
}

// Grid is what an experiment runs: for every method in order, a cell per
// shot count and seed (zero-shot: one cell).
type Grid struct {
	// Methods are "zeroshot", "linprobe" or the names of learned methods
	// (softcpt.Methods), run in this order.
	Methods []string
	// Config returns a learned method's configuration (nil:
	// softcpt.MethodConfig).
	Config func(method string) (softcpt.Config, error)
	// Shots and Seeds span the cells of linprobe and the learned methods.
	Shots, Seeds []int
	// Train are the training settings of the learned methods; each cell
	// sets Seed and CheckpointDir (its run folder), Log and Progress.
	Train softcpt.TrainOptions
	// StepsPerEpoch, when Train.BatchSize <= 0, sets each cell's batch
	// size to its training set divided into this many batches.
	StepsPerEpoch int
	// Probe are the linear probe's settings.
	Probe softcpt.ProbeOptions
	// Templates are zero-shot templates ensembled with each task's own.
	Templates []string
	// BaseToNew trains the learned methods on the base half of every
	// task's classes and evaluates them on it and on the new half.
	BaseToNew bool
	// From, when set, evaluates the learned methods from the checkpoints
	// of the runs under this output root instead of training them.
	From string
}

// RunDir is the folder of one (method, shots, seed) cell under an output
// root: OUT/BENCHMARK/METHOD/shots_K/seed_S (shots_all for AllShots).
func RunDir(out, benchmark, method string, shots, seed int) string {
	return filepath.Join(out, benchmark, method, "shots_"+shotsName(shots), fmt.Sprintf("seed_%d", seed))
}

// backend returns the backend that runs the model.
func (e *Experiment) backend() Backend {
	if e.Backend == nil {
		return cpuBackend{e.Model}
	}
	return e.Backend
}

// Run runs every cell of the grid, writing each one's results.
func (e *Experiment) Run(ctx context.Context, g Grid) error {
	if err := g.Validate(); err != nil {
		return err
	}
	if err := g.CheckModel(e.Model.Config.ContextLength); err != nil {
		return err
	}
	for _, method := range g.Methods {
		method = strings.TrimSpace(method)
		if method == "zeroshot" {
			b, err := e.Benchmark(0, 0)
			if err != nil {
				return err
			}
			if err := e.ZeroShot(ctx, b, g.Templates); err != nil {
				return err
			}
			continue
		}
		var cfg softcpt.Config
		if method != "linprobe" {
			var err error
			if g.Config != nil {
				cfg, err = g.Config(method)
			} else {
				cfg, err = softcpt.MethodConfig(method)
			}
			if err != nil {
				return err
			}
		}
		for _, k := range g.Shots {
			for _, seed := range g.Seeds {
				b, err := e.Benchmark(k, seed)
				if err != nil {
					return err
				}
				switch {
				case method == "linprobe":
					err = e.LinearProbe(ctx, b, k, seed, g.Probe)
				case g.From != "":
					err = e.Eval(ctx, b, cfg, g.From, k, seed)
				case g.BaseToNew:
					err = e.BaseToNew(ctx, b, cfg, g.cellOptions(b, k, seed, RunDir(e.Out, b.Name, cfg.Name+"-base", k, seed)), k, seed)
				default:
					err = e.Learned(ctx, b, cfg, g.cellOptions(b, k, seed, RunDir(e.Out, b.Name, cfg.Name, k, seed)), k, seed)
				}
				if err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// cellOptions returns the training options of one cell.
func (g Grid) cellOptions(b *data.Benchmark, k, seed int, dir string) softcpt.TrainOptions {
	opt := g.Train
	opt.Seed = uint64(seed)
	opt.CheckpointDir = dir
	if opt.BatchSize <= 0 && g.StepsPerEpoch > 0 {
		n := 0
		for _, t := range b.Tasks {
			n += len(t.Train)
		}
		opt.BatchSize = max(1, (n+g.StepsPerEpoch-1)/g.StepsPerEpoch)
	}
	return opt
}

// Learned trains a prompt learner with cfg on the benchmark's training
// shots (resuming from opt.CheckpointDir with opt.Resume), evaluates it
// and writes the cell's results.json into opt.CheckpointDir.
func (e *Experiment) Learned(ctx context.Context, b *data.Benchmark, cfg softcpt.Config, opt softcpt.TrainOptions, k, seed int) error {
	p := newProgress(fmt.Sprintf("%s %d-shot seed %d", cfg.Name, k, seed), opt.Epochs)
	opt.Log = Logf
	opt.Progress = func(epoch, step, steps int, loss float64) {
		p.set(epoch-1, fmt.Sprintf("step %d/%d loss %.3f", step, steps, loss))
	}
	scores, overall, hist, _, err := e.train(ctx, b, cfg, opt, uint64(seed))
	p.done()
	if err != nil {
		return errors.Wrapf(err, "%s, %d shots, seed %d", cfg.Name, k, seed)
	}
	Logf("%s %d-shot seed %d: overall %.2f%%", cfg.Name, k, seed, overall)
	dir := opt.CheckpointDir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return errors.Wrapf(err, "creating %s", dir)
	}
	return writeResult(dir, b.Name, cfg.Name, k, seed, overall, scores, map[string]any{"method": cfg, "train": opt, "history": hist})
}

// train trains a prompt learner with cfg on b's training shots and
// evaluates it on b's test sets.
func (e *Experiment) train(ctx context.Context, b *data.Benchmark, cfg softcpt.Config, opt softcpt.TrainOptions, learnerSeed uint64) ([]TaskScore, float64, []softcpt.EpochStats, *softcpt.Learner, error) {
	l, err := softcpt.NewLearner(cfg, e.Model, e.Tok, specs(b), learnerSeed)
	if err != nil {
		return nil, 0, nil, nil, err
	}
	l.FullPrompts = e.FullPrompts
	train := examples(b, func(t *data.Task) []data.Item { return t.Train })
	var hist []softcpt.EpochStats
	if opt.Augment {
		if _, cpu := e.backend().(cpuBackend); !cpu {
			Logf("%s: --augment re-encodes the training images every epoch on the CPU; training runs on the CPU", cfg.Name)
		}
		hist, err = softcpt.Train(ctx, l, &softcpt.Featurizer{Model: e.Model, BatchSize: 32}, train, opt)
	} else {
		feats, ferr := e.features(ctx, b.Name, train)
		if ferr != nil {
			return nil, 0, nil, nil, errors.Wrap(ferr, "encoding training images")
		}
		hist, err = e.backend().trainFeatures(ctx, l, e.Tok, feats, train, opt)
	}
	if err != nil {
		return nil, 0, hist, nil, err
	}
	scores, overall, err := e.evaluate(ctx, b, l.AllClassFeatures())
	return scores, overall, hist, l, err
}

// BaseToNew trains on the base classes of every task and evaluates on the
// base and the new classes (prompts rebuilt from the new class names, the
// learned tensors copied in); it writes results.json for the base run
// (method "<name>-base", into opt.CheckpointDir) and for the new classes
// ("<name>-new"), with the harmonic mean in the config.
func (e *Experiment) BaseToNew(ctx context.Context, b *data.Benchmark, cfg softcpt.Config, opt softcpt.TrainOptions, k, seed int) error {
	base, novel := &data.Benchmark{Name: b.Name, Load: b.Load}, &data.Benchmark{Name: b.Name, Load: b.Load}
	for _, t := range b.Tasks {
		bt, nt, err := data.BaseNewSplit(t)
		if err != nil {
			return err
		}
		base.Tasks = append(base.Tasks, bt)
		novel.Tasks = append(novel.Tasks, nt)
	}
	opt.Log = Logf
	bs, bo, hist, trained, err := e.train(ctx, base, cfg, opt, uint64(seed))
	if err != nil {
		return errors.Wrapf(err, "%s base-to-new, %d shots, seed %d", cfg.Name, k, seed)
	}
	l, err := softcpt.NewLearner(trained.Cfg, e.Model, e.Tok, specs(novel), 0)
	if err != nil {
		return err
	}
	if err := l.LoadState(trained.State()); err != nil {
		return errors.Wrapf(err, "%s prompts do not transfer to new classes (class-specific contexts)", trained.Cfg.Name)
	}
	ns, no, err := e.evaluate(ctx, novel, l.AllClassFeatures())
	if err != nil {
		return err
	}
	hm := HarmonicMean(bo, no)
	Logf("%s %d-shot seed %d: base %.2f%% new %.2f%% harmonic mean %.2f%%", cfg.Name, k, seed, bo, no, hm)
	summary := map[string]any{"base": bo, "new": no, "harmonic_mean": hm}
	for _, r := range []struct {
		name    string
		scores  []TaskScore
		overall float64
	}{{cfg.Name + "-base", bs, bo}, {cfg.Name + "-new", ns, no}} {
		d := RunDir(e.Out, b.Name, r.name, k, seed)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return errors.Wrapf(err, "creating %s", d)
		}
		if err := writeResult(d, b.Name, r.name, k, seed, r.overall, r.scores, map[string]any{"method": cfg, "train": opt, "history": hist, "base_to_new": summary}); err != nil {
			return err
		}
	}
	return nil
}

// HarmonicMean is base-to-new's summary of the base and new scores (0
// when both are 0).
func HarmonicMean(base, novel float64) float64 {
	if base+novel > 0 {
		return 2 * base * novel / (base + novel)
	}
	return 0
}

// Eval evaluates the prompts of a trained run from the checkpoint in
// RunDir(from, ...) without training, writing results.json into the
// cell's folder under Out.
func (e *Experiment) Eval(ctx context.Context, b *data.Benchmark, cfg softcpt.Config, from string, k, seed int) error {
	l, err := softcpt.NewLearner(cfg, e.Model, e.Tok, specs(b), uint64(seed))
	if err != nil {
		return err
	}
	src := RunDir(from, b.Name, cfg.Name, k, seed)
	epochs, err := softcpt.LoadCheckpoint(src, l)
	if err != nil {
		return errors.Wrapf(err, "%s, %d shots, seed %d", cfg.Name, k, seed)
	}
	scores, overall, err := e.evaluate(ctx, b, l.AllClassFeatures())
	if err != nil {
		return err
	}
	Logf("%s %d-shot seed %d (checkpoint of epoch %d in %s): overall %.2f%%", cfg.Name, k, seed, epochs, src, overall)
	dir := RunDir(e.Out, b.Name, cfg.Name, k, seed)
	return writeResult(dir, b.Name, cfg.Name, k, seed, overall, scores, map[string]any{"method": cfg, "checkpoint": src, "epochs": epochs})
}

// ZeroShot evaluates zero-shot CLIP with each task's template and the
// extra templates, and writes the results (method ZeroShot, shots 0,
// seed 0).
func (e *Experiment) ZeroShot(ctx context.Context, b *data.Benchmark, extra []string) error {
	scores, overall, err := e.zeroShot(ctx, b, extra)
	if err != nil {
		return errors.Wrap(err, "zero-shot")
	}
	Logf("zero-shot CLIP on %s: overall %.2f%%", b.Name, overall)
	for _, s := range scores {
		Logf("  %s", s)
	}
	dir := RunDir(e.Out, b.Name, "ZeroShot", 0, 0)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return errors.Wrapf(err, "creating %s", dir)
	}
	tmpl := map[string][]string{}
	for _, t := range b.Tasks {
		tmpl[t.Name] = templates(t, extra)
	}
	return writeResult(dir, b.Name, "ZeroShot", 0, 0, overall, scores, map[string]any{"templates": tmpl})
}

// zeroShot scores zero-shot CLIP on b's test sets.
func (e *Experiment) zeroShot(ctx context.Context, b *data.Benchmark, extra []string) ([]TaskScore, float64, error) {
	tmpl := make([][]string, len(b.Tasks))
	for i, t := range b.Tasks {
		tmpl[i] = templates(t, extra)
	}
	// Stop between text batches (one per task and template) when ctx is
	// cancelled.
	encode := func(ids []int, batch, length int) (*tensor.Tensor, error) {
		if err := ctx.Err(); err != nil {
			return nil, errors.Wrap(err, "encoding class-name prompts")
		}
		return e.backend().encodeTexts(ids, batch, length)
	}
	w, err := softcpt.ZeroShotFeatures(e.Model, encode, e.Tok, specs(b), tmpl)
	if err != nil {
		return nil, 0, err
	}
	return e.evaluate(ctx, b, w)
}

// LinearProbe fits and scores the linear probe on every task of b and
// writes the results.
func (e *Experiment) LinearProbe(ctx context.Context, b *data.Benchmark, k, seed int, probe softcpt.ProbeOptions) error {
	var scores []TaskScore
	var vals []float64
	cs := map[string]float64{}
	var valOnTrain []string
	for ti, t := range b.Tasks {
		split := func(items []data.Item) (softcpt.ProbeSplit, error) {
			exs := taskExamples(b, ti, items)
			x, err := e.features(ctx, b.Name, exs)
			y := make([]int, len(exs))
			for i, x := range exs {
				y[i] = x.Label
			}
			return softcpt.ProbeSplit{X: x, Y: y}, err
		}
		tr, err := split(t.Train)
		if err != nil {
			return err
		}
		va, err := split(t.Val)
		if err != nil {
			return err
		}
		te, err := split(t.Test)
		if err != nil {
			return err
		}
		if len(va.Y) == 0 {
			// No image is left for validation (every image of the pool is
			// a training shot): C is chosen on the training shots, noted
			// in the results' config.
			va = tr
			valOnTrain = append(valOnTrain, t.Name)
		}
		res, err := softcpt.LinearProbeContext(ctx, tr, va, te, len(t.Classes), t.Metric, probe)
		if err != nil {
			return errors.Wrapf(err, "linear probe on %s task %s, %d shots, seed %d", b.Name, t.Name, k, seed)
		}
		scores = append(scores, TaskScore{Name: t.Name, Metric: string(t.Metric), Value: res.TestScore, N: len(te.Y)})
		vals = append(vals, res.TestScore)
		cs[t.Name] = res.C
	}
	overall := data.MeanScore(vals)
	Logf("LinearProbe %d-shot seed %d on %s: overall %.2f%%", k, seed, b.Name, overall)
	dir := RunDir(e.Out, b.Name, "LinearProbe", k, seed)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return errors.Wrapf(err, "creating %s", dir)
	}
	return writeResult(dir, b.Name, "LinearProbe", k, seed, overall, scores, map[string]any{"C": cs, "val_on_train": valOnTrain, "lbfgs_max_iter": probe.LBFGS.MaxIter})
}
