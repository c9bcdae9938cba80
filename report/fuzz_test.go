package report

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzReadResult reads arbitrary bytes as a results.json: errors must name
// the file; a result that reads must be valid (finite scores in [0, 100],
// the overall score the mean of the tasks').
func FuzzReadResult(f *testing.F) {
	f.Add([]byte(`{"benchmark": "general10", "method": "SoftCPT-NATA", "shots": 16, "seed": 1, "overall": 50,
		"tasks": [{"name": "a", "value": 40}, {"name": "b", "value": 60}], "config": {"lr": 0.002}, "created": "2026-01-02T03:04:05Z"}`))
	f.Add([]byte(`{"benchmark": "g", "method": "m", "shots": 16, "seed": 3, "overall": 170}`))
	f.Add([]byte(`{"benchmark": "g", "method": "m", "shots": -4, "seed": 3, "overall": 1e400}`))
	f.Add([]byte(`{"benchmark": "g", "method": "m", "shots": 0, "seed": 3, "overall": null}`))
	f.Add([]byte(`{"benchmark": "g", "method": "m", "shots": 1, "seed": 1, "overall": 1, "tasks": [{"name": "a", "value": 1}, {"name": "a", "value": 1}]}`))
	f.Add([]byte(`{"benchmark": "g", "method": "m", "shots": 99999999999999999999, "seed": 1, "overall": 1}`))
	f.Add([]byte(`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, ResultFile)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := ReadResult(p)
		if err != nil {
			if !strings.Contains(err.Error(), p) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if (r.Shots < 0 && r.Shots != AllShots) || math.IsNaN(r.Overall) || r.Overall < 0 || r.Overall > 100 || strings.TrimSpace(r.Method) == "" {
			t.Fatalf("invalid result read: %+v", r)
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("a result that reads does not validate: %v", err)
		}
	})
}
