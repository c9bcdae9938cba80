package autograd

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/softcpt/softcpt-go/kernels"
	"github.com/softcpt/softcpt-go/tensor"
)

// headView locates the per-(batch, head) matrices of one attention operand
// inside the contiguous value of a Var: the T×D matrix of head (b, h)
// starts at off + b·bStride + h·hStride and has row stride ld. Both the
// [B, H, T, D] layout of Attention and the packed [B, T, k·E] projections of
// MultiHeadAttention are such views, so the latter needs no permute copies.
type headView struct {
	v                     *Var
	off, bStride, hStride int
	ld                    int
}

// bhtd returns the view of a contiguous [B, H, T, D] Var.
func bhtd(v *Var) headView {
	s := v.Shape()
	return headView{v: v, bStride: s[1] * s[2] * s[3], hStride: s[2] * s[3], ld: s[3]}
}

// packedHeads returns the view of part (0-based, of parts) of a contiguous
// [B, T, parts·H·D] Var, whose head h occupies columns part·E + h·D.
func packedHeads(v *Var, part, heads, d int) headView {
	s := v.Shape()
	return headView{v: v, off: part * heads * d, bStride: s[1] * s[2], hStride: d, ld: s[2]}
}

func (hv headView) at(data []float32, b, h int) []float32 {
	return data[hv.off+b*hv.bStride+h*hv.hStride:]
}

// attnDims are the sizes of one attention call.
type attnDims struct{ b, h, tq, tk, d int }

// maskView is an additive mask broadcast to [B, H, Tq, Tk] (zero strides on
// broadcast axes) over its storage.
type maskView struct {
	data                []float32
	off, sb, sh, si, sj int
	present             bool
}

func newMaskView(op string, mask *tensor.Tensor, dm attnDims) maskView {
	if mask == nil {
		return maskView{}
	}
	want := []int{dm.b, dm.h, dm.tq, dm.tk}
	ms := mask.Shape()
	bs, err := tensor.BroadcastShapes(ms, want)
	if err != nil || len(ms) > 4 || !tensor.SameShape(bs, want) {
		panic(fmt.Sprintf("autograd.%s: mask %v does not broadcast to [B, H, Tq, Tk] = %v", op, ms, want))
	}
	e := mask.Expand(want...)
	st := e.Strides()
	return maskView{data: e.Storage(), off: e.Offset(), sb: st[0], sh: st[1], si: st[2], sj: st[3], present: true}
}

// parallelHeads runs f(i, worker) for i in [0, n) on workers goroutines
// (at least one), each taking a contiguous range; worker, below workers,
// indexes per-goroutine scratch.
func parallelHeads(n, workers int, f func(i, worker int)) {
	workers = max(1, min(n, workers))
	if workers == 1 {
		for i := 0; i < n; i++ {
			f(i, 0)
		}
		return
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w * n / workers; i < (w+1)*n/workers; i++ {
				f(i, w)
			}
		}()
	}
	wg.Wait()
}

// attnSoftmaxRows applies a stable softmax to each row of s in place.
func attnSoftmaxRows(s []float32, rows, cols int) { kernels.SoftmaxRows(s, s, rows, cols) }

// attnSoftmaxRowsBackward turns dp into P∘(dp − rowsum(dp∘P)) in place.
func attnSoftmaxRowsBackward(dp, p []float32, rows, cols int) {
	kernels.SoftmaxRowsBackward(dp, dp, p, rows, cols)
}

