package kernels

import (
	"fmt"
	"runtime"
	"sync"

	"golang.org/x/sync/errgroup"
)

// Conv2dShape describes a 2-D convolution over NCHW tensors (cross-
// correlation, as in PyTorch's conv2d, without groups):
//
//	x:   N×C×H×W input
//	w:   K×C×KH×KW filters (row-major, i.e. K rows of C·KH·KW)
//	out: N×K×OH×OW output, OH = (H + 2·PadH − DilH·(KH−1) − 1)/StrideH + 1
//
// Zero StrideH/StrideW/DilH/DilW mean 1.
type Conv2dShape struct {
	N, C, H, W       int // input batch, channels, height, width
	K                int // output channels
	KH, KW           int // filter height and width
	StrideH, StrideW int
	PadH, PadW       int
	DilH, DilW       int
}

func orOne(v int) int {
	if v == 0 {
		return 1
	}
	return v
}

// OutH returns the output height.
func (s Conv2dShape) OutH() int {
	return (s.H+2*s.PadH-orOne(s.DilH)*(s.KH-1)-1)/orOne(s.StrideH) + 1
}

// OutW returns the output width.
func (s Conv2dShape) OutW() int {
	return (s.W+2*s.PadW-orOne(s.DilW)*(s.KW-1)-1)/orOne(s.StrideW) + 1
}

// ColRows returns the number of rows of one image's im2col matrix, C·KH·KW.
func (s Conv2dShape) ColRows() int { return s.C * s.KH * s.KW }

// ColCols returns the number of columns of one image's im2col matrix, OH·OW.
func (s Conv2dShape) ColCols() int { return s.OutH() * s.OutW() }

// Flops returns the multiply-add flop count (2 per MAC) of the forward pass.
func (s Conv2dShape) Flops() float64 {
	return 2 * float64(s.N) * float64(s.K) * float64(s.ColRows()) * float64(s.ColCols())
}

// check panics, naming op, if the shape is invalid.
func (s Conv2dShape) check(op string) {
	if s.N < 0 || s.C < 1 || s.H < 1 || s.W < 1 || s.K < 0 || s.KH < 1 || s.KW < 1 ||
		s.StrideH < 0 || s.StrideW < 0 || s.PadH < 0 || s.PadW < 0 || s.DilH < 0 || s.DilW < 0 ||
		s.OutH() < 1 || s.OutW() < 1 {
		panic(fmt.Sprintf("kernels.%s: invalid conv shape %+v (out %d×%d)", op, s, s.OutH(), s.OutW()))
	}
}

func checkLen(op, name string, x []float32, want int) {
	if len(x) < want {
		panic(fmt.Sprintf("kernels.%s: len(%s)=%d < %d", op, name, len(x), want))
	}
}

// Im2col unrolls one C×H×W image x into col, the (C·KH·KW)×(OH·OW)
// row-major matrix whose row (c·KH+i)·KW+j, column oh·OW+ow holds
// x[c, oh·StrideH−PadH+i·DilH, ow·StrideW−PadW+j·DilW] (zero outside x).
// Then the convolution of the image is the matrix product w·col. s.N is
// ignored.
func Im2col(s Conv2dShape, x, col []float32) {
	s.check("Im2col")
	checkLen("Im2col", "x", x, s.C*s.H*s.W)
	checkLen("Im2col", "col", col, s.ColRows()*s.ColCols())
	im2col(s, x, col, s.ColCols())
}

// Col2im is the adjoint of Im2col: it overwrites the C×H×W image x with the
// sum, over the (C·KH·KW)×(OH·OW) matrix col, of each entry added at the
// input position Im2col read it from (entries that fell into the padding are
// dropped). It is the data gradient step of a convolution. s.N is ignored.
func Col2im(s Conv2dShape, col, x []float32) {
	s.check("Col2im")
	checkLen("Col2im", "x", x, s.C*s.H*s.W)
	checkLen("Col2im", "col", col, s.ColRows()*s.ColCols())
	clear(x[:s.C*s.H*s.W])
	col2im(s, col, s.ColCols(), x)
}

