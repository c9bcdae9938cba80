package autograd

import (
	"math"

	"github.com/softcpt/softcpt-go/kernels"
	"github.com/softcpt/softcpt-go/tensor"
)

// prefixDims holds PrefixAttention's sizes (see there: C suffixes of S
// tokens, G prefixes of P tokens, width W = heads·D, L = P+S keys per
// query), its score scale, the suffix index range of each group and the
// inputs' contiguous data.
type prefixDims struct {
	C, S, W, G, P, D, L, heads int
	scale                      float32
	runs                       [][2]int
	qd, ksd, vsd, kpd, vpd     []float32
}

// prefixAttentionBF16 is PrefixAttention at precision BF16. The products
// of a group's queries with its prefix — the scores Q·Kpᵀ and the output
// P·Vp, and in the backward dO·Vpᵀ, Pᵀ·dO, dS·Kp and dSᵀ·Q — are bf16
// products with fp32 sums (kernels.GemmBF16Act; each operand is
// converted to bf16 once per product, the prefix's keys and values once
// per group and head), as PyTorch's autocast runs attention products. The softmax
// and its gradient stay fp32, and so does the suffix tokens' attention to
// each other (S×S per sequence and head, far too small for a GEMM), which
// is computed with vector dots and axpys. The scale 1/√D is applied to
// the scores (and to dScores) after the products.
func prefixAttentionBF16(d prefixDims, q, ks, vs, kp, vp *Var) *Var {
	C, S, W, P, D, L := d.C, d.S, d.W, d.P, d.D, d.L
	probs := make([][]float32, d.heads)
	out := tensor.Empty(C, S, W)
	od := out.Data()
	forHeads(d.heads, func(h int) {
		off := h * D
		pr := tensor.EmptyBuffer(C * S * L) // every row is written: each suffix is in a group
		probs[h] = pr
		for g, r := range d.runs {
			if r[0] == r[1] {
				continue
			}
			rows := (r[1] - r[0]) * S
			blk := pr[r[0]*S*L : r[1]*S*L]
			gemmBF16(rows, d.qd[r[0]*S*W+off:], W, true, D, P, d.kpd[g*P*W+off:], W, blk, L)
			d.suffixScores(pr, d.qd, d.ksd, r, off, float32(math.Inf(-1)))
			kernels.Scale(d.scale, blk)
			kernels.SoftmaxRows(blk, blk, rows, L)
			gemmBF16(rows, blk, L, false, P, D, d.vpd[g*P*W+off:], W, od[r[0]*S*W+off:], W)
			d.suffixAxpy(pr, d.vsd, od, r, off)
		}
	})
	maxRows := 0
	for _, r := range d.runs {
		maxRows = max(maxRows, (r[1]-r[0])*S)
	}
	return result(out, func(gr *tensor.Tensor) {
		gd := gr.Contiguous().Data()
		grads := newPrefixGrads(q, ks, vs, kp, vp)
		dqd, dksd, dvsd, dkpd, dvpd := grads.data()
		forHeads(d.heads, func(h int) {
			off := h * D
			pr := probs[h]
			ds := tensor.EmptyBuffer(C * S * L) // dP, then dScores
			var tr []float32                    // a group's P×rows transposes for dkp and dvp
			if dkpd != nil || dvpd != nil {
				tr = tensor.EmptyBuffer(P * maxRows)
			}
			for g, r := range d.runs {
				if r[0] == r[1] {
					continue
				}
				rows := (r[1] - r[0]) * S
				blk := pr[r[0]*S*L : r[1]*S*L]
				dblk := ds[r[0]*S*L : r[1]*S*L]
				gg := gd[r[0]*S*W+off:]
				// dP = dO·[Vp;Vs]ᵀ (0 above the diagonal, where P is 0).
				gemmBF16(rows, gg, W, true, D, P, d.vpd[g*P*W+off:], W, dblk, L)
				d.suffixScores(ds, gd, d.vsd, r, off, 0)
				if dvpd != nil { // dVp = Ppᵀ·dO over the group
					t := transposeCols(tr, blk, rows, P, L)
					gemmBF16(P, t, rows, false, rows, D, gg, W, dvpd[g*P*W+off:], W)
				}
				if dvsd != nil { // dVs = Psᵀ·dO per suffix
					d.suffixAxpyT(pr, gd, dvsd, r, off)
				}
				kernels.SoftmaxRowsBackward(dblk, dblk, blk, rows, L)
				kernels.Scale(d.scale, dblk)
				if dqd != nil { // dQ = dS·[Kp;Ks]
					gemmBF16(rows, dblk, L, false, P, D, d.kpd[g*P*W+off:], W, dqd[r[0]*S*W+off:], W)
					d.suffixAxpy(ds, d.ksd, dqd, r, off)
				}
				if dkpd != nil { // dKp = dSpᵀ·Q over the group
					t := transposeCols(tr, dblk, rows, P, L)
					gemmBF16(P, t, rows, false, rows, D, d.qd[r[0]*S*W+off:], W, dkpd[g*P*W+off:], W)
				}
				if dksd != nil { // dKs = dSsᵀ·Q per suffix
					d.suffixAxpyT(ds, d.qd, dksd, r, off)
				}
			}
		})
		grads.accumulate()
	}, q, ks, vs, kp, vp)
}