// attention is the shared core of Attention and MultiHeadAttention: for
// every (b, h), O = softmax(Q·Kᵀ·scale + mask) · V, with Q, K, V read
// through their views and O written through outView into a new tensor of
// outShape. q, k and v may be views of the same Var.
func attention(op string, dm attnDims, q, k, v headView, mask *tensor.Tensor, causal bool, outShape []int, outView headView) *Var {
	mv := newMaskView(op, mask, dm)
	scale := float32(1 / math.Sqrt(float64(dm.d)))
	qd := q.v.Value.Contiguous().Data()
	kd := k.v.Value.Contiguous().Data()
	vd := v.v.Value.Contiguous().Data()
	out := tensor.New(outShape...)
	od := out.Data()
	parents := distinctVars(q.v, k.v, v.v)
	needGrad := GradEnabled() && (q.v.requiresGrad || k.v.requiresGrad || v.v.requiresGrad)
	nHeads := dm.b * dm.h
	workers := runtime.GOMAXPROCS(0)
	tt := dm.tq * dm.tk
	// Probabilities are kept for the backward pass; without one, each
	// worker reuses a single Tq×Tk scratch.
	var probs []float32
	var scratch [][]float32
	if needGrad {
		probs = tensor.Buffer(nHeads * tt)
	} else {
		scratch = make([][]float32, workers)
	}
	negInf := float32(math.Inf(-1))
	parallelHeads(nHeads, workers, func(i, w int) {
		b, h := i/dm.h, i%dm.h
		var s []float32
		if probs != nil {
			s = probs[i*tt : (i+1)*tt]
		} else {
			if scratch[w] == nil {
				scratch[w] = tensor.Buffer(tt)
			}
			s = scratch[w]
		}
		kernels.Sgemm(false, true, dm.tq, dm.tk, dm.d, scale, q.at(qd, b, h), q.ld, k.at(kd, b, h), k.ld, 0, s, dm.tk)
		if mv.present {
			base := mv.off + b*mv.sb + h*mv.sh
			for r := 0; r < dm.tq; r++ {
				row := s[r*dm.tk : (r+1)*dm.tk]
				mi := base + r*mv.si
				for j := range row {
					row[j] += mv.data[mi+j*mv.sj]
				}
			}
		}
		if causal {
			for r := 0; r < dm.tq; r++ {
				row := s[r*dm.tk : (r+1)*dm.tk]
				for j := r + 1; j < dm.tk; j++ {
					row[j] = negInf
				}
			}
		}
		attnSoftmaxRows(s, dm.tq, dm.tk)
		kernels.Sgemm(false, false, dm.tq, dm.d, dm.tk, 1, s, dm.tk, v.at(vd, b, h), v.ld, 0, outView.at(od, b, h), outView.ld)
	})
	return result(out, func(g *tensor.Tensor) {
		gd := g.Contiguous().Data()
		grads := map[*Var]*tensor.Tensor{}
		gradOf := func(x *Var) []float32 {
			if !x.requiresGrad {
				return nil
			}
			t := grads[x]
			if t == nil {
				t = tensor.New(x.Shape()...)
				grads[x] = t
			}
			return t.Data()
		}
		gq, gk, gv := gradOf(q.v), gradOf(k.v), gradOf(v.v)
		// Gradients are added (beta = 1) into zeroed buffers: views of one
		// Var may coincide (Attention(x, x, x)), and each worker writes
		// only its own heads' regions.
		dps := make([][]float32, workers)
		parallelHeads(nHeads, workers, func(i, w int) {
			b, h := i/dm.h, i%dm.h
			p := probs[i*tt : (i+1)*tt]
			dO := outView.at(gd, b, h)
			if gv != nil { // dV = Pᵀ·dO
				kernels.Sgemm(true, false, dm.tk, dm.d, dm.tq, 1, p, dm.tk, dO, outView.ld, 1, v.at(gv, b, h), v.ld)
			}
			if gq == nil && gk == nil {
				return
			}
			if dps[w] == nil {
				dps[w] = tensor.Buffer(tt)
			}
			dp := dps[w]
			// dP = dO·Vᵀ, then dS = P∘(dP − rowsum(dP∘P)) in place.
			kernels.Sgemm(false, true, dm.tq, dm.tk, dm.d, 1, dO, outView.ld, v.at(vd, b, h), v.ld, 0, dp, dm.tk)
			attnSoftmaxRowsBackward(dp, p, dm.tq, dm.tk)
			if gq != nil { // dQ = dS·K·scale
				kernels.Sgemm(false, false, dm.tq, dm.d, dm.tk, scale, dp, dm.tk, k.at(kd, b, h), k.ld, 1, q.at(gq, b, h), q.ld)
			}
			if gk != nil { // dK = dSᵀ·Q·scale
				kernels.Sgemm(true, false, dm.tk, dm.d, dm.tq, scale, dp, dm.tk, q.at(qd, b, h), q.ld, 1, k.at(gk, b, h), k.ld)
			}
		})
		for _, x := range parents {
			if t := grads[x]; t != nil {
				x.accumulate(t)
			}
		}
	}, parents...)
}

// distinctVars returns the distinct non-nil Vars among vs, in order.
func distinctVars(vs ...*Var) []*Var {
	var out []*Var
	for _, v := range vs {
		dup := false
		for _, o := range out {
			dup = dup || o == v
		}
		if !dup {
			out = append(out, v)
		}
	}
	return out
}

// Attention is scaled dot-product attention, softmax(Q·Kᵀ/√D + mask)·V,
// for q [B, H, Tq, D] and k, v [B, H, Tk, D], giving [B, H, Tq, D].
//
// mask, if non-nil, is added to the scores and must broadcast to
// [B, H, Tq, Tk] (for example [Tq, Tk] or [B, 1, Tq, Tk]); use −∞ to
// block a position. causal additionally blocks every key j > i for query
// i (CLIP's text mask; with Tq ≠ Tk the triangle is anchored at the top
// left, as in PyTorch's scaled_dot_product_attention). A query row whose
// keys are all blocked gives NaN, as in PyTorch.
//
// Each (b, h) runs as two kernels.Sgemm calls and a row softmax, heads in
// parallel. The probabilities are kept for the backward pass only when
// gradients are recorded: dV = Pᵀ·dO, dP = dO·Vᵀ,
// dS = P∘(dP − rowsum(dP∘P)), dQ = dS·K/√D, dK = dSᵀ·Q/√D.
// Gradients flow to q, k and v (not to the mask).
func Attention(q, k, v *Var, mask *tensor.Tensor, causal bool) *Var {
	qs, ks, vs := q.Shape(), k.Shape(), v.Shape()
	if len(qs) != 4 || len(ks) != 4 || !tensor.SameShape(ks, vs) ||
		qs[0] != ks[0] || qs[1] != ks[1] || qs[3] != ks[3] {
		panic(fmt.Sprintf("autograd.Attention: q %v, k %v, v %v do not fit [B, H, Tq, D], [B, H, Tk, D], [B, H, Tk, D]", qs, ks, vs))
	}
	dm := attnDims{b: qs[0], h: qs[1], tq: qs[2], tk: ks[2], d: qs[3]}
	ov := headView{bStride: qs[1] * qs[2] * qs[3], hStride: qs[2] * qs[3], ld: qs[3]}
	return attention("Attention", dm, bhtd(q), bhtd(k), bhtd(v), mask, causal, qs, ov)
}

