package kernels

import "github.com/softcpt/softcpt-go/tensor"

// Float16ToFloat32s widens the IEEE half-precision values src (bits) to
// float32 in dst (exactly; len(dst) must be at least len(src)), with
// VCVTPH2PS at the AVX512 level and tensor.Float16ToFloat32 otherwise (and
// for the tail). It is the bulk conversion for loading fp16 checkpoints;
// it differs from the scalar conversion only in quietening signalling NaNs.
func Float16ToFloat32s(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	n := 0
	if haveAsm && current == AVX512 {
		n = len(src) / 16 * 16
		if n > 0 {
			f16ToF32AVX512(n, &src[0], &dst[0])
		}
	}
	for i := n; i < len(src); i++ {
		dst[i] = tensor.Float16ToFloat32(src[i])
	}
}
