package autograd

import (
	"fmt"
	"math"
	"sync"

	"github.com/softcpt/softcpt-go/kernels"
	"github.com/softcpt/softcpt-go/tensor"
)

// PrefixAttention is multi-head causal attention for sequences that
// share a prefix: C suffix sequences of S tokens, each continuing one of
// G prefixes of P tokens whose keys and values were computed once.
//
// Query i of suffix c attends to every key of its prefix group[c] and to
// suffix keys j ≤ i, exactly as causal attention over the concatenated
// sequence prefix‖suffix would, so encoding a shared prefix once and the
// suffixes against its cached keys and values gives the same result as
// encoding every full sequence.
//
// q, ks and vs are [C,S,W]; kp and vp are [G,P,W]; W = heads·D. group
// must be non-decreasing (suffixes sorted by prefix), so each group's
// queries form one block and the prefix scores of a group are a single
// matrix product. The result is [C,S,W] with heads concatenated, scaled
// by 1/√D. Gradients flow to all five inputs.
//
// prec is the number format of the products: FP32, or BF16 (a frozen
// text tower run in bf16, see PackedWeight.SetPrecision), where the
// products against the prefix take bf16 operands with fp32 sums as
// PyTorch's autocast does (see prefixAttentionBF16).
func PrefixAttention(q, ks, vs, kp, vp *Var, group []int, heads int, prec Precision) *Var {
	qs, kps := q.Shape(), kp.Shape()
	if len(qs) != 3 || len(kps) != 3 || !tensor.SameShape(ks.Shape(), qs) || !tensor.SameShape(vs.Shape(), qs) ||
		!tensor.SameShape(vp.Shape(), kps) || kps[2] != qs[2] || heads <= 0 || qs[2]%heads != 0 || len(group) != qs[0] {
		panic(fmt.Sprintf("autograd.PrefixAttention: q %v ks %v vs %v kp %v vp %v, %d groups, %d heads",
			qs, ks.Shape(), vs.Shape(), kps, vp.Shape(), len(group), heads))
	}
	C, S, W := qs[0], qs[1], qs[2]
	G, P := kps[0], kps[1]
	for i, g := range group {
		if g < 0 || g >= G || (i > 0 && g < group[i-1]) {
			panic(fmt.Sprintf("autograd.PrefixAttention: group %v must be non-decreasing in [0,%d)", group, G))
		}
	}
	D := W / heads
	L := P + S
	scale := float32(1 / math.Sqrt(float64(D)))
	// runs[g] = [first, end) suffix indices of group g.
	runs := make([][2]int, G)
	for c := 0; c < C; {
		e := c
		for e < C && group[e] == group[c] {
			e++
		}
		runs[group[c]] = [2]int{c, e}
		c = e
	}
	qd, ksd, vsd := q.Value.Contiguous().Data(), ks.Value.Contiguous().Data(), vs.Value.Contiguous().Data()
	kpd, vpd := kp.Value.Contiguous().Data(), vp.Value.Contiguous().Data()
	if prec == BF16 {
		d := prefixDims{C: C, S: S, W: W, G: G, P: P, D: D, L: L, heads: heads, scale: scale, runs: runs,
			qd: qd, ksd: ksd, vsd: vsd, kpd: kpd, vpd: vpd}
		return prefixAttentionBF16(d, q, ks, vs, kp, vp)
	}
	// probs[h] holds, for every query (c,i), its L attention weights:
	// P prefix columns then S suffix columns.
	probs := make([][]float32, heads)
	out := tensor.Empty(C, S, W)
	od := out.Data()
	negInf := float32(math.Inf(-1))
	forHeads(heads, func(h int) {
		pr := tensor.EmptyBuffer(C * S * L) // every row is written: each suffix is in a group
		probs[h] = pr
		for g, r := range runs {
			n := r[1] - r[0]
			if n == 0 {
				continue
			}
			rows := n * S
			blk := pr[r[0]*S*L:]
			qg := qd[r[0]*S*W+h*D:]
			// Prefix scores of the whole group: (n·S × D)·(D × P).
			kernels.Sgemm(false, true, rows, P, D, scale, qg, W, kpd[g*P*W+h*D:], W, 0, blk, L)
			for c := r[0]; c < r[1]; c++ {
				b := pr[c*S*L+P:]
				kernels.Sgemm(false, true, S, S, D, scale, qd[c*S*W+h*D:], W, ksd[c*S*W+h*D:], W, 0, b, L)
				for i := 0; i < S; i++ {
					for j := i + 1; j < S; j++ {
						b[i*L+j] = negInf
					}
				}
			}
			kernels.SoftmaxRows(blk[:rows*L], blk[:rows*L], rows, L)
			og := od[r[0]*S*W+h*D:]
			kernels.Sgemm(false, false, rows, D, P, 1, blk, L, vpd[g*P*W+h*D:], W, 0, og, W)
			for c := r[0]; c < r[1]; c++ {
				kernels.Sgemm(false, false, S, D, S, 1, pr[c*S*L+P:], L, vsd[c*S*W+h*D:], W, 1, od[c*S*W+h*D:], W)
			}
		}
	})
	return result(out, func(gr *tensor.Tensor) {
		gd := gr.Contiguous().Data()
		grads := newPrefixGrads(q, ks, vs, kp, vp)
		dqd, dksd, dvsd, dkpd, dvpd := grads.data()
		forHeads(heads, func(h int) {
			pr := probs[h]
			ds := tensor.EmptyBuffer(C * S * L) // dP, then dScores
			for g, r := range runs {
				n := r[1] - r[0]
				if n == 0 {
					continue
				}
				rows := n * S
				blk := pr[r[0]*S*L:]
				dblk := ds[r[0]*S*L:]
				gg := gd[r[0]*S*W+h*D:]
				// dP = dO·[Vp;Vs]ᵀ.
				kernels.Sgemm(false, true, rows, P, D, 1, gg, W, vpd[g*P*W+h*D:], W, 0, dblk, L)
				for c := r[0]; c < r[1]; c++ {
					kernels.Sgemm(false, true, S, S, D, 1, gd[c*S*W+h*D:], W, vsd[c*S*W+h*D:], W, 0, ds[c*S*L+P:], L)
				}
				if dvpd != nil { // dVp += P_pᵀ·dO over the group
					kernels.Sgemm(true, false, P, D, rows, 1, blk, L, gg, W, 1, dvpd[g*P*W+h*D:], W)
				}
				if dvsd != nil {
					for c := r[0]; c < r[1]; c++ {
						kernels.Sgemm(true, false, S, D, S, 1, pr[c*S*L+P:], L, gd[c*S*W+h*D:], W, 0, dvsd[c*S*W+h*D:], W)
					}
				}
				kernels.SoftmaxRowsBackward(dblk[:rows*L], dblk[:rows*L], blk[:rows*L], rows, L)
				if dqd != nil {
					kernels.Sgemm(false, false, rows, D, P, scale, dblk, L, kpd[g*P*W+h*D:], W, 0, dqd[r[0]*S*W+h*D:], W)
					for c := r[0]; c < r[1]; c++ {
						kernels.Sgemm(false, false, S, D, S, scale, ds[c*S*L+P:], L, ksd[c*S*W+h*D:], W, 1, dqd[c*S*W+h*D:], W)
					}
				}
				if dkpd != nil {
					kernels.Sgemm(true, false, P, D, rows, scale, dblk, L, qd[r[0]*S*W+h*D:], W, 1, dkpd[g*P*W+h*D:], W)
				}
				if dksd != nil {
					for c := r[0]; c < r[1]; c++ {
						kernels.Sgemm(true, false, S, D, S, scale, ds[c*S*L+P:], L, qd[c*S*W+h*D:], W, 0, dksd[c*S*W+h*D:], W)
					}
				}
			}
		})
		grads.accumulate()
	}, q, ks, vs, kp, vp)
}

