package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/pkg/errors"
)

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
	m, tok, def, err := c.load()
	if err != nil {
		return err
	}
	b, err := c.benchmarkFor(def, 0, 0)
	if err != nil {
		return err
	}
	dev, err := openBackend(string(c.device), m)
	if err != nil {
		return err
	}
	defer dev.close()
	exp := newExperiment(b.Name, m, tok, tasksFromBenchmark(b))
	exp.dev = dev
	if *templates != "" {
		for _, t := range exp.tasks {
			t.templates = append(t.templates, strings.Split(*templates, "|")...)
		}
	}
	return runZeroShot(ctx, exp, c.out)
}

// runZeroShot evaluates zero-shot CLIP and writes the results.
func runZeroShot(ctx context.Context, exp *experiment, out string) error {
	scores, overall, err := exp.zeroShot(ctx)
	if err != nil {
		return errors.Wrap(err, "zero-shot")
	}
	logf("zero-shot CLIP on %s: overall %.2f%%", exp.benchmark, overall)
	for _, s := range scores {
		logf("  %s", s)
	}
	dir := runDir(out, exp.benchmark, "ZeroShot", 0, 0)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return errors.Wrapf(err, "creating %s", dir)
	}
	tmpl := map[string][]string{}
	for _, t := range exp.tasks {
		tmpl[t.spec.Name] = t.templates
	}
	return writeResult(dir, exp.benchmark, "ZeroShot", 0, 0, overall, scores, map[string]any{"templates": tmpl})
}
