package autograd

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/softcpt/softcpt-go/kernels"
	"github.com/softcpt/softcpt-go/tensor"
)

// Pointwise ops. Each forward writes a fresh contiguous tensor; each
// backward computes the input gradient from the saved input and/or
// output. Exp, Relu, Sigmoid, QuickGelu, Gelu, Tanh (and Dropout's
// masking) run on the vectorised kernels package; the rest are plain
// indexed loops (no per-element closures).

// unaryIn returns the contiguous data of x and an output tensor of its
// shape with unspecified contents (tensor.Empty): every forward writes
// all of it.
func unaryIn(x *Var) ([]float32, *tensor.Tensor) {
	return x.Value.Contiguous().Data(), tensor.Empty(x.Shape()...)
}

// Exp returns e^x element-wise.
func Exp(x *Var) *Var {
	xd, out := unaryIn(x)
	o := out.Data()
	kernels.Exp(o, xd)
	return result(out, func(g *tensor.Tensor) {
		gx := tensor.Empty(x.Shape()...)
		kernels.Mul(gx.Data(), g.Contiguous().Data(), o)
		x.accumulate(gx)
	}, x)
}

// Log returns the natural logarithm of x element-wise (−Inf at 0, NaN
// below, as in PyTorch).
func Log(x *Var) *Var {
	xd, out := unaryIn(x)
	o := out.Data()
	for i, v := range xd {
		o[i] = float32(math.Log(float64(v)))
	}
	return result(out, func(g *tensor.Tensor) {
		gd := g.Contiguous().Data()
		xd := x.Value.Contiguous().Data()
		gx := tensor.Empty(x.Shape()...)
		d := gx.Data()
		for i, v := range xd {
			d[i] = gd[i] / v
		}
		x.accumulate(gx)
	}, x)
}

// Sqrt returns √x element-wise. The gradient g/(2√x) is +Inf at 0, as in
// PyTorch.
func Sqrt(x *Var) *Var {
	xd, out := unaryIn(x)
	o := out.Data()
	for i, v := range xd {
		o[i] = float32(math.Sqrt(float64(v)))
	}
	return result(out, func(g *tensor.Tensor) {
		gd := g.Contiguous().Data()
		gx := tensor.Empty(x.Shape()...)
		d := gx.Data()
		for i, y := range o {
			d[i] = gd[i] / (2 * y)
		}
		x.accumulate(gx)
	}, x)
}

// Pow returns x^p element-wise for a constant exponent p. The gradient is
// p·x^(p−1)·g, and 0 where p is 0 (as in PyTorch).
func Pow(x *Var, p float32) *Var {
	xd, out := unaryIn(x)
	o := out.Data()
	pf := float64(p)
	switch p {
	case 1:
		copy(o, xd)
	case 2:
		for i, v := range xd {
			o[i] = v * v
		}
	default:
		for i, v := range xd {
			o[i] = float32(math.Pow(float64(v), pf))
		}
	}
	return result(out, func(g *tensor.Tensor) {
		gx := tensor.New(x.Shape()...)
		if p == 0 {
			x.accumulate(gx)
			return
		}
		gd := g.Contiguous().Data()
		xd := x.Value.Contiguous().Data()
		d := gx.Data()
		switch p {
		case 1:
			copy(d, gd)
		case 2:
			for i, v := range xd {
				d[i] = 2 * v * gd[i]
			}
		default:
			for i, v := range xd {
				d[i] = gd[i] * p * float32(math.Pow(float64(v), pf-1))
			}
		}
		x.accumulate(gx)
	}, x)
}

// Clamp limits x to [lo, hi] element-wise. The gradient passes where
// lo <= x <= hi (boundaries included, as in PyTorch) and is 0 elsewhere.
// It panics if lo > hi or either bound is NaN.
func Clamp(x *Var, lo, hi float32) *Var {
	if !(lo <= hi) {
		panic(fmt.Sprintf("autograd.Clamp: lo %v > hi %v", lo, hi))
	}
	xd, out := unaryIn(x)
	o := out.Data()
	for i, v := range xd {
		switch {
		case v < lo:
			v = lo
		case v > hi:
			v = hi
		}
		o[i] = v
	}
	return result(out, func(g *tensor.Tensor) {
		gd := g.Contiguous().Data()
		xd := x.Value.Contiguous().Data()
		gx := tensor.New(x.Shape()...)
		d := gx.Data()
		for i, v := range xd {
			if v >= lo && v <= hi {
				d[i] = gd[i]
			}
		}
		x.accumulate(gx)
	}, x)
}

// Relu returns max(x, 0) element-wise (NaN stays NaN). The gradient is 0
// at x = 0, as in PyTorch.
func Relu(x *Var) *Var {
	xd, out := unaryIn(x)
	kernels.Relu(out.Data(), xd)
	return result(out, func(g *tensor.Tensor) {
		gx := tensor.Empty(x.Shape()...)
		kernels.ReluBackward(gx.Data(), g.Contiguous().Data(), x.Value.Contiguous().Data())
		x.accumulate(gx)
	}, x)
}

