package autograd

import (
	"fmt"

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

// broadcastApply computes out[i] = f(a[i], b[i]) over the broadcast shape.
// Same-shape operands and a right-aligned contiguous b (a bias) take fast
// loops; anything else goes through broadcast views.
func broadcastApply(op string, a, b *tensor.Tensor, f func(x, y float32) float32) *tensor.Tensor {
	shape := binaryShape(op, a, b)
	out := tensor.New(shape...)
	o := out.Data()
	if tensor.SameShape(a.Shape(), shape) && tensor.SameShape(b.Shape(), shape) {
		ad, bd := a.Contiguous().Data(), b.Contiguous().Data()
		for i := range o {
			o[i] = f(ad[i], bd[i])
		}
		return out
	}
	if tensor.SameShape(a.Shape(), shape) && isSuffix(b.Shape(), shape) {
		ad, bd := a.Contiguous().Data(), b.Contiguous().Data()
		if n := len(bd); n > 0 {
			for i := range o {
				o[i] = f(ad[i], bd[i%n])
			}
		}
		return out
	}
	ad := a.Expand(shape...).Contiguous().Data()
	bd := b.Expand(shape...).Contiguous().Data()
	for i := range o {
		o[i] = f(ad[i], bd[i])
	}
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
	v := broadcastApply("Add", a.Value, b.Value, func(x, y float32) float32 { return x + y })
	return result(v, func(g *tensor.Tensor) {
		a.accumulate(SumToShape(g, a.Shape()).Clone())
		b.accumulate(SumToShape(g, b.Shape()).Clone())
	}, a, b)
}

// Sub returns a - b with NumPy broadcasting.
func Sub(a, b *Var) *Var {
	v := broadcastApply("Sub", a.Value, b.Value, func(x, y float32) float32 { return x - y })
	return result(v, func(g *tensor.Tensor) {
		a.accumulate(SumToShape(g, a.Shape()).Clone())
		if b.requiresGrad {
			gb := SumToShape(g, b.Shape()).Clone()
			scaleInPlace(gb, -1)
			b.accumulate(gb)
		}
	}, a, b)
}

// Mul returns a * b (element-wise) with NumPy broadcasting.
func Mul(a, b *Var) *Var {
	v := broadcastApply("Mul", a.Value, b.Value, func(x, y float32) float32 { return x * y })
	return result(v, func(g *tensor.Tensor) {
		if a.requiresGrad {
			a.accumulate(SumToShape(broadcastApply("Mul", g, b.Value, mul), a.Shape()))
		}
		if b.requiresGrad {
			b.accumulate(SumToShape(broadcastApply("Mul", g, a.Value, mul), b.Shape()))
		}
	}, a, b)
}

// Div returns a / b (element-wise) with NumPy broadcasting.
func Div(a, b *Var) *Var {
	v := broadcastApply("Div", a.Value, b.Value, func(x, y float32) float32 { return x / y })
	return result(v, func(g *tensor.Tensor) {
		if a.requiresGrad {
			a.accumulate(SumToShape(broadcastApply("Div", g, b.Value, func(x, y float32) float32 { return x / y }), a.Shape()))
		}
		if b.requiresGrad {
			// d(a/b)/db = -a/b² = -out/b
			t := broadcastApply("Div", v, b.Value, func(x, y float32) float32 { return -x / y })
			b.accumulate(SumToShape(broadcastApply("Div", g, t, mul), b.Shape()))
		}
	}, a, b)
}

func mul(x, y float32) float32 { return x * y }

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