// im2col writes one image's im2col matrix into col with row stride ld.
func im2col(s Conv2dShape, x, col []float32, ld int) {
	oh, ow := s.OutH(), s.OutW()
	sh, sw, dh, dw := orOne(s.StrideH), orOne(s.StrideW), orOne(s.DilH), orOne(s.DilW)
	row := 0
	for c := 0; c < s.C; c++ {
		xc := x[c*s.H*s.W : (c+1)*s.H*s.W]
		for i := 0; i < s.KH; i++ {
			for j := 0; j < s.KW; j++ {
				dst := col[row*ld : row*ld+oh*ow]
				row++
				// Valid output columns: 0 <= ow*sw - PadW + j*dw < W.
				off := j*dw - s.PadW
				lo, hi := validRange(off, sw, s.W, ow)
				for y := 0; y < oh; y++ {
					d := dst[y*ow : (y+1)*ow]
					iy := y*sh - s.PadH + i*dh
					if iy < 0 || iy >= s.H || lo >= hi {
						clear(d)
						continue
					}
					xr := xc[iy*s.W : (iy+1)*s.W]
					if ow >= 64 {
						clear(d[:lo])
						clear(d[hi:])
					} else {
						// Short rows: plain loops beat the call
						// overhead of memclr/memmove.
						for q := 0; q < lo; q++ {
							d[q] = 0
						}
						for q := hi; q < ow; q++ {
							d[q] = 0
						}
					}
					switch {
					case sw == 1 && hi-lo >= 32:
						copy(d[lo:hi], xr[lo+off:hi+off])
					case sw == 1:
						src := xr[lo+off : hi+off]
						dd := d[lo:hi]
						for q := range dd {
							dd[q] = src[q]
						}
					default:
						for q := lo; q < hi; q++ {
							d[q] = xr[q*sw+off]
						}
					}
				}
			}
		}
	}
}

// col2im adds one image's im2col matrix (row stride ld) back into x.
func col2im(s Conv2dShape, col []float32, ld int, x []float32) {
	oh, ow := s.OutH(), s.OutW()
	sh, sw, dh, dw := orOne(s.StrideH), orOne(s.StrideW), orOne(s.DilH), orOne(s.DilW)
	row := 0
	for c := 0; c < s.C; c++ {
		xc := x[c*s.H*s.W : (c+1)*s.H*s.W]
		for i := 0; i < s.KH; i++ {
			for j := 0; j < s.KW; j++ {
				src := col[row*ld : row*ld+oh*ow]
				row++
				off := j*dw - s.PadW
				lo, hi := validRange(off, sw, s.W, ow)
				if lo >= hi {
					continue
				}
				for y := 0; y < oh; y++ {
					iy := y*sh - s.PadH + i*dh
					if iy < 0 || iy >= s.H {
						continue
					}
					xr := xc[iy*s.W : (iy+1)*s.W]
					sr := src[y*ow : (y+1)*ow]
					for q := lo; q < hi; q++ {
						xr[q*sw+off] += sr[q]
					}
				}
			}
		}
	}
}

// validRange returns [lo, hi), the output columns q in [0, n) for which
// q*stride + off lies in [0, w).
func validRange(off, stride, w, n int) (lo, hi int) {
	if off < 0 {
		lo = (-off + stride - 1) / stride
	}
	if w-off <= 0 {
		return 0, 0
	}
	hi = min(n, (w-off+stride-1)/stride)
	if lo > hi {
		lo = hi
	}
	return lo, hi
}

// convScratch holds the pooled buffers of a batched convolution: the
// grouped im2col matrix and the grouped K×(G·OH·OW) product.
type convScratch struct {
	col, prod []float32
}

var convPool sync.Pool // of *convScratch

func getConvScratch(ncol, nprod int) *convScratch {
	sc, _ := convPool.Get().(*convScratch)
	if sc == nil {
		sc = &convScratch{}
	}
	if cap(sc.col) < ncol {
		sc.col = make([]float32, ncol)
	}
	if cap(sc.prod) < nprod {
		sc.prod = make([]float32, nprod)
	}
	sc.col, sc.prod = sc.col[:ncol], sc.prod[:nprod]
	return sc
}

