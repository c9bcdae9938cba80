package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/softcpt/softcpt-go/experiment"
	"github.com/softcpt/softcpt-go/internal/cliflag"
	"github.com/softcpt/softcpt-go/softcpt"
)

func cmdTrain(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	var c commonFlags
	c.register(fs)
	c.registerCells(fs, cliflag.Training|cliflag.Method)
	method := registerMethod(fs)
	resume := fs.Bool("resume", false, "continue each run from the checkpoint in its folder, with the settings it was trained with (flags given that contradict them are an error); says from which epoch, or that there was nothing to resume")
	base2new := fs.Bool("base2new", false, "base-to-new: train on the first half of each task's classes, evaluate on them and on the other half with prompts rebuilt from the new class names")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `usage: softcpt train --benchmark NAME|FILE --data-root DIR --model FILE --bpe FILE [--method NATA] [--shots 1,2,4,8,16] [--seed 1,2,3] [flags]

Trains a prompt learner (SoftCPT variants nata, nats, cata, csta, cats,
csts; CoOp baselines coop-mt, coop-ca, coop-cs) jointly on every task of
the benchmark for each shot count and seed, evaluates it on the test
splits and writes OUT/<benchmark>/<method>/<config>/shots_K/seed_S/results.json
with a checkpoint beside it; <config> names the settings that change
results, a readable part and a hash of them all (e.g.
nctx4_ep50_bs32_lr0.002-1a2b3c4d; run.json beside it lists them). A run
whose results.json is there is skipped (--force reruns it); --resume
continues interrupted runs with their saved settings. Without --n-ctx,
N_CTX is the model's default (see --n-ctx). Aggregate with
'softcpt report OUT'.`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	g, err := c.methodGrid(*method, fs)
	if err != nil {
		return err
	}
	g.NCtxFromModel = !flagSet(fs, "n-ctx")
	g.Train, g.BaseToNew = c.cell.TrainOptions(), *base2new
	g.Train.Resume = *resume
	return experiment.Run(ctx, c.options(c.cell.FullPrompts), g)
}

func cmdEval(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	var c commonFlags
	c.register(fs)
	c.registerCells(fs, cliflag.Method)
	method := registerMethod(fs)
	from := fs.String("from", "", "output directory of the training runs (default: --out); each run's checkpoint is read from FROM/<benchmark>/<method>/<config>/shots_K/seed_S")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `usage: softcpt eval --benchmark NAME|FILE --data-root DIR --model FILE --bpe FILE --method NATA [--shots ...] [--seed ...] [--from DIR] [--out DIR]

Evaluates prompts learned by 'softcpt train' without training again: for
each shot count and seed it finds the trained run of the method under
FROM, rebuilds the learner with the settings it was trained with (its
run.json and checkpoint.json: the method's flags need not be repeated;
one given that contradicts them is an error, and where several trained
runs exist the flags given choose one), loads its checkpoint and scores it
on the benchmark's test splits, writing
OUT/<benchmark>/<method>/<config>/shots_K/seed_S/results.json (skipped
when it is there, unless --force).`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *from == "" {
		*from = c.out
	}
	g, err := c.methodGrid(*method, fs)
	if err != nil {
		return err
	}
	g.From = *from
	return experiment.Run(ctx, c.options(false), g)
}

func cmdZeroShot(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("zeroshot", flag.ContinueOnError)
	var c commonFlags
	c.register(fs)
	c.cell.Register(fs, cliflag.ZeroShot, false)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `usage: softcpt zeroshot --benchmark NAME|FILE --data-root DIR --model FILE --bpe FILE [--templates T1|T2...]

Zero-shot CLIP on every task of the benchmark with each task's template
(the paper's, from the benchmark definition), or an ensemble with
--templates. Writes OUT/<benchmark>/ZeroShot/<config>/shots_0/seed_0/results.json
(<config>: templatesN-<hash of the templates and tasks>); skipped when it
is there, unless --force.`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	g := c.grid("zeroshot", fs)
	if c.cell.Templates != "" {
		g.Templates = strings.Split(c.cell.Templates, "|")
	}
	return experiment.Run(ctx, c.options(false), g)
}

func cmdLinProbe(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("linprobe", flag.ContinueOnError)
	var c commonFlags
	c.register(fs)
	c.registerCells(fs, cliflag.Probe)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `usage: softcpt linprobe --benchmark NAME|FILE --data-root DIR --model FILE --bpe FILE [--shots 1,2,4,8,16] [--seed 1,2,3]

The linear-probe baseline of CLIP (the authors' lpclip protocol): L2
logistic regression on frozen image features of K shots per class, with
the regularisation C chosen on min(K, 4) validation shots per class (grid
1e6 … 1e-6, then log-space bisection), scored on the test split with each
task's metric. Writes OUT/<benchmark>/LinearProbe/<config>/shots_K/seed_S/results.json
(<config>: iterN-<hash of the probe's settings and tasks>); a run whose
results.json is there is skipped, unless --force.`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	g := c.grid("linprobe", fs)
	g.Probe = softcpt.ProbeOptions{LBFGS: softcpt.LBFGSOptions{MaxIter: c.cell.MaxIter}}
	return experiment.Run(ctx, c.options(false), g)
}
