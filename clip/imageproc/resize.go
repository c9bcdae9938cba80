package imageproc

import (
	"fmt"
	"image"
	"math"
)

// precisionBits is Pillow's PRECISION_BITS (32 - 8 - 2) for the fixed-point
// coefficients of the 8-bit resampling path.
const precisionBits = 32 - 8 - 2

// bicubicSupport is the support radius of Pillow's BICUBIC filter.
const bicubicSupport = 2.0

// bicubicFilter is Pillow's bicubic_filter: the Keys cubic with a = -0.5.
// The explicit float64 conversions stop the compiler from fusing a
// multiply and an add into an FMA, which Pillow's C build does not do.
func bicubicFilter(x float64) float64 {
	const a = -0.5
	if x < 0 {
		x = -x
	}
	if x < 1 {
		return float64(float64(float64(float64((a+2)*x)-(a+3))*x)*x) + 1
	}
	if x < 2 {
		return float64(float64(float64(float64(x-5)*x)+8)*x-4) * a
	}
	return 0
}

// kernel holds the fixed-point weights of one resampling pass: output
// sample i reads the input samples start[i] .. start[i]+len(w[i])-1.
type kernel struct {
	start []int
	w     [][]int32
}

// precomputeCoeffs is Pillow's precompute_coeffs followed by
// normalize_coeffs_8bpc, for the input span [in0, in1) of an axis of
// inSize samples resampled to outSize samples.
func precomputeCoeffs(inSize int, in0, in1 float32, outSize int) kernel {
	scale := float64(in1-in0) / float64(outSize)
	filterscale := scale
	if filterscale < 1 {
		filterscale = 1
	}
	support := bicubicSupport * filterscale
	k := kernel{start: make([]int, outSize), w: make([][]int32, outSize)}
	ksize := int(math.Ceil(support))*2 + 1
	buf := make([]float64, ksize)
	ss := 1.0 / filterscale
	for xx := 0; xx < outSize; xx++ {
		center := float64(in0) + float64((float64(xx)+0.5)*scale)
		xmin := int(center - support + 0.5)
		if xmin < 0 {
			xmin = 0
		}
		xmax := int(center + support + 0.5)
		if xmax > inSize {
			xmax = inSize
		}
		xmax -= xmin
		ww := 0.0
		for x := 0; x < xmax; x++ {
			w := bicubicFilter(float64(float64(x+xmin)-center+0.5) * ss)
			buf[x] = w
			ww += w
		}
		iw := make([]int32, xmax)
		for x := 0; x < xmax; x++ {
			v := buf[x]
			if ww != 0 {
				v /= ww
			}
			if v < 0 {
				iw[x] = int32(-0.5 + float64(v*(1<<precisionBits)))
			} else {
				iw[x] = int32(0.5 + float64(v*(1<<precisionBits)))
			}
		}
		k.start[xx] = xmin
		k.w[xx] = iw
	}
	return k
}

// clip8 is Pillow's clip8: shift a fixed-point accumulator down to 8 bits
// with saturation.
func clip8(in int32) uint8 {
	if in >= 1<<precisionBits<<8 {
		return 255
	}
	if in <= 0 {
		return 0
	}
	return uint8(in >> precisionBits)
}

// ResizeBicubic resizes img to w×h exactly like Pillow's
// img.resize((w, h), Image.BICUBIC) on an 8-bit RGB image (Pillow's
// ImagingResample, 9.x): a separable Keys cubic (a = -0.5) whose support is
// stretched by the downscale factor (antialiasing), weights normalised and
// rounded to 22-bit fixed point, horizontal pass first, each pass rounded and
// clipped to uint8. Resizing to the same size returns a copy. It panics if w
// or h is not positive or img is empty.
func ResizeBicubic(img *RGB, w, h int) *RGB {
	if w <= 0 || h <= 0 || img.W <= 0 || img.H <= 0 {
		panic(fmt.Sprintf("imageproc.ResizeBicubic: cannot resize %dx%d to %dx%d", img.W, img.H, w, h))
	}
	if w == img.W && h == img.H {
		return img.Clone()
	}
	return resizeRegion(img, w, h, image.Rect(0, 0, w, h))
}

// resizeRegion returns the part r of ResizeBicubic(img, w, h), computing
// only the output samples inside r (each output sample depends only on its
// own kernel windows, so the result is identical). r must lie inside
// (0, 0)-(w, h), and w×h must differ from img's size.
func resizeRegion(img *RGB, w, h int, r image.Rectangle) *RGB {
	kh := precomputeCoeffs(img.W, 0, float32(img.W), w)
	kv := precomputeCoeffs(img.H, 0, float32(img.H), h)
	kh.start, kh.w = kh.start[r.Min.X:r.Max.X], kh.w[r.Min.X:r.Max.X]
	kv.start, kv.w = kv.start[r.Min.Y:r.Max.Y], kv.w[r.Min.Y:r.Max.Y]
	src := img
	if w != img.W {
		// Only the rows that the vertical pass reads are resampled.
		first, last := r.Min.Y, r.Max.Y // no vertical pass: rows map 1:1
		if h != img.H {
			first = kv.start[0]
			last = kv.start[len(kv.start)-1] + len(kv.w[len(kv.w)-1])
		}
		src = resampleHorizontal(img, kh, first, last)
		for i := range kv.start {
			kv.start[i] -= first
		}
	} else {
		src = img.Crop(r.Min.X, 0, r.Dx(), img.H)
	}
	if h != img.H {
		src = resampleVertical(src, kv)
	}
	return src
}

// resampleHorizontal is ImagingResampleHorizontal_8bpc on rows
// [first, last) of in, for the output columns of k.
func resampleHorizontal(in *RGB, k kernel, first, last int) *RGB {
	w := len(k.w)
	out := NewRGB(w, last-first)
	for y := first; y < last; y++ {
		row := in.Pix[3*y*in.W : 3*(y+1)*in.W]
		dst := out.Pix[3*(y-first)*w : 3*(y-first+1)*w]
		for xx := 0; xx < w; xx++ {
			const half = 1 << (precisionBits - 1)
			s0, s1, s2 := int32(half), int32(half), int32(half)
			src := row[3*k.start[xx]:]
			for x, c := range k.w[xx] {
				s0 += int32(src[3*x]) * c
				s1 += int32(src[3*x+1]) * c
				s2 += int32(src[3*x+2]) * c
			}
			dst[3*xx], dst[3*xx+1], dst[3*xx+2] = clip8(s0), clip8(s1), clip8(s2)
		}
	}
	return out
}

// resampleVertical is ImagingResampleVertical_8bpc.
func resampleVertical(in *RGB, k kernel) *RGB {
	h := len(k.w)
	out := NewRGB(in.W, h)
	stride := 3 * in.W
	acc := make([]int32, stride)
	for yy := 0; yy < h; yy++ {
		for i := range acc {
			acc[i] = 1 << (precisionBits - 1)
		}
		for y, c := range k.w[yy] {
			row := in.Pix[(k.start[yy]+y)*stride : (k.start[yy]+y+1)*stride]
			for i, v := range row {
				acc[i] += int32(v) * c
			}
		}
		dst := out.Pix[yy*stride : (yy+1)*stride]
		for i, s := range acc {
			dst[i] = clip8(s)
		}
	}
	return out
}
