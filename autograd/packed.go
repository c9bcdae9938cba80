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

	mu        sync.Mutex
	precision Precision
	src       *tensor.Tensor // the w.Value the packed forms were made from
	fwd, bwd  *kernels.PackedMatrix
	fwd16     *kernels.BF16Matrix // bf16 forms, used at precision BF16
	bwd16     *kernels.BF16Matrix
}

// Precision is the number format of the products against a frozen
// weight: FP32 (the default) or BF16 (weights and activations rounded to
// bfloat16, products summed in fp32; see kernels.GemmBF16).
type Precision int

const (
	// FP32 computes in float32 throughout.
	FP32 Precision = iota
	// BF16 multiplies bf16-rounded operands with fp32 sums and outputs.
	BF16
)

// String returns "fp32" or "bf16".
func (p Precision) String() string {
	switch p {
	case FP32:
		return "fp32"
	case BF16:
		return "bf16"
	}
	return fmt.Sprintf("Precision(%d)", int(p))
}

// ParsePrecision parses "fp32" or "bf16" (as a --precision flag gives it).
func ParsePrecision(s string) (Precision, error) {
	switch s {
	case "fp32", "float32":
		return FP32, nil
	case "bf16", "bfloat16":
		return BF16, nil
	}
	return FP32, fmt.Errorf("autograd: unknown precision %q (want fp32 or bf16)", s)
}

// SetPrecision selects the number format of the products against the
// weight (forward and input gradient); packed forms of the other format
// are dropped. At BF16 on a CPU without AVX512-BF16 the products run in
// fp32 (kernels.PackBF16's fallback).
func (p *PackedWeight) SetPrecision(pr Precision) {
	p.mu.Lock()
	if p.precision != pr {
		p.precision = pr
		p.src, p.fwd, p.bwd, p.fwd16, p.bwd16 = nil, nil, nil, nil, nil
	}
	p.mu.Unlock()
}

// Precision returns the number format set by SetPrecision.
func (p *PackedWeight) Precision() Precision {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.precision
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
	p.src, p.fwd, p.bwd, p.fwd16, p.bwd16 = nil, nil, nil, nil, nil
	p.mu.Unlock()
}

// stale drops the packed forms if the weight tensor was replaced or the
// kernel level changed since they were made. The caller holds p.mu.
func (p *PackedWeight) stale() {
	lv := kernels.Current()
	if p.src != p.w.Value || p.fwd != nil && p.fwd.Level() != lv || p.bwd != nil && p.bwd.Level() != lv ||
		p.fwd16 != nil && p.fwd16.Level() != lv || p.bwd16 != nil && p.bwd16.Level() != lv {
		p.src, p.fwd, p.bwd, p.fwd16, p.bwd16 = p.w.Value, nil, nil, nil, nil
	}
}

// packed16 returns Wᵀ (forward) or W (backward) converted to bf16 and
// packed for kernels.GemmBF16, packing it if needed.
func (p *PackedWeight) packed16(forward bool) *kernels.BF16Matrix {
	return packedForm(p, &p.fwd16, &p.bwd16, forward, kernels.PackBF16)
}

// packedForm returns *fwd (Wᵀ: k = in, n = out) or *bwd (W: k = out,
// n = in), made by pack if missing or stale.
func packedForm[P comparable](p *PackedWeight, fwd, bwd *P, forward bool, pack func(transB bool, k, n int, b []float32, ldb int) P) P {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stale()
	var zero P
	v := p.w.Value
	out, in := v.Dim(0), v.Dim(1)
	if forward {
		if *fwd == zero {
			*fwd = pack(true, in, out, v.Contiguous().Data(), in)
		}
		return *fwd
	}
	if *bwd == zero {
		*bwd = pack(false, out, in, v.Contiguous().Data(), in)
	}
	return *bwd
}

// packed returns Wᵀ (forward, k = in, n = out) or W (backward, k = out,
// n = in) packed for the current kernel level, packing it if needed.
func (p *PackedWeight) packed(forward bool) *kernels.PackedMatrix {
	return packedForm(p, &p.fwd, &p.bwd, forward, kernels.PackB)
}

// LinearPacked returns x·wᵀ + b like Linear(x, pw.Weight(), b), with the
// products against the weight taken from its packed forms (at precision
// FP32 the results are bit-identical to Linear's; at BF16 the forward
// product and the input gradient g·w are bf16 products with fp32 sums,
// and the bias and its gradient stay fp32). Gradients flow to x and b. If the weight
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
	bf16 := pw.Precision() == BF16
	var out *tensor.Tensor
	if bf16 {
		out = tensor.Empty(append(append([]int(nil), xs[:len(xs)-1]...), outF)...) // GemmBF16 writes every element
		var ep kernels.BF16Epilogue
		if b != nil {
			ep.Bias = b.Value.Contiguous().Data()
		}
		kernels.GemmBF16(rows, xd, in, pw.packed16(true), out.Data(), outF, ep)
	} else {
		var beta float32
		out, beta = linearOutput(xs, b, rows, outF)
		kernels.SgemmPacked(false, rows, 1, xd, in, pw.packed(true), beta, out.Data(), outF)
	}
	parents := []*Var{x}
	if b != nil {
		parents = append(parents, b)
	}
	return result(out, func(g *tensor.Tensor) {
		gd := g.Contiguous().Data()
		if x.requiresGrad { // dx = g · w
			gx := tensor.Empty(xs...) // overwritten by the product
			if bf16 {
				kernels.GemmBF16(rows, gd, outF, pw.packed16(false), gx.Data(), in, kernels.BF16Epilogue{})
			} else {
				kernels.SgemmPacked(false, rows, 1, gd, outF, pw.packed(false), 0, gx.Data(), in)
			}
			x.accumulate(gx)
		}
		if b != nil && b.requiresGrad {
			b.accumulate(biasGrad(gd, rows, outF))
		}
	}, parents...)
}