// MultiHeadAttention is torch.nn.functional.multi_head_attention_forward
// (no dropout, no key padding mask, no bias_k/bias_v) in a batch-first
// layout: xq is [B, Tq, E] and xkv is [B, Tk, E] (CLIP's own code is
// sequence-first, [T, B, E]; permute before and after to use it that way).
//
// inProjW [3E, E] and inProjB [3E] (nil for none) hold the packed q, k and
// v projections, as nn.MultiheadAttention's in_proj_weight/in_proj_bias;
// outProjW [E, E] and outProjB [E] (nil for none) are out_proj. heads must
// divide E. mask and causal are as in Attention, mask broadcasting to
// [B, heads, Tq, Tk] (PyTorch's 3-D [B·heads, Tq, Tk] masks must be
// reshaped to [B, heads, Tq, Tk]). Output is [B, Tq, E].
//
// When xq and xkv are the same Var (self-attention), q, k and v come from
// one GEMM; otherwise q is projected from xq and k, v together from xkv
// (Tq may differ from Tk, e.g. CLIP's AttentionPool2d queries only the
// first token). Heads are read in place from the projections, so no
// permute copies are made.
func MultiHeadAttention(xq, xkv *Var, inProjW, inProjB, outProjW, outProjB *Var, heads int, mask *tensor.Tensor, causal bool) *Var {
	qs, ks := xq.Shape(), xkv.Shape()
	if len(qs) != 3 || len(ks) != 3 || qs[0] != ks[0] || qs[2] != ks[2] {
		panic(fmt.Sprintf("autograd.MultiHeadAttention: queries %v and keys/values %v do not fit [B, Tq, E], [B, Tk, E]", qs, ks))
	}
	e := qs[2]
	if heads <= 0 || e%heads != 0 {
		panic(fmt.Sprintf("autograd.MultiHeadAttention: %d heads do not divide embedding size %d (input %v)", heads, e, qs))
	}
	if ws := inProjW.Shape(); len(ws) != 2 || ws[0] != 3*e || ws[1] != e {
		panic(fmt.Sprintf("autograd.MultiHeadAttention: in_proj_weight %v, want [%d, %d] for input %v", ws, 3*e, e, qs))
	}
	if inProjB != nil && (inProjB.Value.NDim() != 1 || inProjB.Value.Dim(0) != 3*e) {
		panic(fmt.Sprintf("autograd.MultiHeadAttention: in_proj_bias %v, want [%d]", inProjB.Shape(), 3*e))
	}
	if ws := outProjW.Shape(); len(ws) != 2 || ws[0] != e || ws[1] != e {
		panic(fmt.Sprintf("autograd.MultiHeadAttention: out_proj.weight %v, want [%d, %d]", ws, e, e))
	}
	if outProjB != nil && (outProjB.Value.NDim() != 1 || outProjB.Value.Dim(0) != e) {
		panic(fmt.Sprintf("autograd.MultiHeadAttention: out_proj.bias %v, want [%d]", outProjB.Shape(), e))
	}
	d := e / heads
	dm := attnDims{b: qs[0], h: heads, tq: qs[1], tk: ks[1], d: d}
	var qv, kv, vv headView
	if xq == xkv {
		qkv := Linear(xq, inProjW, inProjB) // [B, T, 3E]
		qv, kv, vv = packedHeads(qkv, 0, heads, d), packedHeads(qkv, 1, heads, d), packedHeads(qkv, 2, heads, d)
	} else {
		var bq, bkv *Var
		if inProjB != nil {
			bq, bkv = Narrow(inProjB, 0, 0, e), Narrow(inProjB, 0, e, 2*e)
		}
		q := Linear(xq, Narrow(inProjW, 0, 0, e), bq)       // [B, Tq, E]
		kvp := Linear(xkv, Narrow(inProjW, 0, e, 2*e), bkv) // [B, Tk, 2E]
		qv, kv, vv = packedHeads(q, 0, heads, d), packedHeads(kvp, 0, heads, d), packedHeads(kvp, 1, heads, d)
	}
	outShape := []int{qs[0], qs[1], e}
	ov := headView{bStride: qs[1] * e, hStride: d, ld: e}
	o := attention("MultiHeadAttention", dm, qv, kv, vv, mask, causal, outShape, ov)
	return Linear(o, outProjW, outProjB)
}
