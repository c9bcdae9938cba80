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
	// Out is the output root: RunDir(Out, benchmark, method, config, K,
	// seed) receives each cell's results.json and checkpoint.
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
	// ModelNCtx is the model's default N_CTX and ModelNCtxRule the rule
	// that chose it (shipped.Model.DefaultNCtx), used by
	// Grid.NCtxFromModel; Run and RunShipped set them.
	ModelNCtx     int
	ModelNCtxRule string

	memOnce sync.Once
	mem     *memCache
	keyOnce sync.Once
	key     string
}

// Grid is what an experiment runs: for every method in order, a cell per
// shot count and seed (zero-shot: one cell). A cell whose folder holds its
// finished results.json is skipped, saying so, unless Force is set.
type Grid struct {
	// Methods are "zeroshot", "linprobe" or the names of learned methods
	// (softcpt.Methods), run in this order.
	Methods []string
	// Config returns a learned method's configuration (nil:
	// softcpt.MethodConfig).
	Config func(method string) (softcpt.Config, error)
	// NCtxFromModel sets the learned methods' N_CTX to the model's
	// default (Experiment.ModelNCtx), saying so: the driver's --n-ctx was
	// not given.
	NCtxFromModel bool
	// Shots and Seeds span the cells of linprobe and the learned methods.
	Shots, Seeds []int
	// Train are the training settings of the learned methods; each cell
	// sets Seed and CheckpointDir (its run folder), Log and Progress.
	// With Train.Resume a learned cell continues from the checkpoint in
	// its folder, saying from which epoch, or says that there is none;
	// when the folder of the grid's configuration holds none, the cell's
	// one trained run under Out whose settings Given does not contradict
	// is resumed with its own settings (see Given).
	Train softcpt.TrainOptions
	// StepsPerEpoch, when Train.BatchSize <= 0, sets each cell's batch
	// size to its training set divided into this many batches.
	StepsPerEpoch int
	// AutoResume continues every learned cell from the checkpoint in its
	// own folder where there is one, saying so, and is silent where there
	// is none (the demo, whose reruns continue where they stopped).
	AutoResume bool
	// Force reruns finished cells. A learned cell trains from scratch in
	// a temporary folder beside its own (FOLDER.force), which replaces
	// its folder when the cell is done: an interrupted rerun leaves the
	// finished run as it was. Zero-shot, linear-probe and evaluation
	// cells rewrite their results.json (atomically).
	Force bool
	// Given are the settings given explicitly, by the driver's flag names
	// ("n-ctx", "epochs", "lr", ...). Evaluation (From) and Train.Resume
	// take the other settings from the saved run (its run.json); a given
	// one that contradicts the saved one is an error naming it in one
	// line: "--n-ctx 16 given, the checkpoint was trained with 4".
	Given []string
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
			if err := e.ZeroShot(ctx, b, g); err != nil {
				return err
			}
			continue
		}
		var cfg softcpt.Config
		if method != "linprobe" {
			var err error
			if cfg, err = e.methodConfig(g, method); err != nil {
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
					err = e.LinearProbe(ctx, b, k, seed, g)
				case g.From != "":
					err = e.Eval(ctx, b, cfg, k, seed, g)
				default:
					err = e.Learned(ctx, b, cfg, k, seed, g)
				}
				if err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// methodConfig returns a learned method's configuration in the grid.
func (e *Experiment) methodConfig(g Grid, method string) (softcpt.Config, error) {
	var cfg softcpt.Config
	var err error
	if g.Config != nil {
		cfg, err = g.Config(method)
	} else {
		cfg, err = softcpt.MethodConfig(method)
	}
	if err != nil || !g.NCtxFromModel {
		return cfg, err
	}
	if e.ModelNCtx <= 0 {
		return cfg, errors.New("the model's default N_CTX is unknown: give --n-ctx")
	}
	cfg.NCtx = e.ModelNCtx
	if g.From == "" {
		runLog("%s: N_CTX %d (--n-ctx not given): %s", cfg.Name, cfg.NCtx, e.ModelNCtxRule)
	}
	return cfg, nil
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

// withTrain returns the grid with the training settings of t.
func (g Grid) withTrain(t *TrainConfig) Grid {
	o := &g.Train
	o.Epochs, o.BatchSize, o.LR, o.Momentum, o.WeightDecay = t.Epochs, t.BatchSize, t.LR, t.Momentum, t.WeightDecay
	o.WarmupEpochs, o.WarmupLR, o.RepeatSteps, o.Augment = t.WarmupEpochs, t.WarmupLR, t.RepeatSteps, t.Augment
	g.StepsPerEpoch = t.StepsPerEpoch
	return g
}

// taskNames returns the names of b's tasks.
func taskNames(b *data.Benchmark) []string {
	out := make([]string, len(b.Tasks))
	for i, t := range b.Tasks {
		out[i] = t.Name
	}
	return out
}

// cellResult is a result that a learned cell writes.
type cellResult struct {
	method  string
	scores  []TaskScore
	overall float64
	config  map[string]any
}

// Learned trains a prompt learner with cfg on the benchmark's training
// shots (base-to-new with g.BaseToNew), evaluates it and writes the
// cell's results.json and checkpoint into its folder (RunDir, named after
// cfg and the grid's training settings). A finished cell is skipped
// unless g.Force; g.Train.Resume and g.AutoResume continue a checkpoint
// (see Grid).
func (e *Experiment) Learned(ctx context.Context, b *data.Benchmark, cfg softcpt.Config, k, seed int, g Grid) error {
	method := cfg.Name
	if g.BaseToNew {
		method += "-base"
	}
	run := RunConfig{Tasks: taskNames(b), Method: &cfg, Train: g.trainConfig(), BaseToNew: g.BaseToNew, Precision: precisionName(e.Model)}
	if g.Train.Resume {
		saved, err := savedConfig(e.Out, b.Name, method, k, seed, run, g.Given)
		if err != nil {
			return errors.Errorf("--resume: %v\n(without --resume, a new run starts with the settings given)", err)
		}
		if err := samePrecision(saved, run, "--resume"); err != nil {
			return err
		}
		if saved != nil && saved.Name() != run.Name() {
			runLog("--resume: %s shots %d seed %d: taking the settings of %s", method, k, seed, saved.Name())
			run, cfg, g = *saved, *saved.Method, g.withTrain(saved.Train)
		}
	}
	dir := RunDir(e.Out, b.Name, method, run.Name(), k, seed)
	if done, err := g.skip(dir, method, k, seed, run); done || err != nil {
		return err
	}
	opt := g.cellOptions(b, k, seed, dir)
	ck, err := checkCheckpoint(dir, cfg)
	if err != nil {
		return err
	}
	switch {
	case g.Force:
		opt.Resume, opt.CheckpointDir = false, dir+".force"
		if err := os.RemoveAll(opt.CheckpointDir); err != nil {
			return errors.Wrap(err, "--force")
		}
		defer os.RemoveAll(opt.CheckpointDir)
	case g.Train.Resume || g.AutoResume:
		opt.Resume = true
		if ck != nil {
			runLog("resuming %s shots %d seed %d from epoch %d/%d in %s", method, k, seed, ck.Epoch, opt.Epochs, dir)
		} else if g.Train.Resume {
			runLog("--resume: no checkpoint in %s, starting from scratch", dir)
		}
	case ck != nil:
		runLog("%s holds a checkpoint of epoch %d/%d: starting %s shots %d seed %d from scratch (--resume continues it)", dir, ck.Epoch, opt.Epochs, method, k, seed)
	}
	if err := writeRunFile(e.Out, b.Name, method, run); err != nil {
		return err
	}
	var results []cellResult
	if g.BaseToNew {
		results, err = e.baseToNew(ctx, b, cfg, opt, k, seed)
	} else {
		results, err = e.learned(ctx, b, cfg, opt, k, seed)
	}
	if err != nil {
		return err
	}
	if opt.CheckpointDir != dir {
		if err := replaceDir(opt.CheckpointDir, dir); err != nil {
			return err
		}
	}
	for _, r := range results {
		if err := writeRunFile(e.Out, b.Name, r.method, run); err != nil {
			return err
		}
		d := RunDir(e.Out, b.Name, r.method, run.Name(), k, seed)
		if err := writeResult(d, b.Name, r.method, k, seed, r.overall, r.scores, r.config, run); err != nil {
			return err
		}
	}
	return nil
}

// learned trains and evaluates a prompt learner.
func (e *Experiment) learned(ctx context.Context, b *data.Benchmark, cfg softcpt.Config, opt softcpt.TrainOptions, k, seed int) ([]cellResult, error) {
	bar := trainBar(fmt.Sprintf("%s %d-shot seed %d", cfg.Name, k, seed), &opt)
	scores, overall, hist, _, err := e.train(ctx, b, cfg, opt, uint64(seed))
	bar.Done()
	if err != nil {
		return nil, errors.Wrapf(err, "%s, %d shots, seed %d", cfg.Name, k, seed)
	}
	Logf("%s %d-shot seed %d: overall %.2f%%", cfg.Name, k, seed, overall)
	return []cellResult{{cfg.Name, scores, overall, map[string]any{"method": cfg, "train": opt, "history": hist}}}, nil
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

// BaseToNew is Learned with base-to-new (g.BaseToNew set).
func (e *Experiment) BaseToNew(ctx context.Context, b *data.Benchmark, cfg softcpt.Config, k, seed int, g Grid) error {
	g.BaseToNew = true
	return e.Learned(ctx, b, cfg, k, seed, g)
}

// baseToNew trains on the base classes of every task and evaluates on the
// base and the new classes (prompts rebuilt from the new class names, the
// learned tensors copied in): the results of the base run (method
// "<name>-base", whose folder holds the checkpoint) and of the new classes
// ("<name>-new"), with the harmonic mean in their configs.
func (e *Experiment) baseToNew(ctx context.Context, b *data.Benchmark, cfg softcpt.Config, opt softcpt.TrainOptions, k, seed int) ([]cellResult, error) {
	base, novel := &data.Benchmark{Name: b.Name, Load: b.Load}, &data.Benchmark{Name: b.Name, Load: b.Load}
	for _, t := range b.Tasks {
		bt, nt, err := data.BaseNewSplit(t)
		if err != nil {
			return nil, err
		}
		base.Tasks = append(base.Tasks, bt)
		novel.Tasks = append(novel.Tasks, nt)
	}
	bar := trainBar(fmt.Sprintf("%s base-to-new %d-shot seed %d", cfg.Name, k, seed), &opt)
	bs, bo, hist, trained, err := e.train(ctx, base, cfg, opt, uint64(seed))
	bar.Done()
	if err != nil {
		return nil, errors.Wrapf(err, "%s base-to-new, %d shots, seed %d", cfg.Name, k, seed)
	}
	l, err := softcpt.NewLearner(trained.Cfg, e.Model, e.Tok, specs(novel), 0)
	if err != nil {
		return nil, err
	}
	if err := l.LoadState(trained.State()); err != nil {
		return nil, errors.Wrapf(err, "%s prompts do not transfer to new classes (class-specific contexts)", trained.Cfg.Name)
	}
	ns, no, err := e.evaluate(ctx, novel, l.AllClassFeatures())
	if err != nil {
		return nil, err
	}
	hm := HarmonicMean(bo, no)
	Logf("%s %d-shot seed %d: base %.2f%% new %.2f%% harmonic mean %.2f%%", cfg.Name, k, seed, bo, no, hm)
	summary := map[string]any{"base": bo, "new": no, "harmonic_mean": hm}
	config := func() map[string]any {
		return map[string]any{"method": cfg, "train": opt, "history": hist, "base_to_new": summary}
	}
	return []cellResult{{cfg.Name + "-base", bs, bo, config()}, {cfg.Name + "-new", ns, no, config()}}, nil
}

// HarmonicMean is base-to-new's summary of the base and new scores (0
// when both are 0).
func HarmonicMean(base, novel float64) float64 {
	if base+novel > 0 {
		return 2 * base * novel / (base + novel)
	}
	return 0
}

// Eval evaluates the prompts of a trained run from its checkpoint under
// g.From without training, writing results.json into the cell's folder
// under Out. The method's configuration and training settings are those
// of the trained run (its run.json), checked against the settings given
// explicitly (g.Given) and against the checkpoint before any tensor is
// read; cfg only names the method (and holds the given settings).
func (e *Experiment) Eval(ctx context.Context, b *data.Benchmark, cfg softcpt.Config, k, seed int, g Grid) error {
	want := RunConfig{Tasks: taskNames(b), Method: &cfg, Train: g.trainConfig(), Precision: precisionName(e.Model)}
	saved, err := savedConfig(g.From, b.Name, cfg.Name, k, seed, want, g.Given)
	if err != nil {
		return errors.Wrap(err, "eval")
	}
	if err := samePrecision(saved, want, "eval"); err != nil {
		return err
	}
	if saved == nil {
		return errors.Errorf("eval: no training checkpoint of %s %d shots seed %d under %s (train it first, or give --from)",
			cfg.Name, k, seed, filepath.Join(g.From, b.Name, cfg.Name))
	}
	run := *saved
	cfg = *run.Method
	src := RunDir(g.From, b.Name, cfg.Name, run.Name(), k, seed)
	dir := RunDir(e.Out, b.Name, cfg.Name, run.Name(), k, seed)
	if done, err := g.skip(dir, cfg.Name, k, seed, run); done || err != nil {
		return err
	}
	if _, err := checkCheckpoint(src, cfg); err != nil {
		return err
	}
	l, err := softcpt.NewLearner(cfg, e.Model, e.Tok, specs(b), uint64(seed))
	if err != nil {
		return err
	}
	epochs, err := softcpt.LoadCheckpoint(src, l)
	if err != nil {
		return errors.Wrapf(err, "%s, %d shots, seed %d", cfg.Name, k, seed)
	}
	scores, overall, err := e.evaluate(ctx, b, l.AllClassFeatures())
	if err != nil {
		return err
	}
	Logf("%s %d-shot seed %d (checkpoint of epoch %d in %s): overall %.2f%%", cfg.Name, k, seed, epochs, src, overall)
	if err := writeRunFile(e.Out, b.Name, cfg.Name, run); err != nil {
		return err
	}
	return writeResult(dir, b.Name, cfg.Name, k, seed, overall, scores, map[string]any{"method": cfg, "checkpoint": src, "epochs": epochs}, run)
}

// ZeroShot evaluates zero-shot CLIP with each task's template and the
// grid's extra templates, and writes the results (method ZeroShot, shots
// 0, seed 0), unless they are there already (g.Force: rewrites them).
func (e *Experiment) ZeroShot(ctx context.Context, b *data.Benchmark, g Grid) error {
	const method = "ZeroShot"
	run := RunConfig{Tasks: taskNames(b), Templates: g.Templates, Precision: precisionName(e.Model)}
	dir := RunDir(e.Out, b.Name, method, run.Name(), 0, 0)
	if done, err := g.skip(dir, method, 0, 0, run); done || err != nil {
		return err
	}
	scores, overall, err := e.zeroShot(ctx, b, g.Templates)
	if err != nil {
		return errors.Wrap(err, "zero-shot")
	}
	Logf("zero-shot CLIP on %s: overall %.2f%%", b.Name, overall)
	for _, s := range scores {
		Logf("  %s", s)
	}
	tmpl := map[string][]string{}
	for _, t := range b.Tasks {
		tmpl[t.Name] = templates(t, g.Templates)
	}
	if err := writeRunFile(e.Out, b.Name, method, run); err != nil {
		return err
	}
	return writeResult(dir, b.Name, method, 0, 0, overall, scores, map[string]any{"templates": tmpl}, run)
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

// LinearProbe fits and scores the linear probe (g.Probe) on every task of
// b and writes the results, unless they are there already (g.Force:
// rewrites them).
func (e *Experiment) LinearProbe(ctx context.Context, b *data.Benchmark, k, seed int, g Grid) error {
	const method = "LinearProbe"
	probe := g.Probe
	run := RunConfig{Tasks: taskNames(b), Probe: &probe, Precision: precisionName(e.Model)}
	dir := RunDir(e.Out, b.Name, method, run.Name(), k, seed)
	if done, err := g.skip(dir, method, k, seed, run); done || err != nil {
		return err
	}
	var scores []TaskScore
	var vals []float64
	cs := map[string]float64{}
	var valOnTrain []string
	bar, perTask := probeBar(fmt.Sprintf("LinearProbe %d-shot seed %d", k, seed), len(b.Tasks), &probe)
	defer bar.Done()
	for ti, t := range b.Tasks {
		bar.Set(ti*perTask, "task "+t.Name)
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
	if err := writeRunFile(e.Out, b.Name, method, run); err != nil {
		return err
	}
	return writeResult(dir, b.Name, method, k, seed, overall, scores, map[string]any{"C": cs, "val_on_train": valOnTrain, "lbfgs_max_iter": probe.LBFGS.MaxIter}, run)
}
