package autograd

import (
	"fmt"
	"math"

	"github.com/softcpt/softcpt-go/kernels"
	"github.com/softcpt/softcpt-go/tensor"
)

// sumSquares writes, for src viewed as [outer, n, inner], the sum over n
// of the squares at every (outer, inner) position into dst [outer*inner],
// accumulating in float64.
func sumSquares(dst []float64, src []float32, outer, n, inner int) {
	clear(dst)
	for a := 0; a < outer; a++ {
		acc := dst[a*inner : (a+1)*inner]
		for j := 0; j < n; j++ {
			for i, v := range src[(a*n+j)*inner : (a*n+j+1)*inner] {
				acc[i] += float64(v) * float64(v)
			}
		}
	}
}

// Norm returns the Euclidean norm of x along axis, like
// torch.linalg.vector_norm(x, 2, dim). The gradient x/‖x‖·g is taken as
// 0 where the norm is 0, as in PyTorch.
func Norm(x *Var, axis int, keepdim bool) *Var {
	axis = x.Value.Axis("Norm", axis)
	shape := x.Shape()
	outer, n, inner := reduceDims(shape, axis)
	xd := x.Value.Contiguous().Data()
	ss := make([]float64, outer*inner)
	sumSquares(ss, xd, outer, n, inner)
	out := tensor.New(reducedShape(shape, axis, keepdim)...)
	o := out.Data()
	for i, s := range ss {
		o[i] = float32(math.Sqrt(s))
	}
	return result(out, func(g *tensor.Tensor) {
		gd := g.Contiguous().Data()
		xd := x.Value.Contiguous().Data()
		gx := tensor.New(shape...)
		d := gx.Data()
		// scale[p] = g/‖x‖ per reduced position (0 where the norm is 0).
		scale := tensor.Buffer(len(o))
		for p, nv := range o {
			if nv != 0 {
				scale[p] = gd[p] / nv
			}
		}
		for a := 0; a < outer; a++ {
			sc := scale[a*inner : (a+1)*inner]
			for j := 0; j < n; j++ {
				lo, hi := (a*n+j)*inner, (a*n+j+1)*inner
				dr := d[lo:hi]
				for i, v := range xd[lo:hi] {
					dr[i] = v * sc[i]
				}
			}
		}
		x.accumulate(gx)
	}, x)
}

// L2Normalize returns x / max(‖x‖, eps) along axis, like
// torch.nn.functional.normalize(x, 2, dim, eps). (CLIP's x / x.norm(...)
// is eps = 0 for nonzero rows.) Where ‖x‖ >= eps the backward is
// (g − y·Σ g·y)/‖x‖; below eps the divisor is the constant eps. It panics
// if eps is negative.
func L2Normalize(x *Var, axis int, eps float32) *Var {
	if !(eps >= 0) {
		panic(fmt.Sprintf("autograd.L2Normalize: negative eps %v", eps))
	}
	axis = x.Value.Axis("L2Normalize", axis)
	shape := x.Shape()
	outer, n, inner := reduceDims(shape, axis)
	xd := x.Value.Contiguous().Data()
	ss := make([]float64, outer*inner)
	sumSquares(ss, xd, outer, n, inner)
	// inv[p] = 1/max(‖x‖, eps); through[p] says whether the gradient flows
	// through the norm (‖x‖ >= eps).
	inv := tensor.Buffer(len(ss))
	through := make([]bool, len(ss))
	for p, s := range ss {
		nv := float32(math.Sqrt(s))
		through[p] = nv >= eps
		inv[p] = 1 / max(nv, eps)
	}
	out := tensor.New(shape...)
	y := out.Data()
	for a := 0; a < outer; a++ {
		iv := inv[a*inner : (a+1)*inner]
		for j := 0; j < n; j++ {
			lo, hi := (a*n+j)*inner, (a*n+j+1)*inner
			yr := y[lo:hi]
			for i, v := range xd[lo:hi] {
				yr[i] = v * iv[i]
			}
		}
	}
	return result(out, func(g *tensor.Tensor) {
		gd := g.Contiguous().Data()
		gx := tensor.New(shape...)
		d := gx.Data()
		dot := tensor.Buffer(inner)
		for a := 0; a < outer; a++ {
			iv := inv[a*inner : (a+1)*inner]
			th := through[a*inner : (a+1)*inner]
			clear(dot)
			for j := 0; j < n; j++ {
				lo, hi := (a*n+j)*inner, (a*n+j+1)*inner
				yr := y[lo:hi]
				for i, v := range gd[lo:hi] {
					dot[i] += v * yr[i]
				}
			}
			for i := range dot {
				if !th[i] {
					dot[i] = 0
				}
			}
			for j := 0; j < n; j++ {
				lo, hi := (a*n+j)*inner, (a*n+j+1)*inner
				yr, dr := y[lo:hi], d[lo:hi]
				for i, v := range gd[lo:hi] {
					dr[i] = (v - yr[i]*dot[i]) * iv[i]
				}
			}
		}
		x.accumulate(gx)
	}, x)
}

