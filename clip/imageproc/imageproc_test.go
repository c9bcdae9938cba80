package imageproc

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// patterned returns a w×h image whose pixels encode their coordinates.
func patterned(w, h int) *RGB {
	m := NewRGB(w, h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := 3 * (y*w + x)
			m.Pix[i], m.Pix[i+1], m.Pix[i+2] = uint8(x), uint8(y), uint8(x*7+y*13)
		}
	}
	return m
}

func TestResizedShortSideSize(t *testing.T) {
	cases := []struct{ w, h, n, ow, oh int }{
		{500, 375, 224, 298, 224}, // int(224*500/375) = int(298.67)
		{375, 500, 224, 224, 298},
		{640, 427, 224, 335, 224}, // int(335.74)
		{100, 100, 224, 224, 224},
		{45, 71, 224, 224, 353}, // int(353.42)
		{3, 1, 2, 6, 2},
		{224, 300, 224, 224, 300}, // short side already n
	}
	for _, c := range cases {
		ow, oh := ResizedShortSideSize(c.w, c.h, c.n)
		if ow != c.ow || oh != c.oh {
			t.Errorf("ResizedShortSideSize(%d,%d,%d) = %d,%d want %d,%d", c.w, c.h, c.n, ow, oh, c.ow, c.oh)
		}
	}
	src := patterned(7, 5)
	if got := ResizeShortSide(patterned(224, 300), 224); got.W != 224 || got.H != 300 {
		t.Errorf("ResizeShortSide kept size: got %dx%d", got.W, got.H)
	}
	if got := ResizeShortSide(src, 10); got.W != 14 || got.H != 10 {
		t.Errorf("ResizeShortSide(7x5, 10) = %dx%d, want 14x10", got.W, got.H)
	}
}

func TestCenterCropOffsets(t *testing.T) {
	// Python's round() rounds half to even: (h-n)/2 = 0.5 → 0, 1.5 → 2, 2.5 → 2.
	for _, c := range []struct{ h, n, top int }{{5, 4, 0}, {7, 4, 2}, {9, 4, 2}, {8, 4, 2}, {4, 4, 0}} {
		img := patterned(c.n, c.h)
		got := CenterCrop(img, c.n)
		if got.W != c.n || got.H != c.n {
			t.Fatalf("size %dx%d", got.W, got.H)
		}
		if top := int(got.Pix[1]); top != c.top {
			t.Errorf("h=%d n=%d: top %d, want %d", c.h, c.n, top, c.top)
		}
	}
	// Horizontal offset, same rule.
	if got := CenterCrop(patterned(9, 4), 4); got.Pix[0] != 2 {
		t.Errorf("w=9 n=4: left %d, want 2", got.Pix[0])
	}
	// A crop larger than the image is zero-padded (Pillow crop semantics).
	got := CenterCrop(patterned(2, 2), 4) // offset round(-1) = -1
	for y := 0; y < 4; y++ {
		for x := 0; x < 4; x++ {
			i := 3 * (y*4 + x)
			inside := x >= 1 && x <= 2 && y >= 1 && y <= 2
			want := [3]uint8{}
			if inside {
				want = [3]uint8{uint8(x - 1), uint8(y - 1), uint8((x-1)*7 + (y-1)*13)}
			}
			if [3]uint8(got.Pix[i:i+3]) != want {
				t.Errorf("padded crop at (%d,%d) = %v, want %v", x, y, got.Pix[i:i+3], want)
			}
		}
	}
}

