// Package backend is the seam between the model code and the hardware:
// Backend, the array operations that the frozen CLIP forward pass
// (clip/frozen) and the prompt learners' training step (softcpt/step) are
// written against, their parameter types, and Host, the Backend that runs
// every operation on its readable pure-Go reference (this package) or on
// the CPU kernels of package kernels. The CUDA backend (package cuda,
// build tag cuda) implements Backend on a GPU with PTX kernels that follow
// these references operation by operation, so the model code runs
// unchanged on either, and the host tests cover its orchestration on
// machines without a GPU.
//
// The package sits on the kernels floor: it imports tensor, kernels and
// the standard library only.
package backend

import (
	"fmt"

	"github.com/softcpt/softcpt-go/kernels"
)

// Backend holds arrays of type A (a pointer type; the zero value is "no
// array") and runs operations on them. Arrays are row-major float32. View
// returns an array aliasing the elements of a from offset off on (never
// freed). Methods panic on sizes that do not fit the arrays (programming
// errors) and return errors from the device. Index lists are host slices
// (the backend checks and copies them).
type Backend[A comparable] interface {
	Upload(data []float32, shape ...int) (A, error)
	Alloc(shape ...int) (A, error)
	Free(a A)
	View(a A, off int, shape ...int) A
	Download(a A) ([]float32, error)
	// Zero sets the first n elements of a to 0.
	Zero(a A, n int) error

	// Sgemm is C = alpha op(A) op(B) + beta C as kernels.Sgemm
	// (row-major, leading dimensions in elements; CheckSgemm's sizes).
	Sgemm(transA, transB bool, m, n, k int, alpha float32, a A, lda int, b A, ldb int, beta float32, c A, ldc int) error
	// Add is dst = a + b over n elements.
	Add(dst, a, b A, n int) error
	// LayerNorm normalises rows x cols of src into dst with gamma, beta
	// (dst may be src); LayerNormSave also writes each row's mean and
	// rstd (rows elements each) for the backward pass.
	LayerNorm(dst, src, gamma, beta A, rows, cols int, eps float32) error
	LayerNormSave(dst, mean, rstd, src, gamma, beta A, rows, cols int, eps float32) error

	// The operations of the forward pass, references Im2colCNHW,
	// BiasAct, AvgPool, Transpose01, PoolTokens, GatherRows and
	// Attention. bias may be the zero A.
	Im2col(col, x A, g ConvGeom) error
	BiasAct(dst, src, bias A, inner, nb, n int, act Act) error
	AvgPool(dst, src A, planes, h, w, k int) error
	Transpose01(dst, src A, a, b, inner int) error
	PoolTokens(seq, x, pos A, c, n, hw int) error
	GatherRows(dst, src A, idx []int, cols int) error
	Attention(out, q, k, v A, p AttnParams) error

	// The operations of the backward pass, references
	// LayerNormBackward, QuickGeluBackward, L2NormRows,
	// L2NormRowsBackward, ScatterAddRows and SegmentSumRows.
	LayerNormBackward(dx, dy, x, gamma, mean, rstd A, rows, cols int, accumulate bool) error
	QuickGeluBackward(dx, dy, x A, n int) error
	L2NormRows(y, inv, x A, rows, cols int) error
	L2NormRowsBackward(dx, dy, y, inv A, rows, cols int) error
	ScatterAddRows(dst, src A, dstIdx, srcIdx []int, cols int) error
	SegmentSumRows(dst, src A, idx, offsets []int, cols int) error
	// AttentionBackward writes dq, dk, dv (layouts of q, k, v) for out =
	// Attention(q, k, v, p) and its gradient dout (layout of out); lse
	// and dsum (p.StatRows() elements) are scratch.
	AttentionBackward(dq, dk, dv, q, k, v, out, dout, lse, dsum A, p AttnParams) error
	// CrossEntropy writes loss[i] = logsumexp(x_i) - x_i[t_i] for logits
	// [rows, cols]; CrossEntropyBackward writes dx = (softmax(x_i) -
	// onehot(t_i))·scale.
	CrossEntropy(loss, logits A, targets []int, rows, cols int) error
	CrossEntropyBackward(dx, logits A, targets []int, rows, cols int, scale float32) error
	// SGD is one torch.optim.SGD step (no dampening, no Nesterov) on n
	// parameters p with gradient g and momentum buffer buf (unused
	// without momentum); first marks the buffer's first step.
	SGD(p, g, buf A, n int, lr, wd, momentum float32, first bool) error
}

// Act selects the activation of BiasAct.
type Act int

// Activations of BiasAct.
const (
	ActNone      Act = 0
	ActRelu      Act = 1
	ActQuickGelu Act = 2
)

// ConvGeom is a convolution over channel-major activations x [C, N, H, W]
// with a KH x KW kernel, stride and zero padding.
type ConvGeom struct {
	C, N, H, W  int
	KH, KW      int
	Stride, Pad int
}

// OH returns the output height.
func (g ConvGeom) OH() int { return (g.H+2*g.Pad-g.KH)/g.Stride + 1 }

