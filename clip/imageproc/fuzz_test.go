package imageproc

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/softcpt/softcpt-go/internal/hostile"
)

// FuzzDecode decodes arbitrary bytes as an image (PNG, JPEG, GIF) and
// converts a decoded image to RGB and through the CLIP transform: errors
// are fine, panics and images over the pixel budget are not. The budget
// is lowered to 256 kpixels while fuzzing so that each input stays cheap.
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"conv_cmyk.jpg", "conv_gray.jpg", "conv_gray16.png", "conv_la.png", "conv_pal.png",
		"go_q50.420.progressive.jpg", "go_q50.411.jpg", "resize_noise_16x16.png"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "imageproc", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(hostile.PNGHeader(65535, 65535))
	f.Add(hostile.PNGHeader(2048, 2049))
	f.Add([]byte("GIF89a\x00\x10\x00\x10\x00\x00\x00;"))
	f.Add([]byte{0xff, 0xd8, 0xff, 0xc0, 0x00, 0x11, 0x08, 0xff, 0xff, 0xff, 0xff, 0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01})
	old := MaxPixels
	MaxPixels = 1 << 18
	f.Cleanup(func() { MaxPixels = old })
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(bytes.NewReader(b))
		if err != nil {
			return
		}
		r := m.Bounds()
		if int64(r.Dx())*int64(r.Dy()) > MaxPixels {
			t.Fatalf("decoded %v, over the budget of %d pixels", r, MaxPixels)
		}
		rgb := ToRGB(m)
		if len(rgb.Pix) != 3*rgb.W*rgb.H {
			t.Fatalf("RGB of %dx%d has %d bytes", rgb.W, rgb.H, len(rgb.Pix))
		}
	})
}
