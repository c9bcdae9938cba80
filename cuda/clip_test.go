//go:build cuda

package cuda

// CLIP on the device: each clip.cu kernel against its Go reference in
// cuda/kernels, then the towers against the CPU clip.Model (fixture models,
// a random ViT, a random RN50 and ViT-B/32), within 1e-5 relative error;
// benchmarks of the RN50 towers and the ViT-B/32 image tower (images/s,
// prompts/s; bench/py/gpu_clip_peer.py is the PyTorch peer).

import (
	"fmt"
	"math"
	"math/rand"
	"os"
	"sync"
	"testing"

	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/cuda/kernels"
	"github.com/softcpt/softcpt-go/tensor"
)

// exact checks bit equality (data movement kernels).
func exact(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if got[i] != want[i] && !(math.IsNaN(float64(got[i])) && math.IsNaN(float64(want[i]))) {
			t.Fatalf("%s: [%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

func TestCLIPKernels(t *testing.T) {
	rng := rand.New(rand.NewSource(21))
	for _, g := range []kernels.ConvGeom{
		{C: 3, N: 2, H: 9, W: 7, KH: 3, KW: 3, Stride: 2, Pad: 1},
		{C: 5, N: 3, H: 14, W: 14, KH: 3, KW: 3, Stride: 1, Pad: 1},
		{C: 2, N: 1, H: 8, W: 8, KH: 4, KW: 4, Stride: 4, Pad: 0},
	} {
		x := randVec(rng, g.C*g.N*g.H*g.W, 1)
		dx := upload(t, x, len(x))
		col, _ := dev.Alloc(g.Rows(), g.Cols())
		if err := dev.Im2col(col, dx, g); err != nil {
			t.Fatal(err)
		}
		want := make([]float32, g.Rows()*g.Cols())
		kernels.Im2colCNHW(want, x, g)
		exact(t, fmt.Sprintf("im2col %+v", g), download(t, col), want)
		dx.Free()
		col.Free()
	}

	n := 3 * 5 * 1001
	x := randVec(rng, n, 2)
	bias := randVec(rng, 15, 1)
	dx, db := upload(t, x, n), upload(t, bias, 15)
	out, _ := dev.Alloc(n)
	for _, c := range []struct {
		inner, nb int
		act       kernels.Act
		noBias    bool
	}{{1, 15, kernels.ActNone, false}, {1001, 15, kernels.ActRelu, false}, {7, 15, kernels.ActQuickGelu, false}, {1, 1, kernels.ActRelu, true}} {
		var bb *Array
		var hb []float32
		if !c.noBias {
			bb, hb = db, bias
		}
		if err := dev.BiasAct(out, dx, bb, c.inner, c.nb, n, c.act); err != nil {
			t.Fatal(err)
		}
		want := make([]float32, n)
		kernels.BiasAct(want, x, hb, c.inner, c.nb, n, c.act)
		elemRel(t, fmt.Sprintf("bias act %+v", c), download(t, out), want)
	}
	dx.Free()
	db.Free()
	out.Free()

	// avgpool [6, 7, 9] k 2, transpose [4, 3, 10], pool tokens, gather.
	src := randVec(rng, 6*7*9, 1)
	ds := upload(t, src, len(src))
	dp, _ := dev.Alloc(6 * 3 * 4)
	if err := dev.AvgPool(dp, ds, 6, 7, 9, 2); err != nil {
		t.Fatal(err)
	}
	wantP := make([]float32, 6*3*4)
	kernels.AvgPool(wantP, src, 6, 7, 9, 2)
	rowRel(t, "avgpool", download(t, dp), wantP, 4)
	dt, _ := dev.Alloc(120)
	if err := dev.Transpose01(dt, ds.View(0, 120), 4, 3, 10); err != nil {
		t.Fatal(err)
	}
	wantT := make([]float32, 120)
	kernels.Transpose01(wantT, src, 4, 3, 10)
	exact(t, "transpose01", download(t, dt), wantT)
	c, nb, hw := 7, 3, 9
	pos := randVec(rng, (hw+1)*c, 1)
	dpos := upload(t, pos, len(pos))
	seq, _ := dev.Alloc(nb, hw+1, c)
	if err := dev.PoolTokens(seq, ds, dpos, c, nb, hw); err != nil {
		t.Fatal(err)
	}
	wantS := make([]float32, nb*(hw+1)*c)
	kernels.PoolTokens(wantS, src, pos, c, nb, hw)
	rowRel(t, "pool tokens", download(t, seq), wantS, c)
	idx := []int{5, 0, 41, 5}
	dg, _ := dev.Alloc(len(idx), 9)
	if err := dev.GatherRows(dg, ds, idx, 9); err != nil {
		t.Fatal(err)
	}
	wantG := make([]float32, len(idx)*9)
	kernels.GatherRows(wantG, src, idx, 9)
	exact(t, "gather rows", download(t, dg), wantG)
	for _, a := range []*Array{ds, dp, dt, dpos, seq, dg} {
		a.Free()
	}

	// Attention: packed causal (text), pool (Tq 1), head sizes around 32.
	for _, c := range []struct {
		b, h, tq, tk, d int
		causal          bool
	}{{3, 8, 77, 77, 64, true}, {2, 3, 7, 7, 33, true}, {5, 32, 1, 50, 64, false}, {2, 2, 1, 17, 5, false}} {
		w := c.h * c.d
		p := kernels.AttnParams{Batch: c.b, Heads: c.h, Tq: c.tq, Tk: c.tk, D: c.d,
			QRow: 3 * w, KRow: 3 * w, VRow: 3 * w, ORow: w,
			QBatch: c.tk * 3 * w, KBatch: c.tk * 3 * w, VBatch: c.tk * 3 * w, OBatch: c.tq * w,
			Causal: c.causal, Scale: float32(1 / math.Sqrt(float64(c.d)))}
		if c.tq == 1 {
			p.QRow, p.QBatch = w, w
		}
		qkv := randVec(rng, c.b*c.tk*3*w, 2)
		dqkv := upload(t, qkv, len(qkv))
		o, _ := dev.Alloc(c.b * c.tq * w)
		if err := dev.Attention(o, dqkv, dqkv.View(w, len(qkv)-w), dqkv.View(2*w, len(qkv)-2*w), p); err != nil {
			t.Fatal(err)
		}
		want := make([]float32, c.b*c.tq*w)
		kernels.Attention(want, qkv, qkv[w:], qkv[2*w:], p)
		rowRel(t, fmt.Sprintf("attention %+v", c), download(t, o), want, c.d)
		dqkv.Free()
		o.Free()
	}
}

// relErr is the largest over rows of max|got-want| / max|want|.
func relErr(got, want *tensor.Tensor) float64 {
	g, w := got.Contiguous().Data(), want.Contiguous().Data()
	cols := want.Shape()[len(want.Shape())-1]
	worst := 0.0
	for r := 0; r*cols < len(w); r++ {
		var d, m float64
		for c := 0; c < cols; c++ {
			i := r*cols + c
			d = math.Max(d, math.Abs(float64(g[i]-w[i])))
			m = math.Max(m, math.Abs(float64(w[i])))
		}
		if math.IsNaN(d) {
			return math.NaN()
		}
		worst = math.Max(worst, d/m)
	}
	return worst
}

// prompts returns rows of token ids with SOT, random tokens and the EOT
// (the largest id) at the given positions.
func prompts(rng *rand.Rand, vocab, length int, eot []int) []int {
	ids := make([]int, len(eot)*length)
	for b, e := range eot {
		ids[b*length] = vocab - 2
		for j := 1; j < e; j++ {
			ids[b*length+j] = 1 + rng.Intn(vocab-3)
		}
		ids[b*length+e] = vocab - 1
	}
	return ids
}

// compareCLIP checks the device towers against m's CPU towers.
func compareCLIP(t *testing.T, name string, m *clip.Model, images *tensor.Tensor, eot []int) {
	t.Helper()
	g, err := NewCLIP(dev, m)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Free()
	if images != nil {
		got, err := g.EncodeImage(images)
		if err != nil {
			t.Fatal(err)
		}
		e := relErr(got, m.EncodeImage(images))
		t.Logf("%s image features %v: relative error %.3g", name, got.Shape(), e)
		if !(e <= tol) {
			t.Errorf("%s image features: relative error %.3g > %g", name, e, tol)
		}
	}
	L := m.Config.ContextLength
	ids := prompts(rand.New(rand.NewSource(22)), m.Config.VocabSize, L, eot)
	got, err := g.EncodeText(ids, len(eot), L)
	if err != nil {
		t.Fatal(err)
	}
	e := relErr(got, m.EncodeText(ids, len(eot), L))
	t.Logf("%s text features %v: relative error %.3g", name, got.Shape(), e)
	if !(e <= tol) {
		t.Errorf("%s text features: relative error %.3g > %g", name, e, tol)
	}
	if _, err := g.EncodeText([]int{0, m.Config.VocabSize}, 1, 2); err == nil {
		t.Errorf("%s: id outside the vocabulary accepted", name)
	}
}

func TestCLIPFixtureRN(t *testing.T) {
	path := "../testdata/clip/rn.safetensors"
	if _, err := os.Stat(path); err != nil {
		t.Skip("fixture testdata/clip/rn.safetensors absent")
	}
	m, err := clip.LoadWith(path, clip.Options{VisionHeads: 2, TransformerHeads: 2})
	if err != nil {
		t.Fatal(err)
	}
	r := m.Config.ImageResolution
	compareCLIP(t, "rn fixture", m, tensor.RandN(tensor.NewRNG(23), 0, 1, 3, 3, r, r), []int{5, 12, 3, 76})
}

func TestCLIPFixtureViT(t *testing.T) {
	path := "../testdata/clip/vit_jit_fp16.pt"
	if _, err := os.Stat(path); err != nil {
		t.Skip("fixture testdata/clip/vit_jit_fp16.pt absent")
	}
	m, err := clip.LoadWith(path, clip.Options{VisionHeads: 2, TransformerHeads: 2})
	if err != nil {
		t.Fatal(err)
	}
	r := m.Config.ImageResolution
	compareCLIP(t, "vit fixture", m, tensor.RandN(tensor.NewRNG(27), 0, 1, 3, 3, r, r), []int{9, 2, 40})
}

// TestCLIPRandomViT is a random ViT whose image tower differs from its
// text tower in width, heads, depth and MLP size (5x5 grid of 6-pixel
// patches, 26 tokens, head size 12).
func TestCLIPRandomViT(t *testing.T) {
	cfg := clip.Config{EmbedDim: 20, ImageResolution: 30, VisionDepth: 3, VisionWidth: 36, VisionHeads: 3, PatchSize: 6,
		ContextLength: 16, VocabSize: 100, TransformerWidth: 24, TransformerHeads: 2, TransformerLayers: 2}
	m := clip.NewRandom(cfg, 11)
	m.SetTrainable(false)
	compareCLIP(t, "random ViT", m, tensor.RandN(tensor.NewRNG(28), 0, 1, 4, 3, 30, 30), []int{15, 4, 9})
}

var (
	vitB32Once  sync.Once
	vitB32Model *clip.Model
)

// vitB32 returns a random frozen ViT-B/32, built once.
func vitB32() *clip.Model {
	vitB32Once.Do(func() {
		vitB32Model = clip.NewRandom(clip.ViTB32(), 1)
		vitB32Model.SetTrainable(false)
	})
	return vitB32Model
}

// TestCLIPRandomViTB32 is the full ViT-B/32 architecture (12 blocks of
// width 768, 12 heads of 64, 50 tokens) against the CPU model.
func TestCLIPRandomViTB32(t *testing.T) {
	compareCLIP(t, "ViT-B/32", vitB32(), tensor.RandN(tensor.NewRNG(29), 0, 1, 2, 3, 224, 224), []int{7, 76, 20})
}

var (
	rn50Once  sync.Once
	rn50Model *clip.Model
)

// rn50 returns a random frozen RN50 (BatchNorm folded), built once.
func rn50() *clip.Model {
	rn50Once.Do(func() {
		rn50Model = clip.NewRandom(clip.RN50(), 1)
		rn50Model.SetTrainable(false)
	})
	return rn50Model
}

func TestCLIPRandomRN50(t *testing.T) {
	m := rn50()
	compareCLIP(t, "RN50", m, tensor.RandN(tensor.NewRNG(24), 0, 1, 2, 3, 224, 224), []int{7, 76, 20, 3, 50})
}

// BenchmarkCLIPImageRN50 reports RN50 image-tower throughput at batch 32
// (upload, forward, download of the features).
func BenchmarkCLIPImageRN50(b *testing.B) {
	g, err := NewCLIP(dev, rn50())
	if err != nil {
		b.Fatal(err)
	}
	defer g.Free()
	const batch = 32
	images := tensor.RandN(tensor.NewRNG(25), 0, 1, batch, 3, 224, 224)
	if _, err := g.EncodeImage(images); err != nil { // warm-up
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := g.EncodeImage(images); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkCLIPImageViTB32 reports ViT-B/32 image-tower throughput at
// batch 32 (upload, forward, download of the features).
func BenchmarkCLIPImageViTB32(b *testing.B) {
	g, err := NewCLIP(dev, vitB32())
	if err != nil {
		b.Fatal(err)
	}
	defer g.Free()
	const batch = 32
	images := tensor.RandN(tensor.NewRNG(30), 0, 1, batch, 3, 224, 224)
	if _, err := g.EncodeImage(images); err != nil { // warm-up
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := g.EncodeImage(images); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkCLIPTextRN50 reports RN50 text-tower throughput for 100
// prompts of 77 tokens (one EOT at the last position, so all 77 positions
// run, as in PyTorch).
func BenchmarkCLIPTextRN50(b *testing.B) {
	g, err := NewCLIP(dev, rn50())
	if err != nil {
		b.Fatal(err)
	}
	defer g.Free()
	const batch = 100
	rng := rand.New(rand.NewSource(26))
	eot := make([]int, batch)
	for i := range eot {
		eot[i] = 5 + rng.Intn(60)
	}
	eot[0] = 76
	ids := prompts(rng, 49408, 77, eot)
	if _, err := g.EncodeText(ids, batch, 77); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := g.EncodeText(ids, batch, 77); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "prompts/s")
}