// OW returns the output width.
func (g ConvGeom) OW() int { return (g.W+2*g.Pad-g.KW)/g.Stride + 1 }

// Rows returns the rows of the im2col matrix, C*KH*KW.
func (g ConvGeom) Rows() int { return g.C * g.KH * g.KW }

// Cols returns the columns of the im2col matrix, N*OH*OW.
func (g ConvGeom) Cols() int { return g.N * g.OH() * g.OW() }

// Check reports a geometry with non-positive sizes or an empty output, or
// arrays (lengths in elements) too short for it.
func (g ConvGeom) Check(lenCol, lenX int) error {
	if g.C <= 0 || g.N <= 0 || g.H <= 0 || g.W <= 0 || g.KH <= 0 || g.KW <= 0 || g.Stride <= 0 || g.Pad < 0 || g.OH() <= 0 || g.OW() <= 0 {
		return fmt.Errorf("bad convolution geometry %+v", g)
	}
	if lenCol < g.Rows()*g.Cols() || lenX < g.C*g.N*g.H*g.W {
		return fmt.Errorf("convolution %+v: col has %d elements (need %d), x %d (need %d)", g, lenCol, g.Rows()*g.Cols(), lenX, g.C*g.N*g.H*g.W)
	}
	return nil
}

// AttnParams describes one attention (Attention, AttentionBackward): Batch x Heads heads of
// dimension D, Tq queries and Tk keys, read in place from row-major
// projections. Element e of head h of query i of batch b is
// q[b*QBatch + i*QRow + h*D + e]; k and v likewise with key j, out with
// query i. Causal lets query i see keys j <= i + Tk - Tq. Scale multiplies
// the scores (1/sqrt(D) in CLIP).
type AttnParams struct {
	Batch, Heads, Tq, Tk, D        int
	QRow, KRow, VRow, ORow         int
	QBatch, KBatch, VBatch, OBatch int
	Causal                         bool
	Scale                          float32
}

// Check reports non-positive sizes, or arrays (lengths in elements) too
// short for the largest index read or written.
func (p AttnParams) Check(lenQ, lenK, lenV, lenO int) error {
	if p.Batch <= 0 || p.Heads <= 0 || p.Tq <= 0 || p.Tk <= 0 || p.D <= 0 || p.Causal && p.Tq > p.Tk {
		return fmt.Errorf("bad attention sizes %+v", p)
	}
	hd := p.Heads * p.D
	last := func(batch, row, t int) int { return (p.Batch-1)*batch + (t-1)*row + hd }
	if lenQ < last(p.QBatch, p.QRow, p.Tq) || lenK < last(p.KBatch, p.KRow, p.Tk) || lenV < last(p.VBatch, p.VRow, p.Tk) || lenO < last(p.OBatch, p.ORow, p.Tq) {
		return fmt.Errorf("attention %+v: arrays too short: q %d (need %d), k %d (need %d), v %d (need %d), out %d (need %d)", p,
			lenQ, last(p.QBatch, p.QRow, p.Tq), lenK, last(p.KBatch, p.KRow, p.Tk), lenV, last(p.VBatch, p.VRow, p.Tk), lenO, last(p.OBatch, p.ORow, p.Tq))
	}
	return nil
}

// StatRows returns the number of rows of the attention backward's
// statistics (lse, dsum): Batch*Heads*Tq.
func (p AttnParams) StatRows() int { return p.Batch * p.Heads * p.Tq }

// CheckSgemm validates Sgemm's sizes, leading dimensions and buffer
// lengths (in elements) as the CPU kernels.Sgemm does (kernels.CheckSgemm).
func CheckSgemm(transA, transB bool, m, n, k, lda, ldb, ldc, lenA, lenB, lenC int) error {
	return kernels.CheckSgemm(transA, transB, m, n, k, lda, ldb, ldc, lenA, lenB, lenC)
}

// CheckRowIndices reports an index outside [0, rows) in idx, or (unique)
// a repeated one, naming op.
func CheckRowIndices(op string, idx []int, rows int, unique bool) error {
	var seen map[int]bool
	if unique {
		seen = make(map[int]bool, len(idx))
	}
	for k, j := range idx {
		if j < 0 || j >= rows {
			return fmt.Errorf("%s: index %d (at %d) outside [0, %d)", op, j, k, rows)
		}
		if unique {
			if seen[j] {
				return fmt.Errorf("%s: index %d repeated (at %d)", op, j, k)
			}
			seen[j] = true
		}
	}
	return nil
}

// CheckSegments reports offsets that are not a non-decreasing list from 0
// to len(idx) of rows+1 entries.
func CheckSegments(op string, idx, offsets []int, rows int) error {
	if len(offsets) != rows+1 || offsets[0] != 0 || offsets[rows] != len(idx) {
		return fmt.Errorf("%s: %d offsets for %d segments of %d indices", op, len(offsets), rows, len(idx))
	}
	for r := 0; r < rows; r++ {
		if offsets[r+1] < offsets[r] {
			return fmt.Errorf("%s: offsets decrease at segment %d", op, r)
		}
	}
	return nil
}
