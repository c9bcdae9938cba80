package kernels

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkConv2d times Conv2dForward at ResNet-50 shapes with batch 8 and
// reports GFLOP/s (2·N·K·C·KH·KW·OH·OW flops per call).
func BenchmarkConv2d(b *testing.B) {
	cases := []struct {
		name string
		s    Conv2dShape
	}{
		{"stem_7x7s2_3to64_224", Conv2dShape{N: 8, C: 3, H: 224, W: 224, K: 64, KH: 7, KW: 7, StrideH: 2, StrideW: 2, PadH: 3, PadW: 3}},
		{"res2_3x3_64_56", Conv2dShape{N: 8, C: 64, H: 56, W: 56, K: 64, KH: 3, KW: 3, PadH: 1, PadW: 1}},
		{"res2_1x1_256to64_56", Conv2dShape{N: 8, C: 256, H: 56, W: 56, K: 64, KH: 1, KW: 1}},
		{"res3_3x3_128_28", Conv2dShape{N: 8, C: 128, H: 28, W: 28, K: 128, KH: 3, KW: 3, PadH: 1, PadW: 1}},
		{"res4_3x3_256_14", Conv2dShape{N: 8, C: 256, H: 14, W: 14, K: 256, KH: 3, KW: 3, PadH: 1, PadW: 1}},
		{"res5_3x3_512_7", Conv2dShape{N: 8, C: 512, H: 7, W: 7, K: 512, KH: 3, KW: 3, PadH: 1, PadW: 1}},
		// Batch 2, as clip.EncodeImage runs the frozen tower.
		{"n2_res4_1x1_1024to256_14", Conv2dShape{N: 2, C: 1024, H: 14, W: 14, K: 256, KH: 1, KW: 1}},
		{"n2_res5_1x1_2048to512_7", Conv2dShape{N: 2, C: 2048, H: 7, W: 7, K: 512, KH: 1, KW: 1}},
		{"n2_res5_1x1_512to2048_7", Conv2dShape{N: 2, C: 512, H: 7, W: 7, K: 2048, KH: 1, KW: 1}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			s := tc.s
			r := rand.New(rand.NewPCG(3, 3))
			x := randSlice(r, s.N*s.C*s.H*s.W)
			w := randSlice(r, s.K*s.ColRows())
			bias := randSlice(r, s.K)
			out := make([]float32, s.N*s.K*s.ColCols())
			Conv2dForward(s, x, w, bias, out)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				Conv2dForward(s, x, w, bias, out)
			}
			b.ReportMetric(s.Flops()*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkConv2dBF16 times the convolutions of CLIP's RN50 image tower as
// clip.EncodeImage runs them (chunks of 2 images, fused bias and ReLU) in
// bf16 (Conv2dForwardBF16, filters converted once) beside fp32
// (Conv2dForwardFused) on the same operands, in GFLOP/s of wall-clock
// time and GFLOP/cpu-s of process CPU time. Interleave rounds with -count.
func BenchmarkConv2dBF16(b *testing.B) {
	cases := []struct {
		name string
		s    Conv2dShape
	}{
		{"stem2_3x3_32_112", Conv2dShape{N: 2, C: 32, H: 112, W: 112, K: 32, KH: 3, KW: 3, PadH: 1, PadW: 1}},
		{"l1_3x3_64_56", Conv2dShape{N: 2, C: 64, H: 56, W: 56, K: 64, KH: 3, KW: 3, PadH: 1, PadW: 1}},
		{"l1_1x1_256to64_56", Conv2dShape{N: 2, C: 256, H: 56, W: 56, K: 64, KH: 1, KW: 1}},
		{"l2_3x3_128_56", Conv2dShape{N: 2, C: 128, H: 56, W: 56, K: 128, KH: 3, KW: 3, PadH: 1, PadW: 1}},
		{"l3_3x3_256_28", Conv2dShape{N: 2, C: 256, H: 28, W: 28, K: 256, KH: 3, KW: 3, PadH: 1, PadW: 1}},
		{"l4_3x3_512_14", Conv2dShape{N: 2, C: 512, H: 14, W: 14, K: 512, KH: 3, KW: 3, PadH: 1, PadW: 1}},
		{"l3_1x1_1024to256_14", Conv2dShape{N: 2, C: 1024, H: 14, W: 14, K: 256, KH: 1, KW: 1}},
		{"l4_1x1_512to2048_7", Conv2dShape{N: 2, C: 512, H: 7, W: 7, K: 2048, KH: 1, KW: 1}},
		{"l4_1x1_2048to512_7", Conv2dShape{N: 2, C: 2048, H: 7, W: 7, K: 512, KH: 1, KW: 1}},
	}
	for _, tc := range cases {
		s := tc.s
		r := rand.New(rand.NewPCG(3, 3))
		x := randSlice(r, s.N*s.C*s.H*s.W)
		w := randSlice(r, s.K*s.ColRows())
		ep := ConvEpilogue{Bias: randSlice(r, s.K), ReLU: true}
		out := make([]float32, s.N*s.K*s.ColCols())
		wb := NewBF16Rows(s.K, s.ColRows(), w, s.ColRows())
		for _, prec := range []string{"bf16", "fp32"} {
			f := func() { Conv2dForwardBF16(s, x, wb, ep, out) }
			if prec == "fp32" {
				f = func() { Conv2dForwardFused(s, x, w, ep, out) }
			}
			b.Run(prec+"/"+tc.name, func(b *testing.B) { benchFlops(b, s.Flops(), f) })
		}
	}
}
