package realdata

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDrawTransformRanges checks that seeded draws stay within the
// documented ranges, cover every background kind and occlude some images.
func TestDrawTransformRanges(t *testing.T) {
	rng := classRNG(1, "ranges")
	kinds := map[int]int{}
	occluded := 0
	const n = 2000
	for range n {
		tr := drawTransform(rng)
		slack := (1-tr.Scale)/2 + 1e-12
		if tr.Scale < 0.75 || tr.Scale > 1 || math.Abs(tr.CX-0.5) > slack || math.Abs(tr.CY-0.5) > slack ||
			math.Abs(tr.Angle) > 12*math.Pi/180 || tr.Bright < 0.9 || tr.Bright > 1.1 ||
			tr.Contrast < 0.85 || tr.Contrast > 1.15 || tr.Sat < 0.75 || tr.Sat > 1.25 {
			t.Fatalf("transform out of range: %+v", tr)
		}
		for _, c := range [][3]float64{tr.C0, tr.C1, tr.OccCol} {
			for _, v := range c {
				if v < 0 || v > 255 {
					t.Fatalf("colour %v out of range in %+v", c, tr)
				}
			}
		}
		kinds[tr.BG]++
		if tr.Occlude {
			occluded++
			if r := tr.OccRect; r[0] < 0 || r[1] < 0 || r[0]+r[2] > 1 || r[1]+r[3] > 1 || r[2] > 0.18 || r[3] > 0.18 {
				t.Fatalf("occlusion patch %v", r)
			}
		}
	}
	for k, want := range map[int]float64{bgWhite: 0.45, bgSolid: 0.25, bgGradient: 0.20, bgNoise: 0.10} {
		if got := float64(kinds[k]) / n; math.Abs(got-want) > 0.04 {
			t.Errorf("background %d: fraction %.3f, want %.2f", k, got, want)
		}
	}
	if f := float64(occluded) / n; math.Abs(f-0.10) > 0.03 {
		t.Errorf("occluded fraction %.3f, want 0.10", f)
	}
}

// plainTransform places the content as large as the frame, centred and
// upright, on white, with no jitter.
func plainTransform() renderTransform {
	return renderTransform{Scale: 1, CX: 0.5, CY: 0.5, C0: [3]float64{255, 255, 255}, Bright: 1, Contrast: 1, Sat: 1}
}

// halves returns a w×h opaque sprite, red on its left half and blue on
// its right half, inside a transparent border of 3 pixels.
func halves(w, h int) *sprite {
	m := image.NewNRGBA(image.Rect(0, 0, w+6, h+6))
	for y := 3; y < h+3; y++ {
		for x := 3; x < w+3; x++ {
			c := color.NRGBA{255, 0, 0, 255}
			if x-3 >= w/2 {
				c = color.NRGBA{0, 0, 255, 255}
			}
			m.SetNRGBA(x, y, c)
		}
	}
	return newSprite(m)
}

// px returns pixel (x, y) of a size×size render.
func px(pix []uint8, size, x, y int) [3]uint8 {
	i := 3 * (y*size + x)
	return [3]uint8{pix[i], pix[i+1], pix[i+2]}
}

// near reports whether two colours differ by at most tol per channel.
func near(a, b [3]uint8, tol int) bool {
	for c := range a {
		if d := int(a[c]) - int(b[c]); d > tol || d < -tol {
			return false
		}
	}
	return true
}

// TestRenderGeometry checks the render's geometry on a two-colour sprite:
// the transparent border is trimmed, the content fills the frame at scale
// 1, a smaller scale shows the background around it, a rotation of 180°
// swaps the halves, a shifted centre moves the content, and the colour
// jitter and occlusion patch change the pixels they should.
func TestRenderGeometry(t *testing.T) {
	s := halves(40, 40)
	if s.m.Rect.Dx() != 40 || s.m.Rect.Dy() != 40 {
		t.Fatalf("sprite %v, want the 40x40 content", s.m.Rect)
	}
	const size = 16
	red, blue, white := [3]uint8{255, 0, 0}, [3]uint8{0, 0, 255}, [3]uint8{255, 255, 255}
	tr := plainTransform()
	out := s.render(tr, size, nil)
	if out.W != size || out.H != size {
		t.Fatalf("render %dx%d, want %d", out.W, out.H, size)
	}
	if !near(px(out.Pix, size, 2, 8), red, 2) || !near(px(out.Pix, size, 13, 8), blue, 2) || !near(px(out.Pix, size, 1, 1), red, 2) {
		t.Fatalf("scale 1: left %v right %v corner %v", px(out.Pix, size, 2, 8), px(out.Pix, size, 13, 8), px(out.Pix, size, 1, 1))
	}
	tr.Scale = 0.5
	out = s.render(tr, size, nil)
	if !near(px(out.Pix, size, 1, 1), white, 2) || !near(px(out.Pix, size, 6, 8), red, 8) || !near(px(out.Pix, size, 9, 8), blue, 8) {
		t.Fatalf("scale 0.5: corner %v left %v right %v", px(out.Pix, size, 1, 1), px(out.Pix, size, 6, 8), px(out.Pix, size, 9, 8))
	}
	tr.Angle = math.Pi
	out = s.render(tr, size, nil)
	if !near(px(out.Pix, size, 6, 8), blue, 8) || !near(px(out.Pix, size, 9, 8), red, 8) {
		t.Fatalf("rotated 180°: left %v right %v", px(out.Pix, size, 6, 8), px(out.Pix, size, 9, 8))
	}
	tr.Angle, tr.CX = 0, 0.25
	out = s.render(tr, size, nil)
	if !near(px(out.Pix, size, 2, 8), red, 8) || !near(px(out.Pix, size, 5, 8), blue, 8) || !near(px(out.Pix, size, 12, 8), white, 2) {
		t.Fatalf("shifted left: %v %v %v", px(out.Pix, size, 2, 8), px(out.Pix, size, 5, 8), px(out.Pix, size, 12, 8))
	}
	// Saturation 0 turns red into its luma; brightness scales it.
	tr = plainTransform()
	tr.Sat, tr.Bright = 0, 0.5
	out = s.render(tr, size, nil)
	if g := px(out.Pix, size, 2, 8); !near(g, [3]uint8{38, 38, 38}, 2) {
		t.Fatalf("grey, half-bright red = %v, want ~38", g)
	}
	tr = plainTransform()
	tr.Occlude, tr.OccRect, tr.OccCol = true, [4]float64{0.5, 0.5, 0.5, 0.5}, [3]float64{0, 255, 0}
	out = s.render(tr, size, nil)
	if !near(px(out.Pix, size, 12, 12), [3]uint8{0, 255, 0}, 2) || !near(px(out.Pix, size, 2, 2), red, 2) {
		t.Fatalf("occluded quadrant %v, other %v", px(out.Pix, size, 12, 12), px(out.Pix, size, 2, 2))
	}
}

