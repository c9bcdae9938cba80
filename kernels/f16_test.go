package kernels

import (
	"math"
	"testing"

	"github.com/softcpt/softcpt-go/tensor"
)

// TestFloat16ToFloat32s checks the bulk conversion against the scalar one
// for all 65536 half values (NaN payloads compared as NaN, since VCVTPH2PS
// quietens signalling NaNs), at every level, with guard elements.
func TestFloat16ToFloat32s(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		src := make([]uint16, 1<<16+5) // not a multiple of 16: a scalar tail
		for i := range src {
			src[i] = uint16(i)
		}
		dst := make([]float32, len(src)+1)
		dst[len(src)] = 12345
		Float16ToFloat32s(dst, src)
		if dst[len(src)] != 12345 {
			t.Fatal("wrote past the end")
		}
		for i, h := range src {
			want := tensor.Float16ToFloat32(h)
			got := dst[i]
			if math.IsNaN(float64(want)) {
				if !math.IsNaN(float64(got)) {
					t.Fatalf("%#04x: got %v, want NaN", h, got)
				}
				continue
			}
			if math.Float32bits(got) != math.Float32bits(want) {
				t.Fatalf("%#04x: got %v (%#08x), want %v (%#08x)", h, got, math.Float32bits(got), want, math.Float32bits(want))
			}
		}
	})
}

// BenchmarkFloat16ToFloat32s times the bulk conversion of 1M values.
func BenchmarkFloat16ToFloat32s(b *testing.B) {
	src := make([]uint16, 1<<20)
	for i := range src {
		src[i] = uint16(i * 7)
	}
	dst := make([]float32, len(src))
	b.SetBytes(int64(2 * len(src)))
	for i := 0; i < b.N; i++ {
		Float16ToFloat32s(dst, src)
	}
}

// TestBFloat16ToFloat32s checks the bulk bf16 conversion against the
// scalar one for all 65536 values, bit for bit, with a guard element.
func TestBFloat16ToFloat32s(t *testing.T) {
	src := make([]uint16, 1<<16)
	for i := range src {
		src[i] = uint16(i)
	}
	dst := make([]float32, len(src)+1)
	dst[len(src)] = 12345
	BFloat16ToFloat32s(dst, src)
	if dst[len(src)] != 12345 {
		t.Fatal("wrote past the end")
	}
	for i, h := range src {
		if got, want := math.Float32bits(dst[i]), math.Float32bits(tensor.BFloat16ToFloat32(h)); got != want {
			t.Fatalf("%#04x: got %#08x, want %#08x", h, got, want)
		}
	}
}
