// Package hostile builds hostile inputs in memory for the robustness tests
// of the project's readers (decompression bombs, oversized image headers),
// so that no large file is committed. It is imported by tests only.
package hostile

import (
	"bytes"
	"encoding/binary"
	"hash"
	"hash/adler32"
	"hash/crc32"
	"image"
	"image/png"
	"runtime"
	"time"
)

// bitWriter packs DEFLATE bits, least significant bit first.
type bitWriter struct {
	out  []byte
	acc  uint64
	nacc uint
}

func (w *bitWriter) bits(v uint64, n uint) {
	w.acc |= v << w.nacc
	w.nacc += n
	for w.nacc >= 8 {
		w.out = append(w.out, byte(w.acc))
		w.acc >>= 8
		w.nacc -= 8
	}
}

// code writes a Huffman code of n bits, most significant bit first.
func (w *bitWriter) code(c uint64, n uint) {
	var r uint64
	for i := uint(0); i < n; i++ {
		r = r<<1 | (c>>i)&1
	}
	w.bits(r, n)
}

func (w *bitWriter) flush() []byte {
	if w.nacc > 0 {
		w.out = append(w.out, byte(w.acc))
		w.acc, w.nacc = 0, 0
	}
	return w.out
}

// DeflateZeros returns a raw DEFLATE stream (one fixed-Huffman block) that
// inflates to n zero bytes: one literal, then copies of 258 bytes at
// distance 1 (13 bits each, about 1:160).
func DeflateZeros(n int64) []byte { return DeflatePrefixZeros(nil, n) }

// DeflatePrefixZeros returns a raw DEFLATE stream that inflates to prefix
// (a stored block, at most 65535 bytes) followed by n zero bytes.
func DeflatePrefixZeros(prefix []byte, n int64) []byte { return DeflateRun(prefix, 0, n) }

// DeflateRun returns a raw DEFLATE stream that inflates to prefix (a
// stored block, at most 65535 bytes) followed by n copies of the byte c
// (below 144, as the fixed-Huffman literal code is written here).
func DeflateRun(prefix []byte, c byte, n int64) []byte {
	if c >= 144 {
		panic("hostile.DeflateRun: byte above 143")
	}
	w := &bitWriter{out: make([]byte, 0, n/150+int64(len(prefix))+16)}
	if len(prefix) > 0 {
		w.bits(0, 1) // not final
		w.bits(0, 2) // BTYPE 00: stored
		w.flush()
		w.out = binary.LittleEndian.AppendUint16(w.out, uint16(len(prefix)))
		w.out = binary.LittleEndian.AppendUint16(w.out, ^uint16(len(prefix)))
		w.out = append(w.out, prefix...)
	}
	w.bits(1, 1) // BFINAL
	w.bits(1, 2) // BTYPE 01: fixed Huffman
	lit0 := func() { w.code(0x30+uint64(c), 8) }
	if n > 0 {
		lit0()
		n--
	}
	for ; n >= 258; n -= 258 {
		w.code(0xc5, 8) // length code 285: 258 bytes
		w.code(0, 5)    // distance code 0: distance 1
	}
	for ; n > 0; n-- {
		lit0()
	}
	w.code(0, 7) // end of block (256)
	return w.flush()
}

// ZlibZeros returns a zlib stream that inflates to n zero bytes.
func ZlibZeros(n int64) []byte { return ZlibPrefixZeros(nil, n) }

// ZlibPrefixZeros returns a zlib stream that inflates to prefix followed
// by n zero bytes.
func ZlibPrefixZeros(prefix []byte, n int64) []byte {
	b := []byte{0x78, 0x01}
	b = append(b, DeflatePrefixZeros(prefix, n)...)
	h := adler32.New()
	h.Write(prefix)
	writeZeros(h, n)
	return binary.BigEndian.AppendUint32(b, h.Sum32())
}

// writeZeros writes n zero bytes to h.
func writeZeros(h hash.Hash, n int64) {
	buf := make([]byte, 1<<20)
	for ; n > 0; n -= int64(len(buf)) {
		h.Write(buf[:min(n, int64(len(buf)))])
	}
}

// CRC32Zeros is the IEEE CRC-32 of n zero bytes (a zip entry's checksum).
func CRC32Zeros(n int64) uint32 {
	h := crc32.NewIEEE()
	writeZeros(h, n)
	return h.Sum32()
}

// PNGHeader returns a PNG whose header declares a w×h 16-bit RGBA image
// followed by a tiny valid IDAT (far too short for those dimensions) and
// IEND: a decoder that trusts the header allocates w·h·8 bytes.
func PNGHeader(w, h uint32) []byte {
	var src bytes.Buffer
	if err := png.Encode(&src, image.NewRGBA64(image.Rect(0, 0, 1, 1))); err != nil {
		panic(err)
	}
	b := src.Bytes()
	// IHDR data starts at byte 16 (8 signature, 4 length, 4 type).
	binary.BigEndian.PutUint32(b[16:], w)
	binary.BigEndian.PutUint32(b[20:], h)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

// Cost runs f once and returns its wall time, the bytes it allocated
// and its error (runtime.MemStats.TotalAlloc delta, after a GC; allocations of
// other goroutines in the meantime count too, so bounds should be
// generous).
func Cost(f func() error) (elapsed time.Duration, alloc uint64, err error) {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	err = f()
	elapsed = time.Since(start)
	runtime.ReadMemStats(&after)
	return elapsed, after.TotalAlloc - before.TotalAlloc, err
}
