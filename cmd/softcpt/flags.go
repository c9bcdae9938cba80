package main

import (
	"flag"
	"slices"
	"strconv"
	"strings"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/autograd"
	"github.com/softcpt/softcpt-go/data"
	"github.com/softcpt/softcpt-go/experiment"
	"github.com/softcpt/softcpt-go/shipped"
	"github.com/softcpt/softcpt-go/softcpt"
)

// deviceFlag is the --device flag of the commands that run CLIP.
type deviceFlag string

func (d *deviceFlag) register(fs *flag.FlagSet) {
	*d = "cpu"
	fs.StringVar((*string)(d), "device", "cpu", "where CLIP runs: cpu, or cuda (GPU 0) / cuda:N; cuda needs a binary built with -tags cuda (scripts/setup-cuda.sh)")
}

// precisionFlag is the --precision flag of the commands that load a
// model: the number format of the frozen towers, checked when parsed.
type precisionFlag string

func (p *precisionFlag) register(fs *flag.FlagSet) {
	*p = "fp32"
	fs.Var(p, "precision", "number format of the frozen CLIP towers, `fp32|bf16`: bf16 multiplies by the frozen weights in bfloat16 with fp32 sums (CPUs with AVX512-BF16; about 1.5x less CPU time; learned prompts, optimiser and loss stay fp32; scores move by a few tenths of a point, so it has run folders and a feature cache of its own); without AVX512-BF16, or with --device cuda, the towers run in fp32, saying so")
}

func (p *precisionFlag) String() string { return string(*p) }

func (p *precisionFlag) Set(v string) error {
	pr, err := autograd.ParsePrecision(v)
	if err != nil {
		return errors.Errorf("%q: want fp32 or bf16", v)
	}
	*p = precisionFlag(pr.String())
	return nil
}

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
	shots                                                 shotList
	seeds                                                 intList
	visionHeads, textHeads                                int
	device                                                deviceFlag
	precision                                             precisionFlag
	force                                                 bool
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.benchmark, "benchmark", "", "benchmark: a shipped definition ("+strings.Join(data.ShippedDefinitions(), ", ")+") or a definition file (JSON)")
	fs.StringVar(&c.tasks, "tasks", "", "comma-separated subset of the benchmark's tasks (default: all)")
	fs.StringVar(&c.dataRoot, "data-root", ".", "directory holding the datasets in the CoOp/SoftCPT folder layouts")
	fs.StringVar(&c.cacheDir, "cache-dir", "", "where generated splits and few-shot samples are cached (default DATA-ROOT/.softcpt-cache)")
	fs.StringVar(&c.model, "model", "", "CLIP checkpoint (RN50.pt, ViT-B-32.pt, ... or safetensors)")
	fs.StringVar(&c.bpe, "bpe", "", "BPE merges file of the model's tokenizer (bpe_simple_vocab_16e6.txt.gz for OpenAI's models)")
	fs.StringVar(&c.out, "out", "output", "output directory")
	fs.BoolVar(&c.force, "force", false, "rerun finished runs (a run whose folder holds its results.json is otherwise skipped, saying so)")
	fs.IntVar(&c.visionHeads, "vision-heads", 0, "override the inferred number of vision attention heads")
	fs.IntVar(&c.textHeads, "text-heads", 0, "override the inferred number of text attention heads")
	c.device.register(fs)
	c.precision.register(fs)
}

// registerCells registers --shots and --seed (not for zero-shot, which
// has one cell).
func (c *commonFlags) registerCells(fs *flag.FlagSet) {
	c.shots = shotList{intList{1, 2, 4, 8, 16}}
	c.seeds = intList{1, 2, 3}
	fs.Var(&c.shots, "shots", "comma-separated shot counts per class; \"all\" trains on all the training data (Dassl's NUM_SHOTS 0, run folder shots_all)")
	fs.Var(&c.seeds, "seed", "comma-separated seeds")
}

