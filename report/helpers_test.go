package report

import (
	"math"
	"testing"
)

// mk builds a valid result whose overall score is the mean of the task
// values (tasks "t1", "t2", ... in order).
func mk(bench, method string, shots, seed int, values ...float64) Result {
	r := Result{Benchmark: bench, Method: method, Shots: shots, Seed: seed}
	sum := 0.0
	for i, v := range values {
		metric := "accuracy"
		if i == 0 {
			metric = "mean_per_class"
		}
		r.Tasks = append(r.Tasks, TaskResult{Name: "t" + string(rune('1'+i)), Metric: metric, Value: v})
		sum += v
	}
	if len(values) > 0 {
		r.Overall = sum / float64(len(values))
	}
	return r
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func checkStat(t *testing.T, what string, got Stat, mean, spread float64, n int) {
	t.Helper()
	if !near(got.Mean, mean) || !near(got.Spread, spread) || got.N != n {
		t.Errorf("%s = %+v, want mean %v spread %v n %d", what, got, mean, spread, n)
	}
}
