package clip

import (
	"math"
	"testing"

	"github.com/softcpt/softcpt-go/autograd"
	"github.com/softcpt/softcpt-go/kernels"
	"github.com/softcpt/softcpt-go/tensor"
)

func smallConfig() Config {
	return Config{EmbedDim: 16, ImageResolution: 32, VisionLayers: []int{1, 1, 1, 1}, VisionWidth: 8, VisionHeads: 4,
		ContextLength: 20, VocabSize: 300, TransformerWidth: 32, TransformerHeads: 2, TransformerLayers: 2}
}

// TestTextFeaturesSharedExact checks the shared-prefix encoder against the
// plain encoder on the concatenated sequences, for the features and for
// the gradient reaching the prefix (the learned context).
func TestTextFeaturesSharedExact(t *testing.T) {
	m := NewRandom(smallConfig(), 1)
	m.SetTrainable(false)
	rng := tensor.NewRNG(2)
	G, P, C, S, W := 2, 5, 5, 4, 32
	group := []int{0, 0, 1, 1, 1}
	eot := []int{P + 1, P + 3, P + 2, P + 3, P}
	prefixT := tensor.RandN(rng, 0, 0.5, G, P, W)
	suffix := autograd.Const(tensor.RandN(rng, 0, 0.5, C, S, W))

	pa := autograd.Param(prefixT.Clone())
	fa := m.TextFeaturesShared(pa, suffix, group, eot)
	wgt := tensor.RandN(rng, 0, 1, fa.Shape()...)
	fa.BackwardWith(wgt)

	pb := autograd.Param(prefixT.Clone())
	full := autograd.Concat([]*autograd.Var{autograd.IndexSelect(pb, 0, group), suffix}, 1)
	fb := m.TextFeaturesFromEmbeddings(full, eot)
	fb.BackwardWith(wgt)

	if e := relErr(fa.Value.Data(), fb.Value.Data()); e > 1e-5 {
		t.Errorf("features differ: relative error %.3g", e)
	}
	if e := relErr(pa.Grad.Data(), pb.Grad.Data()); e > 1e-5 || math.IsNaN(e) {
		t.Errorf("prefix gradients differ: relative error %.3g", e)
	}
}

// TestEncodeImageChunkedExact checks that encoding a batch in chunks gives
// the features of one pass over the whole batch.
func TestEncodeImageChunkedExact(t *testing.T) {
	m := NewRandom(smallConfig(), 3)
	m.SetTrainable(false)
	x := tensor.RandN(tensor.NewRNG(4), 0, 1, maxImageChunk*2+3, 3, 32, 32)
	got := m.EncodeImage(x)
	var whole *autograd.Var
	autograd.NoGrad(func() { whole = m.ImageFeatures(autograd.Const(x)) })
	if e := relErr(got.Data(), whole.Value.Data()); e > 1e-6 {
		t.Fatalf("chunked features differ: relative error %.3g", e)
	}
}

// TestTextFeaturesSharedBF16 checks the shared-prefix encoder of a frozen
// model at precision BF16 (bf16 attention products, see
// autograd.PrefixAttention) against the fp32 encoder on the concatenated
// sequences, features and prefix gradient within 2% of their largest
// magnitude, and
// that a trainable model keeps its attention in fp32 whatever the
// precision (exact against fp32).
func TestTextFeaturesSharedBF16(t *testing.T) {
	m := NewRandom(smallConfig(), 1)
	m.SetTrainable(false)
	rng := tensor.NewRNG(5)
	G, P, C, S, W := 3, 5, 7, 4, 32
	group := []int{0, 0, 2, 2, 2, 2, 2} // prefix 1 unused
	eot := []int{P + 1, P + 3, P + 2, P + 3, P, P + 1, P + 3}
	prefixT := tensor.RandN(rng, 0, 0.5, G, P, W)
	suffix := autograd.Const(tensor.RandN(rng, 0, 0.5, C, S, W))
	wgt := tensor.RandN(rng, 0, 1, C, m.Config.EmbedDim)
	shared := func(p autograd.Precision) (feat, grad []float32) {
		m.SetPrecision(p)
		defer m.SetPrecision(autograd.FP32)
		pa := autograd.Param(prefixT.Clone())
		f := m.TextFeaturesShared(pa, suffix, group, eot)
		f.BackwardWith(wgt)
		return f.Value.Data(), pa.Grad.Data()
	}
	pb := autograd.Param(prefixT.Clone())
	fb := m.TextFeaturesFromEmbeddings(autograd.Concat([]*autograd.Var{autograd.IndexSelect(pb, 0, group), suffix}, 1), eot)
	fb.BackwardWith(wgt)
	f16, g16 := shared(autograd.BF16)
	for _, c := range []struct {
		name     string
		got, ref []float32
	}{{"features", f16, fb.Value.Data()}, {"prefix gradient", g16, pb.Grad.Data()}} {
		e := relErr(c.got, c.ref)
		if e > 0.02 || math.IsNaN(e) {
			t.Errorf("bf16 %s: relative error %.3g above 2%%", c.name, e)
		}
		if e == 0 && kernels.BF16Supported() {
			t.Errorf("bf16 %s equal to fp32 (bf16 path not taken?)", c.name)
		}
	}
	m.SetTrainable(true)
	defer m.SetTrainable(false)
	f32, _ := shared(autograd.FP32)
	f16t, _ := shared(autograd.BF16)
	for i := range f32 {
		if math.Float32bits(f32[i]) != math.Float32bits(f16t[i]) {
			t.Fatalf("trainable model at BF16: feature %d = %v, fp32 %v", i, f16t[i], f32[i])
		}
	}
}
