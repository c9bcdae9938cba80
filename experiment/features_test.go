package experiment

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/softcpt/softcpt-go/softcpt"
	"github.com/softcpt/softcpt-go/tensor"
)

// countingBackend is the CPU backend counting the images it encodes.
type countingBackend struct {
	cpuBackend
	images *atomic.Int64
}

func (b countingBackend) encodeImages(pix *tensor.Tensor) (*tensor.Tensor, error) {
	b.images.Add(int64(pix.Dim(0)))
	return b.cpuBackend.encodeImages(pix)
}

// TestFeatureCacheSharedAcrossProcesses checks the on-disk feature cache:
// two experiments with caches of their own in memory (as two processes
// have) asking at once for the same features encode them once, a third
// reads them from disk without encoding, the features are those of the
// plain Featurizer, and a corrupt or truncated cache file is an error
// naming it, never garbage.
func TestFeatureCacheSharedAcrossProcesses(t *testing.T) {
	m := loadFixtureModel(t)
	exs := fixtureImages(t)
	ctx := context.Background()
	want, err := (&softcpt.Featurizer{Model: m, BatchSize: 32}).Features(ctx, exs, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	var images atomic.Int64
	cache := t.TempDir()
	newExp := func() *Experiment {
		return &Experiment{Model: m, Backend: countingBackend{cpuBackend{m}, &images}, Out: t.TempDir(), CacheDir: cache}
	}
	got := make([]*tensor.Tensor, 2)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = newExp().features(ctx, "bench", exs)
		}()
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if d := maxRel(got[i].Data(), want.Data()); d != 0 {
			t.Errorf("experiment %d: features differ from the Featurizer's by %g (relative)", i, d)
		}
	}
	if n := images.Load(); n != int64(len(exs)) {
		t.Errorf("two experiments encoded %d images for %d examples, want each once", n, len(exs))
	}
	e := newExp()
	again, err := e.features(ctx, "bench", exs)
	if err != nil {
		t.Fatal(err)
	}
	if n := images.Load(); n != int64(len(exs)) || maxRel(again.Data(), want.Data()) != 0 {
		t.Errorf("a third experiment encoded %d images more, or read other features", n-int64(len(exs)))
	}
	// Other data under the same names (a rebuilt pack) is another key.
	rebuilt := newExp()
	rebuilt.DataKey = "rebuilt"
	if _, err := rebuilt.features(ctx, "bench", exs); err != nil {
		t.Fatal(err)
	}
	if n := images.Load(); n != int64(2*len(exs)) {
		t.Errorf("another DataKey encoded %d images, want %d", n-int64(len(exs)), len(exs))
	}
	images.Store(int64(len(exs)))
	// Another set of examples (another draw) is another file; its
	// features come from memory when every one is there, and the file is
	// written all the same.
	sub, err := e.features(ctx, "bench", exs[1:3])
	if err != nil {
		t.Fatal(err)
	}
	E := m.Config.EmbedDim
	if images.Load() != int64(len(exs)) || maxRel(sub.Data(), want.Data()[E:3*E]) != 0 {
		t.Errorf("a subset was encoded again or differs")
	}
	files, _ := filepath.Glob(filepath.Join(cache, "*", "bench", "*", "*.f32"))
	if len(files) != 3 {
		t.Fatalf("cache files %v, want 3", files)
	}
	path := e.cachePath("bench", exs)
	full, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"truncated": full[:len(full)/2], "garbage": []byte("not features"), "longer": append(full, 0)} {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := newExp().features(ctx, "bench", exs); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s cache file: error %v does not name it", name, err)
		}
	}
	// The file of another set of examples is refused.
	other, err := os.ReadFile(e.cachePath("bench", exs[1:3]))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, other, 0o644)
	if _, err := newExp().features(ctx, "bench", exs); err == nil || !strings.Contains(err.Error(), "other images") {
		t.Errorf("features of other images accepted: %v", err)
	}
}
