package autograd

import (
	"fmt"

	"github.com/softcpt/softcpt-go/kernels"
	"github.com/softcpt/softcpt-go/tensor"
)

// binaryShape returns the broadcast shape of two operands or panics naming
// the op.
func binaryShape(op string, a, b *tensor.Tensor) []int {
	s, err := tensor.BroadcastShapes(a.Shape(), b.Shape())
	if err != nil {
		panic(fmt.Sprintf("autograd.%s: %v", op, err))
	}
	return s
}

// binOp names an element-wise binary operation.
type binOp int

const (
	opAdd binOp = iota
	opSub
	opMul
	opDiv
	opNegDiv // -x / y
)

// apply runs op over equally long slices: dst[i] = a[i] op b[i], with the
// vector kernels for + and ×.
func (op binOp) apply(dst, a, b []float32) {
	switch op {
	case opAdd:
		kernels.Add(dst, a, b)
	case opMul:
		kernels.Mul(dst, a, b)
	case opSub:
		for i := range dst {
			dst[i] = a[i] - b[i]
		}
	case opDiv:
		for i := range dst {
			dst[i] = a[i] / b[i]
		}
	case opNegDiv:
		for i := range dst {
			dst[i] = -a[i] / b[i]
		}
	}
}

// broadcastApply computes out = a op b over the broadcast shape. Equal
// shapes and a right-aligned b (a bias) run row by row on contiguous
// slices; anything else goes through broadcast views.
func broadcastApply(name string, a, b *tensor.Tensor, op binOp) *tensor.Tensor {
	shape := binaryShape(name, a, b)
	out := tensor.Empty(shape...) // every path writes all of out
	o := out.Data()
	if tensor.SameShape(a.Shape(), shape) && tensor.SameShape(b.Shape(), shape) {
		op.apply(o, a.Contiguous().Data(), b.Contiguous().Data())
		return out
	}
	if tensor.SameShape(a.Shape(), shape) && isSuffix(b.Shape(), shape) {
		ad, bd := a.Contiguous().Data(), b.Contiguous().Data()
		if n := len(bd); n > 0 {
			for i := 0; i < len(o); i += n {
				op.apply(o[i:i+n], ad[i:i+n], bd)
			}
		}
		return out
	}
	op.apply(o, a.Expand(shape...).Contiguous().Data(), b.Expand(shape...).Contiguous().Data())
	return out
}

// isSuffix reports whether small equals the trailing dims of big.
func isSuffix(small, big []int) bool {
	if len(small) > len(big) {
		return false
	}
	return tensor.SameShape(small, big[len(big)-len(small):])
}

// SumToShape reduces g (a broadcast shape) by summation to shape, the
// adjoint of broadcasting shape up to g's shape.
func SumToShape(g *tensor.Tensor, shape []int) *tensor.Tensor {
	if tensor.SameShape(g.Shape(), shape) {
		return g
	}
	gs := g.Shape()
	lead := len(gs) - len(shape)
	out := tensor.New(shape...)
	o := out.Data()
	gd := g.Contiguous().Data()
	if isSuffix(shape, gs) {
		n := len(o)
		if n > 0 {
			for i, x := range gd {
				o[i%n] += x
			}
		}
		return out
	}
	// General case: map each element of g to its reduced index.
	ostr := tensor.ContiguousStrides(shape)
	idx := make([]int, len(gs))
	for i, x := range gd {
		p := 0
		for d := lead; d < len(gs); d++ {
			if shape[d-lead] != 1 {
				p += idx[d] * ostr[d-lead]
			}
		}
		o[p] += x
		for d := len(gs) - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < gs[d] {
				break
			}
			idx[d] = 0
		}
		_ = i
	}
	return out
}

// Add returns a + b with NumPy broadcasting.
func Add(a, b *Var) *Var {
	v := broadcastApply("Add", a.Value, b.Value, opAdd)
	return result(v, func(g *tensor.Tensor) {
		if a.requiresGrad {
			a.accumulate(SumToShape(g, a.Shape()).Clone())
		}
		if b.requiresGrad {
			b.accumulate(SumToShape(g, b.Shape()).Clone())
		}
	}, a, b)
}

// Sub returns a - b with NumPy broadcasting.
func Sub(a, b *Var) *Var {
	v := broadcastApply("Sub", a.Value, b.Value, opSub)
	return result(v, func(g *tensor.Tensor) {
		if a.requiresGrad {
			a.accumulate(SumToShape(g, a.Shape()).Clone())
		}
		if b.requiresGrad {
			gb := SumToShape(g, b.Shape()).Clone()
			scaleInPlace(gb, -1)
			b.accumulate(gb)
		}
	}, a, b)
}

// Mul returns a * b (element-wise) with NumPy broadcasting.
func Mul(a, b *Var) *Var {
	v := broadcastApply("Mul", a.Value, b.Value, opMul)
	return result(v, func(g *tensor.Tensor) {
		if a.requiresGrad {
			a.accumulate(SumToShape(broadcastApply("Mul", g, b.Value, opMul), a.Shape()))
		}
		if b.requiresGrad {
			b.accumulate(SumToShape(broadcastApply("Mul", g, a.Value, opMul), b.Shape()))
		}
	}, a, b)
}

// Div returns a / b (element-wise) with NumPy broadcasting.
func Div(a, b *Var) *Var {
	v := broadcastApply("Div", a.Value, b.Value, opDiv)
	return result(v, func(g *tensor.Tensor) {
		if a.requiresGrad {
			a.accumulate(SumToShape(broadcastApply("Div", g, b.Value, opDiv), a.Shape()))
		}
		if b.requiresGrad {
			// d(a/b)/db = -a/b² = -out/b
			t := broadcastApply("Div", v, b.Value, opNegDiv)
			b.accumulate(SumToShape(broadcastApply("Div", g, t, opMul), b.Shape()))
		}
	}, a, b)
}

func scaleInPlace(t *tensor.Tensor, s float32) {
	d := t.Data()
	for i := range d {
		d[i] *= s
	}
}

// Scale returns s * x.
func Scale(x *Var, s float32) *Var {
	v := x.Value.Clone()
	scaleInPlace(v, s)
	return result(v, func(g *tensor.Tensor) {
		gx := g.Clone()
		scaleInPlace(gx, s)
		x.accumulate(gx)
	}, x)
}

// AddScalar returns x + s.
func AddScalar(x *Var, s float32) *Var {
	v := x.Value.Clone()
	d := v.Data()
	for i := range d {
		d[i] += s
	}
	return result(v, func(g *tensor.Tensor) { x.accumulate(g.Clone()) }, x)
}

// Neg returns -x.
func Neg(x *Var) *Var { return Scale(x, -1) }