// convMaxCol bounds the grouped im2col buffer (in float32 elements).
const convMaxCol = 1 << 22

// convGroup returns how many images to unroll together: enough to give the
// GEMM a wide N, within convMaxCol.
func convGroup(s Conv2dShape) int {
	per := s.ColRows() * s.ColCols()
	return max(1, min(s.N, convMaxCol/max(1, per)))
}

// isPointwise reports whether the convolution is a plain 1×1, stride-1,
// unpadded one, whose im2col matrix is the image itself.
func (s Conv2dShape) isPointwise() bool {
	return s.KH == 1 && s.KW == 1 && orOne(s.StrideH) == 1 && orOne(s.StrideW) == 1 && s.PadH == 0 && s.PadW == 0
}

// parallelImages runs f(img, g) for the images [n0, n0+g) of a group on up
// to GOMAXPROCS goroutines.
func parallelImages(n0, g int, f func(img, slot int)) {
	workers := min(g, runtime.GOMAXPROCS(0))
	if workers <= 1 {
		for i := 0; i < g; i++ {
			f(n0+i, i)
		}
		return
	}
	var eg errgroup.Group
	for w := 0; w < workers; w++ {
		eg.Go(func() error {
			for i := w * g / workers; i < (w+1)*g/workers; i++ {
				f(n0+i, i)
			}
			return nil
		})
	}
	_ = eg.Wait()
}

// Conv2dForward computes out = conv2d(x, w) + bias for a batch, overwriting
// out. Layouts (row-major): x is N×C×H×W, w is K×C×KH×KW, bias is K or nil,
// out is N×K×OH×OW. It unrolls groups of images with im2col into one
// (C·KH·KW)×(G·OH·OW) matrix and multiplies by w with Sgemm (1×1 stride-1
// unpadded convolutions over large images skip im2col and run one GEMM per
// image). Buffers are pooled. It panics, naming Conv2dForward, on an invalid
// shape or short slices.
func Conv2dForward(s Conv2dShape, x, w, bias, out []float32) {
	conv2dForwardEp(s, "Conv2dForward", x, w, ConvEpilogue{Bias: bias}, out, nil)
}

// ConvEpilogue is what Conv2dForwardFused applies to every output element
// y of the product, in one pass with the store of the output:
//
//	out = act(y + Bias[k] + Residual[n, k, oh, ow])
//
// where act is the identity, or max(·, 0) when ReLU is set. The additions
// are done in that order, so the result equals bit for bit a convolution
// with bias followed by an elementwise add of Residual and a ReLU.
type ConvEpilogue struct {
	Bias     []float32 // K, or nil for none
	Residual []float32 // N×K×OH×OW (the output's layout), or nil for none
	ReLU     bool      // clamp negative results to 0 (NaN stays NaN)
}

// Conv2dForwardFused is Conv2dForward with a fused epilogue (bias, residual
// add and ReLU written while the output is stored, instead of separate
// passes over it). out must not overlap x, w or ep.Residual. It panics, naming Conv2dForwardFused, on an invalid shape or
// short slices.
func Conv2dForwardFused(s Conv2dShape, x, w []float32, ep ConvEpilogue, out []float32) {
	conv2dForwardEp(s, "Conv2dForwardFused", x, w, ep, out, nil)
}

// pointwiseDirectMin is the smallest OH·OW at which 1×1 stride-1
// convolutions run one GEMM per image straight on the activation; smaller
// images are copied side by side so the batch shares one GEMM (one packing
// of the weights and fewer partial 32-column edge panels). Measured with
// BenchmarkConv2d/n2_* at GOMAXPROCS=1: at 7×7 sharing is 12–28% faster,
// at 14×14 the copy costs more than it saves (−15%).
const pointwiseDirectMin = 100