// The suffix-to-suffix parts below work on the suffixes of one group run
// r and the head columns [off, off+D): a, b, x and dst are [C,S,W]
// tensors; w and the scores are [C,S,L] rows whose columns [P, P+S) hold
// each suffix's S×S block (row i: query i, column j: key j ≤ i).

// suffixScores sets the S×S blocks of dst to a[c][i]·b[c][j] for j ≤ i
// and to fill above the diagonal.
func (d *prefixDims) suffixScores(dst, a, b []float32, r [2]int, off int, fill float32) {
	S, W, L, D := d.S, d.W, d.L, d.D
	for c := r[0]; c < r[1]; c++ {
		for i := 0; i < S; i++ {
			row := dst[(c*S+i)*L+d.P : (c*S+i+1)*L]
			ai := a[(c*S+i)*W+off : (c*S+i)*W+off+D]
			for j := range row {
				if j > i {
					row[j] = fill
				} else {
					row[j] = kernels.Dot(ai, b[(c*S+j)*W+off:(c*S+j)*W+off+D])
				}
			}
		}
	}
}

// suffixAxpy adds Σ_{j≤i} w[c][i][j]·x[c][j] to dst[c][i].
func (d *prefixDims) suffixAxpy(w, x, dst []float32, r [2]int, off int) {
	S, W, L, D := d.S, d.W, d.L, d.D
	for c := r[0]; c < r[1]; c++ {
		for i := 0; i < S; i++ {
			di := dst[(c*S+i)*W+off : (c*S+i)*W+off+D]
			for j, v := range w[(c*S+i)*L+d.P : (c*S+i)*L+d.P+i+1] {
				kernels.Axpy(v, x[(c*S+j)*W+off:(c*S+j)*W+off+D], di)
			}
		}
	}
}

// suffixAxpyT sets dst[c][j] to Σ_{i≥j} w[c][i][j]·x[c][i] (the
// transposed blocks' product).
func (d *prefixDims) suffixAxpyT(w, x, dst []float32, r [2]int, off int) {
	S, W, L, D := d.S, d.W, d.L, d.D
	for c := r[0]; c < r[1]; c++ {
		for j := 0; j < S; j++ {
			dj := dst[(c*S+j)*W+off : (c*S+j)*W+off+D]
			clear(dj)
			for i := j; i < S; i++ {
				kernels.Axpy(w[(c*S+i)*L+d.P+j], x[(c*S+i)*W+off:(c*S+i)*W+off+D], dj)
			}
		}
	}
}

// gemmBF16 computes C (m×n, leading dimension ldc) = A·op(B) with bf16
// operands and fp32 sums (kernels.GemmBF16Act): A is m×k (leading
// dimension lda), B is k×n, or n×k when transB (leading dimension ldb).
// C is overwritten.
func gemmBF16(m int, a []float32, lda int, transB bool, k, n int, b []float32, ldb int, c []float32, ldc int) {
	kernels.GemmBF16Act(m, n, k, a, lda, transB, b, ldb, c, ldc)
}

// transposeCols writes the first cols columns of the rows×ld matrix src
// transposed into dst (cols×rows) and returns that part of dst.
func transposeCols(dst, src []float32, rows, cols, ld int) []float32 {
	t := dst[:cols*rows]
	for i := 0; i < rows; i++ {
		for j, v := range src[i*ld : i*ld+cols] {
			t[j*rows+i] = v
		}
	}
	return t
}