func TestNormalize(t *testing.T) {
	img := NewRGB(2, 1)
	copy(img.Pix, []uint8{0, 128, 255, 10, 20, 30})
	got := Normalize(img, CLIPMean, CLIPStd, nil)
	if len(got) != 6 {
		t.Fatalf("len %d", len(got))
	}
	// CHW: got[c*2 + x].
	for c := 0; c < 3; c++ {
		for x := 0; x < 2; x++ {
			v := float64(img.Pix[3*x+c]) / 255
			want := (v - float64(CLIPMean[c])) / float64(CLIPStd[c])
			if d := math.Abs(float64(got[c*2+x]) - want); d > 1e-6 {
				t.Errorf("c=%d x=%d: %v want %v", c, x, got[c*2+x], want)
			}
		}
	}
	// dst is reused when large enough.
	buf := make([]float32, 10)
	if out := Normalize(img, CLIPMean, CLIPStd, buf); &out[0] != &buf[0] || len(out) != 6 {
		t.Errorf("dst not reused")
	}
}

func TestResizeProperties(t *testing.T) {
	// A constant image stays constant at any size (weights sum to one).
	c := NewRGB(13, 9)
	for i := range c.Pix {
		c.Pix[i] = []uint8{200, 17, 99}[i%3]
	}
	for _, s := range [][2]int{{5, 3}, {40, 31}, {13, 4}, {2, 9}, {1, 1}} {
		r := ResizeBicubic(c, s[0], s[1])
		for i, v := range r.Pix {
			if v != c.Pix[i%3] {
				t.Fatalf("%v: constant image changed: %d at %d", s, v, i)
			}
		}
	}
	// Same size returns an equal copy.
	p := patterned(6, 4)
	q := ResizeBicubic(p, 6, 4)
	if !bytes.Equal(p.Pix, q.Pix) || &p.Pix[0] == &q.Pix[0] {
		t.Error("same-size resize must be an equal copy")
	}
}

func TestCropAndFlip(t *testing.T) {
	p := patterned(5, 4)
	c := p.Crop(1, 2, 3, 2)
	if c.W != 3 || c.H != 2 || c.Pix[0] != 1 || c.Pix[1] != 2 || c.Pix[3*5] != 3 || c.Pix[3*5+1] != 3 {
		t.Errorf("crop wrong: %v", c.Pix)
	}
	f := p.FlipHorizontal()
	for y := 0; y < 4; y++ {
		for x := 0; x < 5; x++ {
			a := f.Pix[3*(y*5+x) : 3*(y*5+x)+3]
			b := p.Pix[3*(y*5+4-x) : 3*(y*5+4-x)+3]
			if !bytes.Equal(a, b) {
				t.Fatalf("flip at (%d,%d): %v vs %v", x, y, a, b)
			}
		}
	}
	if !bytes.Equal(f.FlipHorizontal().Pix, p.Pix) {
		t.Error("double flip is not the identity")
	}
	// RGB implements image.Image consistently.
	if got := p.At(2, 3).(color.RGBA); got != (color.RGBA{2, 3, 2*7 + 3*13, 255}) {
		t.Errorf("At = %v", got)
	}
	if !bytes.Equal(ToRGB(image.Image(p)).Pix, p.Pix) {
		t.Error("ToRGB(*RGB) changed pixels")
	}
}

