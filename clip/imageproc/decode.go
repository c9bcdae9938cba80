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

// DefaultMaxPixels is the default pixel budget (MaxPixels): Pillow's
// Image.MAX_IMAGE_PIXELS, 0.25 GiB of 24-bit pixels (1024×1024×1024÷4÷3).
const DefaultMaxPixels = 89_478_485

// MaxPixels is the largest width×height that Decode, Load and LoadRGB
// accept. The dimensions are read from the image header
// (image.DecodeConfig) before any pixel is decoded, so a tiny file that
// declares a huge image is an error instead of an out-of-memory crash.
// Raise it (before decoding, not concurrently with it) to read genuinely
// larger images.
var MaxPixels int64 = DefaultMaxPixels

// checkPixels reads the header of the image in br and reports an image
// larger than MaxPixels; it returns a reader of the whole stream (the
// header bytes read are replayed).
func checkPixels(br *bufio.Reader) (io.Reader, error) {
	var head bytes.Buffer
	cfg, format, err := image.DecodeConfig(io.TeeReader(br, &head))
	if err != nil {
		if format == "" {
			return nil, errors.Wrap(err, "imageproc: decode image header")
		}
		return nil, errors.Wrapf(err, "imageproc: decode %s header", format)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > MaxPixels {
		return nil, errors.Errorf("imageproc: %s image of %d×%d pixels exceeds the pixel budget of %d (imageproc.MaxPixels)", format, cfg.Width, cfg.Height, MaxPixels)
	}
	return io.MultiReader(&head, br), nil
}

// Decode reads one image in any format registered with the image package
// (JPEG, PNG and GIF are registered by this package). Colour JPEGs
// (*image.YCbCr from image/jpeg) are converted to *RGB here with
// libjpeg-turbo's fancy chroma upsampling and integer YCbCr→RGB conversion
// (see DecodeJPEG), so the pixels match Pillow's far more closely than Go's
// own conversion; other images are returned as decoded. Use ToRGB for
// Pillow's .convert("RGB") of the result. Images of more than MaxPixels
// pixels are an error, found from their header.
func Decode(r io.Reader) (image.Image, error) {
	br := bufio.NewReader(r)
	head, _ := br.Peek(3)
	isJPEG := bytes.Equal(head, []byte{0xff, 0xd8, 0xff})
	full, err := checkPixels(br)
	if err != nil {
		return nil, err
	}
	if isJPEG {
		m, err := decodeJPEG(full)
		return m, errors.Wrap(err, "imageproc: decode jpeg")
	}
	m, format, err := image.Decode(full)
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
// small amounts (see the package documentation). Images of more than
// MaxPixels pixels are an error, found from their header.
func DecodeJPEG(r io.Reader) (image.Image, error) {
	full, err := checkPixels(bufio.NewReader(r))
	if err != nil {
		return nil, err
	}
	return decodeJPEG(full)
}

// decodeJPEG is DecodeJPEG without the pixel budget check.
func decodeJPEG(r io.Reader) (image.Image, error) {
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
