package main

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/clip/imageproc"
	"github.com/softcpt/softcpt-go/clip/tokenizer"
	"github.com/softcpt/softcpt-go/data"
	"github.com/softcpt/softcpt-go/realdata"
	"github.com/softcpt/softcpt-go/softcpt"
)

// Shipped assets, relative to the repository root.
const (
	shippedBenchmark = "realdata/assets/benchmark.bin"
	shippedModel     = "pretrained/model.safetensors"
	shippedBPE       = "pretrained/bpe.txt.gz"
)

// regenerateHint says how to rebuild the shipped assets.
const regenerateHint = "regenerate the benchmark with 'go run ./cmd/builddata -out realdata/assets' and the model with 'softcpt pretrain' (see README.md, 'Shipped model and data')"

// openShipped opens the shipped benchmark, model and tokenizer, with
// errors that say how to regenerate a missing or corrupt file.
func openShipped(benchPath, modelPath, bpePath string) (*realdata.Benchmark, *clip.Model, *tokenizer.Tokenizer, error) {
	b, err := realdata.OpenBenchmark(benchPath)
	if err != nil {
		return nil, nil, nil, errors.Wrapf(err, "shipped benchmark (%s)", regenerateHint)
	}
	m, err := clip.Load(modelPath)
	if err != nil {
		return nil, nil, nil, errors.Wrapf(err, "shipped model (%s)", regenerateHint)
	}
	tok, err := tokenizer.Load(bpePath)
	if err != nil {
		return nil, nil, nil, errors.Wrapf(err, "shipped tokenizer (%s)", regenerateHint)
	}
	if tok.VocabSize() != m.Config.VocabSize {
		return nil, nil, nil, errors.Errorf("tokenizer %s has %d tokens but model %s expects %d (%s)", bpePath, tok.VocabSize(), modelPath, m.Config.VocabSize, regenerateHint)
	}
	return b, m, tok, nil
}

// realTasks builds the experiment tasks of one task group of the shipped
// benchmark with K shots per class drawn with seed (K = 0: no training
// images).
func realTasks(b *realdata.Benchmark, group string, k, seed int) []*task {
	var out []*task
	for ti, rt := range b.TasksIn(group) {
		ex := func(items []realdata.Item) []softcpt.Example {
			exs := make([]softcpt.Example, len(items))
			for i, it := range items {
				idx := it.Image
				exs[i] = softcpt.Example{Task: ti, Label: it.Label, Name: "img:" + strconv.Itoa(idx),
					Load: func() (*imageproc.RGB, error) { return b.Image(idx), nil }}
			}
			return exs
		}
		// K training shots per class from the pool, and min(K, 4)
		// validation shots per class from the rest of it (linear probe).
		var train, val []realdata.Item
		if k > 0 {
			items := make([]data.Item, len(rt.Train))
			for i, it := range rt.Train {
				items[i] = data.Item{Path: strconv.Itoa(it.Image), Label: it.Label}
			}
			picked := map[string]bool{}
			for _, it := range data.FewShot(items, len(rt.Classes), k, data.TaskSeed(rt.ID, uint64(seed))) {
				idx, _ := strconv.Atoi(it.Path)
				train = append(train, realdata.Item{Image: idx, Label: it.Label})
				picked[it.Path] = true
			}
			var rest []data.Item
			for _, it := range items {
				if !picked[it.Path] {
					rest = append(rest, it)
				}
			}
			for _, it := range data.FewShot(rest, len(rt.Classes), softcpt.ProbeValShots(k), data.TaskSeed(rt.ID+"/val", uint64(seed))) {
				idx, _ := strconv.Atoi(it.Path)
				val = append(val, realdata.Item{Image: idx, Label: it.Label})
			}
		}
		metric := data.Accuracy
		if rt.Metric == realdata.MetricMeanPerClass {
			metric = data.MeanPerClass
		}
		out = append(out, &task{
			spec:      softcpt.TaskSpec{Name: rt.ID, TaskName: rt.Phrase, Classes: rt.Classes, Template: rt.Template},
			metric:    metric,
			templates: []string{rt.Template},
			train:     ex(train),
			val:       ex(val),
			test:      ex(rt.Test),
		})
	}
	return out
}

