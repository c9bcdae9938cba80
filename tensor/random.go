package tensor

import (
	"math"
	"math/rand/v2"
)

// NewRNG returns a deterministic random source for a seed (PCG).
func NewRNG(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// RandN returns a tensor of normal samples with the given mean and standard
// deviation drawn from rng.
func RandN(rng *rand.Rand, mean, std float32, shape ...int) *Tensor {
	t := New(shape...)
	for i := range t.data {
		t.data[i] = mean + std*float32(rng.NormFloat64())
	}
	return t
}

// RandU returns a tensor of samples uniform in [lo, hi) drawn from rng.
func RandU(rng *rand.Rand, lo, hi float32, shape ...int) *Tensor {
	t := New(shape...)
	for i := range t.data {
		t.data[i] = lo + (hi-lo)*float32(rng.Float64())
	}
	return t
}

// Float16ToFloat32 converts IEEE 754 half-precision bits to float32,
// exactly (subnormals, infinities and NaN included).
func Float16ToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | frac<<13)
	case exp == 0:
		if frac == 0 {
			return math.Float32frombits(sign)
		}
		// Subnormal half: value = frac * 2^-24.
		v := float32(frac) * (1.0 / (1 << 24))
		if sign != 0 {
			v = -v
		}
		return v
	}
	return math.Float32frombits(sign | (exp+112)<<23 | frac<<13)
}

// Float32ToFloat16 converts a float32 to half-precision bits with
// round-to-nearest-even, as PyTorch's .half() does.
func Float32ToFloat16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	frac := b & 0x7fffff
	if exp == 0xff {
		if frac != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		if e < -10 {
			return sign
		}
		m := frac | 0x800000
		shift := uint32(14 - e)
		half := uint32(1) << (shift - 1)
		r := m >> shift
		rem := m & (1<<shift - 1)
		if rem > half || (rem == half && r&1 == 1) {
			r++
		}
		return sign | uint16(r)
	}
	r := uint32(e)<<10 | frac>>13
	rem := frac & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && r&1 == 1) {
		r++
	}
	return sign | uint16(r)
}

// BFloat16ToFloat32 converts bfloat16 bits to float32 (exact).
func BFloat16ToFloat32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// FromFloat16 decodes little-endian-independent half-precision values into
// a new float32 tensor of the given shape.
func FromFloat16(bits []uint16, shape ...int) *Tensor {
	t := New(shape...)
	if len(bits) != len(t.data) {
		panic("tensor.FromFloat16: element count does not match shape")
	}
	for i, h := range bits {
		t.data[i] = Float16ToFloat32(h)
	}
	return t
}

// FromBFloat16 decodes bfloat16 values into a new float32 tensor.
func FromBFloat16(bits []uint16, shape ...int) *Tensor {
	t := New(shape...)
	if len(bits) != len(t.data) {
		panic("tensor.FromBFloat16: element count does not match shape")
	}
	for i, h := range bits {
		t.data[i] = BFloat16ToFloat32(h)
	}
	return t
}
