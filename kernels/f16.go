package kernels

import (
	"math"

	"github.com/softcpt/softcpt-go/tensor"
)

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

// BFloat16ToFloat32s widens the bfloat16 values src (bits) to float32 in
// dst (exactly: the bits shifted into the high half; len(dst) must be at
// least len(src)), as tensor.BFloat16ToFloat32 does one at a time. It is
// the bulk conversion for loading bf16 checkpoints.
func BFloat16ToFloat32s(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	for i, h := range src {
		dst[i] = math.Float32frombits(uint32(h) << 16)
	}
}
