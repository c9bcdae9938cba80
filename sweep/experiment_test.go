package sweep

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/report"
	"github.com/softcpt/softcpt-go/softcpt"
)

// tinySpec is a sweep on two tasks of the shipped data with short
// training: zero-shot,
// the linear probe and the given methods at the given shots and seeds.
func tinySpec(methods []string, shots, seeds []int) *Spec {
	return &Spec{Tasks: []string{"general/vehicles", "general/handwritten-digits"}, Methods: methods, Shots: shots, Seeds: seeds, ZeroShot: true, LinProbe: true,
		Params:    Params{Epochs: ptr(2), BatchSize: ptr(8), LR: ptr(0.01), NCtx: ptr(4)},
		Overrides: map[string]Params{LinProbe: {MaxIter: ptr(30)}}}
}

// cacheFiles lists the feature cache's files under the output root with
// their sizes and modification times.
func cacheFiles(t *testing.T, out string) map[string]string {
	t.Helper()
	files := map[string]string{}
	root := filepath.Join(out, ".cache", "features")
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".f32") {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		files[path] = fmt.Sprintf("%s %d bytes", fi.ModTime().Format(time.RFC3339Nano), fi.Size())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestExperimentsShipped runs a small sweep on the shipped model and
// benchmark with the experiment layer: the cache with one runner, then
// the cells with another (an empty in-memory cache, as in another
// process). The cells must write no feature cache file (every feature
// they read was cached: a cell that encoded images would write them),
// every cell must write its results, and a second run must run no cell.
func TestExperimentsShipped(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping a sweep on the shipped model")
	}
	ctx := context.Background()
	spec := tinySpec([]string{"nata"}, []int{1}, []int{1})
	s, err := Create(filepath.Join(t.TempDir(), "tiny"), spec)
	if err != nil {
		t.Fatal(err)
	}
	cache := &Experiments{}
	defer cache.Close()
	start := time.Now()
	if err := RunCache(ctx, s.Dir, cache); err != nil {
		t.Fatal(err)
	}
	t.Logf("cache: %v", time.Since(start).Round(time.Millisecond))
	before := cacheFiles(t, s.Output)
	if len(before) == 0 {
		t.Fatal("the cache job wrote no feature cache file")
	}
	cells := &Experiments{}
	defer cells.Close()
	start = time.Now()
	if err := RunLocal(ctx, s, 2, cells, t.Logf); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d cells: %v", len(s.Cells), time.Since(start).Round(time.Millisecond))
	after := cacheFiles(t, s.Output)
	for f, v := range after {
		if before[f] != v {
			t.Errorf("a cell wrote feature cache file %s (%s; before: %q): it encoded images the cache job did not", f, v, before[f])
		}
	}
	res, err := report.Scan(s.Output)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range res {
		got = append(got, r.Method)
		if r.Overall <= 0 || len(r.Tasks) == 0 {
			t.Errorf("result %s: overall %.2f, %d tasks", r.Path, r.Overall, len(r.Tasks))
		}
	}
	sort.Strings(got)
	if want := "LinearProbe SoftCPT-NATA ZeroShot"; strings.Join(got, " ") != want {
		t.Errorf("results of methods %q, want %q", got, want)
	}
	// A second run runs no cell and no cache.
	if err := RunLocal(ctx, s, 2, cells, func(format string, args ...any) { t.Errorf("second run: "+format, args...) }); err != nil {
		t.Fatal(err)
	}
	for _, c := range s.Cells {
		h, err := s.history(c.ID)
		if err != nil || len(h) != 2 {
			t.Errorf("cell %s: history %+v (%v), want one run", c.ID, h, err)
		}
	}
}

// findFile returns the first file named name under root ("" if none).
func findFile(root, name string) string {
	var found string
	filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err == nil && found == "" && d.Name() == name {
			found = path
		}
		return nil
	})
	return found
}

// epochHistory reads the "history" of a checkpoint or of a result's
// config.
func epochHistory(t *testing.T, b []byte) []softcpt.EpochStats {
	t.Helper()
	var v struct {
		History []softcpt.EpochStats `json:"history"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v.History
}

// TestExperimentsResume interrupts a training cell after its first
// checkpoint and runs it again: it resumes (the epochs of the checkpoint
// are kept as they were, timings included) and ends with the scores of
// the same cell run without interruption in another sweep.
func TestExperimentsResume(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping a sweep on the shipped model")
	}
	spec := func() *Spec {
		return &Spec{Tasks: []string{"general/vehicles"}, Methods: []string{"nata"}, Shots: []int{2}, Seeds: []int{1},
			Params: Params{Epochs: ptr(6), BatchSize: ptr(8), LR: ptr(0.01), NCtx: ptr(4)}}
	}
	whole, err := Create(filepath.Join(t.TempDir(), "whole"), spec())
	if err != nil {
		t.Fatal(err)
	}
	r := &Experiments{}
	defer r.Close()
	if err := RunLocal(context.Background(), whole, 1, r, nil); err != nil {
		t.Fatal(err)
	}

	s, err := Create(filepath.Join(t.TempDir(), "resumed"), spec())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { // cancel once the first checkpoint is written
		defer cancel()
		for end := time.Now().Add(5 * time.Minute); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
			if p := findFile(s.Output, "checkpoint.json"); p != "" {
				return
			}
		}
	}()
	first := &Experiments{}
	defer first.Close()
	err = RunLocal(ctx, s, 1, first, nil)
	var in *Interrupted
	if !errors.As(err, &in) {
		t.Fatalf("first attempt: %v, want an interruption after the first checkpoint", err)
	}
	ckpt := findFile(s.Output, "checkpoint.json")
	saved, err := os.ReadFile(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	before := epochHistory(t, saved)
	if len(before) == 0 || len(before) >= 6 {
		t.Fatalf("checkpoint after the interruption holds %d epochs, want 1–5", len(before))
	}
	t.Logf("interrupted after %d of 6 epochs", len(before))
	second := &Experiments{}
	defer second.Close()
	if err := RunLocal(context.Background(), s, 1, second, nil); err != nil {
		t.Fatal(err)
	}
	res, err := report.Scan(s.Output)
	if err != nil || len(res) != 1 {
		t.Fatalf("results %v (%v), want one", res, err)
	}
	after := epochHistory(t, res[0].Config)
	if len(after) != 6 || !reflect.DeepEqual(after[:len(before)], before) {
		t.Errorf("history after resuming %+v, want 6 epochs starting with the checkpoint's %+v", after, before)
	}
	if a, b := scores(t, whole.Output), scores(t, s.Output); !reflect.DeepEqual(a, b) {
		t.Errorf("resumed run scores %v, uninterrupted %v", b, a)
	}
	h, _ := s.history(s.Cells[0].ID)
	var states []string
	for _, m := range h {
		states = append(states, m.State)
	}
	if got := strings.Join(states, " "); got != "running interrupted running done" {
		t.Errorf("history %q, want one interrupted attempt and one to the end", got)
	}
}
