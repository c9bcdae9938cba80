package realdata

import (
	"crypto/sha256"
	"image"
	"image/color"
	"image/draw"

	"github.com/softcpt/softcpt-go/clip/imageproc"
)

// alphaTrim is the alpha (0–255) above which a pixel counts as content when
// trimming transparent borders.
const alphaTrim = 16

// FitSquare converts img to a size×size RGB image: transparent pixels are
// composited over white; if img has transparency its fully transparent border
// is trimmed; the content is centred on a white square (keeping its aspect
// ratio) and resized with imageproc.ResizeBicubic. It returns nil for an
// image with no visible content.
func FitSquare(img image.Image, size int) *imageproc.RGB {
	b := img.Bounds()
	if b.Empty() {
		return nil
	}
	// Composite over white (draw.Over works on premultiplied colour).
	rgba := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(rgba, rgba.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	draw.Draw(rgba, rgba.Bounds(), img, b.Min, draw.Over)
	crop := rgba.Bounds()
	if opaque, ok := img.(interface{ Opaque() bool }); !ok || !opaque.Opaque() {
		crop = contentBounds(img)
		if crop.Empty() {
			return nil
		}
		crop = crop.Sub(b.Min)
	}
	return padResize(rgba.SubImage(crop).(*image.RGBA), size, [3]uint8{255, 255, 255})
}

// contentBounds returns the bounding box of pixels with alpha above alphaTrim.
func contentBounds(img image.Image) image.Rectangle {
	b := img.Bounds()
	alpha := func(x, y int) uint32 { _, _, _, a := img.At(x, y).RGBA(); return a >> 8 }
	switch m := img.(type) {
	case *image.NRGBA:
		alpha = func(x, y int) uint32 { return uint32(m.Pix[m.PixOffset(x, y)+3]) }
	case *image.RGBA:
		alpha = func(x, y int) uint32 { return uint32(m.Pix[m.PixOffset(x, y)+3]) }
	}
	minX, minY, maxX, maxY := b.Max.X, b.Max.Y, b.Min.X-1, b.Min.Y-1
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if alpha(x, y) > alphaTrim {
				minX, maxX = min(minX, x), max(maxX, x)
				minY, maxY = min(minY, y), max(maxY, y)
			}
		}
	}
	if maxX < minX {
		return image.Rectangle{}
	}
	return image.Rect(minX, minY, maxX+1, maxY+1)
}

// padResize centres the opaque image m on a square of colour bg and resizes it
// to size×size.
func padResize(m *image.RGBA, size int, bg [3]uint8) *imageproc.RGB {
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	side := max(w, h)
	sq := imageproc.NewRGB(side, side)
	for i := 0; i < len(sq.Pix); i += 3 {
		sq.Pix[i], sq.Pix[i+1], sq.Pix[i+2] = bg[0], bg[1], bg[2]
	}
	ox, oy := (side-w)/2, (side-h)/2
	for y := 0; y < h; y++ {
		row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
		for x := 0; x < w; x++ {
			i := 3 * ((oy+y)*side + ox + x)
			sq.Pix[i], sq.Pix[i+1], sq.Pix[i+2] = row[4*x], row[4*x+1], row[4*x+2]
		}
	}
	if side == size {
		return sq
	}
	return imageproc.ResizeBicubic(sq, size, size)
}

// GrayToRGB converts a w×h greyscale image (such as an MNIST digit) to a
// size×size RGB image, centring it on a black square and resizing with
// imageproc.ResizeBicubic when the side differs from size.
func GrayToRGB(gray []uint8, w, h, size int) *imageproc.RGB {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for i, v := range gray[:w*h] {
		m.Pix[4*i], m.Pix[4*i+1], m.Pix[4*i+2], m.Pix[4*i+3] = v, v, v, 255
	}
	if w == h && w < size && (size-w)%2 == 0 {
		// Pad with black (MNIST's background) instead of resampling.
		out := imageproc.NewRGB(size, size)
		o := (size - w) / 2
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				v := gray[y*w+x]
				i := 3 * ((o+y)*size + o + x)
				out.Pix[i], out.Pix[i+1], out.Pix[i+2] = v, v, v
			}
		}
		return out
	}
	return padResize(m, size, [3]uint8{0, 0, 0})
}

// PixelHash is the SHA-256 of an image's pixels, used to prove that no
// benchmark test image occurs in the pretraining pairs.
type PixelHash [32]byte

// HashPixels returns the PixelHash of an H×W×3 pixel slice.
func HashPixels(pix []uint8) PixelHash { return sha256.Sum256(pix) }