// conv2dForwardEp runs the convolution with the fp32 filters w, or, when
// wb is non-nil, with the bf16 filters wb (w unused) through gemmBF16Rows.
func conv2dForwardEp(s Conv2dShape, op string, x, w []float32, ep ConvEpilogue, out []float32, wb *BF16Rows) {
	s.check(op)
	crs, p := s.ColRows(), s.ColCols()
	checkLen(op, "x", x, s.N*s.C*s.H*s.W)
	if wb == nil {
		checkLen(op, "w", w, s.K*crs)
	}
	checkLen(op, "out", out, s.N*s.K*p)
	if ep.Bias != nil {
		checkLen(op, "bias", ep.Bias, s.K)
	}
	if ep.Residual != nil {
		checkLen(op, "residual", ep.Residual, s.N*s.K*p)
	}
	if s.N == 0 || s.K == 0 {
		return
	}
	imgIn, imgOut := s.C*s.H*s.W, s.K*p
	if s.isPointwise() && (p >= pointwiseDirectMin || s.N == 1) {
		for n := 0; n < s.N; n++ {
			o := out[n*imgOut : (n+1)*imgOut]
			xn := x[n*imgIn : (n+1)*imgIn]
			if wb != nil {
				gemmBF16Rows(wb, p, func(p0, kb, j0, nb, nr int, dst []float32, jp0, jp1 int) {
					packB(false, xn, p, p0, kb, j0, nb, nr, dst, jp0, jp1)
				}, o, p)
			} else {
				Sgemm(false, false, s.K, p, crs, 1, w, crs, xn, p, 0, o, p)
			}
			applyEpilogue(o, o, ep, n, s.K, p, p)
		}
		return
	}
	g := convGroup(s)
	ncol := crs * g * p
	if implicitIm2col || wb != nil {
		ncol = 0
	}
	sc := getConvScratch(ncol, s.K*g*p)
	defer convPool.Put(sc)
	for n0 := 0; n0 < s.N; n0 += g {
		gb := min(g, s.N-n0)
		ld := gb * p
		// gemm computes dst (K×ld, row stride ld) = w · the group's columns.
		gemm := func(dst []float32) {
			if wb != nil {
				gemmBF16Rows(wb, ld, s.im2colPacker(x, n0), dst, ld)
				return
			}
			if implicitIm2col {
				sgemmPackB(s.K, ld, crs, w, crs, s.im2colPacker(x, n0), dst, ld)
				return
			}
			col := sc.col[:crs*ld]
			parallelImages(n0, gb, func(img, slot int) {
				im2col(s, x[img*imgIn:(img+1)*imgIn], col[slot*p:], ld)
			})
			Sgemm(false, false, s.K, ld, crs, 1, w, crs, col, ld, 0, dst, ld)
		}
		if gb == 1 {
			o := out[n0*imgOut : (n0+1)*imgOut]
			gemm(o)
			applyEpilogue(o, o, ep, n0, s.K, p, p)
			continue
		}
		prod := sc.prod[:s.K*ld]
		gemm(prod)
		// Scatter K×(G·P) to G images of K×P, applying the epilogue.
		parallelImages(n0, gb, func(img, slot int) {
			applyEpilogue(out[img*imgOut:(img+1)*imgOut], prod[slot*p:], ep, img, s.K, p, ld)
		})
	}
}

// implicitIm2col selects packing the GEMM's B panels straight from the
// NCHW images (im2colPacker) over materialising the im2col matrix and
// packing that. Tests switch it to cover both paths.
var implicitIm2col = true

// colSeg is a run of consecutive im2col columns that lie in one output row
// of one image: n columns starting at panel column d, image offset img,
// output row oy, first output column ox.
type colSeg struct {
	d, n, img, oy, ox int
}

