package report

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestScanRoots: a result reached through two roots counts once, a
// non-result JSON file is reported as skipped, a missing root is an
// error naming it.
func TestScanRoots(t *testing.T) {
	dir := t.TempDir()
	run := filepath.Join(dir, "runs", "a")
	r := Result{Benchmark: "b", Method: "nata", Shots: 1, Seed: 1, Overall: 50, Tasks: []TaskResult{{Name: "t", Metric: "accuracy", Value: 50}}}
	if err := WriteResult(run, r); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "runs", "config.json"), []byte(`{"x": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	rs, skipped, err := ScanRoots(context.Background(), []string{filepath.Join(dir, "runs"), run})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || len(skipped) != 1 || !strings.Contains(skipped[0], "config.json") {
		t.Errorf("%d results, skipped %q; want 1 result and config.json skipped", len(rs), skipped)
	}
	var w bytes.Buffer
	WriteSkipped(&w, skipped, false)
	if !strings.HasPrefix(w.String(), "warning: 1 JSON file(s) skipped") {
		t.Errorf("WriteSkipped: %q", w.String())
	}
	missing := filepath.Join(dir, "nothing")
	if _, _, err := ScanRoots(context.Background(), []string{missing}); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing root: error %v, want one naming %s", err, missing)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := ScanRoots(ctx, []string{run}); err == nil {
		t.Error("cancelled context: no error")
	}
}

// TestSummaryDirs: names become one path element, and two benchmarks
// with the same folder are an error naming both.
func TestSummaryDirs(t *testing.T) {
	for in, want := range map[string]string{"general10": "general10", "a/b c": "a_b_c", "": "_", ".": "_.", "..": "_..", "x.y-z_1": "x.y-z_1"} {
		if got := DirName(in); got != want {
			t.Errorf("DirName(%q) = %q, want %q", in, got, want)
		}
	}
	dirs, err := SummaryDirs("out", []string{"general10", "a/b"})
	if err != nil || dirs[0] != filepath.Join("out", "general10") || dirs[1] != filepath.Join("out", "a_b") {
		t.Errorf("SummaryDirs = %q, %v", dirs, err)
	}
	if _, err := SummaryDirs("out", []string{"a/b", "a b"}); err == nil || !strings.Contains(err.Error(), `"a/b" and "a b"`) {
		t.Errorf("shared folder: error %v, want one naming both benchmarks", err)
	}
}
