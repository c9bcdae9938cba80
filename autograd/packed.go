package autograd

import (
	"fmt"
	"sync"

	"github.com/softcpt/softcpt-go/kernels"
	"github.com/softcpt/softcpt-go/tensor"
)

// PackedWeight is a constant Linear weight w [out, in] together with its
// forms packed for kernels.SgemmPacked: Wᵀ for the forward product x·Wᵀ and
// W for the input gradient g·W. Each form is packed on first use and then
// reused, which saves Linear's re-packing of the weight on every call.
//
// Rule: use it only for the weights of a frozen model. The packed forms
// are copies; they are rebuilt automatically when w.Value is replaced by
// another tensor or the kernel level changes, and ignored (LinearPacked
// falls back to Linear and drops them) while w requires gradients. A
// caller that writes into w.Value's storage in place must call Invalidate.
// A PackedWeight may be used from several goroutines at once.
type PackedWeight struct {
	w *Var

	mu       sync.Mutex
	src      *tensor.Tensor // the w.Value the packed forms were made from
	fwd, bwd *kernels.PackedMatrix
}

// NewPackedWeight wraps the Linear weight w ([out, in]); nothing is packed
// until LinearPacked needs it. It panics if w is not a matrix.
func NewPackedWeight(w *Var) *PackedWeight {
	if w == nil || w.Value.NDim() != 2 {
		var s []int
		if w != nil {
			s = w.Shape()
		}
		panic(fmt.Sprintf("autograd.NewPackedWeight: weight of shape %v is not a matrix", s))
	}
	return &PackedWeight{w: w}
}

// Weight returns the wrapped weight.
func (p *PackedWeight) Weight() *Var { return p.w }

// Invalidate drops the packed forms, so that the next use packs the
// weight's current values again. Call it after writing into the weight's
// storage in place.
func (p *PackedWeight) Invalidate() {
	p.mu.Lock()
	p.src, p.fwd, p.bwd = nil, nil, nil
	p.mu.Unlock()
}

// packed returns Wᵀ (forward, k = in, n = out) or W (backward, k = out,
// n = in) packed for the current kernel level, packing it if needed.
func (p *PackedWeight) packed(forward bool) *kernels.PackedMatrix {
	p.mu.Lock()
	defer p.mu.Unlock()
	v := p.w.Value
	if p.src != v || p.fwd != nil && p.fwd.Level() != kernels.Current() || p.bwd != nil && p.bwd.Level() != kernels.Current() {
		p.src, p.fwd, p.bwd = v, nil, nil
	}
	out, in := v.Dim(0), v.Dim(1)
	if forward {
		if p.fwd == nil {
			p.fwd = kernels.PackB(true, in, out, v.Contiguous().Data(), in)
		}
		return p.fwd
	}
	if p.bwd == nil {
		p.bwd = kernels.PackB(false, out, in, v.Contiguous().Data(), in)
	}
	return p.bwd
}

// LinearPacked returns x·wᵀ + b like Linear(x, pw.Weight(), b), with the
// products against the weight taken from its packed forms (the results
// are bit-identical to Linear's). Gradients flow to x and b. If the weight
// requires gradients (a trainable model), it is Linear and the packed
// forms are dropped.
func LinearPacked(x *Var, pw *PackedWeight, b *Var) *Var {
	w := pw.w
	if w.requiresGrad {
		pw.Invalidate()
		return Linear(x, w, b)
	}
	ws := w.Shape()
	xs := x.Shape()
	if len(xs) == 0 || xs[len(xs)-1] != ws[1] {
		panic(fmt.Sprintf("autograd.LinearPacked: input %v does not fit weight %v", xs, ws))
	}
	if b != nil && (b.Value.NDim() != 1 || b.Value.Dim(0) != ws[0]) {
		panic(fmt.Sprintf("autograd.LinearPacked: bias %v does not fit weight %v", b.Shape(), ws))
	}
	in, outF := ws[1], ws[0]
	rows := tensor.Numel(xs[:len(xs)-1])
	xd := x.Value.Contiguous().Data()
	out, beta := linearOutput(xs, b, rows, outF)
	kernels.SgemmPacked(false, rows, 1, xd, in, pw.packed(true), beta, out.Data(), outF)
	parents := []*Var{x}
	if b != nil {
		parents = append(parents, b)
	}
	return result(out, func(g *tensor.Tensor) {
		gd := g.Contiguous().Data()
		if x.requiresGrad { // dx = g · w
			gx := tensor.New(xs...)
			kernels.SgemmPacked(false, rows, 1, gd, outF, pw.packed(false), 0, gx.Data(), in)
			x.accumulate(gx)
		}
		if b != nil && b.requiresGrad {
			b.accumulate(biasGrad(gd, rows, outF))
		}
	}, parents...)
}
