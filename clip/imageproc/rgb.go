package imageproc

import (
	"fmt"
	"image"
	"image/color"
)

// RGB is an 8-bit, 3-channel image stored row-major with interleaved
// channels: the pixel (x, y) is Pix[3*(y*W+x) : 3*(y*W+x)+3] = R, G, B.
// It is the equivalent of a Pillow image in mode "RGB" and implements
// image.Image (with its origin at (0, 0)).
type RGB struct {
	W, H int
	Pix  []uint8
}

// NewRGB returns a black w×h image. It panics if w or h is negative.
func NewRGB(w, h int) *RGB {
	if w < 0 || h < 0 {
		panic(fmt.Sprintf("imageproc.NewRGB: negative size %dx%d", w, h))
	}
	return &RGB{W: w, H: h, Pix: make([]uint8, 3*w*h)}
}

// Clone returns a deep copy of m.
func (m *RGB) Clone() *RGB {
	c := &RGB{W: m.W, H: m.H, Pix: make([]uint8, len(m.Pix))}
	copy(c.Pix, m.Pix)
	return c
}

// ColorModel implements image.Image.
func (m *RGB) ColorModel() color.Model { return color.RGBAModel }

// Bounds implements image.Image; the origin is (0, 0).
func (m *RGB) Bounds() image.Rectangle { return image.Rect(0, 0, m.W, m.H) }

// At implements image.Image. Pixels outside the image are transparent black.
func (m *RGB) At(x, y int) color.Color {
	if x < 0 || y < 0 || x >= m.W || y >= m.H {
		return color.RGBA{}
	}
	i := 3 * (y*m.W + x)
	return color.RGBA{m.Pix[i], m.Pix[i+1], m.Pix[i+2], 0xff}
}

// Crop returns the w×h region whose top-left corner is (left, top), like
// Pillow's img.crop((left, top, left+w, top+h)): parts of the region that
// fall outside m are filled with zeros (black). It panics if w or h is
// negative.
func (m *RGB) Crop(left, top, w, h int) *RGB {
	out := NewRGB(w, h)
	for y := 0; y < h; y++ {
		sy := top + y
		if sy < 0 || sy >= m.H {
			continue
		}
		x0, x1 := max(left, 0), min(left+w, m.W)
		if x0 >= x1 {
			continue
		}
		copy(out.Pix[3*(y*w+x0-left):], m.Pix[3*(sy*m.W+x0):3*(sy*m.W+x1)])
	}
	return out
}

// FlipHorizontal returns a mirrored copy of m (PIL's FLIP_LEFT_RIGHT).
func (m *RGB) FlipHorizontal() *RGB {
	out := NewRGB(m.W, m.H)
	for y := 0; y < m.H; y++ {
		src := m.Pix[3*y*m.W : 3*(y+1)*m.W]
		dst := out.Pix[3*y*m.W : 3*(y+1)*m.W]
		for x := 0; x < m.W; x++ {
			j := 3 * (m.W - 1 - x)
			dst[3*x], dst[3*x+1], dst[3*x+2] = src[j], src[j+1], src[j+2]
		}
	}
	return out
}

