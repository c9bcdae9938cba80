package report

import (
	"path/filepath"
	"strings"
	"testing"
)

// Runs on all the training data (shots = AllShots) are valid results,
// get an "all" column of their own after the few-shot columns (not the
// zero-shot column) and plot as a horizontal line.
func TestAllShotsColumn(t *testing.T) {
	rs := []Result{
		mk("b", "ZS-CLIP", 0, 0, 50),
		mk("b", "CoOp-MT", 1, 1, 60), mk("b", "CoOp-MT", 1, 2, 62),
		mk("b", "CoOp-MT", AllShots, 1, 80), mk("b", "CoOp-MT", AllShots, 2, 82),
	}
	for i := range rs {
		if err := rs[i].Validate(); err != nil {
			t.Fatalf("result %d: %v", i, err)
		}
	}
	bad := mk("b", "CoOp-MT", -2, 1, 60)
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "shots is -2") {
		t.Errorf("shots -2: err = %v, want a shots error", err)
	}
	groups, _, err := Aggregate(rs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := BenchmarkTable(groups, "b", TableFormat{})
	for _, want := range []string{
		"| Method | 0 | 1 | 2 | 4 | 8 | 16 | all | Avg. |",
		"| ZS-CLIP | 50.00 | – | – | – | – | – | – | – |",
		"| CoOp-MT | – | 61.00±1.00 | – | – | – | – | 81.00±1.00 | – |",
		"Column all is training on all the training data.",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
	if err := PlotShots(groups, "b", filepath.Join(t.TempDir(), "p.svg")); err != nil {
		t.Errorf("plot with an all-data group: %v", err)
	}
}