// Abs returns |x| element-wise. The gradient is sign(x)·g, 0 at x = 0 as
// in PyTorch.
func Abs(x *Var) *Var {
	xd, out := unaryIn(x)
	o := out.Data()
	for i, v := range xd {
		o[i] = float32(math.Abs(float64(v)))
	}
	return result(out, func(g *tensor.Tensor) {
		gd := g.Contiguous().Data()
		xd := x.Value.Contiguous().Data()
		gx := tensor.New(x.Shape()...)
		d := gx.Data()
		for i, v := range xd {
			switch {
			case v > 0:
				d[i] = gd[i]
			case v < 0:
				d[i] = -gd[i]
			}
		}
		x.accumulate(gx)
	}, x)
}

// Sigmoid returns 1/(1+e^−x) element-wise.
func Sigmoid(x *Var) *Var {
	xd, out := unaryIn(x)
	o := out.Data()
	kernels.Sigmoid(o, xd)
	return result(out, func(g *tensor.Tensor) {
		gd := g.Contiguous().Data()
		gx := tensor.Empty(x.Shape()...)
		d := gx.Data()
		for i, y := range o {
			d[i] = gd[i] * y * (1 - y)
		}
		x.accumulate(gx)
	}, x)
}

// Tanh returns the hyperbolic tangent element-wise. The gradient is
// 1 - tanh(x)^2, from the saved output.
func Tanh(x *Var) *Var {
	xd, out := unaryIn(x)
	o := out.Data()
	kernels.Tanh(o, xd)
	return result(out, func(g *tensor.Tensor) {
		gx := tensor.Empty(x.Shape()...)
		kernels.TanhBackward(gx.Data(), g.Contiguous().Data(), o)
		x.accumulate(gx)
	}, x)
}

// Gelu returns x·Φ(x) with the exact Gaussian CDF Φ(x) = ½(1+erf(x/√2)),
// PyTorch's default (approximate='none'). The gradient is
// Φ(x) + x·φ(x).
func Gelu(x *Var) *Var {
	xd, out := unaryIn(x)
	kernels.Gelu(out.Data(), xd)
	return result(out, func(g *tensor.Tensor) {
		gx := tensor.Empty(x.Shape()...)
		kernels.GeluBackward(gx.Data(), g.Contiguous().Data(), x.Value.Contiguous().Data())
		x.accumulate(gx)
	}, x)
}

// QuickGelu returns x·σ(1.702·x), the GELU approximation used by OpenAI's
// CLIP. The gradient is σ(ax) + a·x·σ(ax)·(1−σ(ax)) with a = 1.702
// (kernels.QuickGeluBackward).
func QuickGelu(x *Var) *Var {
	xd, out := unaryIn(x)
	o := out.Data()
	parallelFor(len(o), 1, func(_, lo, hi int) { kernels.QuickGelu(o[lo:hi], xd[lo:hi]) })
	return result(out, func(g *tensor.Tensor) {
		gd := g.Contiguous().Data()
		xd := x.Value.Contiguous().Data()
		gx := tensor.Empty(x.Shape()...)
		d := gx.Data()
		parallelFor(len(d), 1, func(_, lo, hi int) { kernels.QuickGeluBackward(d[lo:hi], gd[lo:hi], xd[lo:hi]) })
		x.accumulate(gx)
	}, x)
}

// Dropout zeroes each element of x with probability p and scales the
// survivors by 1/(1−p) (inverted dropout), drawing the mask from rng.
// When train is false or p is 0 it returns x itself. p = 1 zeroes
// everything. The backward multiplies by the same mask. It panics if p is
// outside [0, 1] or rng is nil while dropping.
func Dropout(x *Var, p float32, rng *rand.Rand, train bool) *Var {
	if !(p >= 0 && p <= 1) {
		panic(fmt.Sprintf("autograd.Dropout: probability %v outside [0, 1]", p))
	}
	if !train || p == 0 {
		return x
	}
	if rng == nil {
		panic("autograd.Dropout: nil rng in training mode")
	}
	xd, out := unaryIn(x)
	o := out.Data()
	mask := tensor.Buffer(len(xd))
	if p < 1 {
		scale := 1 / (1 - p)
		for i := range mask {
			if rng.Float32() >= p {
				mask[i] = scale
			}
		}
	}
	kernels.Mul(o, xd, mask)
	return result(out, func(g *tensor.Tensor) {
		gx := tensor.Empty(x.Shape()...)
		kernels.Mul(gx.Data(), g.Contiguous().Data(), mask)
		x.accumulate(gx)
	}, x)
}
