//go:build !amd64 || purego

package kernels

// Without assembly BF16Supported is false, so the bf16 driver never reaches
// these; they exist so that it compiles unchanged.

func bf16Kernel14x32(kp int, a *uint16, lda int, b *uint32, c *float32, ldc int, add bool) {
	panic("kernels: bf16 kernel called in a build without assembly")
}

func cvtBF16AVX512(n int, src *float32, dst *uint16) {
	panic("kernels: bf16 conversion called in a build without assembly")
}

func pairsBF16AVX512(n int, src *float32, dst *uint32) {
	panic("kernels: bf16 conversion called in a build without assembly")
}

func f16ToF32AVX512(n int, src *uint16, dst *float32) {
	panic("kernels: fp16 conversion called in a build without assembly")
}
