package clip

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/softcpt/softcpt-go/clip/checkpoint"
	"github.com/softcpt/softcpt-go/tensor"
)

// The fixtures in testdata/clip are written by testdata/gen_clip_fixtures.py
// (PyTorch 1.13) from small random CLIP models with OpenAI's key names.
var fixtureDir = filepath.Join("..", "testdata", "clip")

// fixtureHeads are the head counts of the fixture models, whose widths are
// below OpenAI's one-head-per-64-channels rule.
var fixtureHeads = map[string]Options{
	"rn":  {VisionHeads: 2, TransformerHeads: 2},
	"vit": {VisionHeads: 2, TransformerHeads: 2},
}

// relErr returns max|a-b| / max|b|.
func relErr(a, b []float32) float64 {
	var num, den float64
	for i := range b {
		num = math.Max(num, math.Abs(float64(a[i])-float64(b[i])))
		den = math.Max(den, math.Abs(float64(b[i])))
	}
	return num / den
}

func loadRef(t *testing.T, name string) map[string]*tensor.Tensor {
	t.Helper()
	sd, err := checkpoint.Load(filepath.Join(fixtureDir, name+"_reference.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	return sd.Tensors
}

func ids(t *tensor.Tensor) ([]int, int, int) {
	d := t.Contiguous().Data()
	out := make([]int, len(d))
	for i, v := range d {
		out[i] = int(v)
	}
	return out, t.Dim(0), t.Dim(1)
}

func checkFeatures(t *testing.T, label string, m *Model, ref map[string]*tensor.Tensor, tol float64) {
	t.Helper()
	img := m.EncodeImage(ref["input.image"])
	if e := relErr(img.Data(), ref["output.image_features"].Data()); e > tol || math.IsNaN(e) {
		t.Errorf("%s: image features relative error %.3g > %.3g", label, e, tol)
	} else {
		t.Logf("%s: image features relative error %.3g", label, e)
	}
	tok, b, l := ids(ref["input.text"])
	txt := m.EncodeText(tok, b, l)
	if e := relErr(txt.Data(), ref["output.text_features"].Data()); e > tol || math.IsNaN(e) {
		t.Errorf("%s: text features relative error %.3g > %.3g", label, e, tol)
	} else {
		t.Logf("%s: text features relative error %.3g", label, e)
	}
	want := float32(math.Exp(float64(ref["output.logit_scale"].Item())))
	if got := m.LogitScale(); math.Abs(float64(got-want)) > 1e-4*float64(want) {
		t.Errorf("%s: logit scale %v, want %v", label, got, want)
	}
}

func TestParityWithPyTorch(t *testing.T) {
	for _, c := range []struct{ file, model string }{
		{"rn_jit_fp32.pt", "rn"}, {"rn_state_dict.pt", "rn"}, {"rn.safetensors", "rn"},
	} {
		m, err := LoadWith(filepath.Join(fixtureDir, c.file), fixtureHeads[c.model])
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		checkFeatures(t, c.file, m, loadRef(t, c.model), 1e-5)
	}
}

// TestParityFP16Archive loads a TorchScript archive with OpenAI's mixed
// fp16/fp32 weights; the reference ran the model with the same fp16-rounded
// weights in fp32 arithmetic, so widening to fp32 must match closely.
func TestParityFP16Archive(t *testing.T) {
	m, err := LoadWith(filepath.Join(fixtureDir, "vit_jit_fp16.pt"), fixtureHeads["vit"])
	if err != nil {
		t.Fatal(err)
	}
	if !m.Config.IsViT() || m.Config.PatchSize != 8 || m.Config.ImageResolution != 32 || m.Config.VisionDepth != 2 {
		t.Fatalf("inferred config %+v", m.Config)
	}
	checkFeatures(t, "vit_jit_fp16.pt", m, loadRef(t, "vit"), 1e-5)
}
