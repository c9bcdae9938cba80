package imageproc

import (
	"fmt"
	"image"
	"math"
	"math/rand/v2"
)

// Default RandomResizedCrop ranges, as in torchvision and CoOp/SoftCPT.
var (
	DefaultCropScale = [2]float64{0.08, 1.0}
	DefaultCropRatio = [2]float64{3.0 / 4.0, 4.0 / 3.0}
)

// CropBox is a crop rectangle in torchvision's (i, j, h, w) convention:
// rows Top..Top+H-1 and columns Left..Left+W-1.
type CropBox struct {
	Top, Left, H, W int
}

// RandomResizedCropParams is torchvision's RandomResizedCrop.get_params for
// a width×height image: up to 10 attempts drawing the area fraction
// uniformly in scale and the aspect ratio log-uniformly in ratio, keeping
// the first box that fits, with a random position; otherwise the central
// crop clamped to the ratio range. The random stream is rng's, not torch's.
func RandomResizedCropParams(rng *rand.Rand, width, height int, scale, ratio [2]float64) CropBox {
	area := float64(height * width)
	logLo, logHi := math.Log(ratio[0]), math.Log(ratio[1])
	for range 10 {
		// float64() conversions keep the arithmetic free of FMA fusion, so a seed
		// gives the same boxes on every architecture.
		target := area * (scale[0] + float64((scale[1]-scale[0])*rng.Float64()))
		ar := math.Exp(logLo + float64((logHi-logLo)*rng.Float64()))
		w := int(math.RoundToEven(math.Sqrt(target * ar)))
		h := int(math.RoundToEven(math.Sqrt(target / ar)))
		if w > 0 && w <= width && h > 0 && h <= height {
			i := rng.IntN(height - h + 1)
			j := rng.IntN(width - w + 1)
			return CropBox{Top: i, Left: j, H: h, W: w}
		}
	}
	// Fallback to central crop.
	inRatio := float64(width) / float64(height)
	w, h := width, height
	lo, hi := min(ratio[0], ratio[1]), max(ratio[0], ratio[1])
	if inRatio < lo {
		h = int(math.RoundToEven(float64(w) / lo))
	} else if inRatio > hi {
		w = int(math.RoundToEven(float64(h) * hi))
	}
	return CropBox{Top: (height - h) / 2, Left: (width - w) / 2, H: h, W: w}
}

// RandomResizedCrop is torchvision's RandomResizedCrop(size, scale, ratio,
// BICUBIC) on a PIL image: draw a box with RandomResizedCropParams, crop
// it and resize the crop to size×size with Pillow's bicubic filter. It
// returns the image and the box.
func RandomResizedCrop(rng *rand.Rand, img *RGB, size int, scale, ratio [2]float64) (*RGB, CropBox) {
	if size <= 0 || img.W <= 0 || img.H <= 0 {
		panic(fmt.Sprintf("imageproc.RandomResizedCrop: bad sizes %dx%d -> %d", img.W, img.H, size))
	}
	b := RandomResizedCropParams(rng, img.W, img.H, scale, ratio)
	return ResizeBicubic(img.Crop(b.Left, b.Top, b.W, b.H), size, size), b
}

// RandomHorizontalFlip mirrors img with probability p (torchvision's
// RandomHorizontalFlip). It returns img itself when it does not flip, and
// whether it flipped.
func RandomHorizontalFlip(rng *rand.Rand, img *RGB, p float64) (*RGB, bool) {
	if rng.Float64() < p {
		return img.FlipHorizontal(), true
	}
	return img, false
}

// CoOpTrainTransform is CoOp/SoftCPT's training augmentation (Dassl's
// INPUT.TRANSFORMS ["random_resized_crop", "random_flip", "normalize"],
// bicubic): RandomResizedCrop(size, scale (0.08, 1), ratio (3/4, 4/3)),
// RandomHorizontalFlip(0.5), ToTensor, Normalize(CLIPMean, CLIPStd). It
// returns 3×size×size float32 values in CHW order; the same rng state gives
// the same output.
func CoOpTrainTransform(rng *rand.Rand, img image.Image, size int) []float32 {
	rgb, ok := img.(*RGB)
	if !ok {
		rgb = ToRGB(img)
	}
	crop, _ := RandomResizedCrop(rng, rgb, size, DefaultCropScale, DefaultCropRatio)
	flipped, _ := RandomHorizontalFlip(rng, crop, 0.5)
	return Normalize(flipped, CLIPMean, CLIPStd, nil)
}
