package sweep

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/softcpt/softcpt-go/report"
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
