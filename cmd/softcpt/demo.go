package main

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/softcpt/softcpt-go/experiment"
	"github.com/softcpt/softcpt-go/internal/cliflag"
)

func cmdDemo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	o := experiment.DefaultDemo(false)
	d, q := o, experiment.DefaultDemo(true) // the defaults, for the help
	fs.BoolVar(&o.Quick, "quick", false, "a smaller run (one seed, shots 1 and 4, fewer epochs) that finishes in about two minutes")
	fs.StringVar(&o.Out, "out", o.Out, "output directory (results.json per run, tables, plots)")
	fs.StringVar(&o.Benchmark, "benchmark-file", "", "packed real-image benchmark (default: the shipped "+experiment.ShippedBenchmark+", embedded in the binary)")
	fs.StringVar(&o.Model, "model", "", "CLIP checkpoint (default: the shipped "+experiment.ShippedModel+", embedded in the binary)")
	fs.StringVar(&o.BPE, "bpe", "", "BPE merges of the model's tokenizer (default: the file the model's metadata names beside it, or the embedded "+experiment.ShippedBPE+" with the embedded model)")
	groups := fs.String("groups", strings.Join(o.Groups, ","), "comma-separated task groups of the benchmark: general (unrelated tasks, the General-10 analogue), nature (correlated tasks, the Plant-6 analogue), attributes (label sets over shared images, the Fashion-20 analogue), or all")
	methods := fs.String("methods", strings.Join(o.Methods, ","), "comma-separated methods")
	shots, seeds := cliflag.ShotList(o.Shots), cliflag.IntList(o.Seeds)
	fs.Var(&shots, "shots", "comma-separated shot counts per class (\"all\": all the training data)")
	fs.Var(&seeds, "seed", "comma-separated seeds")
	fs.IntVar(&o.Epochs, "epochs", 0, fmt.Sprintf("training epochs per run, the first at the warm-up rate (default: %d, %d with --quick)", d.Epochs, q.Epochs))
	fs.Float64Var(&o.LR, "lr", o.LR, "SGD learning rate (the paper's)")
	fs.IntVar(&o.BatchSize, "batch-size", o.BatchSize, "training batch size (the paper's); 0: the training set divided into --steps-per-epoch batches")
	fs.IntVar(&o.StepsPerEpoch, "steps-per-epoch", o.StepsPerEpoch, "with --batch-size 0: batches per epoch (the batch size then grows with the number of shots, which keeps a run's cost fixed; text features are computed once per step whatever the batch size)")
	device, precision := cliflag.Device(o.Device), cliflag.Precision(o.Precision)
	device.Register(fs)
	precision.Register(fs)
	fs.IntVar(&o.NCtx, "n-ctx", o.NCtx, "N_CTX: learned context length of the class prompts (the paper's 16 suits OpenAI's CLIP; the shipped small CLIP was pretrained on short captions, in a context of 32 tokens, and learns best with 4, see README.md)")
	fs.StringVar(&o.CtxInit, "ctx-init", "", "CTX_INIT: initialise the learned contexts from these words (e.g. \"a photo of a\"), or from each task's zero-shot template (\"template\"; see 'softcpt train -h'); default N(0, 0.02)")
	fs.StringVar(&o.TaskCtxInit, "task-ctx-init", o.TaskCtxInit, "TASK_CTX_INIT of the SoftCPT methods: their task prompts start as \"<these words> <task name>.\" (\"\": N(0, 0.02), the authors' default; see README.md)")
	fs.IntVar(&o.ProbeMaxIter, "probe-max-iter", o.ProbeMaxIter, "L-BFGS iterations per linear-probe fit (the authors use 1000; 50 keeps the demo short, at the price of fits that stop before convergence)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `usage: softcpt demo [--quick] [--out DIR]

Runs the paper's comparison on the shipped real-image benchmark with the
small CLIP pretrained by this project, both embedded in the binary (no
download, no other file needed; it says which it used): zero-shot CLIP,
the linear probe, CoOp-MT, CoOp-CA, SoftCPT-NATA and SoftCPT-NATS, for
each shot count and seed, on a task group of the benchmark (default: the
general set). It prints per-task and averaged tables shaped like the
paper's and writes results.json per run, summary tables and an
accuracy-versus-shots plot into --out.

To fit in minutes on two cores the demo shortens the paper's schedule
(50 epochs of batch 32 at lr 0.002, the first epoch at the warm-up rate
1e-5) to %d epochs (%d with --quick), and the linear probe's L-BFGS stops
after --probe-max-iter iterations; a run's cost grows with its shots, as
in the paper. 'softcpt train' runs the paper's full schedule. The learned
prompts have 4 context tokens (--n-ctx), not the paper's 16, which suit
OpenAI's CLIP but not the shipped small one (see README.md).
`, d.Epochs, q.Epochs)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.Methods, o.Groups, o.Device, o.Precision = strings.Split(*methods, ","), strings.Split(*groups, ","), string(device), string(precision)
	o.Shots, o.Seeds = nil, nil // the defaults of --quick or not, unless given
	if flagSet(fs, "shots") {
		o.Shots = shots
	}
	if flagSet(fs, "seed") {
		o.Seeds = seeds
	}
	if err := experiment.RunDemo(ctx, o); err != nil {
		return err
	}
	// The tables and plots of 'softcpt report', per task group.
	return cmdReport(ctx, []string{"--out", filepath.Join(o.Out, "summary"), o.Out})
}

// flagSet reports whether the named flag was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool { return slices.Contains(cliflag.Given(fs), name) }