func cmdDemo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	quick := fs.Bool("quick", false, "a smaller run (one seed, shots 1 and 4, fewer epochs) that finishes in about two minutes")
	out := fs.String("out", "demo-output", "output directory (results.json per run, tables, plots)")
	benchPath := fs.String("benchmark-file", shippedBenchmark, "packed real-image benchmark")
	modelPath := fs.String("model", shippedModel, "CLIP checkpoint")
	bpePath := fs.String("bpe", shippedBPE, "BPE merges of the model's tokenizer")
	groups := fs.String("groups", "general", "comma-separated task groups of the benchmark: general (unrelated tasks, the General-10 analogue), nature (correlated tasks, the Plant-6 analogue), attributes (label sets over shared images, the Fashion-20 analogue), or all")
	methods := fs.String("methods", "zeroshot,linprobe,coop-mt,coop-ca,nata,nats", "comma-separated methods")
	var shots, seeds intList
	shots, seeds = intList{1, 2, 4, 8, 16}, intList{1, 2, 3}
	fs.Var(&shots, "shots", "comma-separated shot counts")
	fs.Var(&seeds, "seed", "comma-separated seeds")
	epochs := fs.Int("epochs", 0, "training epochs per run, the first at the warm-up rate (default: 10, 6 with --quick)")
	lr := fs.Float64("lr", 0.01, "SGD learning rate (the paper's 0.002 is for 50 epochs of batch 32; the demo's short schedule of larger batches uses 0.01)")
	batch := fs.Int("batch-size", 0, "training batch size (default: the training set divided into --steps-per-epoch batches)")
	stepsPerEpoch := fs.Int("steps-per-epoch", 6, "with no --batch-size: batches per epoch (the batch size grows with the number of shots, which keeps the demo's cost per run fixed; text features are computed once per step whatever the batch size)")
	var device deviceFlag
	device.register(fs)
	nCtx := fs.Int("n-ctx", demoNCtx, "N_CTX: learned context length of the class prompts (the paper's 16 suits OpenAI's CLIP; the shipped small CLIP was pretrained on short captions, in a context of 32 tokens, and learns best with 4, see README.md)")
	ctxInit := fs.String("ctx-init", "", "CTX_INIT: initialise the learned contexts from these words (e.g. \"a photo of a\"), or from each task's zero-shot template (\"template\"; see 'softcpt train -h'); default N(0, 0.02)")
	probeIter := fs.Int("probe-max-iter", 50, "L-BFGS iterations per linear-probe fit (the authors use 1000; 50 keeps the demo short, at the price of fits that stop before convergence)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `usage: softcpt demo [--quick] [--out DIR]

Runs the paper's comparison on the shipped real-image benchmark with the
small CLIP pretrained by this project (no download needed): zero-shot CLIP,
the linear probe, CoOp-MT, CoOp-CA, SoftCPT-NATA and SoftCPT-NATS, for
each shot count and seed, on a task group of the benchmark (default: the
general set). It prints per-task and averaged tables shaped like the
paper's and writes results.json per run, summary tables and an
accuracy-versus-shots plot into --out.

To fit in minutes on two cores the demo shortens the paper's schedule
(50 epochs of batch 32 at lr 0.002): every run takes --epochs epochs of
--steps-per-epoch batches (the batch grows with the shots) at lr 0.01,
the first epoch at the warm-up rate 1e-5, and the linear probe's L-BFGS
stops after --probe-max-iter iterations. 'softcpt train' runs the
paper's schedule. The learned prompts have 4 context tokens (--n-ctx),
not the paper's 16, which suit OpenAI's CLIP but not the shipped small
one (see README.md).`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if _, _, err := parseDevice(string(device)); err != nil {
		return err
	}
	ep := *epochs
	if *quick {
		if !flagSet(fs, "shots") {
			shots = intList{1, 4}
		}
		if !flagSet(fs, "seed") {
			seeds = intList{1}
		}
		if ep == 0 {
			ep = 6
		}
	}
	if ep == 0 {
		ep = 10
	}
	b, m, tok, err := openShipped(*benchPath, *modelPath, *bpePath)
	if err != nil {
		return err
	}
	dev, err := openBackend(string(device), m)
	if err != nil {
		return err
	}
	defer dev.close()
	gs := strings.Split(*groups, ",")
	if *groups == "all" {
		gs = b.Groups
	}
	start := time.Now()
	for _, g := range gs {
		if len(b.TasksIn(g)) == 0 {
			return errors.Errorf("benchmark %s has no task group %q (groups: %s)", *benchPath, g, strings.Join(b.Groups, ", "))
		}
		opt := softcpt.Defaults()
		opt.Epochs, opt.LR, opt.BatchSize = ep, *lr, *batch
		probe := softcpt.ProbeOptions{LBFGS: softcpt.LBFGSOptions{MaxIter: *probeIter}}
		knobs := demoKnobs{nCtx: *nCtx, ctxInit: *ctxInit}
		if err := runDemoGroup(ctx, b, m, dev, tok, g, strings.Split(*methods, ","), shots, seeds, knobs, opt, *stepsPerEpoch, probe, *out); err != nil {
			return err
		}
	}
	logf("demo finished in %s; results in %s", time.Since(start).Round(time.Second), *out)
	// The tables and plots of 'softcpt report', per task group.
	return cmdReport(ctx, []string{"--out", filepath.Join(*out, "summary"), *out})
}

// flagSet reports whether the named flag was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}

// demoNCtx is the demo's default N_CTX. On the shipped small CLIP the
// paper's 16 context tokens push the class names to positions that its
// pretraining captions (a few words long) hardly used: averaged over
// shots 1–16 and seeds 1–3 on the general set, CoOp-CA scored 34.97% and
// SoftCPT-NATA 28.71% (±10 over seeds) with 16 tokens, 44.99% and 46.21%
// (±1) with 4.
const demoNCtx = 4

// demoKnobs are the method settings the demo lets the user change.
type demoKnobs struct {
	nCtx    int
	ctxInit string
}

// runDemoGroup runs every method, shot count and seed on one task group.
func runDemoGroup(ctx context.Context, b *realdata.Benchmark, m *clip.Model, dev backend, tok softcpt.Tokenizer, group string, methods []string, shots, seeds intList, knobs demoKnobs, base softcpt.TrainOptions, stepsPerEpoch int, probe softcpt.ProbeOptions, out string) error {
	name := "real-" + group
	// One feature cache for the whole group: images are encoded once.
	zs := newExperiment(name, m, tok, realTasks(b, group, 0, 0))
	zs.dev = dev
	for _, method := range methods {
		method = strings.TrimSpace(method)
		switch method {
		case "zeroshot":
			if err := runZeroShot(ctx, zs, out); err != nil {
				return err
			}
			continue
		}
		for _, k := range shots {
			for _, seed := range seeds {
				exp := zs.withTasks(realTasks(b, group, k, seed))
				var err error
				if method == "linprobe" {
					err = runLinearProbe(ctx, exp, k, seed, out, probe)
				} else {
					var cfg softcpt.Config
					if cfg, err = softcpt.MethodConfig(method); err != nil {
						return err
					}
					cfg.NCtx, cfg.CtxInit = knobs.nCtx, knobs.ctxInit
					opt := base
					opt.Seed = uint64(seed)
					if opt.BatchSize <= 0 {
						n := len(exp.allTrain())
						opt.BatchSize = max(1, (n+stepsPerEpoch-1)/stepsPerEpoch)
					}
					dir := runDir(out, name, cfg.Name, k, seed)
					opt.CheckpointDir, opt.Resume = dir, true
					err = runLearned(ctx, exp, cfg, opt, false, k, seed, dir)
				}
				if err != nil {
					return err
				}
			}
		}
	}
	return nil
}
