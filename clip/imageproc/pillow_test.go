package imageproc

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
	"testing"
)

const fixtureDir = "../../testdata/imageproc"

type manifest struct {
	Resize []struct {
		Src  string `json:"src"`
		W    int    `json:"w"`
		H    int    `json:"h"`
		Want string `json:"want"`
	} `json:"resize"`
	JPEG []struct {
		JPEG   string `json:"jpeg"`
		Sub    string `json:"sub"`
		Pillow string `json:"pillow"`
		Src    string `json:"src"`
	} `json:"jpeg"`
	CLIP []struct {
		Src  string `json:"src"`
		Size int    `json:"size"`
		Want string `json:"want"`
	} `json:"clip"`
	Convert []struct {
		Src  string `json:"src"`
		Mode string `json:"mode"`
		Want string `json:"want"`
	} `json:"convert"`
}

func loadManifest(t testing.TB) manifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, "manifest.json"))
	if err != nil {
		t.Fatalf("read manifest (run testdata/imageproc/gen_imageproc.py): %v", err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("parse manifest: %v", err)
	}
	if len(m.Resize) == 0 || len(m.JPEG) == 0 || len(m.CLIP) == 0 || len(m.Convert) == 0 {
		t.Fatalf("manifest has an empty section: %+v", m)
	}
	return m
}