// TestDrawJobDeterministic checks that a class's draws depend only on the
// seed and the class key: the same job gives the same pixels, another key
// or seed others, and a class without enough loadable styles none.
func TestDrawJobDeterministic(t *testing.T) {
	dir := t.TempDir()
	a, b := writePNG(t, dir, "a.png", halves(30, 20).m), writePNG(t, dir, "b.png", halves(20, 30).m)
	job := drawJob{key: "k", styles: []styleSource{{a, 0}, {b, 1}}, n: 6}
	r1, r2 := job.run(1, 16, 2), job.run(1, 16, 2)
	if len(r1.imgs) != 6 || len(r1.srcs) != 6 {
		t.Fatalf("%d images, %d sources, want 6", len(r1.imgs), len(r1.srcs))
	}
	for i := range r1.imgs {
		if !bytes.Equal(r1.imgs[i].Pix, r2.imgs[i].Pix) || r1.srcs[i] != r2.srcs[i] {
			t.Fatalf("draw %d differs between identical runs", i)
		}
	}
	other := drawJob{key: "k2", styles: job.styles, n: 6}.run(1, 16, 2)
	reseeded := job.run(2, 16, 2)
	if bytes.Equal(other.imgs[0].Pix, r1.imgs[0].Pix) || bytes.Equal(reseeded.imgs[0].Pix, r1.imgs[0].Pix) {
		t.Fatal("another key or seed gave the same first image")
	}
	bad := drawJob{key: "k", styles: []styleSource{{a, 0}, {dir + "/missing.png", 1}}, n: 6}.run(1, 16, 2)
	if bad.imgs != nil {
		t.Fatal("a class with one loadable style of the two required gave images")
	}
}

// writePNG writes m as dir/name and returns its path.
func writePNG(t *testing.T, dir, name string, m image.Image) string {
	t.Helper()
	p := filepath.Join(dir, name)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, m); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCheckHeldOut checks the builder's held-out check: it passes when no
// benchmark image's pixels occur among the pairs' and names the image and
// the pairs file when one does; pairHashes reads a pairs file and fails on
// a missing one.
func TestCheckHeldOut(t *testing.T) {
	b := tinyBenchmark()
	logf := func(string, ...any) {}
	path := filepath.Join(t.TempDir(), "pairs.bin")
	imgs := &Images{W: 4, H: 4, Pix: append([]uint8{}, b.Images.Pix[48:96]...)} // benchmark image 1
	if err := WritePairs(path, &Pairs{ImageSize: 4, Sources: []Source{{ID: "s"}}, ImageSources: []int{0}, Captions: [][]string{{"x."}}, Images: imgs}); err != nil {
		t.Fatal(err)
	}
	h, err := pairHashes(path)
	if err != nil || len(h) != 1 {
		t.Fatalf("pairHashes = %d hashes, %v", len(h), err)
	}
	err = checkHeldOut(b, h, path, logf)
	if err == nil || !strings.Contains(err.Error(), "benchmark image 1") || !strings.Contains(err.Error(), path) {
		t.Fatalf("collision: error %v, want one naming image 1 and %s", err, path)
	}
	b.Images.Pix[48] ^= 1
	if err := checkHeldOut(b, h, path, logf); err != nil {
		t.Fatalf("no collision: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "missing.bin")
	if h, err := pairHashes(missing); h != nil || err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("missing pairs file: %v, %v; want an error naming %s", h, err, missing)
	}
}
