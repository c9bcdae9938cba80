package main

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/softcpt/softcpt-go/experiment"
	"github.com/softcpt/softcpt-go/softcpt"
)

func cmdDemo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	quick := fs.Bool("quick", false, "a smaller run (one seed, shots 1 and 4, fewer epochs) that finishes in about two minutes")
	out := fs.String("out", "demo-output", "output directory (results.json per run, tables, plots)")
	benchPath := fs.String("benchmark-file", "", "packed real-image benchmark (default: the shipped "+experiment.ShippedBenchmark+", embedded in the binary)")
	modelPath := fs.String("model", "", "CLIP checkpoint (default: the shipped "+experiment.ShippedModel+", embedded in the binary)")
	bpePath := fs.String("bpe", "", "BPE merges of the model's tokenizer (default: the file the model's metadata names beside it, or the embedded "+experiment.ShippedBPE+" with the embedded model)")
	groups := fs.String("groups", "general", "comma-separated task groups of the benchmark: general (unrelated tasks, the General-10 analogue), nature (correlated tasks, the Plant-6 analogue), attributes (label sets over shared images, the Fashion-20 analogue), or all")
	methods := fs.String("methods", "zeroshot,linprobe,coop-mt,coop-ca,nata,nats", "comma-separated methods")
	shots, seeds := shotList{intList{1, 2, 4, 8, 16}}, intList{1, 2, 3}
	fs.Var(&shots, "shots", "comma-separated shot counts per class (\"all\": all the training data)")
	fs.Var(&seeds, "seed", "comma-separated seeds")
	epochs := fs.Int("epochs", 0, "training epochs per run, the first at the warm-up rate (default: 10, 6 with --quick)")
	lr := fs.Float64("lr", 0.01, "SGD learning rate (the paper's 0.002 is for 50 epochs of batch 32; the demo's short schedule of larger batches uses 0.01)")
	batch := fs.Int("batch-size", 0, "training batch size (default: the training set divided into --steps-per-epoch batches)")
	stepsPerEpoch := fs.Int("steps-per-epoch", 6, "with no --batch-size: batches per epoch (the batch size grows with the number of shots, which keeps the demo's cost per run fixed; text features are computed once per step whatever the batch size)")
	var device deviceFlag
	device.register(fs)
	var precision precisionFlag
	precision.register(fs)
	nCtx := fs.Int("n-ctx", experiment.DemoNCtx, "N_CTX: learned context length of the class prompts (the paper's 16 suits OpenAI's CLIP; the shipped small CLIP was pretrained on short captions, in a context of 32 tokens, and learns best with 4, see README.md)")
	ctxInit := fs.String("ctx-init", "", "CTX_INIT: initialise the learned contexts from these words (e.g. \"a photo of a\"), or from each task's zero-shot template (\"template\"; see 'softcpt train -h'); default N(0, 0.02)")
	probeIter := fs.Int("probe-max-iter", 50, "L-BFGS iterations per linear-probe fit (the authors use 1000; 50 keeps the demo short, at the price of fits that stop before convergence)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `usage: softcpt demo [--quick] [--out DIR]

Runs the paper's comparison on the shipped real-image benchmark with the
small CLIP pretrained by this project, both embedded in the binary (no
download, no other file needed; it says which it used): zero-shot CLIP,
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
	if _, _, err := experiment.ParseDevice(string(device)); err != nil {
		return err
	}
	ep := *epochs
	if *quick {
		if !flagSet(fs, "shots") {
			shots = shotList{intList{1, 4}}
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
	g := experiment.Grid{Methods: strings.Split(*methods, ","), Shots: shots.intList, Seeds: seeds, Train: softcpt.Defaults(), StepsPerEpoch: *stepsPerEpoch,
		Probe: softcpt.ProbeOptions{LBFGS: softcpt.LBFGSOptions{MaxIter: *probeIter}},
		Config: func(method string) (softcpt.Config, error) {
			cfg, err := softcpt.MethodConfig(method)
			cfg.NCtx, cfg.CtxInit = *nCtx, *ctxInit
			return cfg, err
		}}
	g.Train.Epochs, g.Train.LR, g.Train.BatchSize, g.AutoResume = ep, *lr, *batch, true
	start := time.Now()
	o := experiment.ShippedOptions{Benchmark: *benchPath, Model: *modelPath, BPE: *bpePath, Groups: strings.Split(*groups, ","), Device: string(device), Precision: string(precision), Out: *out}
	if err := experiment.RunShipped(ctx, o, g); err != nil {
		return err
	}
	experiment.Logf("demo finished in %s; results in %s", time.Since(start).Round(time.Second), *out)
	// The tables and plots of 'softcpt report', per task group.
	return cmdReport(ctx, []string{"--out", filepath.Join(*out, "summary"), *out})
}

// flagSet reports whether the named flag was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool { return slices.Contains(given(fs), name) }
