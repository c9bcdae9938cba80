package cliflag

import (
	"flag"
	"slices"
	"strconv"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/shipped"
	"github.com/softcpt/softcpt-go/softcpt"
)

// Group selects cell settings to register (Settings.Register).
type Group int

// The groups of cell settings.
const (
	// Training: epochs, batch-size, lr, momentum, weight-decay,
	// warmup-epochs, warmup-lr, repeat-steps, augment.
	Training Group = 1 << iota
	// Method: n-ctx, ctx-init, class-token-position, csc, class-n-ctx,
	// class-csc, task-n-ctx, task-csc, task-ctx-init, pg-type,
	// cls-sample-rate, full-prompts.
	Method
	// Probe: max-iter.
	Probe
	// ZeroShot: templates.
	ZeroShot
	// AllSettings are every cell setting (a sweep's).
	AllSettings = Training | Method | Probe | ZeroShot
)

// Settings are the settings of a grid's cells as flags: those of 'softcpt
// train' (Training, Method), 'linprobe' (Probe) and 'zeroshot'
// (ZeroShot), and all of them as a sweep's cell settings, whose keys are
// the flag names with "_" for "-" (sweep.Params).
type Settings struct {
	// Train are the training settings; their defaults are the paper's
	// (softcpt.Defaults).
	Train softcpt.TrainSettings
	// The method's knobs; a zero count, an empty string or an empty
	// boolean (CSC, ClassCSC, TaskCSC: "true" or "false") is the method's
	// default unless given (see Config).
	NCtx, ClassNCtx, TaskNCtx int
	CtxInit, Position, PGType string
	TaskCtxInit               string
	CSC, ClassCSC, TaskCSC    string
	ClassSample               float64
	FullPrompts               bool
	// MaxIter is the linear probe's L-BFGS iterations per fit (1000).
	MaxIter int
	// Templates are extra zero-shot templates, separated by '|'.
	Templates string
	// names are the flags registered.
	names []string
}

// Register registers the flags of the groups on fs. For a sweep
// ('softcpt sweep'), each usage starts with "grid, cell setting: " and
// N_CTX's default is the method's rather than the model's.
func (s *Settings) Register(fs *flag.FlagSet, groups Group, sweep bool) {
	add := func(name string) string { s.names = append(s.names, name); return name }
	prefix := ""
	if sweep {
		prefix = "grid, cell setting: "
	}
	d := softcpt.Defaults()
	t := &s.Train
	if groups&Training != 0 {
		fs.IntVar(&t.Epochs, add("epochs"), d.Epochs, prefix+"training epochs (MAX_EPOCH)")
		fs.IntVar(&t.BatchSize, add("batch-size"), d.BatchSize, prefix+"training batch size (drop-last)")
		fs.Float64Var(&t.LR, add("lr"), d.LR, prefix+"SGD learning rate")
		fs.Float64Var(&t.Momentum, add("momentum"), d.Momentum, prefix+"SGD momentum")
		fs.Float64Var(&t.WeightDecay, add("weight-decay"), d.WeightDecay, prefix+"SGD weight decay")
		fs.IntVar(&t.WarmupEpochs, add("warmup-epochs"), d.WarmupEpochs, prefix+"constant warm-up epochs")
		fs.Float64Var(&t.WarmupLR, add("warmup-lr"), d.WarmupLR, prefix+"warm-up learning rate")
		fs.IntVar(&t.RepeatSteps, add("repeat-steps"), 0, prefix+"reproduce the authors' repeated optimiser/scheduler steps (3 for NA variants, 4 for CA/CS); 0 = off")
		fs.BoolVar(&t.Augment, add("augment"), false, prefix+"CoOp's random resized crop + flip every epoch (re-encodes training images; slower); default: cached features of the test transform")
	}
	if groups&Method != 0 {
		nCtx := "(default: the model's, from its file's metadata key " + shipped.MetaNCtx + ", 4 for the shipped model; 16, CoOp's value, for OpenAI's checkpoints, which have none; eval and --resume: the trained run's)"
		if sweep {
			nCtx = "(default 16, the method's; 4 suits the shipped model)"
		}
		fs.IntVar(&s.NCtx, add("n-ctx"), 0, prefix+"N_CTX: learned context length of the class prompts "+nCtx)
		fs.StringVar(&s.CtxInit, add("ctx-init"), "", prefix+"CTX_INIT: start the class-prompt contexts from these words (e.g. \"a photo of a\"), or from each task's zero-shot template before {} (\"template\"); words fill the last context slots. SoftCPT: they become fixed start contexts, and the meta network, from zero on unit-norm inputs, learns a residual on top of them. Default: N(0, 0.02)")
		fs.StringVar(&s.Position, add("class-token-position"), "end", prefix+"CLASS_TOKEN_POSITION: end, middle or front (CoOp baselines)")
		fs.StringVar(&s.CSC, add("csc"), "", prefix+"CSC: use class features (CA/CS) as meta-net input (true/false; default from the method)")
		fs.IntVar(&s.ClassNCtx, add("class-n-ctx"), 0, prefix+"CLASS_N_CTX (default from the method: 4 for the CA/CS variants, none for NA)")
		fs.StringVar(&s.ClassCSC, add("class-csc"), "", prefix+"CLASS_CSC: class-specific class context (true/false; default from the method)")
		fs.IntVar(&s.TaskNCtx, add("task-n-ctx"), 0, prefix+"TASK_N_CTX (default from the method: 4)")
		fs.StringVar(&s.TaskCSC, add("task-csc"), "", prefix+"TASK_CSC: task-specific task context (true/false; default from the method)")
		fs.StringVar(&s.TaskCtxInit, add("task-ctx-init"), "", prefix+"TASK_CTX_INIT (SoftCPT): start the task context(s) from these words, e.g. \"a picture of a\" (at most --task-n-ctx tokens; they fill its last slots, the start-of-text token the others), so that the task prompts read \"words <task name>.\" at the first step. Default: N(0, 0.02)")
		fs.StringVar(&s.PGType, add("pg-type"), "", prefix+"PG_TYPE meta network: lin, linmean or lincls (default lin)")
		fs.Float64Var(&s.ClassSample, add("cls-sample-rate"), 0, prefix+"CLS_SAMPLE_RATE: class sampling rate in training (0 = off; the authors use 0.1 on general10 with CA/CS)")
		fs.BoolVar(&s.FullPrompts, add("full-prompts"), false, prefix+"encode every class prompt in full instead of the (exact) shared-prefix encoding")
	}
	if groups&Probe != 0 {
		fs.IntVar(&s.MaxIter, add("max-iter"), 1000, prefix+"linear probe: L-BFGS iterations per fit (the authors' sklearn max_iter)")
	}
	if groups&ZeroShot != 0 {
		fs.StringVar(&s.Templates, add("templates"), "", prefix+"extra zero-shot templates separated by '|' (\"{}\" is the class name), ensembled with each task's own template")
	}
}

