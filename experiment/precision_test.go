package experiment

import (
	"context"
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/softcpt/softcpt-go/autograd"
	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/kernels"
	"github.com/softcpt/softcpt-go/report"
	"github.com/softcpt/softcpt-go/tensor"
)

// worstCosine returns the smallest cosine similarity between
// corresponding rows of a and b ([N, E]).
func worstCosine(a, b *tensor.Tensor) float64 {
	E := a.Dim(1)
	worst := 1.0
	for i := 0; i < a.Dim(0); i++ {
		x, y := a.Data()[i*E:(i+1)*E], b.Data()[i*E:(i+1)*E]
		var xy, xx, yy float64
		for j := range x {
			xy += float64(x[j]) * float64(y[j])
			xx += float64(x[j]) * float64(x[j])
			yy += float64(y[j]) * float64(y[j])
		}
		worst = math.Min(worst, xy/math.Sqrt(xx*yy))
	}
	return worst
}

// TestPrecisionFeatures checks --precision bf16 on the fixture CLIP: the
// option reaches the model (Options.Precision → setPrecision →
// clip.Model.SetPrecision), its image features differ from fp32's within
// bf16's error, the feature cache keeps the two apart (a bf16 experiment
// never reads fp32 features, nor the reverse) and reads its own back, and
// the zero-shot cell of a bf16 model has a folder and a results.json
// that say bf16 while fp32's keeps its name.
func TestPrecisionFeatures(t *testing.T) {
	m32, m16 := loadFixtureModel(t), loadFixtureModel(t)
	exs := fixtureImages(t)
	ctx := context.Background()
	pr, err := setPrecision("bf16", m16, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	if !kernels.BF16Supported() {
		if pr != autograd.FP32 || m16.Precision() != autograd.FP32 {
			t.Fatalf("no AVX512-BF16 here, but the model runs %s", m16.Precision())
		}
		t.Skip("no AVX512-BF16 kernels on this CPU/build: bf16 runs fp32 (checked)")
	}
	if pr != autograd.BF16 || m16.Precision() != autograd.BF16 {
		t.Fatalf("--precision bf16 gave the model %s", m16.Precision())
	}
	var images atomic.Int64
	cache := t.TempDir()
	exp := func(m *clip.Model) *Experiment {
		return &Experiment{Model: m, Backend: countingBackend{cpuBackend{m}, &images}, Out: t.TempDir(), CacheDir: cache}
	}
	f32, err := exp(m32).features(ctx, "bench", exs)
	if err != nil {
		t.Fatal(err)
	}
	e16 := exp(m16)
	f16, err := e16.features(ctx, "bench", exs)
	if err != nil {
		t.Fatal(err)
	}
	if n := images.Load(); n != int64(2*len(exs)) {
		t.Errorf("fp32 then bf16 encoded %d images, want %d (each precision its own)", n, 2*len(exs))
	}
	if p32, p16 := exp(m32).cachePath("bench", exs), e16.cachePath("bench", exs); p32 == p16 || !strings.Contains(p16, "-bf16") {
		t.Errorf("cache files fp32 %s and bf16 %s: want distinct, bf16 named so", p32, p16)
	}
	rel := maxRel(f16.Data(), f32.Data())
	cos := worstCosine(f16, f32)
	t.Logf("fixture image features bf16 vs fp32: max relative difference %.3g, worst row cosine %.6f", rel, cos)
	if rel == 0 {
		t.Error("bf16 features equal fp32's: the precision did not reach the towers")
	}
	if cos < 0.999 {
		t.Errorf("bf16 features' worst row cosine to fp32 %.6f < 0.999", cos)
	}
	// Fresh experiments (other processes) read each precision's own file.
	images.Store(0)
	for _, c := range []struct {
		m    *clip.Model
		want *tensor.Tensor
	}{{m16, f16}, {m32, f32}} {
		got, err := exp(c.m).features(ctx, "bench", exs)
		if err != nil {
			t.Fatal(err)
		}
		if d := maxRel(got.Data(), c.want.Data()); d != 0 {
			t.Errorf("%s: cached features differ from the computed ones by %g", c.m.Precision(), d)
		}
	}
	if n := images.Load(); n != 0 {
		t.Errorf("reading back encoded %d images", n)
	}

	// Run folders and results.json.
	out := t.TempDir()
	tok := wordTokenizer{Vocab: m32.Config.VocabSize}
	for _, m := range []*clip.Model{m32, m16} {
		e := &Experiment{Model: m, Tok: tok, Out: out, Benchmark: toyBenchmark()}
		if err := e.Run(ctx, Grid{Methods: []string{"zeroshot"}}); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := report.Scan(out)
	if err != nil || len(rs) != 2 {
		t.Fatalf("results %d, %v; want 2", len(rs), err)
	}
	b, _ := json.Marshal(RunConfig{Tasks: []string{"colours", "tones"}})
	if strings.Contains(string(b), "precision") {
		t.Errorf("an fp32 run configuration records its precision (%s): fp32 folders would change names", b)
	}
	fp32Name := RunConfig{Tasks: []string{"colours", "tones"}}.Name()
	seen := map[string]bool{}
	for _, r := range rs {
		var cfg struct {
			Precision string    `json:"precision"`
			Run       RunConfig `json:"run"`
		}
		if err := json.Unmarshal(r.Config, &cfg); err != nil {
			t.Fatal(err)
		}
		seen[cfg.Precision] = true
		switch cfg.Precision {
		case "fp32":
			if r.Run != fp32Name || cfg.Run.Precision != "" {
				t.Errorf("fp32 zero-shot run %s, want %s", r.Run, fp32Name)
			}
		case "bf16":
			if r.Run == fp32Name || !strings.Contains(r.Run, "_bf16-") || cfg.Run.Precision != "bf16" {
				t.Errorf("bf16 zero-shot run %s (run precision %q): want its own name, with _bf16", r.Run, cfg.Run.Precision)
			}
		}
	}
	if !seen["fp32"] || !seen["bf16"] {
		t.Errorf("results.json precisions %v, want fp32 and bf16", seen)
	}
	if dirs, _ := filepath.Glob(filepath.Join(out, "toy", "ZeroShot", "*")); len(dirs) != 2 {
		t.Errorf("zero-shot folders %v, want one per precision", dirs)
	}
}

// TestSetPrecision checks the --precision values and where bf16 does not
// run: a bad value is an error naming the flag; on a GPU device the
// towers stay fp32.
func TestSetPrecision(t *testing.T) {
	m := loadFixtureModel(t)
	if _, err := setPrecision("fp16", m, "cpu"); err == nil || !strings.Contains(err.Error(), "--precision") || !strings.Contains(err.Error(), "fp16") {
		t.Errorf("--precision fp16: error %v", err)
	}
	if pr, err := setPrecision("bf16", m, "cuda:0"); err != nil || pr != autograd.FP32 || m.Precision() != autograd.FP32 {
		t.Errorf("bf16 on cuda: %v, %v; want fp32", pr, err)
	}
	for _, p := range []string{"", "fp32"} {
		if pr, err := setPrecision(p, m, "cpu"); err != nil || pr != autograd.FP32 || precisionName(m) != "" {
			t.Errorf("--precision %q: %v, %v", p, pr, err)
		}
	}
	saved := &RunConfig{Tasks: []string{"a"}, Precision: "bf16"}
	if err := samePrecision(saved, RunConfig{Tasks: []string{"a"}}, "--resume"); err == nil || !strings.Contains(err.Error(), "--precision bf16") {
		t.Errorf("resuming a bf16 run in fp32: %v", err)
	}
	if err := samePrecision(saved, *saved, "eval"); err != nil {
		t.Error(err)
	}
}
