package frozen

import (
	"math"
	"math/rand"
	"testing"

	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/internal/fixture"
	"github.com/softcpt/softcpt-go/kernels/backend"
	"github.com/softcpt/softcpt-go/tensor"
)

// RowRelErr returns the largest over rows of max|got-want| / max|want|.
func RowRelErr(got, want *tensor.Tensor) float64 {
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

// hostNet returns m's frozen towers on the Host backend, freed when the
// test ends.
func hostNet(t *testing.T, m *clip.Model) *Model[*backend.HostArray] {
	t.Helper()
	net, err := New(backend.Host{}, m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(net.Free)
	return net
}

// matchesImages checks net's image tower against the CPU model m on the
// images (a relative error of at most 1e-5 in every row) and returns the
// CPU model's features.
func matchesImages(t *testing.T, net *Model[*backend.HostArray], m *clip.Model, images *tensor.Tensor) *tensor.Tensor {
	t.Helper()
	got, err := net.EncodeImage(images)
	if err != nil {
		t.Fatal(err)
	}
	want := m.EncodeImage(images)
	if e := RowRelErr(got, want); !(e <= 1e-5) {
		t.Errorf("image features: relative error %.3g", e)
	} else {
		t.Logf("image features %v: relative error %.3g", got.Shape(), e)
	}
	return want
}

// matchesCPU checks net's towers against the CPU model m on the images
// (matchesImages) and on the prompts ids (rows of length n): a relative
// error of at most 1e-5 in every row.
func matchesCPU(t *testing.T, net *Model[*backend.HostArray], m *clip.Model, images *tensor.Tensor, ids []int, rows, n int) {
	t.Helper()
	matchesImages(t, net, m, images)
	gotT, err := net.EncodeText(ids, rows, n)
	if err != nil {
		t.Fatal(err)
	}
	if e := RowRelErr(gotT, m.EncodeText(ids, rows, n)); !(e <= 1e-5) {
		t.Errorf("text features: relative error %.3g", e)
	} else {
		t.Logf("text features %v: relative error %.3g", gotT.Shape(), e)
	}
}

// prompts returns batch rows of length ids with the EOT token (the largest
// id) at the given positions and random ordinary tokens before it.
func prompts(rng *rand.Rand, vocab, length int, eot []int) []int {
	ids := make([]int, len(eot)*length)
	for b, e := range eot {
		ids[b*length] = vocab - 2 // SOT
		for j := 1; j < e; j++ {
			ids[b*length+j] = 1 + rng.Intn(vocab-3)
		}
		ids[b*length+e] = vocab - 1
	}
	return ids
}

func TestHostMatchesCPUModel(t *testing.T) {
	m := fixture.RN(t)
	net := hostNet(t, m)
	rng := rand.New(rand.NewSource(1))
	res := m.Config.ImageResolution
	images := tensor.RandN(tensor.NewRNG(2), 0, 1, 3, 3, res, res)
	ids := prompts(rng, m.Config.VocabSize, m.Config.ContextLength, []int{5, 12, 3, 30})
	matchesCPU(t, net, m, images, ids, 4, m.Config.ContextLength)
}

// TestHostRandomResNet runs a random ResNet with non-trivial BatchNorm
// statistics (folded by New) and several heads, against the CPU model.
func TestHostRandomResNet(t *testing.T) {
	cfg := clip.Config{EmbedDim: 24, ImageResolution: 64, VisionLayers: []int{1, 2, 1, 1}, VisionWidth: 8, VisionHeads: 4,
		ContextLength: 16, VocabSize: 100, TransformerWidth: 48, TransformerHeads: 3, TransformerLayers: 2}
	m := clip.NewRandom(cfg, 3)
	rng := tensor.NewRNG(4)
	for k, t := range m.StateDict() {
		d := t.Data()
		switch {
		case len(k) > 13 && k[len(k)-13:] == ".running_mean":
			copy(d, tensor.RandN(rng, 0, 0.1, len(d)).Data())
		case len(k) > 12 && k[len(k)-12:] == ".running_var":
			copy(d, tensor.RandU(rng, 0.5, 2, len(d)).Data())
		}
	}
	m.SetTrainable(false) // folds BatchNorm with the new statistics
	net := hostNet(t, m)
	images := tensor.RandN(tensor.NewRNG(5), 0, 1, 2, 3, 64, 64)
	ids := prompts(rand.New(rand.NewSource(6)), cfg.VocabSize, 16, []int{15, 4, 9})
	matchesCPU(t, net, m, images, ids, 3, 16)
}

func TestHostBadInput(t *testing.T) {
	m := fixture.RN(t)
	net := hostNet(t, m)
	if _, err := net.EncodeImage(tensor.New(1, 3, 8, 8)); err == nil {
		t.Error("images of the wrong resolution accepted")
	}
	if _, err := net.EncodeText([]int{1, 2, 3}, 2, 2); err == nil {
		t.Error("3 ids for 2x2 accepted")
	}
	if _, err := net.EncodeText([]int{1, m.Config.VocabSize}, 1, 2); err == nil {
		t.Error("id outside the vocabulary accepted")
	}
	if _, err := net.EncodeText(make([]int, 78), 1, 78); err == nil {
		t.Error("sequence longer than the context accepted")
	}
	out, err := net.EncodeText(nil, 0, 77)
	if err != nil || out.Shape()[0] != 0 {
		t.Errorf("empty batch: %v, %v", out, err)
	}
}

// TestHostRN50 runs the full RN50 architecture (32 attention-pool heads on
// a 7x7 grid, 12 text layers of width 512) on the Host backend against the
// CPU model: one image, two prompts. Skipped with -short (about 20 s).
func TestHostRN50(t *testing.T) {
	if testing.Short() {
		t.Skip("RN50 on the host backend takes about 20 s")
	}
	m := clip.NewRandom(clip.RN50(), 1)
	m.SetTrainable(false)
	net := hostNet(t, m)
	images := tensor.RandN(tensor.NewRNG(7), 0, 1, 1, 3, 224, 224)
	ids := prompts(rand.New(rand.NewSource(8)), 49408, 77, []int{76, 9})
	matchesCPU(t, net, m, images, ids, 2, 77)
}

// TestHostViTFixture runs the ViT fixture's towers (patch size 8 on 32x32
// images: 17 tokens, two heads) against the CPU model.
func TestHostViTFixture(t *testing.T) {
	m := fixture.CLIP(t, "vit_jit_fp16.pt")
	net := hostNet(t, m)
	res := m.Config.ImageResolution
	images := tensor.RandN(tensor.NewRNG(9), 0, 1, 3, 3, res, res)
	ids := prompts(rand.New(rand.NewSource(10)), m.Config.VocabSize, m.Config.ContextLength, []int{9, 2, 40})
	matchesCPU(t, net, m, images, ids, 3, m.Config.ContextLength)
}

// TestHostRandomViT runs a random ViT whose image tower differs from its
// text tower in width, heads, depth and MLP size (a non-square 5x5 grid
// of 6-pixel patches on 30x30 images, 26 tokens) against the CPU model.
func TestHostRandomViT(t *testing.T) {
	cfg := clip.Config{EmbedDim: 20, ImageResolution: 30, VisionDepth: 3, VisionWidth: 36, VisionHeads: 3, PatchSize: 6,
		ContextLength: 16, VocabSize: 100, TransformerWidth: 24, TransformerHeads: 2, TransformerLayers: 2}
	m := clip.NewRandom(cfg, 11)
	m.SetTrainable(false)
	net := hostNet(t, m)
	images := tensor.RandN(tensor.NewRNG(12), 0, 1, 4, 3, 30, 30)
	want := matchesImages(t, net, m, images)
	// Each image's features depend on its own pixels only.
	one, err := net.EncodeImage(tensor.FromSlice(images.Contiguous().Data()[2*3*30*30:3*3*30*30], 1, 3, 30, 30))
	if err != nil {
		t.Fatal(err)
	}
	wantRow := tensor.FromSlice(want.Contiguous().Data()[2*20:3*20], 1, 20)
	if e := RowRelErr(one, wantRow); !(e <= 1e-5) {
		t.Errorf("image 2 alone: relative error %.3g", e)
	}
	if _, err := net.EncodeImage(tensor.New(1, 3, 32, 32)); err == nil {
		t.Error("images of the wrong resolution accepted")
	}
}

// TestHostViTB32 runs the full ViT-B/32 image tower (12 blocks of width
// 768, 12 heads of 64, 7x7 patches of 32 plus the class token) on the
// Host backend against the CPU model: two images. Skipped with -short.
func TestHostViTB32(t *testing.T) {
	if testing.Short() {
		t.Skip("ViT-B/32 on the host backend takes seconds")
	}
	m := clip.NewRandom(clip.ViTB32(), 1)
	m.SetTrainable(false)
	net := hostNet(t, m)
	images := tensor.RandN(tensor.NewRNG(13), 0, 1, 2, 3, 224, 224)
	matchesImages(t, net, m, images)
}
