package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/data"
	"github.com/softcpt/softcpt-go/softcpt"
)

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
	m, tok, def, err := c.load()
	if err != nil {
		return err
	}
	dev, err := openBackend(string(c.device), m)
	if err != nil {
		return err
	}
	defer dev.close()
	var base *experiment
	for _, k := range c.shots {
		for _, seed := range c.seeds {
			b, err := c.benchmarkFor(def, k, seed)
			if err != nil {
				return err
			}
			var exp *experiment
			if base == nil {
				base = newExperiment(b.Name, m, tok, tasksFromBenchmark(b))
				base.dev = dev
				exp = base
			} else {
				exp = base.withTasks(tasksFromBenchmark(b))
			}
			if err := runLinearProbe(ctx, exp, k, seed, c.out, softcpt.ProbeOptions{LBFGS: softcpt.LBFGSOptions{MaxIter: *maxIter}}); err != nil {
				return err
			}
		}
	}
	return nil
}

// runLinearProbe fits and scores the linear probe on every task and
// writes the results.
func runLinearProbe(ctx context.Context, exp *experiment, k, seed int, out string, probe softcpt.ProbeOptions) error {
	var scores []taskScore
	var vals []float64
	cs := map[string]float64{}
	var valOnTrain []string
	for _, t := range exp.tasks {
		split := func(exs []softcpt.Example) (softcpt.ProbeSplit, error) {
			x, err := exp.features(ctx, exs)
			y := make([]int, len(exs))
			for i, e := range exs {
				y[i] = e.Label
			}
			return softcpt.ProbeSplit{X: x, Y: y}, err
		}
		tr, err := split(t.train)
		if err != nil {
			return err
		}
		va, err := split(t.val)
		if err != nil {
			return err
		}
		te, err := split(t.test)
		if err != nil {
			return err
		}
		if len(va.Y) == 0 {
			// No image is left for validation (every image of the pool is
			// a training shot): C is chosen on the training shots, noted
			// in the results' config.
			va = tr
			valOnTrain = append(valOnTrain, t.spec.Name)
		}
		res, err := softcpt.LinearProbe(tr, va, te, len(t.spec.Classes), t.metric, probe)
		if err != nil {
			return errors.Wrapf(err, "linear probe on %s task %s, %d shots, seed %d", exp.benchmark, t.spec.Name, k, seed)
		}
		scores = append(scores, taskScore{Name: t.spec.Name, Metric: string(t.metric), Value: res.TestScore, N: len(te.Y)})
		vals = append(vals, res.TestScore)
		cs[t.spec.Name] = res.C
	}
	overall := data.MeanScore(vals)
	logf("LinearProbe %d-shot seed %d on %s: overall %.2f%%", k, seed, exp.benchmark, overall)
	dir := runDir(out, exp.benchmark, "LinearProbe", k, seed)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return errors.Wrapf(err, "creating %s", dir)
	}
	return writeResult(dir, exp.benchmark, "LinearProbe", k, seed, overall, scores, map[string]any{"C": cs, "val_on_train": valOnTrain, "lbfgs_max_iter": probe.LBFGS.MaxIter})
}