// Given returns the cell settings given on fs's command line (parsed),
// flag name → value as the flag prints it ("batch-size" → "16").
func (s *Settings) Given(fs *flag.FlagSet) map[string]string {
	out := map[string]string{}
	fs.Visit(func(f *flag.Flag) {
		if slices.Contains(s.names, f.Name) {
			out[f.Name] = f.Value.String()
		}
	})
	return out
}

// Config returns the configuration of the named method with the method
// settings of the parsed fs on top (softcpt.MethodSettings.Config):
// --ctx-init, --task-ctx-init, --class-token-position and
// --cls-sample-rate always, the
// counts when given, the booleans and --pg-type when not empty. Without
// --n-ctx, N_CTX stays the method's (experiment.Grid.NCtxFromModel
// replaces it by the model's).
func (s *Settings) Config(method string, fs *flag.FlagSet) (softcpt.Config, error) {
	cfg, err := softcpt.MethodConfig(method)
	if err != nil {
		return cfg, err
	}
	m := cfg.Settings()
	given := Given(fs)
	for _, c := range []struct {
		name string
		v    int
		dst  *int
	}{{"n-ctx", s.NCtx, &m.NCtx}, {"class-n-ctx", s.ClassNCtx, &m.ClassNCtx}, {"task-n-ctx", s.TaskNCtx, &m.TaskNCtx}} {
		if slices.Contains(given, c.name) {
			*c.dst = c.v
		}
	}
	for _, b := range []struct {
		name, v string
		dst     *bool
	}{{"csc", s.CSC, &m.CSC}, {"class-csc", s.ClassCSC, &m.ClassCSC}, {"task-csc", s.TaskCSC, &m.TaskCSC}} {
		if b.v == "" {
			continue
		}
		v, err := strconv.ParseBool(b.v)
		if err != nil {
			return cfg, errors.Errorf("--%s: %q is not true or false", b.name, b.v)
		}
		*b.dst = v
	}
	if s.PGType != "" {
		m.PGType = s.PGType
	}
	m.CtxInit, m.TaskCtxInit, m.Position, m.ClassSample = s.CtxInit, s.TaskCtxInit, s.Position, s.ClassSample
	return m.Config(method)
}

// TrainOptions returns the training settings of the flags as options
// (each cell sets its seed and checkpoint folder).
func (s *Settings) TrainOptions() softcpt.TrainOptions { return s.Train.Apply(softcpt.TrainOptions{}) }
