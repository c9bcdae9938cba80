package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchGemm times Sgemm at the current level and reports GFLOP/s.
func benchGemm(b *testing.B, transA, transB bool, m, n, k int) {
	r := rand.New(rand.NewPCG(1, 1))
	a := randSlice(r, m*k)
	bm := randSlice(r, k*n)
	c := make([]float32, m*n)
	lda, ldb := k, n
	if transA {
		lda = m
	}
	if transB {
		ldb = k
	}
	Sgemm(transA, transB, m, n, k, 1, a, lda, bm, ldb, 0, c, n) // warm the pools
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Sgemm(transA, transB, m, n, k, 1, a, lda, bm, ldb, 0, c, n)
	}
	b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkSgemm times square SGEMM (C = A·B) with GOMAXPROCS workers.
func BenchmarkSgemm(b *testing.B) {
	for _, n := range []int{256, 512, 1024, 2048} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) { benchGemm(b, false, false, n, n, n) })
	}
}

// BenchmarkSgemmCLIP times SGEMM at CLIP shapes: the text tower's MLP
// (77 tokens × batch 100 rows), the vision tower's MLP projection (49
// patches × batch 32) and a linear layer with a transposed [out][in] weight.
func BenchmarkSgemmCLIP(b *testing.B) {
	cases := []struct {
		name           string
		transA, transB bool
		m, n, k        int
	}{
		{"text_mlp_7700x1536x512", false, false, 7700, 1536, 512},
		{"vision_mlp_1568x512x2048", false, false, 1568, 512, 2048},
		{"linear_transB_7700x512x512", false, true, 7700, 512, 512},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) { benchGemm(b, tc.transA, tc.transB, tc.m, tc.n, tc.k) })
	}
}

// BenchmarkSgemmLevels times n=1024 at every supported level.
func BenchmarkSgemmLevels(b *testing.B) {
	for _, l := range Levels() {
		prev, _ := SetLevel(l)
		b.Run(l.String(), func(b *testing.B) { benchGemm(b, false, false, 512, 512, 512) })
		_, _ = SetLevel(prev)
	}
}

// BenchmarkSgemmMicroKernel times the current level's micro-kernel alone on
// packed panels that stay in L1/L2 (kc = 256), single-threaded, writing to a
// C tile with beta = 0.
func BenchmarkSgemmMicroKernel(b *testing.B) {
	g := &gemmGeneric
	switch Current() {
	case AVX512:
		g = &gemmAVX512
	case AVX2:
		g = &gemmAVX2
	}
	const kc = 256
	const panels = 8 // A panels cycled against one B panel (as in the macro-kernel)
	r := rand.New(rand.NewPCG(2, 2))
	ap := randSlice(r, panels*g.mr*kc)
	bp := randSlice(r, g.nr*kc)
	c := make([]float32, panels*g.mr*g.nr)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for p := 0; p < panels; p++ {
			g.kernel(kc, ap[p*g.mr*kc:], bp, c[p*g.mr*g.nr:], g.nr, 0)
		}
	}
	flops := 2 * float64(g.mr*g.nr*kc*panels) * float64(b.N)
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
