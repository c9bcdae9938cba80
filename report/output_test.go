package report

import (
	"bytes"
	"context"
	"io"
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

// TestWrite: every benchmark's Markdown goes to w, the same as
// MarkdownReport, and with Dir its summary files are written; a
// cancelled context stops it.
func TestWrite(t *testing.T) {
	rs := tableFixture()
	groups, warnings, err := Aggregate(rs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := TableFormat{Digits: 2}
	want := MarkdownReport(groups, warnings, "general10", 16, f) + "\n" + MarkdownReport(groups, warnings, "plant6", 16, f)
	dir := t.TempDir()
	for _, out := range []string{"", dir} {
		var w, log bytes.Buffer
		if err := Write(context.Background(), &w, &log, rs, Output{Dir: out, TaskShots: 16, Format: f}); err != nil {
			t.Fatal(err)
		}
		if w.String() != want {
			t.Errorf("Dir %q: Markdown\n%s\nwant\n%s", out, w.String(), want)
		}
		if out != "" && !strings.Contains(log.String(), "report: wrote "+filepath.Join(dir, "plant6")+"/{summary.json") {
			t.Errorf("log: %q", log.String())
		}
	}
	for _, name := range []string{"general10/summary.json", "general10/shots.svg", "plant6/summary.md"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Write(ctx, io.Discard, io.Discard, rs, Output{}); err == nil {
		t.Error("cancelled context: no error")
	}
}