func fixtureRGB(t testing.TB, name string) *RGB {
	t.Helper()
	m, err := LoadRGB(filepath.Join(fixtureDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// diffStats is the per-channel max and mean absolute difference.
type diffStats struct {
	max  [3]int
	mean [3]float64
}

func (d diffStats) Max() int { return max(d.max[0], d.max[1], d.max[2]) }

func (d diffStats) MeanAll() float64 { return (d.mean[0] + d.mean[1] + d.mean[2]) / 3 }

func (d diffStats) String() string {
	return fmt.Sprintf("max R/G/B %d/%d/%d mean %.3f/%.3f/%.3f", d.max[0], d.max[1], d.max[2], d.mean[0], d.mean[1], d.mean[2])
}

func compareRGB(t testing.TB, got, want *RGB) diffStats {
	t.Helper()
	if got.W != want.W || got.H != want.H {
		t.Fatalf("size %dx%d, want %dx%d", got.W, got.H, want.W, want.H)
	}
	var d diffStats
	var sum [3]int
	for i, g := range got.Pix {
		v := int(g) - int(want.Pix[i])
		if v < 0 {
			v = -v
		}
		c := i % 3
		sum[c] += v
		d.max[c] = max(d.max[c], v)
	}
	n := float64(got.W * got.H)
	for c := range sum {
		d.mean[c] = float64(sum[c]) / n
	}
	return d
}

func TestResizeMatchesPillow(t *testing.T) {
	m := loadManifest(t)
	worst, differing, total := 0, 0, 0
	for _, c := range m.Resize {
		src := fixtureRGB(t, c.Src)
		want := fixtureRGB(t, c.Want)
		got := ResizeBicubic(src, c.W, c.H)
		d := compareRGB(t, got, want)
		for i := range got.Pix {
			if got.Pix[i] != want.Pix[i] {
				differing++
			}
		}
		total += len(got.Pix)
		t.Logf("%s %dx%d -> %dx%d: %v", c.Src, src.W, src.H, c.W, c.H, d)
		worst = max(worst, d.Max())
		// The port is exact; the brief's tolerance would be 1 grey level.
		if d.Max() != 0 {
			t.Errorf("%s -> %dx%d: differs from Pillow by up to %d grey levels", c.Src, c.W, c.H, d.Max())
		}
	}
	t.Logf("resize vs Pillow over %d cases: max abs diff %d, %d of %d samples differ", len(m.Resize), worst, differing, total)
}

func TestConvertMatchesPillow(t *testing.T) {
	m := loadManifest(t)
	for _, c := range m.Convert {
		got := fixtureRGB(t, c.Src)
		want := fixtureRGB(t, c.Want)
		d := compareRGB(t, got, want)
		t.Logf("%s (Pillow mode %s): %v", c.Src, c.Mode, d)
		limit := 0
		if filepath.Ext(c.Src) == ".jpg" {
			limit = 4 // Go's IDCT differs from libjpeg's by a few levels
		}
		if d.Max() > limit {
			t.Errorf("%s (mode %s): max diff %d > %d", c.Src, c.Mode, d.Max(), limit)
		}
	}
}

// goPlainJPEG decodes with image/jpeg and Go's own YCbCr→RGB conversion.
func goPlainJPEG(t testing.TB, name string) *RGB {
	t.Helper()
	f, err := os.Open(filepath.Join(fixtureDir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := jpeg.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return ToRGB(img)
}

func TestJPEGDecodeVsLibjpeg(t *testing.T) {
	m := loadManifest(t)
	for _, c := range m.JPEG {
		want := fixtureRGB(t, c.Pillow)
		plain := compareRGB(t, goPlainJPEG(t, c.JPEG), want)
		fancy := compareRGB(t, fixtureRGB(t, c.JPEG), want)
		t.Logf("%-20s %4dx%-4d Go image/jpeg: %v | fancy: %v", c.JPEG, want.W, want.H, plain, fancy)
		// Bounded by Go's IDCT (vs libjpeg's jidctint) and by the colour
		// conversion's rounding.
		if fancy.Max() > 4 || fancy.MeanAll() > 0.1 {
			t.Errorf("%s: fancy decode differs from libjpeg: %v", c.JPEG, fancy)
		}
		if c.Sub != "444" && fancy.MeanAll() >= plain.MeanAll() {
			t.Errorf("%s: fancy upsampling (%v) not closer to libjpeg than Go's (%v)", c.JPEG, fancy, plain)
		}
	}
}

func readF32(t testing.TB, name string) []float32 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, name))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

func TestCLIPTransformMatchesPython(t *testing.T) {
	m := loadManifest(t)
	for _, c := range m.CLIP {
		want := readF32(t, c.Want)
		img, err := Load(filepath.Join(fixtureDir, c.Src))
		if err != nil {
			t.Fatal(err)
		}
		got := CLIPTransform(img, c.Size)
		if len(got) != 3*c.Size*c.Size || len(want) != len(got) {
			t.Fatalf("%s: len %d, want %d (fixture %d)", c.Want, len(got), 3*c.Size*c.Size, len(want))
		}
		worst := clipDiff(got, want, c.Size)
		t.Logf("%s size %d: max diff in grey levels R/G/B %.4f/%.4f/%.4f", c.Src, c.Size, worst[0], worst[1], worst[2])
		if filepath.Ext(c.Src) == ".jpg" {
			plain := clipDiff(CLIPTransformRGB(goPlainJPEG(t, c.Src), c.Size), want, c.Size)
			t.Logf("%s size %d: with Go's plain JPEG decode instead: %.4f/%.4f/%.4f", c.Src, c.Size, plain[0], plain[1], plain[2])
			if max(worst[0], worst[1], worst[2]) > max(plain[0], plain[1], plain[2]) {
				t.Errorf("%s: fancy decode is further from Python than Go's plain decode", c.Src)
			}
		}
		limit := 0.0 // from PNG: bit-exact
		if filepath.Ext(c.Src) == ".jpg" {
			limit = 4 // bounded by the JPEG decode difference (Go's IDCT)
		}
		if max(worst[0], worst[1], worst[2]) > limit {
			t.Errorf("%s size %d: differs from Python by %v grey levels (limit %v)", c.Src, c.Size, worst, limit)
		}
	}
}

// clipDiff is the worst difference per channel between two CHW transforms
// of size×size, in grey levels (value*std*255).
func clipDiff(got, want []float32, size int) [3]float64 {
	var worst [3]float64
	plane := size * size
	for i := range got {
		ch := i / plane
		d := math.Abs(float64(got[i]-want[i])) * float64(CLIPStd[ch]) * 255
		worst[ch] = max(worst[ch], d)
	}
	return worst
}

// Check that the fixtures themselves decode to the expected Go types, so the
// conversion paths above are the ones exercised.
func TestFixtureDecodedTypes(t *testing.T) {
	want := map[string]string{
		"conv_gray.png":     "*image.Gray",
		"conv_la.png":       "*image.NRGBA",
		"conv_rgba.png":     "*image.NRGBA",
		"conv_pal.png":      "*image.Paletted",
		"conv_gray16.png":   "*image.Gray16",
		"conv_cmyk.jpg":     "*image.CMYK",
		"conv_gray.jpg":     "*image.Gray",
		"src_photo.png":     "*image.RGBA",
		"photo.q90_420.jpg": "*imageproc.RGB",
	}
	for name, typ := range want {
		img, err := Load(filepath.Join(fixtureDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprintf("%T", img); got != typ {
			t.Errorf("%s decodes to %s, want %s", name, got, typ)
		}
	}
}
