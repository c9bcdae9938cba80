package autograd

import (
	"fmt"

	"github.com/softcpt/softcpt-go/tensor"
)

// Reshape returns x with a new shape (one dimension may be -1).
func Reshape(x *Var, shape ...int) *Var {
	v := x.Value.Reshape(shape...)
	return result(v, func(g *tensor.Tensor) {
		x.accumulate(g.Reshape(x.Shape()...).Clone())
	}, x)
}

// Permute returns x with its axes reordered (axis i of the result is
// axis perm[i] of x). The result is contiguous.
func Permute(x *Var, perm ...int) *Var {
	v := x.Value.Permute(perm...).Contiguous()
	inv := make([]int, len(perm))
	for i, p := range perm {
		inv[p] = i
	}
	return result(v, func(g *tensor.Tensor) {
		x.accumulate(g.Permute(inv...).Clone())
	}, x)
}

// Transpose swaps axes a and b. The result is contiguous.
func Transpose(x *Var, a, b int) *Var {
	n := x.Value.NDim()
	a, b = x.Value.Axis("Transpose", a), x.Value.Axis("Transpose", b)
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	perm[a], perm[b] = b, a
	return Permute(x, perm...)
}

// Narrow returns x[..., start:start+length, ...] along axis (contiguous).
func Narrow(x *Var, axis, start, length int) *Var {
	axis = x.Value.Axis("Narrow", axis)
	v := x.Value.Narrow(axis, start, length).Contiguous()
	return result(v, func(g *tensor.Tensor) {
		gx := tensor.New(x.Shape()...)
		gx.Narrow(axis, start, length).CopyFrom(g)
		x.accumulate(gx)
	}, x)
}

// Expand broadcasts x to shape (NumPy rules); the backward sums.
func Expand(x *Var, shape ...int) *Var {
	v := x.Value.Expand(shape...).Contiguous()
	return result(v, func(g *tensor.Tensor) {
		x.accumulate(SumToShape(g, x.Shape()).Clone())
	}, x)
}

// reduceDims splits shape around axis into (outer, n, inner) sizes.
func reduceDims(shape []int, axis int) (outer, n, inner int) {
	outer, inner = 1, 1
	for i, d := range shape {
		switch {
		case i < axis:
			outer *= d
		case i > axis:
			inner *= d
		}
	}
	return outer, shape[axis], inner
}

// reducedShape returns shape with axis removed, or set to 1 if keepdim.
func reducedShape(shape []int, axis int, keepdim bool) []int {
	out := append([]int(nil), shape...)
	if keepdim {
		out[axis] = 1
		return out
	}
	return append(out[:axis], out[axis+1:]...)
}

// SumAll returns the sum of every element as a scalar (shape []).
func SumAll(x *Var) *Var {
	var s float64
	for _, v := range x.Value.Contiguous().Data() {
		s += float64(v)
	}
	return result(tensor.Scalar(float32(s)), func(g *tensor.Tensor) {
		x.accumulate(tensor.Full(g.Item(), x.Shape()...))
	}, x)
}

// MeanAll returns the mean of every element as a scalar.
func MeanAll(x *Var) *Var {
	n := x.Value.Numel()
	if n == 0 {
		panic("autograd.MeanAll: empty tensor")
	}
	return Scale(SumAll(x), 1/float32(n))
}

// Sum reduces x over axis by summation.
func Sum(x *Var, axis int, keepdim bool) *Var {
	axis = x.Value.Axis("Sum", axis)
	shape := x.Shape()
	outer, n, inner := reduceDims(shape, axis)
	xd := x.Value.Contiguous().Data()
	out := tensor.New(reducedShape(shape, axis, keepdim)...)
	o := out.Data()
	for a := 0; a < outer; a++ {
		for j := 0; j < n; j++ {
			row := xd[(a*n+j)*inner : (a*n+j+1)*inner]
			dst := o[a*inner : (a+1)*inner]
			for i, v := range row {
				dst[i] += v
			}
		}
	}
	return result(out, func(g *tensor.Tensor) {
		gd := g.Contiguous().Data()
		gx := tensor.New(shape...)
		d := gx.Data()
		for a := 0; a < outer; a++ {
			src := gd[a*inner : (a+1)*inner]
			for j := 0; j < n; j++ {
				copy(d[(a*n+j)*inner:(a*n+j+1)*inner], src)
			}
		}
		x.accumulate(gx)
	}, x)
}

// Mean reduces x over axis by averaging.
func Mean(x *Var, axis int, keepdim bool) *Var {
	n := x.Value.Dim(axis)
	if n == 0 {
		panic(fmt.Sprintf("autograd.Mean: empty axis %d of %v", axis, x.Shape()))
	}
	return Scale(Sum(x, axis, keepdim), 1/float32(n))
}
