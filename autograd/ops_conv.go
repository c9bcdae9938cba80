package autograd

import (
	"fmt"
	"sync"

	"github.com/softcpt/softcpt-go/kernels"
	"github.com/softcpt/softcpt-go/tensor"
)

// Conv2dOptions configures Conv2d. Zero strides and dilations mean 1 and a
// zero Groups means 1, so the zero value is a stride-1, unpadded,
// ungrouped convolution.
type Conv2dOptions struct {
	StrideH, StrideW     int // step between output positions (default 1)
	PadH, PadW           int // implicit zero padding on both sides
	DilationH, DilationW int // spacing between kernel taps (default 1)
	Groups               int // input/output channel groups (default 1)
}

// conv2dGeom holds the sizes of one Conv2d call.
type conv2dGeom struct {
	n, cin, h, w      int // input
	cout, kh, kw      int // weight [cout, cin/groups, kh, kw]
	oh, ow            int // output spatial size
	sh, sw, ph, pw    int
	dh, dw            int
	groups            int
	cinG, coutG       int // channels per group
	kg                int // rows of one group's columns: cinG·kh·kw
	direct            bool
	inPlane, outPlane int // h·w and oh·ow
	inImage, outImage int // cin·h·w and cout·oh·ow
	colRows, colsLen  int // cin·kh·kw rows of columns; floats per image
}

func newConv2dGeom(xs, ws []int, opt Conv2dOptions) conv2dGeom {
	if len(xs) != 4 || len(ws) != 4 {
		panic(fmt.Sprintf("autograd.Conv2d: input %v and weight %v must both be 4-D (NCHW, [out, in/groups, kh, kw])", xs, ws))
	}
	g := conv2dGeom{n: xs[0], cin: xs[1], h: xs[2], w: xs[3], cout: ws[0], kh: ws[2], kw: ws[3]}
	g.sh, g.sw = max(opt.StrideH, 1), max(opt.StrideW, 1)
	g.dh, g.dw = max(opt.DilationH, 1), max(opt.DilationW, 1)
	g.ph, g.pw = opt.PadH, opt.PadW
	g.groups = max(opt.Groups, 1)
	if opt.StrideH < 0 || opt.StrideW < 0 || opt.DilationH < 0 || opt.DilationW < 0 || g.ph < 0 || g.pw < 0 || opt.Groups < 0 {
		panic(fmt.Sprintf("autograd.Conv2d: negative option in %+v (input %v, weight %v)", opt, xs, ws))
	}
	if g.cin%g.groups != 0 || g.cout%g.groups != 0 || ws[1]*g.groups != g.cin {
		panic(fmt.Sprintf("autograd.Conv2d: input %v and weight %v do not fit %d groups", xs, ws, g.groups))
	}
	g.cinG, g.coutG = g.cin/g.groups, g.cout/g.groups
	effH, effW := g.dh*(g.kh-1)+1, g.dw*(g.kw-1)+1
	if g.kh == 0 || g.kw == 0 || g.h+2*g.ph < effH || g.w+2*g.pw < effW {
		panic(fmt.Sprintf("autograd.Conv2d: kernel %v (dilation %d×%d) larger than padded input %v (padding %d×%d)", ws, g.dh, g.dw, xs, g.ph, g.pw))
	}
	g.oh = (g.h+2*g.ph-effH)/g.sh + 1
	g.ow = (g.w+2*g.pw-effW)/g.sw + 1
	g.kg = g.cinG * g.kh * g.kw
	g.direct = g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0
	g.inPlane, g.outPlane = g.h*g.w, g.oh*g.ow
	g.inImage, g.outImage = g.cin*g.inPlane, g.cout*g.outPlane
	g.colRows = g.cin * g.kh * g.kw
	g.colsLen = g.colRows * g.outPlane
	return g
}

// convColPool recycles im2col buffers between calls so that a training loop
// does not allocate one image's columns per convolution.
var convColPool sync.Pool

func getConvCols(n int) *[]float32 {
	if p, ok := convColPool.Get().(*[]float32); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	s := make([]float32, n) // pooled across calls: not from an arena
	return &s
}

func putConvCols(p *[]float32) { convColPool.Put(p) }

