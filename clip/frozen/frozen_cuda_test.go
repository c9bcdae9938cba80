//go:build cuda

package frozen

// The towers on the GPU (backend cuda.Device.Backend) against the CPU
// clip.Model (fixture models, a random ViT, a random RN50 and ViT-B/32),
// within 1e-5 relative error; benchmarks of the RN50 towers and the
// ViT-B/32 image tower (images/s, prompts/s; bench/py/gpu_clip_peer.py is
// the PyTorch peer). The kernels themselves are tested in package cuda.

import (
	"math/rand"
	"sync"
	"testing"

	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/cuda/cudatest"
	"github.com/softcpt/softcpt-go/internal/fixture"
	"github.com/softcpt/softcpt-go/tensor"
)

// tol is the largest relative error of the device's features.
const tol = 1e-5

// compareCLIP checks the device towers against m's CPU towers.
func compareCLIP(t *testing.T, name string, m *clip.Model, images *tensor.Tensor, eot []int) {
	t.Helper()
	g, err := New(cudatest.Device(t).Backend(), m)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Free()
	if images != nil {
		got, err := g.EncodeImage(images)
		if err != nil {
			t.Fatal(err)
		}
		e := RowRelErr(got, m.EncodeImage(images))
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
	e := RowRelErr(got, m.EncodeText(ids, len(eot), L))
	t.Logf("%s text features %v: relative error %.3g", name, got.Shape(), e)
	if !(e <= tol) {
		t.Errorf("%s text features: relative error %.3g > %g", name, e, tol)
	}
	if _, err := g.EncodeText([]int{0, m.Config.VocabSize}, 1, 2); err == nil {
		t.Errorf("%s: id outside the vocabulary accepted", name)
	}
}

func TestDeviceFixtureRN(t *testing.T) {
	m := fixture.RN(t)
	r := m.Config.ImageResolution
	compareCLIP(t, "rn fixture", m, tensor.RandN(tensor.NewRNG(23), 0, 1, 3, 3, r, r), []int{5, 12, 3, 76})
}

func TestDeviceFixtureViT(t *testing.T) {
	m := fixture.CLIP(t, "vit_jit_fp16.pt")
	r := m.Config.ImageResolution
	compareCLIP(t, "vit fixture", m, tensor.RandN(tensor.NewRNG(27), 0, 1, 3, 3, r, r), []int{9, 2, 40})
}

// TestDeviceRandomViT is a random ViT whose image tower differs from its
// text tower in width, heads, depth and MLP size (5x5 grid of 6-pixel
// patches, 26 tokens, head size 12).
func TestDeviceRandomViT(t *testing.T) {
	cfg := clip.Config{EmbedDim: 20, ImageResolution: 30, VisionDepth: 3, VisionWidth: 36, VisionHeads: 3, PatchSize: 6,
		ContextLength: 16, VocabSize: 100, TransformerWidth: 24, TransformerHeads: 2, TransformerLayers: 2}
	m := clip.NewRandom(cfg, 11)
	m.SetTrainable(false)
	compareCLIP(t, "random ViT", m, tensor.RandN(tensor.NewRNG(28), 0, 1, 4, 3, 30, 30), []int{15, 4, 9})
}

// vitB32 and rn50 return a random frozen ViT-B/32 and RN50 (BatchNorm
// folded), each built once.
var (
	vitB32 = sync.OnceValue(func() *clip.Model { return frozenRandom(clip.ViTB32()) })
	rn50   = sync.OnceValue(func() *clip.Model { return frozenRandom(clip.RN50()) })
)

// frozenRandom returns a frozen random model of cfg.
func frozenRandom(cfg clip.Config) *clip.Model {
	m := clip.NewRandom(cfg, 1)
	m.SetTrainable(false)
	return m
}

// TestDeviceRandomViTB32 is the full ViT-B/32 architecture (12 blocks of
// width 768, 12 heads of 64, 50 tokens) against the CPU model.
func TestDeviceRandomViTB32(t *testing.T) {
	compareCLIP(t, "ViT-B/32", vitB32(), tensor.RandN(tensor.NewRNG(29), 0, 1, 2, 3, 224, 224), []int{7, 76, 20})
}

func TestDeviceRandomRN50(t *testing.T) {
	m := rn50()
	compareCLIP(t, "RN50", m, tensor.RandN(tensor.NewRNG(24), 0, 1, 2, 3, 224, 224), []int{7, 76, 20, 3, 50})
}

// BenchmarkCLIPImageRN50 reports RN50 image-tower throughput at batch 32
// (upload, forward, download of the features).
func BenchmarkCLIPImageRN50(b *testing.B) { benchImage(b, rn50(), 25) }

// BenchmarkCLIPImageViTB32 reports ViT-B/32 image-tower throughput at
// batch 32 (upload, forward, download of the features).
func BenchmarkCLIPImageViTB32(b *testing.B) { benchImage(b, vitB32(), 30) }

// benchImage reports the image-tower throughput of m on the device at
// batch 32 for random images of seed.
func benchImage(b *testing.B, m *clip.Model, seed uint64) {
	g, err := New(cudatest.Device(b).Backend(), m)
	if err != nil {
		b.Fatal(err)
	}
	defer g.Free()
	const batch = 32
	images := tensor.RandN(tensor.NewRNG(seed), 0, 1, batch, 3, 224, 224)
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
	g, err := New(cudatest.Device(b).Backend(), rn50())
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
