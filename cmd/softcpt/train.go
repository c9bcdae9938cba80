package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/clip/tokenizer"
	"github.com/softcpt/softcpt-go/data"
	"github.com/softcpt/softcpt-go/softcpt"
)

// intList is a comma-separated list of integers flag ("1,2,4,8,16").
type intList []int

func (l *intList) String() string {
	s := make([]string, len(*l))
	for i, v := range *l {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ",")
}

func (l *intList) Set(v string) error {
	*l = nil
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return errors.Errorf("%q is not a comma-separated list of integers", v)
		}
		*l = append(*l, n)
	}
	return nil
}

// commonFlags are the flags shared by train, zeroshot, linprobe and eval.
type commonFlags struct {
	benchmark, tasks, dataRoot, cacheDir, model, bpe, out string
	shots, seeds                                          intList
	visionHeads, textHeads                                int
	device                                                deviceFlag
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.benchmark, "benchmark", "", "benchmark: a shipped definition ("+strings.Join(data.ShippedDefinitions(), ", ")+") or a definition file (JSON)")
	fs.StringVar(&c.tasks, "tasks", "", "comma-separated subset of the benchmark's tasks (default: all)")
	fs.StringVar(&c.dataRoot, "data-root", ".", "directory holding the datasets in the CoOp/SoftCPT folder layouts")
	fs.StringVar(&c.cacheDir, "cache-dir", "", "where generated splits and few-shot samples are cached (default DATA-ROOT/.softcpt-cache)")
	fs.StringVar(&c.model, "model", "", "CLIP checkpoint (RN50.pt, ViT-B-32.pt, ... or safetensors)")
	fs.StringVar(&c.bpe, "bpe", "", "BPE merges file of the model's tokenizer (bpe_simple_vocab_16e6.txt.gz for OpenAI's models)")
	fs.StringVar(&c.out, "out", "output", "output directory")
	c.shots = intList{1, 2, 4, 8, 16}
	c.seeds = intList{1, 2, 3}
	fs.Var(&c.shots, "shots", "comma-separated shot counts")
	fs.Var(&c.seeds, "seed", "comma-separated seeds")
	fs.IntVar(&c.visionHeads, "vision-heads", 0, "override the inferred number of vision attention heads")
	fs.IntVar(&c.textHeads, "text-heads", 0, "override the inferred number of text attention heads")
	c.device.register(fs)
}

// load reads the model, tokenizer and benchmark definition.
func (c *commonFlags) load() (*clip.Model, *tokenizer.Tokenizer, *data.Definition, error) {
	if c.benchmark == "" || c.model == "" || c.bpe == "" {
		return nil, nil, nil, errors.New("--benchmark, --model and --bpe are required (or run 'softcpt demo' for the shipped model and data)")
	}
	def, err := data.LoadDefinition(c.benchmark)
	if err != nil {
		return nil, nil, nil, err
	}
	m, err := clip.LoadWith(c.model, clip.Options{VisionHeads: c.visionHeads, TransformerHeads: c.textHeads})
	if err != nil {
		return nil, nil, nil, err
	}
	tok, err := tokenizer.Load(c.bpe)
	if err != nil {
		return nil, nil, nil, err
	}
	return m, tok, def, nil
}

// benchmarkFor loads the benchmark's data and samples K shots with a seed.
func (c *commonFlags) benchmarkFor(def *data.Definition, k, seed int) (*data.Benchmark, error) {
	opts := data.Options{Root: c.dataRoot, CacheDir: c.cacheDir}
	if c.tasks != "" {
		opts.Only = strings.Split(c.tasks, ",")
	}
	b, err := data.LoadBenchmark(def, opts)
	if err != nil {
		return nil, err
	}
	if k <= 0 {
		return b, nil
	}
	cache := c.cacheDir
	if cache == "" {
		cache = data.DefaultCacheDir(c.dataRoot)
	}
	return b.FewShot(k, uint64(seed), cache)
}

// methodFlags are SoftCPT's and CoOp's knobs (the authors' script
// arguments; see the README's table).
type methodFlags struct {
	method, ctxInit, position, pgType string
	nCtx, classNCtx, taskNCtx         int
	csc, classCSC, taskCSC            string
	classSample                       float64
	fullPrompts                       bool
}

