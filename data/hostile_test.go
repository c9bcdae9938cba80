package data

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/softcpt/softcpt-go/internal/hostile"
)

// matWithCompressed returns a little-endian Level 5 MAT-file holding one
// compressed element whose zlib stream is z.
func matWithCompressed(z []byte) []byte {
	h := []byte(strings.Repeat(" ", 116))
	copy(h, "MATLAB 5.0 MAT-file, hostile test")
	h = append(h, make([]byte, 8)...)
	h = binary.LittleEndian.AppendUint16(h, 0x0100)
	h = append(h, 'I', 'M')
	h = binary.LittleEndian.AppendUint32(h, miCOMPRESSED)
	h = binary.LittleEndian.AppendUint32(h, uint32(len(z)))
	return append(h, z...)
}

// matrixTag is the 8-byte tag of a miMATRIX element of n bytes.
func matrixTag(n uint32) []byte {
	return binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, miMATRIX), n)
}

// TestHostileMatBomb: compressed elements that inflate to 200 MB (from
// about 1.3 MB of zlib stream; the bomb was 200 KB of a denser
// encoding) fail fast within a bounded allocation, whether their tag
// declares the size honestly or understates it.
func TestHostileMatBomb(t *testing.T) {
	const n = 200_000_000
	for _, c := range []struct {
		name string
		z    []byte
		want string
	}{
		{"honest tag", hostile.ZlibPrefixZeros(matrixTag(n), n), "budget"},
		{"understated tag", hostile.ZlibPrefixZeros(matrixTag(1000), n), "bomb.mat"},
		{"no tag", hostile.ZlibZeros(n), "bomb.mat"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := matWithCompressed(c.z)
			el, alloc, err := hostile.Cost(func() error {
				_, err := ParseMat(b, "bomb.mat")
				return err
			})
			t.Logf("%d-byte file: %v in %v, %.1f MB allocated", len(b), err, el, float64(alloc)/1e6)
			mustErr(t, err, "bomb.mat", "variable #1", c.want)
			if el > 5*time.Second || alloc > 48<<20 {
				t.Errorf("took %v and %d bytes, want a bounded refusal", el, alloc)
			}
		})
	}
}
