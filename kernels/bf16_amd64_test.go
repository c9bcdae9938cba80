//go:build amd64 && !purego

package kernels

import (
	"bytes"
	"testing"
	"unsafe"
)

// TestBF16Encoding checks the generator's EVEX encodings (emitted as bytes,
// since the Go assembler lacks these instructions) against the GNU
// assembler's encodings of the same instructions (objdump of `as` output
// for the operand triples in bf16_asmgen.go's probeTriples).
func TestBF16Encoding(t *testing.T) {
	want := []byte{
		0x62, 0xf2, 0x6e, 0x48, 0x52, 0xcb, // vdpbf16ps zmm1, zmm2, zmm3
		0x62, 0x12, 0x76, 0x40, 0x52, 0xce, // vdpbf16ps zmm9, zmm17, zmm30
		0x62, 0x02, 0x1e, 0x40, 0x52, 0xdf, // vdpbf16ps zmm27, zmm28, zmm31
		0x62, 0xe2, 0x3e, 0x48, 0x52, 0xc0, // vdpbf16ps zmm16, zmm8, zmm0
		0x62, 0xf2, 0x77, 0x48, 0x72, 0xd0, // vcvtne2ps2bf16 zmm2, zmm1, zmm0
		0x62, 0x82, 0x17, 0x48, 0x72, 0xed, // vcvtne2ps2bf16 zmm21, zmm13, zmm29
	}
	got := unsafe.Slice(bf16EncodingProbe(), len(want))
	if !bytes.Equal(got, want) {
		t.Fatalf("encodings\n got % x\nwant % x", got, want)
	}
}

// BenchmarkBF16Peak measures the single-core VDPBF16PS peak with
// register-only loops (no loads), in GFLOP/s (a multiply and an add per
// bf16 pair element).
func BenchmarkBF16Peak(b *testing.B) {
	if !BF16Supported() {
		b.Skip("no AVX512-BF16 kernels here")
	}
	const iters = 1 << 16
	for i := 0; i < b.N; i++ {
		dpbf16PeakAVX512(iters)
	}
	b.ReportMetric(1536*iters*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
