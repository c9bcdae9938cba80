package main

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/softcpt/softcpt-go/sweep"
)

// TestSweepFlagErrors: contradictory or missing flags are errors that
// name them, before anything runs.
func TestSweepFlagErrors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "s")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--methods", "nata"}, "give the sweep folder"},
		{[]string{"--dir", dir, "--methods", "nata"}, "give --local N"},
		{[]string{"--dir", dir, "--methods", "nata", "--local", "2", "--slurm"}, "give --local N"},
		{[]string{"--dir", dir, "--file", "x.json", "--methods", "nata", "--local", "1"}, "give --file or grid flags, not both (--methods)"},
		{[]string{"--dir", dir, "--local", "1"}, "give --file or grid flags"},
		{[]string{"--dir", dir, "--methods", "nata", "--epochs", "0", "--local", "1"}, "epochs = 0"},
		{[]string{"--dir", dir, "--methods", "nata", "--slurm", "--gpus", "two"}, `--gpus "two"`},
		{[]string{"--dir", dir, "--methods", "nata", "--slurm", "--gpus", "1", "--gres", "gpu:1"}, "--gpus or --gres"},
		{[]string{dir, "--dir", dir, "--local", "1"}, "one sweep folder"},
		{[]string{"run-cell", dir, "x"}, `INDEX "x"`},
		{[]string{"status"}, "give the sweep folder"},
	} {
		err := cmdSweep(context.Background(), tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("softcpt sweep %q: error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
}

// TestSweepFlagsSpec: the grid flags make the sweep that the same sweep
// file makes (same cells).
func TestSweepFlagsSpec(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "s.json")
	err := os.WriteFile(file, []byte(`{"methods": ["nata"], "zeroshot": true, "shots": [1, 4], "seeds": [1],
		"params": {"epochs": 3, "n_ctx": 4}, "overrides": {"zeroshot": {"templates": ["a {}", "b {}"]}}}`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := sweep.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	fromFile, err := sweep.Create(filepath.Join(dir, "a"), spec)
	if err != nil {
		t.Fatal(err)
	}
	var f sweepFlags
	fs := flag.NewFlagSet("sweep", flag.ContinueOnError)
	f.register(fs)
	if err := fs.Parse([]string{"--methods", "zeroshot,nata", "--shots", "1,4", "--seed", "1", "--epochs", "3", "--n-ctx", "4", "--templates", "a {}|b {}"}); err != nil {
		t.Fatal(err)
	}
	if spec, err = f.grid.FromFlagSet(fs, f.file); err != nil {
		t.Fatal(err)
	}
	fromFlags, err := sweep.Create(filepath.Join(dir, "b"), spec)
	if err != nil {
		t.Fatal(err)
	}
	if len(fromFile.Cells) != 3 || len(fromFlags.Cells) != 3 {
		t.Fatalf("%d and %d cells, want 3", len(fromFile.Cells), len(fromFlags.Cells))
	}
	for i := range fromFile.Cells {
		if a, b := fromFile.Cells[i].ID, fromFlags.Cells[i].ID; a != b {
			t.Errorf("cell %d: %s from the file, %s from the flags", i, a, b)
		}
	}
}