// LayerNorm normalises x over its last axis to zero mean and unit
// (biased) variance, then applies the affine gamma·x̂ + beta, like
// torch.nn.functional.layer_norm(x, [D], gamma, beta, eps). gamma and
// beta have shape [D] and may each be nil (no scale / no shift). Forward
// and backward run on kernels.LayerNormRows / LayerNormRowsBackward
// (float32 statistics, two-pass variance), rows split across
// goroutines for large inputs. It panics on a scalar or empty
// last axis or a gamma/beta of the wrong shape.
func LayerNorm(x, gamma, beta *Var, eps float32) *Var {
	shape := x.Shape()
	if len(shape) == 0 || shape[len(shape)-1] == 0 {
		panic(fmt.Sprintf("autograd.LayerNorm: input of shape %v has no last axis to normalise", shape))
	}
	dim := shape[len(shape)-1]
	for _, p := range []struct {
		name string
		v    *Var
	}{{"gamma", gamma}, {"beta", beta}} {
		if p.v != nil && !tensor.SameShape(p.v.Shape(), []int{dim}) {
			panic(fmt.Sprintf("autograd.LayerNorm: %s of shape %v for input of shape %v", p.name, p.v.Shape(), shape))
		}
	}
	rows := x.Value.Numel() / dim
	xd := x.Value.Contiguous().Data()
	var gd, bd []float32
	if gamma != nil {
		gd = gamma.Value.Contiguous().Data()
	}
	if beta != nil {
		bd = beta.Value.Contiguous().Data()
	}
	mean := tensor.Buffer(rows)
	rstd := tensor.Buffer(rows)
	out := tensor.Empty(shape...)
	y := out.Data()
	parallelFor(rows, dim, func(_, lo, hi int) {
		kernels.LayerNormRows(y[lo*dim:hi*dim], mean[lo:hi], rstd[lo:hi], xd[lo*dim:hi*dim], gd, bd, hi-lo, dim, eps)
	})
	parents := []*Var{x}
	if gamma != nil {
		parents = append(parents, gamma)
	}
	if beta != nil {
		parents = append(parents, beta)
	}
	return result(out, func(g *tensor.Tensor) {
		gy := g.Contiguous().Data()
		xd := x.Value.Contiguous().Data()
		// The kernel always writes dx; gamma and beta gradients are summed
		// per chunk and then reduced in chunk order (deterministic).
		gx := tensor.Empty(shape...)
		dx := gx.Data()
		needG := gamma != nil && gamma.requiresGrad
		needB := beta != nil && beta.requiresGrad
		k := parallelChunks(rows, dim)
		var pg, pb []float32
		if needG {
			pg = tensor.Buffer(k * dim)
		}
		if needB {
			pb = tensor.Buffer(k * dim)
		}
		parallelFor(rows, dim, func(c, lo, hi int) {
			var dg, db []float32
			if needG {
				dg = pg[c*dim : (c+1)*dim]
			}
			if needB {
				db = pb[c*dim : (c+1)*dim]
			}
			kernels.LayerNormRowsBackward(dx[lo*dim:hi*dim], dg, db, gy[lo*dim:hi*dim], xd[lo*dim:hi*dim], mean[lo:hi], rstd[lo:hi], gd, hi-lo, dim)
		})
		x.accumulate(gx)
		if needG {
			gamma.accumulate(reduceChunks(pg, k, dim))
		}
		if needB {
			beta.accumulate(reduceChunks(pb, k, dim))
		}
	}, parents...)
}

// reduceChunks sums k consecutive partial vectors of length n into a new
// [n] tensor.
func reduceChunks(p []float32, k, n int) *tensor.Tensor {
	out := tensor.FromSlice(p[:n:n], n)
	d := out.Data()
	for c := 1; c < k; c++ {
		kernels.Add(d, d, p[c*n:(c+1)*n])
	}
	return out
}
