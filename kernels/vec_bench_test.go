package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// vecBenchLevels runs f as one sub-benchmark per supported level, named
// level=<name>, with that level selected.
func vecBenchLevels(b *testing.B, f func(b *testing.B)) {
	for _, l := range Levels() {
		b.Run("level="+l.String(), func(b *testing.B) {
			prev, err := SetLevel(l)
			if err != nil {
				b.Fatal(err)
			}
			defer SetLevel(prev)
			b.ReportAllocs()
			f(b)
		})
	}
}

// vecReport reports GB/s for bytes moved per op and, if flops > 0, GFLOP/s.
func vecReport(b *testing.B, bytes, flops float64) {
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(bytes/ns, "GB/s")
	if flops > 0 {
		b.ReportMetric(flops/ns, "GFLOP/s")
	}
}

// vecBenchData returns n normal samples.
func vecBenchData(n int, seed uint64) []float32 {
	return vecRand(rand.New(rand.NewPCG(seed, 1)), n, 2, 0)
}

// BenchmarkSoftmaxRows: 77×77 attention scores for 8 heads and a batch of
// 100 (61600 rows of 77) and 32 rows of 1000 classes.
func BenchmarkSoftmaxRows(b *testing.B) {
	for _, sh := range [][2]int{{77 * 8 * 100, 77}, {32, 1000}} {
		rows, cols := sh[0], sh[1]
		src := vecBenchData(rows*cols, 1)
		dst := make([]float32, rows*cols)
		b.Run(fmt.Sprintf("rows=%d,cols=%d", rows, cols), func(b *testing.B) {
			vecBenchLevels(b, func(b *testing.B) {
				for b.Loop() {
					SoftmaxRows(dst, src, rows, cols)
				}
				vecReport(b, float64(8*rows*cols), 0)
			})
		})
	}
}

// BenchmarkLayerNormRows: ViT-B/32 tokens (7700×512 ≈ 100 texts × 77) and
// 1568×2048 (MLP-width rows).
func BenchmarkLayerNormRows(b *testing.B) {
	for _, sh := range [][2]int{{7700, 512}, {1568, 2048}} {
		rows, cols := sh[0], sh[1]
		src := vecBenchData(rows*cols, 2)
		gamma, beta := vecBenchData(cols, 3), vecBenchData(cols, 4)
		dst := make([]float32, rows*cols)
		mean, rstd := make([]float32, rows), make([]float32, rows)
		b.Run(fmt.Sprintf("rows=%d,cols=%d", rows, cols), func(b *testing.B) {
			vecBenchLevels(b, func(b *testing.B) {
				for b.Loop() {
					LayerNormRows(dst, mean, rstd, src, gamma, beta, rows, cols, 1e-5)
				}
				vecReport(b, float64(8*rows*cols), 0)
			})
		})
	}
}

// benchUnary benchmarks an element-wise dst = f(src) kernel; it reports
// GB/s and giga-elements per second as "Gelem/s".
func benchUnary(b *testing.B, f func(dst, src []float32)) {
	for _, n := range []int{1000, 1 << 16, 1 << 20} {
		src, dst := vecBenchData(n, 5), make([]float32, n)
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			vecBenchLevels(b, func(b *testing.B) {
				for b.Loop() {
					f(dst, src)
				}
				vecReport(b, float64(8*n), 0)
				b.ReportMetric(float64(n)*float64(b.N)/float64(b.Elapsed().Nanoseconds()), "Gelem/s")
			})
		})
	}
}

func BenchmarkExp(b *testing.B)       { benchUnary(b, Exp) }
func BenchmarkQuickGelu(b *testing.B) { benchUnary(b, QuickGelu) }
func BenchmarkSigmoid(b *testing.B)   { benchUnary(b, Sigmoid) }
func BenchmarkRelu(b *testing.B)      { benchUnary(b, Relu) }
func BenchmarkGelu(b *testing.B)      { benchUnary(b, Gelu) }
func BenchmarkTanh(b *testing.B)      { benchUnary(b, Tanh) }

func BenchmarkAxpy(b *testing.B) {
	for _, n := range []int{1000, 1 << 16, 1 << 20} {
		x, y := vecBenchData(n, 6), vecBenchData(n, 7)
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			vecBenchLevels(b, func(b *testing.B) {
				for b.Loop() {
					Axpy(1e-6, x, y)
				}
				vecReport(b, float64(12*n), float64(2*n))
			})
		})
	}
}

var vecBenchSink float32

func BenchmarkDot(b *testing.B) {
	for _, n := range []int{1000, 1 << 16, 1 << 20} {
		x, y := vecBenchData(n, 8), vecBenchData(n, 9)
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			vecBenchLevels(b, func(b *testing.B) {
				var s float32
				for b.Loop() {
					s += Dot(x, y)
				}
				vecBenchSink = s
				vecReport(b, float64(8*n), float64(2*n))
			})
		})
	}
}

// benchBackward benchmarks an element-wise dst = f(gradOut, x) kernel; it
// reports GB/s (12 bytes per element) and giga-elements per second.
func benchBackward(b *testing.B, f func(dst, gradOut, x []float32)) {
	for _, n := range []int{1000, 1 << 16, 1 << 20} {
		g, x, dst := vecBenchData(n, 10), vecBenchData(n, 11), make([]float32, n)
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			vecBenchLevels(b, func(b *testing.B) {
				for b.Loop() {
					f(dst, g, x)
				}
				vecReport(b, float64(12*n), 0)
				b.ReportMetric(float64(n)*float64(b.N)/float64(b.Elapsed().Nanoseconds()), "Gelem/s")
			})
		})
	}
}

func BenchmarkGeluBackward(b *testing.B)      { benchBackward(b, GeluBackward) }
func BenchmarkQuickGeluBackward(b *testing.B) { benchBackward(b, QuickGeluBackward) }
func BenchmarkTanhBackward(b *testing.B)      { benchBackward(b, TanhBackward) }