// im2colPacker returns the B-packing function of the GEMM w·col, where col
// is the (C·KH·KW)×(G·OH·OW) im2col matrix of the images n0, n0+1, … of x
// side by side (as im2col writes it with ld = G·OH·OW), without
// materialising col: each packed panel row is copied from the image rows.
func (s Conv2dShape) im2colPacker(x []float32, n0 int) bPackFunc {
	oh, ow := s.OutH(), s.OutW()
	p := oh * ow
	sw := orOne(s.StrideW)
	imgIn, khw, plane := s.C*s.H*s.W, s.KH*s.KW, s.H*s.W
	// A pointwise convolution's columns are the image planes themselves:
	// one segment per image instead of one per output row.
	pointwise := s.isPointwise()
	rowOut := ow
	if pointwise {
		rowOut = p
	}
	return func(p0, kb, j0, nb, nr int, dst []float32, jp0, jp1 int) {
		var segBuf [32]colSeg // nr ≤ 32: no allocation per call
		var geoBuf [9 * 32]segGeom
		segs := segBuf[:0]
		for jp := jp0; jp < jp1; jp++ {
			pan := dst[jp*nr*kb : (jp+1)*nr*kb]
			cols := min(nr, nb-jp*nr)
			jb := j0 + jp*nr
			segs = segs[:0]
			for j := jb; j < jb+cols; {
				slot, q := j/p, j%p
				oy, ox := q/rowOut, q%rowOut
				l := min(jb+cols-j, rowOut-ox)
				segs = append(segs, colSeg{d: j - jb, n: l, img: (n0 + slot) * imgIn, oy: oy, ox: ox})
				j += l
			}
			if pointwise {
				for pp := 0; pp < kb; pp++ {
					r := p0 + pp
					row := pan[pp*nr : (pp+1)*nr]
					if cols < nr {
						clear(row[cols:])
					}
					for _, sg := range segs {
						base := sg.img + r*plane + sg.ox
						copy(row[sg.d:sg.d+sg.n], x[base:base+sg.n])
					}
				}
				continue
			}
			// The geometry of every segment at every kernel offset (the
			// rows of one input channel), computed once per panel.
			ns := len(segs)
			geo := geoBuf[:0]
			if khw*ns > len(geoBuf) {
				geo = make([]segGeom, 0, khw*ns)
			}
			for rem := 0; rem < khw; rem++ {
				i, jj := rem/s.KW, rem%s.KW
				for _, sg := range segs {
					geo = append(geo, s.segGeometry(sg, i, jj))
				}
			}
			c, rem := p0/khw, p0%khw
			for pp := 0; pp < kb; pp++ {
				row := pan[pp*nr : (pp+1)*nr]
				if cols < nr {
					clear(row[cols:])
				}
				cb := c * plane
				for q, g := range geo[rem*ns : (rem+1)*ns] {
					sg := segs[q]
					d := row[sg.d : sg.d+sg.n]
					if g.lo >= g.hi {
						clear(d)
						continue
					}
					for t := 0; t < g.lo; t++ {
						d[t] = 0
					}
					for t := g.hi; t < len(d); t++ {
						d[t] = 0
					}
					src := cb + g.src
					switch {
					case sw == 1 && g.hi-g.lo >= 16:
						copy(d[g.lo:g.hi], x[src+g.lo:src+g.hi])
					case sw == 1:
						xs := x[src+g.lo : src+g.hi]
						dd := d[g.lo:g.hi]
						for t := range dd {
							dd[t] = xs[t]
						}
					default:
						for t := g.lo; t < g.hi; t++ {
							d[t] = x[src+t*sw]
						}
					}
				}
				if rem++; rem == khw {
					rem, c = 0, c+1
				}
			}
		}
	}
}

// segGeom is where a column segment's values come from at one kernel
// offset: element t ∈ [lo, hi) of the segment is x[c·H·W + src + t·sw] for
// input channel c; the elements outside [lo, hi) fall into the padding
// (all of them when lo ≥ hi).
type segGeom struct {
	src, lo, hi int
}

// segGeometry returns the geometry of segment sg at kernel offset (i, jj).
func (s Conv2dShape) segGeometry(sg colSeg, i, jj int) segGeom {
	sh, sw, dh, dw := orOne(s.StrideH), orOne(s.StrideW), orOne(s.DilH), orOne(s.DilW)
	iy := sg.oy*sh - s.PadH + i*dh
	if iy < 0 || iy >= s.H {
		return segGeom{}
	}
	off := sg.ox*sw - s.PadW + jj*dw
	lo, hi := validRange(off, sw, s.W, sg.n)
	if lo >= hi {
		return segGeom{}
	}
	return segGeom{src: sg.img + iy*s.W + off, lo: lo, hi: hi}
}

