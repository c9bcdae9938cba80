package imageproc

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/softcpt/softcpt-go/internal/hostile"
)

// TestHostileImageHeader: a ~100-byte PNG declaring 65535×65535 16-bit
// RGBA (32 GiB of pixels) is an error naming the file and the pixel
// budget, found from the header before any pixel buffer is allocated.
func TestHostileImageHeader(t *testing.T) {
	path := filepath.Join(t.TempDir(), "huge.png")
	if err := os.WriteFile(path, hostile.PNGHeader(65535, 65535), 0o644); err != nil {
		t.Fatal(err)
	}
	el, alloc, err := hostile.Cost(func() error {
		_, err := LoadRGB(path)
		return err
	})
	t.Logf("%v in %v, %d bytes allocated", err, el, alloc)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "MaxPixels") {
		t.Fatalf("error %v, want one naming %s and the pixel budget", err, path)
	}
	if el > 2*time.Second || alloc > 1<<20 {
		t.Errorf("took %v and %d bytes, want a fast refusal", el, alloc)
	}
}

// TestPixelBudget: an image within the budget decodes, the same image over
// a lowered budget is refused, and the stream is decoded intact after the
// header check (the bytes read for it are replayed).
func TestPixelBudget(t *testing.T) {
	m := patterned(40, 30)
	var buf bytes.Buffer
	if err := png.Encode(&buf, m); err != nil {
		t.Fatal(err)
	}
	got, err := Decode(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if rgb := ToRGB(got); !bytes.Equal(rgb.Pix, m.Pix) {
		t.Error("decoded pixels differ")
	}
	old := MaxPixels
	defer func() { MaxPixels = old }()
	MaxPixels = 40*30 - 1
	if _, err := Decode(bytes.NewReader(buf.Bytes())); err == nil || !strings.Contains(err.Error(), "40×30") {
		t.Errorf("over the budget: error %v", err)
	}
}
