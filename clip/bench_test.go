package clip

import (
	"testing"

	"github.com/softcpt/softcpt-go/tensor"
)

// BenchmarkRN50Image is the full-size RN50 image tower (random weights,
// BatchNorm folded, no graph) on a batch of 32 images of 224×224.
func BenchmarkRN50Image(b *testing.B) {
	m := NewRandom(RN50(), 1)
	m.SetTrainable(false)
	x := tensor.RandN(tensor.NewRNG(2), 0, 1, 32, 3, 224, 224)
	m.EncodeImage(x) // warm up pools
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.EncodeImage(x)
	}
	b.ReportMetric(float64(32*b.N)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkRN50Text is RN50's text tower on 100 prompts of 77 tokens
// (every position used: the EOT sits at the last position).
func BenchmarkRN50Text(b *testing.B) {
	m := NewRandom(RN50(), 1)
	m.SetTrainable(false)
	const n, l = 100, 77
	ids := make([]int, n*l)
	rng := tensor.NewRNG(3)
	for i := range ids {
		ids[i] = 1 + rng.IntN(40000)
	}
	for r := 0; r < n; r++ {
		ids[r*l+l-1] = 49407
	}
	m.EncodeText(ids, n, l)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.EncodeText(ids, n, l)
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "prompts/s")
}