func (m *methodFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&m.method, "method", "nata", "method: "+strings.Join(softcpt.Methods(), ", "))
	fs.IntVar(&m.nCtx, "n-ctx", 16, "N_CTX: learned context length of the class prompts")
	fs.StringVar(&m.ctxInit, "ctx-init", "", "CTX_INIT: start the class-prompt contexts from these words (e.g. \"a photo of a\"), or from each task's zero-shot template before {} (\"template\"); words fill the last context slots. SoftCPT: they become fixed start contexts, and the meta network, from zero on unit-norm inputs, learns a residual on top of them. Default: N(0, 0.02)")
	fs.StringVar(&m.position, "class-token-position", "end", "CLASS_TOKEN_POSITION: end, middle or front (CoOp baselines)")
	fs.StringVar(&m.csc, "csc", "", "CSC: use class features (CA/CS) as meta-net input (true/false; default from --method)")
	fs.IntVar(&m.classNCtx, "class-n-ctx", -1, "CLASS_N_CTX (default from --method: 4)")
	fs.StringVar(&m.classCSC, "class-csc", "", "CLASS_CSC: class-specific class context (true/false; default from --method)")
	fs.IntVar(&m.taskNCtx, "task-n-ctx", -1, "TASK_N_CTX (default 4)")
	fs.StringVar(&m.taskCSC, "task-csc", "", "TASK_CSC: task-specific task context (true/false; default from --method)")
	fs.StringVar(&m.pgType, "pg-type", "", "PG_TYPE meta network: lin, linmean or lincls (default lin)")
	fs.Float64Var(&m.classSample, "cls-sample-rate", 0, "CLS_SAMPLE_RATE: class sampling rate in training (0 = off; the authors use 0.1 on general10 with CA/CS)")
	fs.BoolVar(&m.fullPrompts, "full-prompts", false, "encode every class prompt in full instead of the (exact) shared-prefix encoding")
}

func parseBoolFlag(name, v string, dst *bool) error {
	if v == "" {
		return nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return errors.Errorf("--%s: %q is not true or false", name, v)
	}
	*dst = b
	return nil
}

// config resolves the method's configuration.
func (m *methodFlags) config() (softcpt.Config, error) {
	c, err := softcpt.MethodConfig(m.method)
	if err != nil {
		return c, err
	}
	c.NCtx = m.nCtx
	c.CtxInit = m.ctxInit
	if c.Position, err = softcpt.ParsePosition(m.position); err != nil {
		return c, err
	}
	for _, b := range []struct {
		name, v string
		dst     *bool
	}{{"csc", m.csc, &c.CSC}, {"class-csc", m.classCSC, &c.ClassCSC}, {"task-csc", m.taskCSC, &c.TaskCSC}} {
		if err := parseBoolFlag(b.name, b.v, b.dst); err != nil {
			return c, err
		}
	}
	if m.classNCtx >= 0 {
		c.ClassNCtx = m.classNCtx
	}
	if m.taskNCtx >= 0 {
		c.TaskNCtx = m.taskNCtx
	}
	if m.pgType != "" {
		c.PGType = m.pgType
	}
	c.ClassSample = m.classSample
	return c, c.Validate()
}

// trainFlags are the optimisation settings.
type trainFlags struct {
	epochs, batch, warmupEpochs, repeat int
	lr, momentum, wd, warmupLR          float64
	augment, resume, base2new           bool
}

func (t *trainFlags) register(fs *flag.FlagSet) {
	d := softcpt.Defaults()
	fs.IntVar(&t.epochs, "epochs", d.Epochs, "MAX_EPOCH")
	fs.IntVar(&t.batch, "batch-size", d.BatchSize, "training batch size (drop-last)")
	fs.Float64Var(&t.lr, "lr", d.LR, "SGD learning rate")
	fs.Float64Var(&t.momentum, "momentum", d.Momentum, "SGD momentum")
	fs.Float64Var(&t.wd, "weight-decay", d.WeightDecay, "SGD weight decay")
	fs.IntVar(&t.warmupEpochs, "warmup-epochs", d.WarmupEpochs, "constant warm-up epochs")
	fs.Float64Var(&t.warmupLR, "warmup-lr", d.WarmupLR, "warm-up learning rate")
	fs.IntVar(&t.repeat, "repeat-steps", 0, "reproduce the authors' repeated optimiser/scheduler steps (3 for NA variants, 4 for CA/CS); 0 = off")
	fs.BoolVar(&t.augment, "augment", false, "CoOp's random resized crop + flip every epoch (re-encodes training images; slower); default: cached features of the test transform")
	fs.BoolVar(&t.resume, "resume", false, "resume from the checkpoint in each run's output directory")
	fs.BoolVar(&t.base2new, "base2new", false, "base-to-new: train on the first half of each task's classes, evaluate on them and on the other half with prompts rebuilt from the new class names")
}

func (t *trainFlags) options(seed int, dir string) softcpt.TrainOptions {
	return softcpt.TrainOptions{Epochs: t.epochs, BatchSize: t.batch, LR: t.lr, Momentum: t.momentum, WeightDecay: t.wd,
		WarmupEpochs: t.warmupEpochs, WarmupLR: t.warmupLR, RepeatSteps: t.repeat, Augment: t.augment,
		Seed: uint64(seed), CheckpointDir: dir, Resume: t.resume}
}

// runDir is where one (method, shots, seed) run writes its files.
func runDir(out, benchmark, method string, shots, seed int) string {
	return filepath.Join(out, benchmark, method, fmt.Sprintf("shots_%d", shots), fmt.Sprintf("seed_%d", seed))
}

