//go:build amd64 && !purego

package kernels

import "testing"

// BenchmarkFMAPeak measures the single-core FMA peak with register-only
// loops of independent fused multiply-adds (no loads), in GFLOP/s.
func BenchmarkFMAPeak(b *testing.B) {
	const iters = 1 << 16
	if Supported(AVX512) {
		b.Run("avx512", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				fmaPeakAVX512(iters)
			}
			b.ReportMetric(768*iters*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
	if Supported(AVX2) {
		b.Run("avx2", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				fmaPeakAVX2(iters)
			}
			b.ReportMetric(192*iters*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
