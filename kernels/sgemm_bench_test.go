package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
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
	cpu0 := processCPUTime()
	for i := 0; i < b.N; i++ {
		Sgemm(transA, transB, m, n, k, 1, a, lda, bm, ldb, 0, c, n)
	}
	reportGFLOPs(b, 2*float64(m)*float64(n)*float64(k)*float64(b.N), processCPUTime()-cpu0)
}

// reportGFLOPs reports flops per wall-clock second ("GFLOP/s") and, where
// the process CPU time is known, per CPU-second ("GFLOP/cpu-s": with
// GOMAXPROCS=1 it is the single core's throughput while it ran, little
// disturbed by other processes competing for the cores).
func reportGFLOPs(b *testing.B, flops float64, cpu time.Duration) {
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	if cpu > 0 {
		b.ReportMetric(flops/cpu.Seconds()/1e9, "GFLOP/cpu-s")
	}
}

// benchFlops runs f once untimed, then b.N times, and reports GFLOP/s and
// GFLOP/cpu-s for flops per call.
func benchFlops(b *testing.B, flops float64, f func()) {
	f()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPUTime()
	for i := 0; i < b.N; i++ {
		f()
	}
	reportGFLOPs(b, flops*float64(b.N), processCPUTime()-cpu0)
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

// BenchmarkSgemmPacked compares Sgemm (which packs B on every call) with
// SgemmPacked on a B packed once by PackB, at the shapes of a frozen CLIP
// text tower's Linear layers in a SoftCPT step (a few hundred rows against
// a [out, in] weight): the forward x·Wᵀ (transB) and the input gradient
// g·W. It reports GFLOP/s.
func BenchmarkSgemmPacked(b *testing.B) {
	cases := []struct {
		name    string
		transB  bool
		m, n, k int
	}{
		{"fwd_c_fc_300x2048x512", true, 300, 2048, 512},
		{"fwd_c_proj_300x512x2048", true, 300, 512, 2048},
		{"bwd_c_fc_300x512x2048", false, 300, 512, 2048},
		{"fwd_q_1000x512x512", true, 1000, 512, 512},
	}
	for _, tc := range cases {
		r := rand.New(rand.NewPCG(1, 1))
		a := randSlice(r, tc.m*tc.k)
		bm := randSlice(r, tc.k*tc.n)
		c := make([]float32, tc.m*tc.n)
		ldb := tc.n
		if tc.transB {
			ldb = tc.k
		}
		flops := 2 * float64(tc.m) * float64(tc.n) * float64(tc.k)
		b.Run(tc.name+"/sgemm", func(b *testing.B) {
			Sgemm(false, tc.transB, tc.m, tc.n, tc.k, 1, a, tc.k, bm, ldb, 0, c, tc.n)
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := processCPUTime()
			for i := 0; i < b.N; i++ {
				Sgemm(false, tc.transB, tc.m, tc.n, tc.k, 1, a, tc.k, bm, ldb, 0, c, tc.n)
			}
			reportGFLOPs(b, flops*float64(b.N), processCPUTime()-cpu0)
		})
		b.Run(tc.name+"/packed", func(b *testing.B) {
			pb := PackB(tc.transB, tc.k, tc.n, bm, ldb)
			SgemmPacked(false, tc.m, 1, a, tc.k, pb, 0, c, tc.n)
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := processCPUTime()
			for i := 0; i < b.N; i++ {
				SgemmPacked(false, tc.m, 1, a, tc.k, pb, 0, c, tc.n)
			}
			reportGFLOPs(b, flops*float64(b.N), processCPUTime()-cpu0)
		})
	}
}

// BenchmarkGemmBF16 times square products C = A·B with B packed once, at
// bf16 (GemmBF16; the fp32 fallback where AVX512-BF16 is missing) beside
// the fp32 SgemmPacked and Sgemm on the same operands, in GFLOP/s, with
// GOMAXPROCS workers. Run with -count and compare medians.
func BenchmarkGemmBF16(b *testing.B) {
	for _, n := range []int{256, 1024, 2048} {
		r := rand.New(rand.NewPCG(1, 1))
		a := randSlice(r, n*n)
		bm := randSlice(r, n*n)
		c := make([]float32, n*n)
		flops := 2 * float64(n) * float64(n) * float64(n)
		run := func(b *testing.B, f func()) { benchFlops(b, flops, f) }
		b.Run(fmt.Sprintf("bf16/n=%d", n), func(b *testing.B) {
			pb := PackBF16(false, n, n, bm, n)
			run(b, func() { GemmBF16(n, a, n, pb, c, n, BF16Epilogue{}) })
		})
		b.Run(fmt.Sprintf("fp32packed/n=%d", n), func(b *testing.B) {
			pb := PackB(false, n, n, bm, n)
			run(b, func() { SgemmPacked(false, n, 1, a, n, pb, 0, c, n) })
		})
		b.Run(fmt.Sprintf("fp32/n=%d", n), func(b *testing.B) {
			run(b, func() { Sgemm(false, false, n, n, n, 1, a, n, bm, n, 0, c, n) })
		})
	}
}

// BenchmarkGemmBF16CLIP times GemmBF16 (B packed once, as autograd's
// PackedWeight holds a frozen Linear weight) beside SgemmPacked at the
// text tower's Linear shapes for 100 prompts × 77 tokens (forward x·Wᵀ
// with the bias epilogue) and for a SoftCPT step's input gradient g·W, in
// GFLOP/s and GFLOP/cpu-s. Interleave rounds with -count.
func BenchmarkGemmBF16CLIP(b *testing.B) {
	cases := []struct {
		name    string
		transB  bool
		m, n, k int
	}{
		{"fwd_qkv_7700x1536x512", true, 7700, 1536, 512},
		{"fwd_c_fc_7700x2048x512", true, 7700, 2048, 512},
		{"fwd_c_proj_7700x512x2048", true, 7700, 512, 2048},
		{"bwd_c_fc_300x512x2048", false, 300, 512, 2048},
		{"fwd_c_fc_300x2048x512", true, 300, 2048, 512},
	}
	for _, tc := range cases {
		r := rand.New(rand.NewPCG(1, 1))
		a := randSlice(r, tc.m*tc.k)
		bm := randSlice(r, tc.k*tc.n)
		bias := randSlice(r, tc.n)
		c := make([]float32, tc.m*tc.n)
		ldb := tc.n
		if tc.transB {
			ldb = tc.k
		}
		flops := 2 * float64(tc.m) * float64(tc.n) * float64(tc.k)
		pb16 := PackBF16(tc.transB, tc.k, tc.n, bm, ldb)
		pb32 := PackB(tc.transB, tc.k, tc.n, bm, ldb)
		for _, prec := range []string{"bf16", "fp32"} {
			f := func() { GemmBF16(tc.m, a, tc.k, pb16, c, tc.n, BF16Epilogue{Bias: bias}) }
			if prec == "fp32" {
				f = func() {
					for i := 0; i < tc.m; i++ {
						copy(c[i*tc.n:(i+1)*tc.n], bias)
					}
					SgemmPacked(false, tc.m, 1, a, tc.k, pb32, 1, c, tc.n)
				}
			}
			b.Run(prec+"/"+tc.name, func(b *testing.B) { benchFlops(b, flops, f) })
		}
	}
}

// BenchmarkSgemmBlocking times square Sgemm at the AVX-512 level with the
// A block (mc rows) of sgemmBlockingFor's choice for this CPU and with a
// third less and a third more, to check the choice (other blocking
// fixed). Interleave rounds with -count and compare medians.
func BenchmarkSgemmBlocking(b *testing.B) {
	if !haveAsm || current != AVX512 {
		b.Skip("no AVX-512 kernels here")
	}
	mc0 := gemmAVX512.mc
	defer func() { gemmAVX512.mc = mc0 }()
	for _, n := range []int{1024, 2048} {
		for _, mc := range []int{mc0 / 14 * 2 / 3 * 14, mc0, mc0 / 14 * 4 / 3 * 14} {
			b.Run(fmt.Sprintf("n=%d/mc=%d", n, mc), func(b *testing.B) {
				gemmAVX512.mc = mc
				benchGemm(b, false, false, n, n, n)
			})
		}
	}
}