// Conv2d is PyTorch's conv2d (cross-correlation) over NCHW input:
// x [N, Cin, H, W], w [Cout, Cin/Groups, KH, KW] and an optional bias b
// [Cout] (nil for none) give [N, Cout, OH, OW] with
// OH = (H + 2·PadH − DilationH·(KH−1) − 1)/StrideH + 1 (likewise OW).
//
// Images are lowered to columns (im2col) and multiplied by the weight with
// kernels.Sgemm, through kernels.Conv2dForward/Conv2dBackward (which bound
// the column buffer and pool it) or, for Groups > 1, one image at a time
// with one GEMM per group. 1×1 stride-1 unpadded convolutions skip the
// lowering and multiply the image directly. The backward pass recomputes
// the columns rather than storing them: dW = Σ dY·colsᵀ,
// dX = col2im(Wᵀ·dY), db = Σ dY.
// Gradients flow to x, w and b. Shape mismatches panic naming the op.
func Conv2d(x, w, b *Var, opt Conv2dOptions) *Var {
	g := newConv2dGeom(x.Shape(), w.Shape(), opt)
	if b != nil && (b.Value.NDim() != 1 || b.Value.Dim(0) != g.cout) {
		panic(fmt.Sprintf("autograd.Conv2d: bias %v does not fit weight %v", b.Shape(), w.Shape()))
	}
	xd, wd := x.Value.Contiguous().Data(), w.Value.Contiguous().Data()
	var bd []float32
	if b != nil {
		bd = b.Value.Contiguous().Data()
	}
	out := tensor.New(g.n, g.cout, g.oh, g.ow)
	conv2dForward(&g, xd, wd, bd, out.Data())
	parents := []*Var{x, w}
	if b != nil {
		parents = append(parents, b)
	}
	return result(out, func(gt *tensor.Tensor) {
		gd := gt.Contiguous().Data()
		var gx, gw []float32
		var gxT, gwT *tensor.Tensor
		if x.requiresGrad {
			gxT = tensor.New(x.Shape()...)
			gx = gxT.Data()
		}
		if w.requiresGrad {
			gwT = tensor.New(w.Shape()...)
			gw = gwT.Data()
		}
		conv2dBackward(&g, xd, wd, gd, gx, gw)
		if gxT != nil {
			x.accumulate(gxT)
		}
		if gwT != nil {
			w.accumulate(gwT)
		}
		if b != nil && b.requiresGrad {
			gb := tensor.New(g.cout)
			gbd := gb.Data()
			for n := 0; n < g.n; n++ {
				for co := 0; co < g.cout; co++ {
					var s float32
					for _, v := range gd[n*g.outImage+co*g.outPlane:][:g.outPlane] {
						s += v
					}
					gbd[co] += s
				}
			}
			b.accumulate(gb)
		}
	}, parents...)
}

// kshape returns the kernels-package description of one group's
// convolution over the whole batch (C is the full input channel count,
// which is what Im2col and Col2im expect).
func (g *conv2dGeom) kshape() kernels.Conv2dShape {
	return kernels.Conv2dShape{N: g.n, C: g.cin, H: g.h, W: g.w, K: g.cout, KH: g.kh, KW: g.kw,
		StrideH: g.sh, StrideW: g.sw, PadH: g.ph, PadW: g.pw, DilH: g.dh, DilW: g.dw}
}

// conv2dForward computes y = conv(x, w) + b for the whole batch. Ungrouped
// convolutions use kernels.Conv2dForward; grouped ones lower each image
// with kernels.Im2col and run one GEMM per group.
func conv2dForward(g *conv2dGeom, x, w, b, y []float32) {
	if g.groups == 1 {
		kernels.Conv2dForward(g.kshape(), x, w, b, y)
		return
	}
	var colsBuf *[]float32
	if !g.direct {
		colsBuf = getConvCols(g.colsLen)
		defer putConvCols(colsBuf)
	}
	p := g.outPlane
	for n := 0; n < g.n; n++ {
		xn := x[n*g.inImage : (n+1)*g.inImage]
		yn := y[n*g.outImage : (n+1)*g.outImage]
		cols := xn
		if !g.direct {
			cols = *colsBuf
			kernels.Im2col(g.kshape(), xn, cols)
		}
		beta := float32(0)
		if b != nil {
			for co, bv := range b {
				row := yn[co*p : (co+1)*p]
				for i := range row {
					row[i] = bv
				}
			}
			beta = 1
		}
		for gr := 0; gr < g.groups; gr++ {
			// y_g [coutG, p] = w_g [coutG, kg] · cols_g [kg, p]
			kernels.Sgemm(false, false, g.coutG, p, g.kg, 1,
				w[gr*g.coutG*g.kg:], g.kg, cols[gr*g.kg*p:], p, beta, yn[gr*g.coutG*p:], p)
		}
	}
}

// conv2dBackward writes dW (into gw) and dX (into gx) from the output
// gradient gy; either destination may be nil to skip it.
func conv2dBackward(g *conv2dGeom, x, w, gy, gx, gw []float32) {
	if gx == nil && gw == nil {
		return
	}
	if g.groups == 1 {
		kernels.Conv2dBackward(g.kshape(), x, w, gy, gx, gw, nil)
		return
	}
	var colsBuf *[]float32
	if !g.direct {
		colsBuf = getConvCols(g.colsLen)
		defer putConvCols(colsBuf)
	}
	p := g.outPlane
	for n := 0; n < g.n; n++ {
		xn := x[n*g.inImage : (n+1)*g.inImage]
		gyn := gy[n*g.outImage : (n+1)*g.outImage]
		if gw != nil {
			cols := xn
			if !g.direct {
				cols = *colsBuf
				kernels.Im2col(g.kshape(), xn, cols)
			}
			beta := float32(1)
			if n == 0 {
				beta = 0
			}
			for gr := 0; gr < g.groups; gr++ {
				// dW_g [coutG, kg] += dY_g [coutG, p] · cols_gᵀ [p, kg]
				kernels.Sgemm(false, true, g.coutG, g.kg, p, 1,
					gyn[gr*g.coutG*p:], p, cols[gr*g.kg*p:], p, beta, gw[gr*g.coutG*g.kg:], g.kg)
			}
		}
		if gx != nil {
			gxn := gx[n*g.inImage : (n+1)*g.inImage]
			dcols := gxn
			if !g.direct {
				dcols = *colsBuf
			}
			for gr := 0; gr < g.groups; gr++ {
				// dcols_g [kg, p] = W_gᵀ [kg, coutG] · dY_g [coutG, p]
				kernels.Sgemm(true, false, g.kg, p, g.coutG, 1,
					w[gr*g.coutG*g.kg:], g.kg, gyn[gr*g.coutG*p:], p, 0, dcols[gr*g.kg*p:], p)
			}
			if !g.direct {
				kernels.Col2im(g.kshape(), dcols, gxn)
			}
		}
	}
}
