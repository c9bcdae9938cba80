package experiment

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/softcpt/softcpt-go/clip/imageproc"
	"github.com/softcpt/softcpt-go/data"
	"github.com/softcpt/softcpt-go/report"
	"github.com/softcpt/softcpt-go/softcpt"
)

// toyBenchmark returns a benchmark func over two tasks of in-memory
// images (item "TASK/cC-I": class C's colour, jittered by I) with K shots
// per class drawn by data.FewShot and 2 validation shots per class.
func toyBenchmark() func(k, seed int) (*data.Benchmark, error) {
	cols := [][3]uint8{{220, 20, 20}, {20, 200, 20}, {20, 20, 220}, {10, 10, 10}, {250, 250, 250}}
	load := func(path string) (*imageproc.RGB, error) {
		var task string
		var c, i int
		if _, err := fmt.Sscanf(strings.Replace(path, "/", " ", 1), "%s c%d-%d", &task, &c, &i); err != nil {
			return nil, err
		}
		img := imageproc.NewRGB(24, 24)
		for p := 0; p < 24*24; p++ {
			for k := 0; k < 3; k++ {
				img.Pix[3*p+k] = uint8(int(cols[c][k]) * (200 + (p*7+i*13)%56) / 255)
			}
		}
		return img, nil
	}
	items := func(task string, classes []int, from, n int) []data.Item {
		var out []data.Item
		for _, c := range classes {
			for i := from; i < from+n; i++ {
				out = append(out, data.Item{Path: fmt.Sprintf("%s/c%d-%d", task, c, i), Label: c - classes[0]})
			}
		}
		return out
	}
	return func(k, seed int) (*data.Benchmark, error) {
		b := &data.Benchmark{Name: "toy", Load: load}
		for _, tk := range []struct {
			name, phrase string
			classes      []string
			ids          []int
			metric       data.Metric
		}{
			{"colours", "colour image classification", []string{"red", "green", "blue"}, []int{0, 1, 2}, data.Accuracy},
			{"tones", "tone image classification", []string{"dark", "light"}, []int{3, 4}, data.MeanPerClass},
		} {
			t := &data.Task{Name: tk.name, TaskName: tk.phrase, Classes: tk.classes, Metric: tk.metric, Template: "a {} square.",
				Test: items(tk.name, tk.ids, 100, 4)}
			if k > 0 {
				pool := items(tk.name, tk.ids, 0, 6)
				t.Train = data.FewShot(pool, len(tk.classes), k, data.TaskSeed(tk.name, uint64(seed)))
				t.Val = items(tk.name, tk.ids, 50, 2)
			}
			b.Tasks = append(b.Tasks, t)
		}
		return b, nil
	}
}

// readResults returns the results under out by cell: "METHOD/K/S".
func readResults(t *testing.T, out string) map[string]report.Result {
	t.Helper()
	rs, err := report.Scan(out)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]report.Result{}
	for _, r := range rs {
		m[cell(r.Method, r.Shots, r.Seed)] = r
	}
	return m
}

// cell names a cell in readResults' map.
func cell(method string, k, seed int) string { return fmt.Sprintf("%s/%d/%d", method, k, seed) }