func TestRandomResizedCropParamsBounds(t *testing.T) {
	sizes := [][2]int{{500, 375}, {375, 500}, {224, 224}, {1000, 50}, {50, 1000}, {7, 5}}
	fallbacks := 0
	for _, s := range sizes {
		w, h := s[0], s[1]
		for seed := uint64(0); seed < 2000; seed++ {
			rng := rand.New(rand.NewPCG(seed, 42))
			b := RandomResizedCropParams(rng, w, h, DefaultCropScale, DefaultCropRatio)
			if b.W <= 0 || b.H <= 0 || b.Left < 0 || b.Top < 0 || b.Left+b.W > w || b.Top+b.H > h {
				t.Fatalf("%dx%d seed %d: box %+v outside the image", w, h, seed, b)
			}
			// Either a sampled box (area fraction and ratio within range, up to
			// the rounding of w and h to integers) or the central fallback.
			frac := float64(b.W*b.H) / float64(w*h)
			ratio := float64(b.W) / float64(b.H)
			central := b.Top == (h-b.H)/2 && b.Left == (w-b.W)/2 &&
				(b.W == w || b.H == h)
			tolR := 1/float64(b.H) + 1/float64(b.W) + 1e-9 // rounding slack
			okScale := frac >= 0.08*(1-tolR)*(1-tolR)-1e-9 && frac <= 1+1e-9
			okRatio := ratio >= 0.75*(1-tolR)-1e-9 && ratio <= 4.0/3*(1+tolR)+1e-9
			if !(okScale && okRatio) && !central {
				t.Fatalf("%dx%d seed %d: box %+v: scale %.4f ratio %.4f out of bounds", w, h, seed, b, frac, ratio)
			}
			if !(okScale && okRatio) {
				fallbacks++
			}
		}
	}
	// The extreme 1000x50 / 50x1000 images often need the fallback, whose
	// ratio is clamped to the range: check it explicitly.
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100 {
		b := RandomResizedCropParams(rng, 1000, 10, [2]float64{0.9, 1}, DefaultCropRatio)
		if b != (CropBox{Top: 0, Left: 493, H: 10, W: 13}) {
			t.Fatalf("fallback box for 1000x10 = %+v", b)
		}
	}
	t.Logf("%d boxes outside the sampled ranges were central fallbacks", fallbacks)
}

func TestRandomResizedCropScaleRatioDistribution(t *testing.T) {
	// Over many seeds the sampled area fraction must cover [0.08, 1] and the
	// ratio [3/4, 4/3], not a narrow part of it.
	rng := rand.New(rand.NewPCG(7, 7))
	minF, maxF, minR, maxR := 2.0, 0.0, 10.0, 0.0
	for range 5000 {
		b := RandomResizedCropParams(rng, 1000, 1000, DefaultCropScale, DefaultCropRatio)
		f := float64(b.W*b.H) / 1e6
		r := float64(b.W) / float64(b.H)
		minF, maxF = min(minF, f), max(maxF, f)
		minR, maxR = min(minR, r), max(maxR, r)
	}
	if minF > 0.09 || maxF < 0.95 || minR > 0.76 || maxR < 1.32 {
		t.Errorf("range not covered: scale [%.3f, %.3f] ratio [%.3f, %.3f]", minF, maxF, minR, maxR)
	}
	// Rounding w and h (>= ~280 px here) moves the ratio by < 0.01.
	if minF < 0.08-0.002 || minR < 0.75-0.01 || maxR > 4.0/3+0.01 {
		t.Errorf("out of range: scale [%.3f, %.3f] ratio [%.3f, %.3f]", minF, maxF, minR, maxR)
	}
}

func TestRandomResizedCropDeterministic(t *testing.T) {
	src := fixtureRGB(t, "src_photo.png")
	run := func(seed uint64) ([]float32, CropBox) {
		rng := rand.New(rand.NewPCG(seed, 0))
		_, b := RandomResizedCrop(rand.New(rand.NewPCG(seed, 0)), src, 32, DefaultCropScale, DefaultCropRatio)
		return CoOpTrainTransform(rng, src, 32), b
	}
	a, ba := run(3)
	b, bb := run(3)
	if len(a) != 3*32*32 {
		t.Fatalf("len %d", len(a))
	}
	if ba != bb {
		t.Fatalf("boxes differ for the same seed: %+v %+v", ba, bb)
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, different output at %d", i)
		}
	}
	distinct := 0
	for seed := uint64(4); seed < 10; seed++ {
		c, _ := run(seed)
		for i := range c {
			if c[i] != a[i] {
				distinct++
				break
			}
		}
	}
	if distinct < 5 {
		t.Errorf("only %d of 6 other seeds changed the output", distinct)
	}
	// The crop is exactly crop-then-resize of the source.
	rng := rand.New(rand.NewPCG(11, 0))
	got, box := RandomResizedCrop(rng, src, 20, DefaultCropScale, DefaultCropRatio)
	want := ResizeBicubic(src.Crop(box.Left, box.Top, box.W, box.H), 20, 20)
	if got.W != 20 || got.H != 20 || !bytes.Equal(got.Pix, want.Pix) {
		t.Errorf("RandomResizedCrop is not crop+resize of box %+v", box)
	}
}

