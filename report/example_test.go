package report_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/softcpt/softcpt-go/report"
)

// Example writes the results.json files a few runs would write (one folder
// per benchmark, method, shots and seed, as `softcpt train` lays them out),
// scans them back and renders the paper-shaped table: mean ± population
// std over seeds, as the authors' parse_test_res.py.
func Example() {
	root, err := os.MkdirTemp("", "report-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(root)
	scores := []struct {
		method      string
		shots, seed int
		digits, pet float64
	}{
		{"ZeroShot", 0, 1, 60, 40},
		{"SoftCPT-NATA", 1, 1, 70, 50},
		{"SoftCPT-NATA", 1, 2, 72, 54},
		{"SoftCPT-NATA", 2, 1, 80, 60},
		{"SoftCPT-NATA", 2, 2, 84, 60},
	}
	for _, s := range scores {
		dir := filepath.Join(root, "mine", s.method, fmt.Sprintf("shots_%d", s.shots), fmt.Sprintf("seed_%d", s.seed))
		err := report.WriteResult(dir, report.Result{
			Benchmark: "mine", Method: s.method, Shots: s.shots, Seed: s.seed,
			Overall: (s.digits + s.pet) / 2, // the unweighted mean of the task scores
			Tasks: []report.TaskResult{
				{Name: "digits", Metric: "accuracy", Value: s.digits},
				{Name: "pets", Metric: "mean_per_class", Value: s.pet},
			},
		})
		if err != nil {
			fmt.Println(err)
			return
		}
	}

	results, err := report.Scan(root)
	if err != nil {
		fmt.Println(err)
		return
	}
	groups, _, err := report.Aggregate(results, report.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(report.BenchmarkTable(groups, "mine", report.TableFormat{}))
	fmt.Println()
	tasks, err := report.TaskTable(groups, "mine", 2, report.TableFormat{Digits: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(tasks)
	// Output:
	// ### mine: overall score (%), mean±std (population, ddof=0) over seeds
	//
	// 2 seeds per cell (cells marked (n=K) differ). Avg. is the mean of the 1/2/4/8/16-shot means, shown when all are present. Column 0 is zero-shot.
	//
	// | Method | 0 | 1 | 2 | 4 | 8 | 16 | Avg. |
	// |---|---:|---:|---:|---:|---:|---:|---:|
	// | ZeroShot | 50.00 | – | – | – | – | – | – |
	// | SoftCPT-NATA | – | 61.50±1.50 | 71.00±1.00 | – | – | – | – |
	//
	// ### mine: per-task scores (%), 2 shots, mean±std (population, ddof=0) over seeds
	//
	// 2 seeds per cell (cells marked (n=K) differ).
	//
	// | Task | Metric | SoftCPT-NATA | ZeroShot (0-shot) |
	// |---|---|---:|---:|
	// | digits | accuracy | 82.0±2.0 | 60.0 |
	// | pets | mean_per_class | 60.0±0.0 | 40.0 |
	// | Overall | mean of tasks | 71.0±1.0 | 50.0 |
}