// TestRunGrid runs a grid (zero-shot, the linear probe and two learned
// methods, two seeds) on a toy benchmark with the fixture CLIP and checks
// the cells' folders and results; that rerunning it on the same output
// root resumes every learned cell from its checkpoint and reads every
// feature from the cache (no image encoded) with the same results; that
// evaluating the checkpoints (From) gives the trained scores; and that
// base-to-new writes both halves with their harmonic mean.
func TestRunGrid(t *testing.T) {
	m := loadFixtureModel(t)
	var images atomic.Int64
	out := t.TempDir()
	newExp := func(out string) *Experiment {
		return &Experiment{Benchmark: toyBenchmark(), Model: m, Tok: wordTokenizer{Vocab: m.Config.VocabSize},
			Backend: countingBackend{cpuBackend{m}, &images}, Out: out, CacheDir: filepath.Join(out, "cache")}
	}
	cfgOf := func(method string) (softcpt.Config, error) {
		cfg, err := softcpt.MethodConfig(method)
		cfg.NCtx, cfg.TaskNCtx = 4, 2
		return cfg, err
	}
	g := Grid{Methods: []string{"zeroshot", "linprobe", "coop-ca", "nata"}, Config: cfgOf, Shots: []int{2}, Seeds: []int{1, 2},
		Train: softcpt.Defaults(), StepsPerEpoch: 2, Probe: softcpt.ProbeOptions{LBFGS: softcpt.LBFGSOptions{MaxIter: 20}}}
	g.Train.Epochs, g.Train.LR, g.Train.BatchSize, g.Train.Resume = 3, 0.01, 0, true
	ctx := context.Background()
	if err := newExp(out).Run(ctx, g); err != nil {
		t.Fatal(err)
	}
	first := readResults(t, out)
	cells := []string{cell("ZeroShot", 0, 0)}
	for _, method := range []string{"LinearProbe", "CoOp-CA", "SoftCPT-NATA"} {
		for _, seed := range []int{1, 2} {
			cells = append(cells, cell(method, 2, seed))
		}
	}
	if len(first) != len(cells) {
		t.Fatalf("%d results, want %d: %v", len(first), len(cells), first)
	}
	for _, c := range cells {
		r, ok := first[c]
		if !ok {
			t.Fatalf("no results in %s", c)
		}
		mean := (r.Tasks[0].Value + r.Tasks[1].Value) / 2
		if r.Benchmark != "toy" || len(r.Tasks) != 2 || r.Tasks[1].Metric != "mean_per_class" || math.Abs(mean-r.Overall) > 1e-9 {
			t.Errorf("%s: results %+v", c, r)
		}
		// The folder is RunDir's, named after the stored configuration.
		var stored struct {
			Run RunConfig `json:"run"`
		}
		if err := json.Unmarshal(r.Config, &stored); err != nil {
			t.Fatal(err)
		}
		if want := RunDir(out, r.Benchmark, r.Method, stored.Run.Name(), r.Shots, r.Seed); filepath.Dir(r.Path) != want || r.Run != stored.Run.Name() {
			t.Errorf("%s: results in %s (run %q), want %s", c, r.Path, r.Run, want)
		}
	}
	var cfg struct {
		Train softcpt.TrainOptions `json:"train"`
	}
	if err := json.Unmarshal(first[cell("SoftCPT-NATA", 2, 1)].Config, &cfg); err != nil || cfg.Train.BatchSize != 5 || cfg.Train.Seed != 1 {
		t.Errorf("NATA's training options %+v (%v): want batches of 5 (10 shots in 2 steps) and seed 1", cfg.Train, err)
	}
	encoded := images.Load()
	if encoded == 0 {
		t.Fatal("no image encoded")
	}
	ckpt := filepath.Join(filepath.Dir(first[cell("SoftCPT-NATA", 2, 2)].Path), "checkpoint.json")
	before, err := os.ReadFile(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	if err := newExp(out).Run(ctx, g); err != nil {
		t.Fatal(err)
	}
	if n := images.Load() - encoded; n != 0 {
		t.Errorf("the rerun encoded %d images; the cache holds them all", n)
	}
	after, _ := os.ReadFile(ckpt)
	if string(after) != string(before) {
		t.Error("resuming a finished run changed its checkpoint")
	}
	for c, r := range readResults(t, out) {
		if w := first[c]; !reflect.DeepEqual(r.Tasks, w.Tasks) || r.Overall != w.Overall {
			t.Errorf("%s: rerun scored %+v, first run %+v", c, r.Tasks, w.Tasks)
		}
	}
	// Evaluating the checkpoints reproduces the trained scores.
	ev := Grid{Methods: []string{"nata"}, Config: cfgOf, Shots: []int{2}, Seeds: []int{1, 2}, From: out}
	evalOut := t.TempDir()
	if err := newExp(evalOut).Run(ctx, ev); err != nil {
		t.Fatal(err)
	}
	for c, r := range readResults(t, evalOut) {
		if w := first[c]; r.Overall != w.Overall {
			t.Errorf("%s: evaluated %.4f, trained %.4f", c, r.Overall, w.Overall)
		}
	}
	ev.From = t.TempDir()
	if err := newExp(t.TempDir()).Run(ctx, ev); err == nil || !strings.Contains(err.Error(), ev.From) {
		t.Errorf("evaluating without checkpoints: error %v does not name the folder", err)
	}
	// Base-to-new.
	b2n := g
	b2n.Methods, b2n.Seeds, b2n.BaseToNew = []string{"nata"}, []int{1}, true
	b2nOut := t.TempDir()
	if err := newExp(b2nOut).Run(ctx, b2n); err != nil {
		t.Fatal(err)
	}
	rs := readResults(t, b2nOut)
	base, novel := rs[cell("SoftCPT-NATA-base", 2, 1)], rs[cell("SoftCPT-NATA-new", 2, 1)]
	var summary struct {
		B2N map[string]float64 `json:"base_to_new"`
	}
	if err := json.Unmarshal(novel.Config, &summary); err != nil || len(base.Tasks) != 2 || len(novel.Tasks) != 2 ||
		summary.B2N["harmonic_mean"] != HarmonicMean(base.Overall, novel.Overall) || summary.B2N["base"] != base.Overall {
		t.Errorf("base-to-new results: base %+v, new %+v, summary %v (%v)", base, novel, summary.B2N, err)
	}
	b2n.Methods = []string{"coop-cs"}
	if err := newExp(t.TempDir()).Run(ctx, b2n); err == nil || !strings.Contains(err.Error(), "do not transfer") {
		t.Errorf("CoOp-CS base-to-new: error %v", err)
	}
}

// TestHarmonicMean checks base-to-new's summary.
func TestHarmonicMean(t *testing.T) {
	for _, c := range []struct{ b, n, want float64 }{{50, 50, 50}, {80, 40, 2 * 80 * 40 / 120.0}, {0, 0, 0}, {100, 0, 0}} {
		if got := HarmonicMean(c.b, c.n); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("HarmonicMean(%v, %v) = %v, want %v", c.b, c.n, got, c.want)
		}
	}
}
