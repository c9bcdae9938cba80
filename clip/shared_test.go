package clip

import (
	"math"
	"testing"

	"github.com/softcpt/softcpt-go/autograd"
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
