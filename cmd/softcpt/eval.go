package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/softcpt"
)

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
			exp := newExperiment(b.Name, m, tok, tasksFromBenchmark(b))
			exp.dev = dev
			l, err := softcpt.NewLearner(cfg, m, tok, exp.specs(), uint64(seed))
			if err != nil {
				return err
			}
			src := runDir(*from, b.Name, cfg.Name, k, seed)
			epochs, err := softcpt.LoadCheckpoint(src, l)
			if err != nil {
				return errors.Wrapf(err, "%s, %d shots, seed %d", cfg.Name, k, seed)
			}
			scores, overall, err := exp.evaluate(ctx, l.AllClassFeatures())
			if err != nil {
				return err
			}
			logf("%s %d-shot seed %d (checkpoint of epoch %d in %s): overall %.2f%%", cfg.Name, k, seed, epochs, src, overall)
			dir := runDir(c.out, b.Name, cfg.Name, k, seed)
			if err := writeResult(dir, b.Name, cfg.Name, k, seed, overall, scores, map[string]any{"method": cfg, "checkpoint": src, "epochs": epochs}); err != nil {
				return err
			}
		}
	}
	return nil
}
