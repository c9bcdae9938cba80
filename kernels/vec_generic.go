//go:build !amd64 || purego

package kernels

// Builds without assembly: Supported reports only Generic, so Current() is
// always Generic and the exported kernels call their XxxGeneric reference
// directly. The xxxAsm helpers exist so that vec.go compiles unchanged; they
// run the reference code (or its per-row piece) should they ever be reached.

func axpyAsm(_ Level, alpha float32, x, y []float32) { AxpyGeneric(alpha, x, y) }

func dotAsm(_ Level, x, y []float32) float32 { return DotGeneric(x, y) }

func scaleAsm(_ Level, alpha float32, x []float32) { ScaleGeneric(alpha, x) }

func addAsm(_ Level, dst, a, b []float32) { AddGeneric(dst, a, b) }

func mulAsm(_ Level, dst, a, b []float32) { MulGeneric(dst, a, b) }

func addScalarAsm(_ Level, dst, src []float32, c float32) { AddScalarGeneric(dst, src, c) }

func sumAsm(_ Level, x []float32) float32 { return SumGeneric(x) }

func maxAsm(_ Level, x []float32) float32 { return MaxGeneric(x) }

func expAsm(_ Level, dst, src []float32) { ExpGeneric(dst, src) }

func sigmoidAsm(_ Level, dst, src []float32) { SigmoidGeneric(dst, src) }

func quickGeluAsm(_ Level, dst, src []float32) { QuickGeluGeneric(dst, src) }

func geluAsm(_ Level, dst, src []float32) { GeluGeneric(dst, src) }

func geluBackwardAsm(_ Level, dst, gradOut, x []float32) { GeluBackwardGeneric(dst, gradOut, x) }
func quickGeluBackwardAsm(_ Level, dst, gradOut, x []float32) {
	QuickGeluBackwardGeneric(dst, gradOut, x)
}

func tanhAsm(_ Level, dst, src []float32) { TanhGeneric(dst, src) }

func tanhBackwardAsm(_ Level, dst, gradOut, y []float32) { TanhBackwardGeneric(dst, gradOut, y) }

func reluAsm(_ Level, dst, src []float32) { ReluGeneric(dst, src) }

func reluBackwardAsm(_ Level, dst, gradOut, x []float32) { ReluBackwardGeneric(dst, gradOut, x) }

func softmaxRowAsm(_ Level, dst, src []float32) { SoftmaxRowsGeneric(dst, src, 1, len(src)) }

func sumSqDevAsm(_ Level, x []float32, mean float32) float32 {
	var s float32
	for _, v := range x {
		d := v - mean
		s += d * d
	}
	return s
}

func lnApplyAsm(_ Level, dst, src, gamma, beta []float32, mean, rstd float32) {
	for i, v := range src {
		dst[i] = (v-mean)*rstd*gamma[i] + beta[i]
	}
}