func cmdTrain(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	var c commonFlags
	var mf methodFlags
	var tf trainFlags
	c.register(fs)
	mf.register(fs)
	tf.register(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `usage: softcpt train --benchmark NAME|FILE --data-root DIR --model FILE --bpe FILE [--method NATA] [--shots 1,2,4,8,16] [--seed 1,2,3] [flags]

Trains a prompt learner (SoftCPT variants nata, nats, cata, csta, cats,
csts; CoOp baselines coop-mt, coop-ca, coop-cs) jointly on every task of
the benchmark for each shot count and seed, evaluates it on the test
splits and writes OUT/<benchmark>/<method>/shots_K/seed_S/results.json
with a checkpoint beside it. Aggregate with 'softcpt report OUT'.`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := mf.config()
	if err != nil {
		return err
	}
	m, tok, def, err := c.load()
	if err != nil {
		return err
	}
	dev, err := openBackend(string(c.device), m)
	if err != nil {
		return err
	}
	defer dev.close()
	for _, k := range c.shots {
		for _, seed := range c.seeds {
			b, err := c.benchmarkFor(def, k, seed)
			if err != nil {
				return err
			}
			if tf.base2new {
				if err := runBaseToNew(ctx, b, m, dev, tok, cfg, tf, mf.fullPrompts, k, seed, c.out); err != nil {
					return err
				}
				continue
			}
			exp := newExperiment(b.Name, m, tok, tasksFromBenchmark(b))
			exp.dev = dev
			dir := runDir(c.out, b.Name, cfg.Name, k, seed)
			if err := runLearned(ctx, exp, cfg, tf.options(seed, dir), mf.fullPrompts, k, seed, dir); err != nil {
				return err
			}
		}
	}
	return nil
}

// runLearned trains, evaluates and writes one run's results.
func runLearned(ctx context.Context, exp *experiment, cfg softcpt.Config, opt softcpt.TrainOptions, full bool, k, seed int, dir string) error {
	p := newProgress(fmt.Sprintf("%s %d-shot seed %d", cfg.Name, k, seed), opt.Epochs)
	opt.Log = logf
	opt.Progress = func(epoch, step, steps int, loss float64) {
		p.set(epoch-1, fmt.Sprintf("step %d/%d loss %.3f", step, steps, loss))
	}
	exp.fullPrompts = full
	scores, overall, hist, _, err := exp.trainMethod(ctx, cfg, opt, uint64(seed))
	p.done()
	if err != nil {
		return errors.Wrapf(err, "%s, %d shots, seed %d", cfg.Name, k, seed)
	}
	logf("%s %d-shot seed %d: overall %.2f%%", cfg.Name, k, seed, overall)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return errors.Wrapf(err, "creating %s", dir)
	}
	return writeResult(dir, exp.benchmark, cfg.Name, k, seed, overall, scores, map[string]any{"method": cfg, "train": opt, "history": hist})
}

// runBaseToNew trains on the base classes of every task and evaluates on
// the base and the new classes; it writes results.json for the base run
// (method "<name>-base") and for the new classes ("<name>-new") with the
// harmonic mean in the config.
func runBaseToNew(ctx context.Context, b *data.Benchmark, m *clip.Model, dev backend, tok softcpt.Tokenizer, cfg softcpt.Config, tf trainFlags, full bool, k, seed int, out string) error {
	base, novel := &data.Benchmark{Name: b.Name}, &data.Benchmark{Name: b.Name}
	for _, t := range b.Tasks {
		bt, nt, err := data.BaseNewSplit(t)
		if err != nil {
			return err
		}
		base.Tasks = append(base.Tasks, bt)
		novel.Tasks = append(novel.Tasks, nt)
	}
	eb := newExperiment(b.Name, m, tok, tasksFromBenchmark(base))
	eb.fullPrompts, eb.dev = full, dev
	dir := runDir(out, b.Name, cfg.Name+"-base", k, seed)
	opt := tf.options(seed, dir)
	opt.Log = logf
	bs, bo, hist, l, err := eb.trainMethod(ctx, cfg, opt, uint64(seed))
	if err != nil {
		return errors.Wrapf(err, "%s base-to-new, %d shots, seed %d", cfg.Name, k, seed)
	}
	en := newExperiment(b.Name, m, tok, tasksFromBenchmark(novel))
	en.feat, en.dev = eb.feat, dev
	ns, no, err := en.transfer(ctx, l)
	if err != nil {
		return err
	}
	hm := 0.0
	if bo+no > 0 {
		hm = 2 * bo * no / (bo + no)
	}
	logf("%s %d-shot seed %d: base %.2f%% new %.2f%% harmonic mean %.2f%%", cfg.Name, k, seed, bo, no, hm)
	summary := map[string]any{"base": bo, "new": no, "harmonic_mean": hm}
	for _, r := range []struct {
		name    string
		scores  []taskScore
		overall float64
	}{{cfg.Name + "-base", bs, bo}, {cfg.Name + "-new", ns, no}} {
		d := runDir(out, b.Name, r.name, k, seed)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return errors.Wrapf(err, "creating %s", d)
		}
		if err := writeResult(d, b.Name, r.name, k, seed, r.overall, r.scores, map[string]any{"method": cfg, "train": opt, "history": hist, "base_to_new": summary}); err != nil {
			return err
		}
	}
	return nil
}
