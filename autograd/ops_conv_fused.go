package autograd

import (
	"fmt"

	"github.com/softcpt/softcpt-go/kernels"
	"github.com/softcpt/softcpt-go/tensor"
)

// Activation selects the activation that Conv2dAct applies to its output.
type Activation int

const (
	// ActNone applies no activation.
	ActNone Activation = iota
	// ActRelu applies max(·, 0) (NaN stays NaN).
	ActRelu
)

// String returns the activation's name.
func (a Activation) String() string {
	switch a {
	case ActNone:
		return "none"
	case ActRelu:
		return "relu"
	}
	return fmt.Sprintf("Activation(%d)", int(a))
}

// Conv2dAct is the forward-only fusion of
//
//	act(Conv2d(x, w, b, opt) + residual)
//
// for inference: the bias, the optional residual (nil for none; shape
// [N, Cout, OH, OW], the convolution's output) and the activation are
// applied while the convolution's output is stored (see
// kernels.Conv2dForwardFused), instead of in three further passes with two
// further output tensors. The result equals the unfused composition
// (Conv2d, Add, Relu) bit for bit and is a constant: no graph is recorded.
//
// It panics if gradients are wanted, i.e. graph recording is enabled (see
// NoGrad) and any of x, w, b or residual requires gradients; use the
// unfused ops there. Shape mismatches panic naming the op.
func Conv2dAct(x, w, b, residual *Var, opt Conv2dOptions, act Activation) *Var {
	return conv2dAct(x, w, b, residual, opt, act, nil)
}

// conv2dAct is Conv2dAct, with the bf16 filters of pc (whose weight is w)
// when pc is non-nil and the convolution has one group.
func conv2dAct(x, w, b, residual *Var, opt Conv2dOptions, act Activation, pc *PackedConv) *Var {
	if GradEnabled() {
		for _, v := range []*Var{x, w, b, residual} {
			if v != nil && v.requiresGrad {
				panic(fmt.Sprintf("autograd.Conv2dAct: forward-only op asked for gradients (input %v, weight %v); use Conv2d, Add and Relu, or call it under NoGrad", x.Shape(), w.Shape()))
			}
		}
	}
	if act != ActNone && act != ActRelu {
		panic(fmt.Sprintf("autograd.Conv2dAct: unknown activation %v", act))
	}
	g := newConv2dGeom(x.Shape(), w.Shape(), opt)
	if b != nil && (b.Value.NDim() != 1 || b.Value.Dim(0) != g.cout) {
		panic(fmt.Sprintf("autograd.Conv2dAct: bias %v does not fit weight %v", b.Shape(), w.Shape()))
	}
	outShape := []int{g.n, g.cout, g.oh, g.ow}
	var ep kernels.ConvEpilogue
	ep.ReLU = act == ActRelu
	if b != nil {
		ep.Bias = b.Value.Contiguous().Data()
	}
	if residual != nil {
		if !tensor.SameShape(residual.Shape(), outShape) {
			panic(fmt.Sprintf("autograd.Conv2dAct: residual %v does not match the output %v (input %v, weight %v)", residual.Shape(), outShape, x.Shape(), w.Shape()))
		}
		ep.Residual = residual.Value.Contiguous().Data()
	}
	xd, wd := x.Value.Contiguous().Data(), w.Value.Contiguous().Data()
	out := tensor.New(outShape...)
	od := out.Data()
	if g.groups == 1 {
		if pc != nil {
			kernels.Conv2dForwardBF16(g.kshape(), xd, pc.rows(), ep, od)
		} else {
			kernels.Conv2dForwardFused(g.kshape(), xd, wd, ep, od)
		}
		return &Var{Value: out}
	}
	// Grouped: the GEMMs run per group, so apply the epilogue afterwards.
	conv2dForward(&g, xd, wd, ep.Bias, od)
	if ep.Residual != nil {
		for i, v := range ep.Residual {
			od[i] += v
		}
	}
	if ep.ReLU {
		kernels.Relu(od, od)
	}
	return &Var{Value: out}
}