func TestRandomHorizontalFlip(t *testing.T) {
	p := patterned(6, 3)
	rng := rand.New(rand.NewPCG(1, 1))
	flips := 0
	for range 1000 {
		out, flipped := RandomHorizontalFlip(rng, p, 0.5)
		if flipped {
			flips++
			if !bytes.Equal(out.Pix, p.FlipHorizontal().Pix) {
				t.Fatal("flipped output is not the mirror image")
			}
		} else if out != p {
			t.Fatal("unflipped output is not the input")
		}
	}
	if flips < 420 || flips > 580 {
		t.Errorf("%d flips in 1000 draws with p=0.5", flips)
	}
	for range 20 {
		if _, f := RandomHorizontalFlip(rng, p, 0); f {
			t.Fatal("flipped with p=0")
		}
		if _, f := RandomHorizontalFlip(rng, p, 1); !f {
			t.Fatal("did not flip with p=1")
		}
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	pngBytes, err := os.ReadFile(filepath.Join(fixtureDir, "src_synth.png"))
	if err != nil {
		t.Fatal(err)
	}
	jpgBytes, err := os.ReadFile(filepath.Join(fixtureDir, "synth.q90_420.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"trunc.png":    pngBytes[:len(pngBytes)/2],
		"trunc.jpg":    jpgBytes[:len(jpgBytes)/2],
		"header.jpg":   jpgBytes[:3],
		"notimage.txt": []byte("this is not an image\n"),
		"empty.png":    nil,
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, load := range []func(string) error{
			func(p string) error { _, err := Load(p); return err },
			func(p string) error { _, err := LoadRGB(p); return err },
		} {
			err := load(p)
			if err == nil {
				t.Errorf("%s: no error", name)
				continue
			}
			if !strings.Contains(err.Error(), p) {
				t.Errorf("%s: error does not name the file: %v", name, err)
			}
		}
	}
	missing := filepath.Join(dir, "missing.png")
	if _, err := Load(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: %v", err)
	}
}

func TestDecodeReader(t *testing.T) {
	// PNG round trip through Decode.
	p := patterned(9, 7)
	var buf bytes.Buffer
	if err := png.Encode(&buf, p); err != nil {
		t.Fatal(err)
	}
	img, err := Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ToRGB(img).Pix, p.Pix) {
		t.Error("PNG round trip changed pixels")
	}
}

func TestResizeRegionEqualsResizeThenCrop(t *testing.T) {
	src := fixtureRGB(t, "src_noise.png") // 45x71
	rng := rand.New(rand.NewPCG(5, 5))
	for _, s := range [][2]int{{30, 50}, {45, 20}, {20, 71}, {90, 140}, {7, 3}} {
		full := ResizeBicubic(src, s[0], s[1])
		for range 10 {
			x0, y0 := rng.IntN(s[0]), rng.IntN(s[1])
			x1, y1 := x0+1+rng.IntN(s[0]-x0), y0+1+rng.IntN(s[1]-y0)
			got := resizeRegion(src, s[0], s[1], image.Rect(x0, y0, x1, y1))
			want := full.Crop(x0, y0, x1-x0, y1-y0)
			if got.W != want.W || got.H != want.H || !bytes.Equal(got.Pix, want.Pix) {
				t.Fatalf("%v region (%d,%d)-(%d,%d) differs from resize+crop", s, x0, y0, x1, y1)
			}
		}
	}
	// CLIPTransformRGB (which resizes only the crop) equals the composition
	// of its documented parts, including the no-resize path.
	for _, n := range []int{16, 45, 50, 71, 100} {
		want := Normalize(CenterCrop(ResizeShortSide(src, n), n), CLIPMean, CLIPStd, nil)
		got := CLIPTransformRGB(src, n)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("n=%d: CLIPTransformRGB differs from its parts at %d", n, i)
			}
		}
	}
}
