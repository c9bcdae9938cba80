package autograd

import (
	"fmt"
	"math"

	"github.com/softcpt/softcpt-go/tensor"
)

// poolGeom holds the sizes of one pooling call over NCHW input.
type poolGeom struct {
	planes, h, w   int // planes = N·C
	k, s, p        int
	oh, ow         int
	inPlane, outPl int
}

func newPoolGeom(op string, xs []int, kernel, stride, padding int) poolGeom {
	if len(xs) != 4 {
		panic(fmt.Sprintf("autograd.%s: input %v is not 4-D (NCHW)", op, xs))
	}
	if stride == 0 {
		stride = kernel
	}
	if kernel <= 0 || stride <= 0 || padding < 0 || 2*padding > kernel {
		panic(fmt.Sprintf("autograd.%s: kernel %d, stride %d, padding %d invalid for input %v (need kernel > 0, stride > 0, 0 ≤ padding ≤ kernel/2)", op, kernel, stride, padding, xs))
	}
	g := poolGeom{planes: xs[0] * xs[1], h: xs[2], w: xs[3], k: kernel, s: stride, p: padding}
	if g.h+2*padding < kernel || g.w+2*padding < kernel {
		panic(fmt.Sprintf("autograd.%s: kernel %d larger than padded input %v (padding %d)", op, kernel, xs, padding))
	}
	g.oh = (g.h+2*padding-kernel)/stride + 1
	g.ow = (g.w+2*padding-kernel)/stride + 1
	g.inPlane, g.outPl = g.h*g.w, g.oh*g.ow
	return g
}

// window returns the clipped input window [h0,h1)×[w0,w1) of output (oh, ow).
func (g *poolGeom) window(oh, ow int) (h0, h1, w0, w1 int) {
	h0, w0 = oh*g.s-g.p, ow*g.s-g.p
	h1, w1 = min(h0+g.k, g.h), min(w0+g.k, g.w)
	return max(h0, 0), h1, max(w0, 0), w1
}

// AvgPool2d is PyTorch's avg_pool2d over NCHW input with a square kernel,
// floor output size and count_include_pad=true: every output is the sum of
// its window divided by kernel², padding counting as zeros. A zero stride
// means stride = kernel (PyTorch's default), so AvgPool2d(x, 2, 0, 0) is
// CLIP's nn.AvgPool2d(2). Padding must be at most kernel/2.
func AvgPool2d(x *Var, kernel, stride, padding int) *Var {
	g := newPoolGeom("AvgPool2d", x.Shape(), kernel, stride, padding)
	xs := x.Shape()
	xd := x.Value.Contiguous().Data()
	out := tensor.New(xs[0], xs[1], g.oh, g.ow)
	od := out.Data()
	inv := 1 / float32(g.k*g.k)
	for pl := 0; pl < g.planes; pl++ {
		xp := xd[pl*g.inPlane : (pl+1)*g.inPlane]
		op := od[pl*g.outPl : (pl+1)*g.outPl]
		for oh := 0; oh < g.oh; oh++ {
			for ow := 0; ow < g.ow; ow++ {
				h0, h1, w0, w1 := g.window(oh, ow)
				var s float32
				for ih := h0; ih < h1; ih++ {
					for _, v := range xp[ih*g.w+w0 : ih*g.w+w1] {
						s += v
					}
				}
				op[oh*g.ow+ow] = s * inv
			}
		}
	}
	return result(out, func(gt *tensor.Tensor) {
		gd := gt.Contiguous().Data()
		gx := tensor.New(xs...)
		gxd := gx.Data()
		for pl := 0; pl < g.planes; pl++ {
			dp := gxd[pl*g.inPlane : (pl+1)*g.inPlane]
			gp := gd[pl*g.outPl : (pl+1)*g.outPl]
			for oh := 0; oh < g.oh; oh++ {
				for ow := 0; ow < g.ow; ow++ {
					h0, h1, w0, w1 := g.window(oh, ow)
					v := gp[oh*g.ow+ow] * inv
					for ih := h0; ih < h1; ih++ {
						row := dp[ih*g.w+w0 : ih*g.w+w1]
						for i := range row {
							row[i] += v
						}
					}
				}
			}
		}
		x.accumulate(gx)
	}, x)
}

// MaxPool2d is PyTorch's max_pool2d over NCHW input with a square kernel,
// floor output size and no dilation; padding acts as −∞. A zero stride
// means stride = kernel. The gradient goes to the first maximal element of
// each window (PyTorch's CPU tie rule); a NaN in a window wins (the last
// one, as in PyTorch). Padding must
// be at most kernel/2.
func MaxPool2d(x *Var, kernel, stride, padding int) *Var {
	g := newPoolGeom("MaxPool2d", x.Shape(), kernel, stride, padding)
	xs := x.Shape()
	xd := x.Value.Contiguous().Data()
	out := tensor.New(xs[0], xs[1], g.oh, g.ow)
	od := out.Data()
	arg := make([]int32, len(od)) // index of the maximum within its plane
	negInf := float32(math.Inf(-1))
	for pl := 0; pl < g.planes; pl++ {
		xp := xd[pl*g.inPlane : (pl+1)*g.inPlane]
		op := od[pl*g.outPl : (pl+1)*g.outPl]
		ap := arg[pl*g.outPl : (pl+1)*g.outPl]
		for oh := 0; oh < g.oh; oh++ {
			for ow := 0; ow < g.ow; ow++ {
				h0, h1, w0, w1 := g.window(oh, ow)
				best, bi := negInf, h0*g.w+w0
				for ih := h0; ih < h1; ih++ {
					for iw := w0; iw < w1; iw++ {
						v := xp[ih*g.w+iw]
						if v > best || v != v {
							best, bi = v, ih*g.w+iw
						}
					}
				}
				op[oh*g.ow+ow] = best
				ap[oh*g.ow+ow] = int32(bi)
			}
		}
	}
	return result(out, func(gt *tensor.Tensor) {
		gd := gt.Contiguous().Data()
		gx := tensor.New(xs...)
		gxd := gx.Data()
		for pl := 0; pl < g.planes; pl++ {
			dp := gxd[pl*g.inPlane : (pl+1)*g.inPlane]
			for i, a := range arg[pl*g.outPl : (pl+1)*g.outPl] {
				dp[a] += gd[pl*g.outPl+i]
			}
		}
		x.accumulate(gx)
	}, x)
}

// GlobalAvgPool2d averages each channel of NCHW input over its spatial
// positions, giving [N, C] (adaptive_avg_pool2d to 1×1, flattened).
func GlobalAvgPool2d(x *Var) *Var {
	xs := x.Shape()
	if len(xs) != 4 || xs[2]*xs[3] == 0 {
		panic(fmt.Sprintf("autograd.GlobalAvgPool2d: input %v is not non-empty 4-D (NCHW)", xs))
	}
	plane := xs[2] * xs[3]
	xd := x.Value.Contiguous().Data()
	out := tensor.New(xs[0], xs[1])
	od := out.Data()
	inv := 1 / float32(plane)
	for pl := range od {
		var s float32
		for _, v := range xd[pl*plane : (pl+1)*plane] {
			s += v
		}
		od[pl] = s * inv
	}
	return result(out, func(gt *tensor.Tensor) {
		gd := gt.Contiguous().Data()
		gx := tensor.New(xs...)
		gxd := gx.Data()
		for pl, gv := range gd {
			v := gv * inv
			row := gxd[pl*plane : (pl+1)*plane]
			for i := range row {
				row[i] = v
			}
		}
		x.accumulate(gx)
	}, x)
}
