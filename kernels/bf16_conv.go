package kernels

import (
	"fmt"
	"runtime"
	"sync"
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

// bf16PackScratch holds a B k-block of bf16-pair panels and one fp32
// packing temporary per worker.
type bf16PackScratch struct {
	b   []uint32
	tmp [][]float32
}

var bf16PackPool sync.Pool // of *bf16PackScratch

// bf16PackChunk is how many 32-column panels one call of the B packing
// function fills before they are converted to pairs.
const bf16PackChunk = 4

// gemmBF16Rows computes C = A·B (m×n, overwritten, leading dimension ldc)
// for the bf16 rows A (m×k) and a B (k×n) that exists as its fp32 packing
// function pack (see bPackFunc): per k-block, B's panels are packed (fp32),
// converted to bf16 pairs, and multiplied by all of A's rows.
func gemmBF16Rows(a *BF16Rows, n int, pack bPackFunc, c []float32, ldc int) {
	m, k := a.m, a.k
	kp := (k + 1) / 2
	kcp := kcpFor(kp)
	nPanels := (n + bf16Nr - 1) / bf16Nr
	workers := runtime.GOMAXPROCS(0)
	if 2*float64(m)*float64(n)*float64(k) < bf16ParallelFlops {
		workers = 1
	}
	sc, _ := bf16PackPool.Get().(*bf16PackScratch)
	if sc == nil {
		sc = &bf16PackScratch{}
	}
	defer bf16PackPool.Put(sc)
	if need := nPanels * bf16Nr * kcp; cap(sc.b) < need {
		sc.b = make([]uint32, need)
	}
	for len(sc.tmp) < workers {
		sc.tmp = append(sc.tmp, nil)
	}
	for w := 0; w < workers; w++ {
		if need := max(bf16PackChunk*2*kcp*bf16Nr, bf16Mr*bf16Nr); cap(sc.tmp[w]) < need {
			sc.tmp[w] = make([]float32, need)
		}
	}
	asm := bf16UseAsm
	t := bf16Tiles{ab: a.data, lda2: a.ld, kp: kp, kcp: kcp, n: n}
	for pcp := 0; pcp < kp; pcp += kcp {
		kbp := min(kcp, kp-pcp)
		kb := min(2*kbp, k-2*pcp)
		bb := sc.b[:nPanels*bf16Nr*kbp]
		packBlock := func(w, jp0, jp1 int) {
			for jc := jp0; jc < jp1; jc += bf16PackChunk {
				np := min(bf16PackChunk, jp1-jc)
				tmp := sc.tmp[w][:np*2*kbp*bf16Nr]
				j0 := jc * bf16Nr
				pack(2*pcp, kb, j0, min(np*bf16Nr, n-j0), bf16Nr, tmp, 0, np)
				if kb < 2*kbp {
					// The panels were packed kb (odd) rows deep: spread
					// them to 2·kbp rows with a zero last row, in place,
					// last panel first so no source is overwritten.
					for q := np - 1; q >= 0; q-- {
						pan := tmp[q*2*kbp*bf16Nr : (q+1)*2*kbp*bf16Nr]
						copy(pan, tmp[q*kb*bf16Nr:(q+1)*kb*bf16Nr])
						clear(pan[kb*bf16Nr:])
					}
				}
				for q := 0; q < np; q++ {
					pan := tmp[q*2*kbp*bf16Nr : (q+1)*2*kbp*bf16Nr]
					pairsBF16(2*kbp, pan, bb[(jc+q)*bf16Nr*kbp:(jc+q+1)*bf16Nr*kbp], asm)
				}
			}
		}
		t.panel = func(_, jp int) []uint32 { return bb[jp*bf16Nr*kbp : (jp+1)*bf16Nr*kbp] }
		t.pcp0, t.pcp1 = pcp, pcp+kbp
		t.first, t.last = pcp == 0, pcp+kbp >= kp
		splitPanels(workers, nPanels, packBlock)
		splitTiles(workers, m, nPanels, func(w, i0, i1, jp0, jp1 int) {
			t.compute(i0, i1, jp0, jp1, c, ldc, BF16Epilogue{}, sc.tmp[w], asm)
		})
	}
}

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
