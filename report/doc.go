// Package report reads the results.json files written by training and
// evaluation runs, aggregates them over seeds, and renders the paper's
// tables (Markdown) and accuracy-vs-shots plots (PNG/SVG).
//
// # results.json
//
// Every run of the driver writes DIR/results.json (see [WriteResult]):
//
//	{
//	  "benchmark": "general10",          // required, non-empty
//	  "method": "SoftCPT-NATA",          // required, non-empty
//	  "shots": 16,                       // required, >= 0; 0 means zero-shot, -1 all the training data
//	  "seed": 1,                         // required
//	  "overall": 74.2,                   // required, percent in [0, 100]
//	  "tasks": [                         // optional; names unique
//	    {"name": "caltech101", "metric": "mean_per_class", "value": 93.1}
//	  ],
//	  "config": {...},                   // optional, free-form
//	  "created": "2026-11-28T10:00:00Z", // optional, RFC 3339
//	  "version": "v0.1.0-12-gabcdef"     // optional
//	}
//
// Scores are percentages. When tasks are present, overall must equal their
// unweighted mean (the benchmark score of the authors' evaluator) within
// [OverallTolerance]; this catches fraction-vs-percent and weighting
// mistakes before they reach a table. Unknown keys are ignored.
//
// # Aggregation
//
// [Aggregate] groups results by (benchmark, method, shots) and reports,
// like the authors' parse_test_res.py, the mean and the population
// standard deviation (numpy's default, ddof=0) over seeds of the overall
// score and of every task's score; with Options.CI95 the spread is instead
// the half-width of a normal 95% confidence interval, 1.96·std/√n, again
// with the population std, as parse_test_res.py --ci95 computes it.
// Differences from parse_test_res.py: results are grouped by their own
// fields rather than by directory, two results for the same seed of a
// group are an error rather than silently averaged, and groups whose seed
// counts or task sets differ produce warnings.
//
// # Tables
//
// [Table] renders one Markdown table per benchmark shaped like the paper's
// (rows = methods; columns 1, 2, 4, 8, 16 shots, any other few-shot
// settings present, and "Avg."). Cells read "mean±spread" with two
// decimals; a cell from a single seed shows only the mean, and a cell
// whose seed count differs from the table's usual count is suffixed with
// " (n=K)". "Avg." is the mean of the five standard settings' means and is
// shown only when all five are present. Zero-shot results (shots = 0) get
// their own "0" column, first, shown only when some method has one; a
// zero-shot-only method shows "–" in every other column, including Avg.
// (the paper prints ZS-CLIP's single value under Avg.; here Avg. always
// means the five-setting average). Runs on all the training data
// ([AllShots], shots = -1; Dassl's NUM_SHOTS 0) get an "all" column of
// their own, after the few-shot columns, never the zero-shot one. [TaskTable] renders per-task scores for
// one shot setting (rows = tasks, columns = methods).
//
// # Plots
//
// [PlotShots] draws accuracy vs shots for one benchmark: log₂ x axis with
// ticks at the shot settings, one line per method with error bars over
// seeds, zero-shot methods as dashed horizontal lines, legend top-left.
package report
