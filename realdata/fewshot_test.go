package realdata

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/softcpt/softcpt-go/data"
)

// TestFewShot checks the data.Benchmark of a group of the shipped
// benchmark: K shots per class (all of a smaller class), validation shots
// disjoint from them and from no other pool, the whole test set, the
// metric and names carried over, images loaded through the benchmark,
// the same draw for the same seed and another for another seed, and an
// error naming a path that is no image of the pack.
func TestFewShot(t *testing.T) {
	path := filepath.Join("assets", "benchmark.bin")
	if _, err := os.Stat(path); err != nil {
		t.Skip("assets/benchmark.bin not built (go run ./cmd/builddata -out realdata/assets)")
	}
	b, err := OpenBenchmark(path)
	if err != nil {
		t.Fatal(err)
	}
	group := b.Groups[0]
	db := b.FewShot(group, 4, 2, 1)
	if db.Name != "real-"+group || len(db.Tasks) != len(b.TasksIn(group)) {
		t.Fatalf("benchmark %q with %d tasks, want real-%s with %d", db.Name, len(db.Tasks), group, len(b.TasksIn(group)))
	}
	for i, rt := range b.TasksIn(group) {
		dt := db.Tasks[i]
		if dt.Name != rt.ID || dt.TaskName != rt.Phrase || dt.Template != rt.Template || string(dt.Metric) != rt.Metric || len(dt.Test) != len(rt.Test) {
			t.Errorf("task %d: %+v does not carry %s", i, dt, rt.ID)
		}
		pool := map[int]int{}
		for _, it := range rt.Train {
			pool[it.Label]++
		}
		train, val := map[int]int{}, map[int]int{}
		picked := map[string]bool{}
		for _, it := range dt.Train {
			train[it.Label]++
			picked[it.Path] = true
		}
		for _, it := range dt.Val {
			val[it.Label]++
			if picked[it.Path] {
				t.Errorf("%s: %s is a training and a validation shot", rt.ID, it.Path)
			}
		}
		for c, n := range pool {
			if train[c] != min(n, 4) || val[c] != min(n-train[c], 2) {
				t.Errorf("%s class %d: %d training and %d validation shots from a pool of %d", rt.ID, c, train[c], val[c], n)
			}
		}
		img, err := db.Image(dt.Test[0].Path)
		if err != nil {
			t.Fatal(err)
		}
		if want := b.Image(rt.Test[0].Image); !bytes.Equal(img.Pix, want.Pix) {
			t.Errorf("%s: %s is not image %d", rt.ID, dt.Test[0].Path, rt.Test[0].Image)
		}
	}
	same, other := b.FewShot(group, 4, 2, 1), b.FewShot(group, 4, 2, 2)
	differs := false
	for i, t0 := range db.Tasks {
		for j, it := range t0.Train {
			if same.Tasks[i].Train[j] != it {
				t.Fatalf("seed 1 drawn twice differs at task %d shot %d", i, j)
			}
			differs = differs || other.Tasks[i].Train[j] != it
		}
	}
	if !differs {
		t.Error("seeds 1 and 2 draw the same shots")
	}
	if zs := b.FewShot(group, 0, 0, 0); len(zs.Tasks[0].Train) != 0 || len(zs.Tasks[0].Val) != 0 {
		t.Error("0 shots gave training or validation images")
	}
	all := b.FewShot(group, data.AllShots, 4, 1)
	for i, rt := range b.TasksIn(group) {
		if tt := all.Tasks[i]; len(tt.Train) != len(rt.Train) || len(tt.Val) != 0 {
			t.Errorf("all shots, task %s: %d training and %d validation images, want the pool's %d and none", rt.ID, len(tt.Train), len(tt.Val), len(rt.Train))
		}
	}
	for _, p := range []string{"img:-1", "img:x", "0", "img:99999999"} {
		if _, err := db.Image(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("image %q: error %v", p, err)
		}
	}
}
