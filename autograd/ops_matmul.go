package autograd

import (
	"fmt"

	"github.com/softcpt/softcpt-go/kernels"
	"github.com/softcpt/softcpt-go/tensor"
)

// matDims returns (batch, rows, cols) of a tensor viewed as a stack of
// matrices over its last two axes.
func matDims(op string, t *tensor.Tensor) (batch, r, c int) {
	s := t.Shape()
	if len(s) < 2 {
		panic(fmt.Sprintf("autograd.%s: operand of shape %v is not a matrix", op, s))
	}
	batch = 1
	for _, d := range s[:len(s)-2] {
		batch *= d
	}
	return batch, s[len(s)-2], s[len(s)-1]
}

// MatMul returns op(a)·op(b), where op transposes the last two axes when
// the flag is set. Leading (batch) axes must match, or one operand must be
// a plain matrix shared by every batch entry. Gradients flow to both.
func MatMul(a, b *Var, transA, transB bool) *Var {
	ba, ar, ac := matDims("MatMul", a.Value)
	bb, br, bc := matDims("MatMul", b.Value)
	m, k := ar, ac
	if transA {
		m, k = ac, ar
	}
	k2, n := br, bc
	if transB {
		k2, n = bc, br
	}
	if k != k2 {
		panic(fmt.Sprintf("autograd.MatMul: inner sizes differ for %v (transA=%v) and %v (transB=%v)", a.Shape(), transA, b.Shape(), transB))
	}
	var outShape []int
	switch {
	case ba == bb && a.Value.NDim() == b.Value.NDim():
		if !tensor.SameShape(a.Shape()[:a.Value.NDim()-2], b.Shape()[:b.Value.NDim()-2]) {
			panic(fmt.Sprintf("autograd.MatMul: batch shapes of %v and %v differ", a.Shape(), b.Shape()))
		}
		outShape = append(append([]int(nil), a.Shape()[:a.Value.NDim()-2]...), m, n)
	case b.Value.NDim() == 2:
		outShape = append(append([]int(nil), a.Shape()[:a.Value.NDim()-2]...), m, n)
	case a.Value.NDim() == 2:
		outShape = append(append([]int(nil), b.Shape()[:b.Value.NDim()-2]...), m, n)
	default:
		panic(fmt.Sprintf("autograd.MatMul: batch shapes of %v and %v do not match", a.Shape(), b.Shape()))
	}
	batch := max(ba, bb)
	ad, bd := a.Value.Contiguous().Data(), b.Value.Contiguous().Data()
	out := tensor.Empty(outShape...) // beta = 0 products
	od := out.Data()
	sa, sb := ar*ac, br*bc
	if ba == 1 && batch > 1 {
		sa = 0
	}
	if bb == 1 && batch > 1 {
		sb = 0
	}
	// A batched a with a shared, untransposed-a layout folds into one GEMM.
	if sb == 0 && !transA && batch > 1 {
		kernels.Sgemm(false, transB, batch*m, n, k, 1, ad, ac, bd, bc, 0, od, n)
	} else {
		for i := 0; i < batch; i++ {
			kernels.Sgemm(transA, transB, m, n, k, 1, ad[i*sa:], ac, bd[i*sb:], bc, 0, od[i*m*n:], n)
		}
	}
	return result(out, func(g *tensor.Tensor) {
		gd := g.Contiguous().Data()
		if a.requiresGrad {
			var ga *tensor.Tensor
			beta := float32(0)
			if sa == 0 {
				beta = 1 // shared a: sum over the batch into zeros
				ga = tensor.New(a.Shape()...)
			} else {
				ga = tensor.Empty(a.Shape()...)
			}
			gad := ga.Data()
			for i := 0; i < batch; i++ {
				gi, bi, dst := gd[i*m*n:], bd[i*sb:], gad[i*sa:]
				if !transA { // dA (m×k) = g (m×n) · op(B)ᵀ
					kernels.Sgemm(false, !transB, m, k, n, 1, gi, n, bi, bc, beta, dst, ac)
				} else { // dA (k×m) = op(B) (k×n) · gᵀ
					kernels.Sgemm(transB, true, k, m, n, 1, bi, bc, gi, n, beta, dst, ac)
				}
				if sa != 0 {
					beta = 0
				}
			}
			a.accumulate(ga)
		}
		if b.requiresGrad {
			gb := tensor.Empty(b.Shape()...) // the first product has beta = 0
			gbd := gb.Data()
			if sb == 0 && !transA && batch > 1 {
				if !transB { // dB (k×n) = Aᵀ · g over all rows
					kernels.Sgemm(true, false, k, n, batch*m, 1, ad, ac, gd, n, 0, gbd, bc)
				} else { // dB (n×k) = gᵀ · A
					kernels.Sgemm(true, false, n, k, batch*m, 1, gd, n, ad, ac, 0, gbd, bc)
				}
			} else {
				beta := float32(0)
				for i := 0; i < batch; i++ {
					gi, ai, dst := gd[i*m*n:], ad[i*sa:], gbd[i*sb:]
					if !transB { // dB (k×n) = op(A)ᵀ · g
						kernels.Sgemm(!transA, false, k, n, m, 1, ai, ac, gi, n, beta, dst, bc)
					} else { // dB (n×k) = gᵀ · op(A)
						kernels.Sgemm(true, transA, n, k, m, 1, gi, n, ai, ac, beta, dst, bc)
					}
					if sb == 0 {
						beta = 1
					}
				}
			}
			b.accumulate(gb)
		}
	}, a, b)
}

