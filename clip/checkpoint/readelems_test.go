package checkpoint

import (
	"bytes"
	"math"
	"testing"
)

// TestReadElemsFastPaths checks readElems' fast paths (float32 read in
// place, float16 and bfloat16 widened in bulk) against dtype.decode, the
// per-element reference, on lengths around the chunk size at an odd byte
// offset, with a guard element after dst. Every 16-bit pattern occurs
// (fp16 signalling NaNs compare as NaN: VCVTPH2PS quietens them).
func TestReadElemsFastPaths(t *testing.T) {
	src := make([]byte, 3+4*(chunkBytes/2+70000))
	for i := range src {
		src[i] = byte(i*131 + i/256*7)
	}
	for _, d := range []dtype{dtFloat32, dtFloat16, dtBFloat16} {
		for _, n := range []int{0, 1, 15, 17, 1 << 16, chunkBytes/d.size + 3, chunkBytes/2 + 65537} {
			if 3+n*d.size > len(src) {
				continue
			}
			dst := make([]float32, n+1)
			dst[n] = 7
			if err := readElems(bytes.NewReader(src), 3, d, dst[:n]); err != nil {
				t.Fatal(err)
			}
			if dst[n] != 7 {
				t.Fatalf("%s n=%d: wrote past the end", d.name, n)
			}
			want := make([]float32, n)
			d.decode(src[3:], want)
			for i := range want {
				g, w := dst[i], want[i]
				if math.Float32bits(g) != math.Float32bits(w) && !(math.IsNaN(float64(g)) && math.IsNaN(float64(w))) {
					t.Fatalf("%s n=%d: element %d = %#08x, want %#08x", d.name, n, i, math.Float32bits(g), math.Float32bits(w))
				}
			}
		}
		// A storage past the end of the data is an error, never garbage.
		if err := readElems(bytes.NewReader(src[:10]), 3, d, make([]float32, 8)); err == nil {
			t.Errorf("%s: a short read gave no error", d.name)
		}
	}
}