// prefixGrads holds PrefixAttention's gradient buffers for its five
// inputs (q, ks, vs, kp, vp; nil for an input without gradient).
type prefixGrads struct {
	vars [5]*Var
	g    [5]*tensor.Tensor
}

// newPrefixGrads allocates the gradients of the inputs that need one.
// Those of q, ks and vs hold unspecified values (the backward overwrites
// them: the first product into each region has beta 0); those of kp and
// vp are zeroed (summed over a group's suffixes, and zero for a prefix
// without suffixes).
func newPrefixGrads(q, ks, vs, kp, vp *Var) *prefixGrads {
	p := &prefixGrads{vars: [5]*Var{q, ks, vs, kp, vp}}
	for i, v := range p.vars {
		switch {
		case !v.requiresGrad:
		case i >= 3:
			p.g[i] = tensor.New(v.Shape()...)
		default:
			p.g[i] = tensor.Empty(v.Shape()...)
		}
	}
	return p
}

// data returns the gradients' storage (nil where there is none).
func (p *prefixGrads) data() (dq, dks, dvs, dkp, dvp []float32) {
	var d [5][]float32
	for i, t := range p.g {
		if t != nil {
			d[i] = t.Data()
		}
	}
	return d[0], d[1], d[2], d[3], d[4]
}

// accumulate adds the gradients to their inputs.
func (p *prefixGrads) accumulate() {
	for i, t := range p.g {
		if t != nil {
			p.vars[i].accumulate(t)
		}
	}
}

// forHeads runs f for every head on its own goroutine (heads write
// disjoint column blocks of the outputs).
func forHeads(heads int, f func(h int)) {
	var wg sync.WaitGroup
	for h := 0; h < heads; h++ {
		wg.Go(func() { f(h) })
	}
	wg.Wait()
}