// Linear returns x·wᵀ + b in PyTorch's layout: x is [..., in], w is
// [out, in] and b (optional, may be nil) is [out].
func Linear(x, w, b *Var) *Var {
	ws := w.Shape()
	xs := x.Shape()
	if len(ws) != 2 || len(xs) == 0 || xs[len(xs)-1] != ws[1] {
		panic(fmt.Sprintf("autograd.Linear: input %v does not fit weight %v", xs, ws))
	}
	if b != nil && (b.Value.NDim() != 1 || b.Value.Dim(0) != ws[0]) {
		panic(fmt.Sprintf("autograd.Linear: bias %v does not fit weight %v", b.Shape(), ws))
	}
	in, outF := ws[1], ws[0]
	rows := x.Value.Numel() / max(in, 1)
	if in == 0 {
		rows = tensor.Numel(xs[:len(xs)-1])
	}
	xd, wd := x.Value.Contiguous().Data(), w.Value.Contiguous().Data()
	out, beta := linearOutput(xs, b, rows, outF)
	kernels.Sgemm(false, true, rows, outF, in, 1, xd, in, wd, in, beta, out.Data(), outF)
	parents := []*Var{x, w}
	if b != nil {
		parents = append(parents, b)
	}
	return result(out, func(g *tensor.Tensor) {
		gd := g.Contiguous().Data()
		if x.requiresGrad { // dx = g · w
			gx := tensor.Empty(xs...)
			kernels.Sgemm(false, false, rows, in, outF, 1, gd, outF, wd, in, 0, gx.Data(), in)
			x.accumulate(gx)
		}
		if w.requiresGrad { // dw = gᵀ · x
			gw := tensor.Empty(ws...)
			kernels.Sgemm(true, false, outF, in, rows, 1, gd, outF, xd, in, 0, gw.Data(), in)
			w.accumulate(gw)
		}
		if b != nil && b.requiresGrad {
			b.accumulate(biasGrad(gd, rows, outF))
		}
	}, parents...)
}

// linearOutput allocates the output of a linear layer on input shape xs,
// [..., outF], holding the bias b in each of its rows (unspecified
// contents without a bias), and returns the beta with which the product
// must be added to it (0 without a bias: the product overwrites it).
func linearOutput(xs []int, b *Var, rows, outF int) (*tensor.Tensor, float32) {
	out := tensor.Empty(append(append([]int(nil), xs[:len(xs)-1]...), outF)...)
	if b == nil {
		return out, 0
	}
	od, bd := out.Data(), b.Value.Contiguous().Data()
	for r := 0; r < rows; r++ {
		copy(od[r*outF:(r+1)*outF], bd)
	}
	return out, 1
}

// biasGrad sums the output gradient g [rows, outF] over its rows: the
// gradient of a linear layer's bias.
func biasGrad(g []float32, rows, outF int) *tensor.Tensor {
	gb := tensor.New(outF)
	gbd := gb.Data()
	for r := 0; r < rows; r++ {
		for j, v := range g[r*outF : (r+1)*outF] {
			gbd[j] += v
		}
	}
	return gb
}