// given returns the names of the flags given on the command line.
func given(fs *flag.FlagSet) []string {
	var names []string
	fs.Visit(func(f *flag.Flag) { names = append(names, f.Name) })
	return names
}

// options returns the experiment options of the flags.
func (c *commonFlags) options(fullPrompts bool) experiment.Options {
	var tasks []string
	if c.tasks != "" {
		tasks = strings.Split(c.tasks, ",")
	}
	return experiment.Options{Benchmark: c.benchmark, Tasks: tasks, DataRoot: c.dataRoot, CacheDir: c.cacheDir, Model: c.model, BPE: c.bpe,
		VisionHeads: c.visionHeads, TextHeads: c.textHeads, Device: string(c.device), Precision: string(c.precision), Out: c.out, FullPrompts: fullPrompts}
}

// grid returns the shots and seeds of the flags as a grid of one method,
// with the flags given on the command line (fs).
func (c *commonFlags) grid(method string, fs *flag.FlagSet) experiment.Grid {
	return experiment.Grid{Methods: []string{method}, Shots: c.shots.intList, Seeds: c.seeds, Force: c.force, Given: given(fs)}
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
	fs.IntVar(&m.nCtx, "n-ctx", 0, "N_CTX: learned context length of the class prompts (default: the model's, from its file's metadata key "+shipped.MetaNCtx+", 4 for the shipped model; 16, CoOp's value, for OpenAI's checkpoints, which have none; eval and --resume: the trained run's)")
	fs.StringVar(&m.ctxInit, "ctx-init", "", "CTX_INIT: start the class-prompt contexts from these words (e.g. \"a photo of a\"), or from each task's zero-shot template before {} (\"template\"); words fill the last context slots. SoftCPT: they become fixed start contexts, and the meta network, from zero on unit-norm inputs, learns a residual on top of them. Default: N(0, 0.02)")
	fs.StringVar(&m.position, "class-token-position", "end", "CLASS_TOKEN_POSITION: end, middle or front (CoOp baselines)")
	fs.StringVar(&m.csc, "csc", "", "CSC: use class features (CA/CS) as meta-net input (true/false; default from --method)")
	fs.IntVar(&m.classNCtx, "class-n-ctx", 0, "CLASS_N_CTX (default from --method: 4 for the CA/CS variants, none for NA)")
	fs.StringVar(&m.classCSC, "class-csc", "", "CLASS_CSC: class-specific class context (true/false; default from --method)")
	fs.IntVar(&m.taskNCtx, "task-n-ctx", 0, "TASK_N_CTX (default from --method: 4)")
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

// config resolves the method's configuration: the method's, with the
// flags given (names) on top; without --n-ctx, N_CTX is the model's
// default (experiment.Grid.NCtxFromModel).
func (m *methodFlags) config(given []string) (softcpt.Config, error) {
	c, err := softcpt.MethodConfig(m.method)
	if err != nil {
		return c, err
	}
	if slices.Contains(given, "n-ctx") {
		c.NCtx = m.nCtx
	}
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
	if slices.Contains(given, "class-n-ctx") {
		c.ClassNCtx = m.classNCtx
	}
	if slices.Contains(given, "task-n-ctx") {
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
	fs.BoolVar(&t.resume, "resume", false, "continue each run from the checkpoint in its folder, with the settings it was trained with (flags given that contradict them are an error); says from which epoch, or that there was nothing to resume")
	fs.BoolVar(&t.base2new, "base2new", false, "base-to-new: train on the first half of each task's classes, evaluate on them and on the other half with prompts rebuilt from the new class names")
}

// options returns the training options of the flags (each cell sets
// the seed and the checkpoint directory).
func (t *trainFlags) options() softcpt.TrainOptions {
	return softcpt.TrainOptions{Epochs: t.epochs, BatchSize: t.batch, LR: t.lr, Momentum: t.momentum, WeightDecay: t.wd,
		WarmupEpochs: t.warmupEpochs, WarmupLR: t.warmupLR, RepeatSteps: t.repeat, Augment: t.augment, Resume: t.resume}
}
