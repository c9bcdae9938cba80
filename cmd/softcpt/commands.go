package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/softcpt/softcpt-go/experiment"
	"github.com/softcpt/softcpt-go/softcpt"
)

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
	g := c.grid(cfg.Name)
	g.Config = func(string) (softcpt.Config, error) { return cfg, nil }
	g.Train, g.BaseToNew = tf.options(), tf.base2new
	return experiment.Run(ctx, c.options(mf.fullPrompts), g)
}

func cmdEval(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	var c commonFlags
	var mf methodFlags
	c.register(fs)
	mf.register(fs)
	from := fs.String("from", "", "output directory of the training runs (default: --out); each run's checkpoint is read from FROM/<benchmark>/<method>/shots_K/seed_S")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `usage: softcpt eval --benchmark NAME|FILE --data-root DIR --model FILE --bpe FILE --method NATA [--shots ...] [--seed ...] [--from DIR] [--out DIR]

Evaluates prompts learned by 'softcpt train' without training again: for
each shot count and seed it rebuilds the learner, loads the checkpoint of
that run and scores it on the benchmark's test splits (all tasks, or
--tasks), writing OUT/<benchmark>/<method>/shots_K/seed_S/results.json.
The method's flags must match the training run's.`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *from == "" {
		*from = c.out
	}
	cfg, err := mf.config()
	if err != nil {
		return err
	}
	g := c.grid(cfg.Name)
	g.Config = func(string) (softcpt.Config, error) { return cfg, nil }
	g.From = *from
	return experiment.Run(ctx, c.options(false), g)
}

func cmdZeroShot(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("zeroshot", flag.ContinueOnError)
	var c commonFlags
	c.register(fs)
	templates := fs.String("templates", "", "extra zero-shot templates separated by '|' (\"{}\" is the class name), ensembled with each task's own template")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `usage: softcpt zeroshot --benchmark NAME|FILE --data-root DIR --model FILE --bpe FILE [--templates T1|T2...]

Zero-shot CLIP on every task of the benchmark with each task's template
(the paper's, from the benchmark definition), or an ensemble with
--templates. Writes OUT/<benchmark>/zeroshot/shots_0/seed_0/results.json.`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	g := c.grid("zeroshot")
	if *templates != "" {
		g.Templates = strings.Split(*templates, "|")
	}
	return experiment.Run(ctx, c.options(false), g)
}

func cmdLinProbe(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("linprobe", flag.ContinueOnError)
	var c commonFlags
	c.register(fs)
	maxIter := fs.Int("max-iter", 1000, "L-BFGS iterations per fit (the authors' sklearn max_iter)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `usage: softcpt linprobe --benchmark NAME|FILE --data-root DIR --model FILE --bpe FILE [--shots 1,2,4,8,16] [--seed 1,2,3]

The linear-probe baseline of CLIP (the authors' lpclip protocol): L2
logistic regression on frozen image features of K shots per class, with
the regularisation C chosen on min(K, 4) validation shots per class (grid
1e6 … 1e-6, then log-space bisection), scored on the test split with each
task's metric. Writes OUT/<benchmark>/LinearProbe/shots_K/seed_S/results.json.`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	g := c.grid("linprobe")
	g.Probe = softcpt.ProbeOptions{LBFGS: softcpt.LBFGSOptions{MaxIter: *maxIter}}
	return experiment.Run(ctx, c.options(false), g)
}