// ToRGB converts any image to an *RGB with the semantics of Pillow's
// .convert("RGB") on the image Pillow would have opened from the same file:
//
//   - grey levels are replicated into R, G and B;
//   - alpha is dropped without compositing (for *image.NRGBA, *image.NRGBA64,
//     palettes with color.NRGBA entries: the stored colour is kept as is);
//   - palettes are expanded;
//   - 16-bit RGB(A) keeps the high byte (Pillow's "RGB;16B" unpacking);
//   - 16-bit grey is clipped to 0..255, not scaled, because Pillow opens it in
//     mode "I" and its I→RGB conversion clips;
//   - CMYK uses Pillow's cmyk2rgb: R = 255-K - (C*(255-K))/255 (rounded);
//   - *image.YCbCr uses Go's conversion; JPEG files should be decoded with
//     Decode, which does libjpeg's upsampling and conversion instead.
//
// Premultiplied images (*image.RGBA, *image.RGBA64) with alpha below the
// maximum, and other image types, are un-premultiplied through
// color.NRGBAModel, which can differ from Pillow by rounding. The result is
// a new image even when img is already an *RGB.
func ToRGB(img image.Image) *RGB {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := NewRGB(w, h)
	p := out.Pix
	switch m := img.(type) {
	case *RGB:
		copy(p, m.Pix)
	case *image.RGBA:
		for y := 0; y < h; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				r, g, bl, a := row[4*x], row[4*x+1], row[4*x+2], row[4*x+3]
				if a != 0xff {
					c := color.NRGBAModel.Convert(color.RGBA{r, g, bl, a}).(color.NRGBA)
					r, g, bl = c.R, c.G, c.B
				}
				i := 3 * (y*w + x)
				p[i], p[i+1], p[i+2] = r, g, bl
			}
		}
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				i := 3 * (y*w + x)
				p[i], p[i+1], p[i+2] = row[4*x], row[4*x+1], row[4*x+2]
			}
		}
	case *image.NRGBA64:
		for y := 0; y < h; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				i := 3 * (y*w + x)
				p[i], p[i+1], p[i+2] = row[8*x], row[8*x+2], row[8*x+4]
			}
		}
	case *image.RGBA64:
		for y := 0; y < h; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				i := 3 * (y*w + x)
				if row[8*x+6] == 0xff && row[8*x+7] == 0xff {
					p[i], p[i+1], p[i+2] = row[8*x], row[8*x+2], row[8*x+4]
					continue
				}
				c := color.NRGBA64Model.Convert(m.RGBA64At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA64)
				p[i], p[i+1], p[i+2] = uint8(c.R>>8), uint8(c.G>>8), uint8(c.B>>8)
			}
		}
	case *image.Gray:
		for y := 0; y < h; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				i := 3 * (y*w + x)
				v := row[x]
				p[i], p[i+1], p[i+2] = v, v, v
			}
		}
	case *image.Gray16:
		for y := 0; y < h; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				i := 3 * (y*w + x)
				v16 := uint16(row[2*x])<<8 | uint16(row[2*x+1])
				v := uint8(min(v16, 255))
				p[i], p[i+1], p[i+2] = v, v, v
			}
		}
	case *image.Paletted:
		var lut [256][3]uint8
		for i, c := range m.Palette {
			if i >= 256 {
				break
			}
			lut[i] = paletteRGB(c)
		}
		for y := 0; y < h; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				i := 3 * (y*w + x)
				c := lut[row[x]]
				p[i], p[i+1], p[i+2] = c[0], c[1], c[2]
			}
		}
	case *image.CMYK:
		for y := 0; y < h; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < w; x++ {
				i := 3 * (y*w + x)
				nk := 255 - int(row[4*x+3])
				p[i] = uint8(nk - mulDiv255(int(row[4*x]), nk))
				p[i+1] = uint8(nk - mulDiv255(int(row[4*x+1]), nk))
				p[i+2] = uint8(nk - mulDiv255(int(row[4*x+2]), nk))
			}
		}
	default:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
				i := 3 * (y*w + x)
				p[i], p[i+1], p[i+2] = c.R, c.G, c.B
			}
		}
	}
	return out
}

// mulDiv255 is Pillow's MULDIV255: round(a*b/255) computed with shifts.
func mulDiv255(a, b int) int {
	t := a*b + 128
	return ((t >> 8) + t) >> 8
}

// paletteRGB returns the RGB stored in a palette entry, ignoring alpha.
func paletteRGB(c color.Color) [3]uint8 {
	switch c := c.(type) {
	case color.NRGBA:
		return [3]uint8{c.R, c.G, c.B}
	case color.RGBA:
		if c.A == 0xff {
			return [3]uint8{c.R, c.G, c.B}
		}
	}
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	return [3]uint8{n.R, n.G, n.B}
}
