package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/internal/cliflag"
	"github.com/softcpt/softcpt-go/report"
	"github.com/softcpt/softcpt-go/sweep"
)

const reportUsage = `usage: softcpt report [--ci95] [--out DIR] [--shots-table K] [-v] ROOT...

Collects the results of training/evaluation runs and prints the paper's
tables as Markdown.

Every run writes DIR/results.json ({"benchmark", "method", "shots", "seed",
"overall", "tasks": [{"name", "metric", "value"}], ...}). report walks each
ROOT (a directory, searched recursively, or a single file; a sweep folder
stands for its cells' run folders, and report lists its unfinished cells)
for them, groups the results by (benchmark, method, configuration, shots)
and averages over seeds (a method run with several configurations, the
"run" of its results, gets a row "METHOD [CONFIG]" per configuration):

  * overall score: mean ± population std over seeds (numpy's np.std,
    ddof=0, as the authors' parse_test_res.py), or with --ci95 the
    half-width of a 95% confidence interval, 1.96·std/√n;
  * the same for every task.

Standard output gets, per benchmark:

  1. a table like the paper's: one row per method, columns 0 (zero-shot,
     only if there are zero-shot results), 1, 2, 4, 8, 16 shots and Avg.
     (the mean of the five few-shot means, only when all five exist);
     cells read "74.17±0.35"; a single seed shows the mean only; a cell
     with an unusual number of seeds is marked "(n=2)";
  2. a per-task table (rows = tasks, columns = methods) for K shots
     (--shots-table; zero-shot methods are added as extra columns);
  3. warnings, e.g. methods run with different numbers of seeds.

With --out DIR it also writes, per benchmark, into DIR/BENCHMARK/:
summary.json (all numbers, machine-readable), summary.md (the tables),
shots.png and shots.svg (overall score vs shots, one line per method with
error bars, zero-shot methods dashed).

Other *.json files found under ROOT (configs, features) are skipped with a
warning unless they look like results; a broken results.json is an error
naming the file. Two results for the same benchmark, method, configuration,
shots and seed are an error: remove the duplicate or pass only one of the
directories.

Example:

  softcpt report --out report/ runs/general10 runs/zeroshot

flags:`

func cmdReport(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	ci95 := fs.Bool("ci95", false, "report the 95% confidence interval 1.96·std/√n instead of the std")
	out := fs.String("out", "", "also write summary.json, summary.md, shots.png and shots.svg into `DIR`/BENCHMARK/")
	shotsTable := fs.Int("shots-table", 16, "shot setting `K` of the per-task table (0 = zero-shot, -1 = no per-task table)")
	verbose := fs.Bool("v", false, "list every skipped JSON file (default: count them)")
	digits := fs.Int("digits", 2, "decimals in the tables")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), reportUsage)
		fs.PrintDefaults()
	}
	roots, err := cliflag.ParseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(roots) == 0 {
		fs.Usage()
		return errors.New("report: give at least one ROOT directory")
	}
	if *shotsTable < -1 {
		return errors.Errorf("report: --shots-table %d: want a shot setting >= 0, or -1 for no per-task table", *shotsTable)
	}
	if roots, err = sweep.ResultRoots(ctx, roots, os.Stderr); err != nil {
		return errors.Wrap(err, "report")
	}
	if *digits < 1 || *digits > 6 {
		return errors.Errorf("report: --digits %d: want 1..6", *digits)
	}

	results, skipped, err := report.ScanRoots(ctx, roots)
	if err != nil {
		return errors.Wrap(err, "report")
	}
	report.WriteSkipped(os.Stderr, skipped, *verbose)
	if len(results) == 0 {
		return errors.Errorf("report: no results.json found under %s", strings.Join(roots, ", "))
	}

	o := report.Output{Options: report.Options{CI95: *ci95}, Dir: *out, TaskShots: *shotsTable, Format: report.TableFormat{Digits: *digits}}
	return report.Write(ctx, os.Stdout, os.Stderr, results, o)
}
