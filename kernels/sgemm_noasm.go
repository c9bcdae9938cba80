//go:build !amd64 || purego

package kernels

// Without assembly (purego or a non-amd64 build) Supported reports only the
// Generic level, so the blocked driver never reaches these; they exist so
// that the driver compiles unchanged.

func sgemmKernel14x32AVX512(k int, a, b, c *float32, ldc int, beta float32) {
	panic("kernels: AVX-512 SGEMM kernel called in a build without assembly")
}

func sgemmKernel6x16AVX2(k int, a, b, c *float32, ldc int, beta float32) {
	panic("kernels: AVX2 SGEMM kernel called in a build without assembly")
}

func sgemmKernel14x32PackAAVX512(k int, a *float32, lda int, ap, b, c *float32, ldc int, beta float32) {
	panic("kernels: AVX-512 SGEMM kernel called in a build without assembly")
}
