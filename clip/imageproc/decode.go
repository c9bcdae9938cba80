package imageproc

import (
	"bufio"
	"bytes"
	"image"
	_ "image/gif" // register GIF with image.Decode
	"image/jpeg"
	_ "image/png" // register PNG with image.Decode
	"io"
	"os"

	"github.com/pkg/errors"
)

// Decode reads one image in any format registered with the image package
// (JPEG, PNG and GIF are registered by this package). Colour JPEGs
// (*image.YCbCr from image/jpeg) are converted to *RGB here with
// libjpeg-turbo's fancy chroma upsampling and integer YCbCr→RGB conversion
// (see DecodeJPEG), so the pixels match Pillow's far more closely than Go's
// own conversion; other images are returned as decoded. Use ToRGB for
// Pillow's .convert("RGB") of the result.
func Decode(r io.Reader) (image.Image, error) {
	br := bufio.NewReader(r)
	head, _ := br.Peek(3)
	if bytes.Equal(head, []byte{0xff, 0xd8, 0xff}) {
		m, err := DecodeJPEG(br)
		return m, errors.Wrap(err, "imageproc: decode jpeg")
	}
	m, format, err := image.Decode(br)
	if err != nil {
		if format == "" {
			return nil, errors.Wrap(err, "imageproc: decode image")
		}
		return nil, errors.Wrapf(err, "imageproc: decode %s", format)
	}
	return m, nil
}

// DecodeJPEG decodes a JPEG with image/jpeg and, for colour images in
// 4:2:0, 4:2:2, 4:4:0 chroma subsampling replaces Go's chroma replication
// by libjpeg-turbo's fancy (triangular) upsampling, and for those and 4:4:4,
// 4:1:1 and 4:1:0 Go's YCbCr→RGB formula by libjpeg's 16-bit fixed-point
// conversion, returning an *RGB. Other JPEGs (grey, CMYK, RGB) are returned
// as image/jpeg decodes them. The inverse DCT is still Go's, so results differ from libjpeg by
// small amounts (see the package documentation).
func DecodeJPEG(r io.Reader) (image.Image, error) {
	m, err := jpeg.Decode(r)
	if err != nil {
		return nil, err
	}
	if y, ok := m.(*image.YCbCr); ok {
		if rgb := ycbcrToRGBLibjpeg(y); rgb != nil {
			return rgb, nil
		}
	}
	return m, nil
}

// Load opens and decodes the image file at path (see Decode). Errors name
// the file.
func Load(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, errors.Wrapf(err, "imageproc: open image file %s", path)
	}
	defer f.Close()
	m, err := Decode(f)
	if err != nil {
		return nil, errors.Wrapf(err, "imageproc: image file %s", path)
	}
	return m, nil
}

// LoadRGB loads the image file at path and converts it to RGB like
// Pillow's Image.open(path).convert("RGB"). Errors name the file.
func LoadRGB(path string) (*RGB, error) {
	m, err := Load(path)
	if err != nil {
		return nil, err
	}
	if rgb, ok := m.(*RGB); ok {
		return rgb, nil
	}
	return ToRGB(m), nil
}
