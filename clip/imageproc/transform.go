package imageproc

import (
	"fmt"
	"image"
	"math"
)

// CLIPMean and CLIPStd are the per-channel (R, G, B) normalisation constants
// of CLIP's preprocessing (clip/clip.py) and of CoOp/SoftCPT's configs.
var (
	CLIPMean = [3]float32{0.48145466, 0.4578275, 0.40821073}
	CLIPStd  = [3]float32{0.26862954, 0.26130258, 0.27577711}
)

// ResizeShortSide is torchvision's Resize(n, interpolation=BICUBIC) on a PIL
// image: the shorter side becomes n and the longer side int(n*long/short)
// (truncated), then the image is resized with Pillow's bicubic filter. An
// image whose shorter side is already n is returned as a copy.
func ResizeShortSide(img *RGB, n int) *RGB {
	w, h := ResizedShortSideSize(img.W, img.H, n)
	return ResizeBicubic(img, w, h)
}

// ResizedShortSideSize returns the output size of torchvision's Resize(n)
// for a w×h image: (n, int(n*h/w)) if w <= h, else (int(n*w/h), n), with the
// division done in float64 as Python's true division does.
func ResizedShortSideSize(w, h, n int) (int, int) {
	if w <= 0 || h <= 0 || n <= 0 {
		panic(fmt.Sprintf("imageproc.ResizedShortSideSize: bad sizes %dx%d -> %d", w, h, n))
	}
	if w <= h {
		return n, int(float64(n*h) / float64(w))
	}
	return int(float64(n*w) / float64(h)), n
}

// CenterCrop is torchvision's CenterCrop(n): the n×n region at
// top = int(round((H-n)/2)), left = int(round((W-n)/2)), with Python 3's
// round-half-to-even. Parts outside the image (when it is smaller than n)
// are zero, as with Pillow's crop.
func CenterCrop(img *RGB, n int) *RGB {
	top, left := centerCropOffsets(img.W, img.H, n)
	return img.Crop(left, top, n, n)
}

// centerCropOffsets returns torchvision's CenterCrop offsets (top, left).
func centerCropOffsets(w, h, n int) (int, int) {
	return int(math.RoundToEven(float64(h-n) / 2.0)), int(math.RoundToEven(float64(w-n) / 2.0))
}

// Normalize converts img to float32 CHW (planes R, G, B), each value
// (v/255 - mean[c]) / std[c] computed in float32 like torchvision's ToTensor
// followed by Normalize. It writes into dst if it has room for 3*W*H
// values and returns the slice written.
func Normalize(img *RGB, mean, std [3]float32, dst []float32) []float32 {
	n := img.W * img.H
	if cap(dst) < 3*n {
		dst = make([]float32, 3*n)
	}
	dst = dst[:3*n]
	var lut [3][256]float32
	for c := range lut {
		for v := range lut[c] {
			lut[c][v] = (float32(v)/255 - mean[c]) / std[c]
		}
	}
	r, g, b := dst[:n], dst[n:2*n], dst[2*n:3*n]
	pix := img.Pix[:3*n]
	for i := range r {
		p := pix[3*i : 3*i+3 : 3*i+3]
		r[i], g[i], b[i] = lut[0][p[0]], lut[1][p[1]], lut[2][p[2]]
	}
	return dst
}

// CLIPTransformRGB is CLIP's test-time preprocessing of an RGB image:
// Resize(size, BICUBIC), CenterCrop(size), ToTensor, Normalize(CLIPMean,
// CLIPStd). It returns 3×size×size float32 values in CHW order.
func CLIPTransformRGB(img *RGB, size int) []float32 {
	w, h := ResizedShortSideSize(img.W, img.H, size)
	var crop *RGB
	if w == img.W && h == img.H {
		crop = CenterCrop(img, size)
	} else {
		// Resize only the centre crop (identical to resize then crop).
		top, left := centerCropOffsets(w, h, size)
		crop = resizeRegion(img, w, h, image.Rect(left, top, left+size, top+size))
	}
	return Normalize(crop, CLIPMean, CLIPStd, nil)
}

// CLIPTransform is CLIPTransformRGB after converting img with ToRGB (an
// *RGB is used as is).
func CLIPTransform(img image.Image, size int) []float32 {
	rgb, ok := img.(*RGB)
	if !ok {
		rgb = ToRGB(img)
	}
	return CLIPTransformRGB(rgb, size)
}