// applyEpilogue writes dst (image img's K×P output, row stride p) from src
// (K rows of P values, row stride ld; src may equal dst) through ep.
func applyEpilogue(dst, src []float32, ep ConvEpilogue, img, k, p, ld int) {
	var res []float32
	if ep.Residual != nil {
		res = ep.Residual[img*k*p : (img+1)*k*p]
	}
	for i := 0; i < k; i++ {
		var bk float32
		if ep.Bias != nil {
			bk = ep.Bias[i]
		}
		d := dst[i*p : (i+1)*p]
		sr := src[i*ld : i*ld+p]
		var r []float32
		if res != nil {
			r = res[i*p : (i+1)*p]
		}
		epilogueRow(d, sr, ep.Bias != nil, bk, r, ep.ReLU)
	}
}

// epilogueRow sets d[q] = act(s[q] + bk + r[q]) (bias only when hasBias,
// residual only when r is non-nil, ReLU when relu) with the vector kernels
// (AddScalar, Add, Relu: the same operations as the unfused passes, so the
// same values) over one output row, which stays in L1 between the steps.
func epilogueRow(d, s []float32, hasBias bool, bk float32, r []float32, relu bool) {
	s = s[:len(d)]
	switch {
	case hasBias:
		AddScalar(d, s, bk)
	case &d[0] != &s[0]:
		copy(d, s)
	}
	if r != nil {
		Add(d, d, r[:len(d)])
	}
	if relu {
		Relu(d, d)
	}
}

// Conv2dBackward computes the gradients of Conv2dForward given dout (the
// gradient of out, N×K×OH×OW): dx (N×C×H×W), dw (K×C×KH×KW) and dbias (K).
// Each of dx, dw and dbias is overwritten; pass nil to skip one. It runs per
// image: dw = Σ dout_n·col_nᵀ and dx_n = Col2im(wᵀ·dout_n). It panics,
// naming Conv2dBackward, on an invalid shape or short slices.
func Conv2dBackward(s Conv2dShape, x, w, dout, dx, dw, dbias []float32) {
	s.check("Conv2dBackward")
	const op = "Conv2dBackward"
	crs, p := s.ColRows(), s.ColCols()
	imgIn, imgOut := s.C*s.H*s.W, s.K*p
	checkLen(op, "dout", dout, s.N*imgOut)
	if dw != nil {
		checkLen(op, "x", x, s.N*imgIn)
		checkLen(op, "dw", dw, s.K*crs)
		clear(dw[:s.K*crs])
	}
	if dx != nil {
		checkLen(op, "w", w, s.K*crs)
		checkLen(op, "dx", dx, s.N*imgIn)
	}
	if dbias != nil {
		checkLen(op, "dbias", dbias, s.K)
		clear(dbias[:s.K])
		for n := 0; n < s.N; n++ {
			for k := 0; k < s.K; k++ {
				var sum float32
				for _, v := range dout[n*imgOut+k*p : n*imgOut+(k+1)*p] {
					sum += v
				}
				dbias[k] += sum
			}
		}
	}
	if (dw == nil && dx == nil) || s.N == 0 {
		return
	}
	if s.K == 0 {
		if dx != nil {
			clear(dx[:s.N*imgIn])
		}
		return
	}
	sc := getConvScratch(crs*p, 0)
	defer convPool.Put(sc)
	col := sc.col
	for n := 0; n < s.N; n++ {
		dn := dout[n*imgOut : (n+1)*imgOut]
		if dw != nil {
			im2col(s, x[n*imgIn:(n+1)*imgIn], col, p)
			Sgemm(false, true, s.K, crs, p, 1, dn, p, col, p, 1, dw, crs)
		}
		if dx != nil {
			Sgemm(true, false, crs, p, s.K, 1, w, crs, dn, p, 0, col, p)
			xn := dx[n*imgIn : (n+1)*imgIn]
			clear(xn)
			col2im(s, col, p, xn)
		}
	}
}
