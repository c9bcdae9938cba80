package kernels

import (
	"fmt"
)

// BF16Rows is a constant left-hand operand A (m×k, such as a convolution's
// K×C·KH·KW filters) converted to bf16 once: rows of bf16RowStride(k)
// elements (zero past k), m rounded up to a multiple of 14 with zero rows.
// Where BF16Supported is false when it is made, it keeps an fp32 copy and
// the products run in fp32. It is tied to the kernel level current when
// made and is read-only and safe for concurrent use.
type BF16Rows struct {
	m, k  int
	level Level
	bf16  bool
	ld    int
	data  []uint16
	fp32  []float32
}

// NewBF16Rows converts A (m×k, row-major, leading dimension lda) for
// Conv2dForwardBF16. It panics, naming the sizes, if a is too short.
func NewBF16Rows(m, k int, a []float32, lda int) *BF16Rows {
	if m < 0 || k < 0 || lda < max(1, k) || m > 0 && k > 0 && len(a) < (m-1)*lda+k {
		panic(fmt.Sprintf("kernels.NewBF16Rows: bad sizes m=%d k=%d lda=%d len(a)=%d", m, k, lda, len(a)))
	}
	r := &BF16Rows{m: m, k: k, level: current, bf16: BF16Supported()}
	if !r.bf16 {
		noteFallback()
		r.fp32 = make([]float32, m*k)
		for i := 0; i < m; i++ {
			copy(r.fp32[i*k:(i+1)*k], a[i*lda:i*lda+k])
		}
		return r
	}
	r.ld = bf16RowStride(k)
	r.data = make([]uint16, roundUp(max(m, 1), bf16Mr)*r.ld)
	for i := 0; i < m; i++ {
		cvtBF16(a[i*lda:i*lda+k], r.data[i*r.ld:i*r.ld+k], bf16UseAsm)
	}
	return r
}

// Dims returns A's m (rows) and k (columns).
func (r *BF16Rows) Dims() (m, k int) { return r.m, r.k }

// IsBF16 reports whether the rows hold bf16 values (false: the fp32
// fallback).
func (r *BF16Rows) IsBF16() bool { return r.bf16 }

// Level returns the kernel level the rows were converted at.
func (r *BF16Rows) Level() Level { return r.level }

// bf16UseAsm selects the assembly kernels in the bf16 paths that have no
// asm argument (the convolutions); tests clear it to run the Go twins.
var bf16UseAsm = haveAsm

// Conv2dForwardBF16 is Conv2dForwardFused with the filters w (made by
// NewBF16Rows from the K×C·KH·KW filter matrix) and the input rounded to
// bf16, products summed in fp32, and the epilogue in fp32. With the fp32
// fallback in w it is Conv2dForwardFused. It panics, naming
// Conv2dForwardBF16, on an invalid shape, short slices, filters of another
// size or made at another kernel level.
func Conv2dForwardBF16(s Conv2dShape, x []float32, w *BF16Rows, ep ConvEpilogue, out []float32) {
	const op = "Conv2dForwardBF16"
	s.check(op)
	if w == nil || w.m != s.K || w.k != s.ColRows() {
		panic(fmt.Sprintf("kernels.%s: filters %v do not fit shape %+v", op, w, s))
	}
	if w.level != current {
		panic(fmt.Sprintf("kernels.%s: filters converted at level %s, current level is %s; convert them again", op, w.level, current))
	}
	if !w.bf16 {
		conv2dForwardEp(s, op, x, w.fp32, ep, out, nil)
		return
	}
	conv2dForwardEp(s, op, x, nil, ep, out, w)
}

// String describes the rows for messages.
func (r *BF16Rows) String() string {
	if r == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%d×%d (bf16 %v)", r.m, r.k, r.bf16)
}
