package realdata

import (
	"hash/fnv"
	"image"
	"image/draw"
	"math"
	"math/rand/v2"

	"github.com/softcpt/softcpt-go/clip/imageproc"
)

// frameSide is the side of the square canvas a source image is rendered
// onto (at the source's resolution) before it is resized to the benchmark's
// image size.
const frameSide = 128

// Background kinds of a render.
const (
	bgWhite = iota
	bgSolid
	bgGradient
	bgNoise
)

// renderTransform is one seeded draw of the benchmark's render
// distribution: where and how large the content sits on the frame, its
// rotation, the background, a colour jitter and an optional occlusion patch.
type renderTransform struct {
	// Scale is the content's longer side as a fraction of the frame.
	Scale float64
	// CX, CY is the content's centre in frame units (0.5 is the middle).
	CX, CY float64
	// Angle is the rotation in radians.
	Angle float64
	// BG is the background kind; C0, C1 its colours (0–255), Dir the
	// gradient's direction (radians), Noise the noise's standard deviation.
	BG     int
	C0, C1 [3]float64
	Dir    float64
	Noise  float64
	// Bright, Contrast and Sat scale brightness, contrast around mid-grey
	// and saturation around the pixel's luma.
	Bright, Contrast, Sat float64
	// Occlude adds a patch of colour OccCol covering OccRect (frame units:
	// x0, y0, w, h).
	Occlude bool
	OccRect [4]float64
	OccCol  [3]float64
}

// randomColour returns a colour of random hue with saturation and value in
// the given ranges.
func randomColour(rng *rand.Rand, sLo, sHi, vLo, vHi float64) [3]float64 {
	h := rng.Float64() * 6
	s := sLo + rng.Float64()*(sHi-sLo)
	v := (vLo + rng.Float64()*(vHi-vLo)) * 255
	i := int(h)
	f := h - float64(i)
	p, q, t := v*(1-s), v*(1-s*f), v*(1-s*(1-f))
	switch i % 6 {
	case 0:
		return [3]float64{v, t, p}
	case 1:
		return [3]float64{q, v, p}
	case 2:
		return [3]float64{p, v, t}
	case 3:
		return [3]float64{p, q, v}
	case 4:
		return [3]float64{t, p, v}
	}
	return [3]float64{v, p, q}
}

// drawTransform draws one render transform: scale 0.75–1.0 of the frame,
// the centre jittered so the content stays inside, rotation ±12°,
// background white (45%), a solid colour (25%), a two-colour gradient (20%)
// or a light colour with noise (10%), brightness ±10%, contrast ±15%,
// saturation ±25%, and a patch of 10–18% of the frame's side on 10% of
// the images. (Stronger settings, scale from 0.65 and rotation ±20°,
// brought the shipped model's zero-shot accuracy on the binary card tasks
// near chance.)
func drawTransform(rng *rand.Rand) renderTransform {
	t := renderTransform{Scale: 0.75 + 0.25*rng.Float64()}
	slack := (1 - t.Scale) / 2
	t.CX = 0.5 + (2*rng.Float64()-1)*slack
	t.CY = 0.5 + (2*rng.Float64()-1)*slack
	t.Angle = (2*rng.Float64() - 1) * 12 * math.Pi / 180
	switch u := rng.Float64(); {
	case u < 0.45:
		t.BG, t.C0 = bgWhite, [3]float64{255, 255, 255}
	case u < 0.70:
		t.BG, t.C0 = bgSolid, randomColour(rng, 0.1, 0.7, 0.45, 1)
	case u < 0.90:
		t.BG, t.C0, t.C1 = bgGradient, randomColour(rng, 0.1, 0.7, 0.45, 1), randomColour(rng, 0.1, 0.7, 0.45, 1)
		t.Dir = rng.Float64() * 2 * math.Pi
	default:
		t.BG, t.C0, t.Noise = bgNoise, randomColour(rng, 0, 0.4, 0.7, 1), 4+6*rng.Float64()
	}
	t.Bright = 0.9 + 0.2*rng.Float64()
	t.Contrast = 0.85 + 0.3*rng.Float64()
	t.Sat = 0.75 + 0.5*rng.Float64()
	if rng.Float64() < 0.10 {
		t.Occlude = true
		w, h := 0.10+0.08*rng.Float64(), 0.10+0.08*rng.Float64()
		t.OccRect = [4]float64{rng.Float64() * (1 - w), rng.Float64() * (1 - h), w, h}
		t.OccCol = randomColour(rng, 0, 0.8, 0.2, 1)
	}
	return t
}

// classRNG returns a generator seeded by seed and key, so that every
// class's draws are reproducible whatever order classes are built in.
func classRNG(seed uint64, key string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(key))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// sprite is a source image's visible content as non-premultiplied RGBA.
type sprite struct {
	m *image.NRGBA
}

// newSprite converts img to a sprite, trimming a transparent border. It
// returns nil for an image with no visible content.
func newSprite(img image.Image) *sprite {
	crop := img.Bounds()
	if opaque, ok := img.(interface{ Opaque() bool }); !ok || !opaque.Opaque() {
		crop = contentBounds(img)
	}
	if crop.Empty() {
		return nil
	}
	m := image.NewNRGBA(image.Rect(0, 0, crop.Dx(), crop.Dy()))
	draw.Draw(m, m.Bounds(), img, crop.Min, draw.Src)
	return &sprite{m: m}
}

// sample returns the premultiplied colour (0–255) and alpha (0–1) of the
// sprite at (x, y) in pixel-centre coordinates, bilinearly interpolated;
// outside the sprite it is transparent.
func (s *sprite) sample(x, y float64) (r, g, b, a float64) {
	w, h := s.m.Rect.Dx(), s.m.Rect.Dy()
	x -= 0.5
	y -= 0.5
	x0, y0 := int(math.Floor(x)), int(math.Floor(y))
	fx, fy := x-float64(x0), y-float64(y0)
	wx := [2]float64{1 - fx, fx}
	wy := [2]float64{1 - fy, fy}
	for j, yy := range [2]int{y0, y0 + 1} {
		if yy < 0 || yy >= h || wy[j] == 0 {
			continue
		}
		for i, xx := range [2]int{x0, x0 + 1} {
			if xx < 0 || xx >= w || wx[i] == 0 {
				continue
			}
			p := s.m.Pix[yy*s.m.Stride+4*xx:]
			pa := float64(p[3]) / 255 * wx[i] * wy[j]
			r += float64(p[0]) * pa
			g += float64(p[1]) * pa
			b += float64(p[2]) * pa
			a += pa
		}
	}
	return r, g, b, a
}

// render draws the sprite on a frameSide×frameSide frame with transform t
// and resizes the frame to size×size with imageproc.ResizeBicubic.
func (s *sprite) render(t renderTransform, size int, noise *rand.Rand) *imageproc.RGB {
	const n = frameSide
	w, h := float64(s.m.Rect.Dx()), float64(s.m.Rect.Dy())
	k := t.Scale * n / math.Max(w, h) // sprite pixels → frame pixels
	cos, sin := math.Cos(t.Angle), math.Sin(t.Angle)
	cx, cy := t.CX*n, t.CY*n
	gx, gy := math.Cos(t.Dir), math.Sin(t.Dir)
	frame := imageproc.NewRGB(n, n)
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			// Background.
			bg := t.C0
			switch t.BG {
			case bgGradient:
				u := ((float64(x)/n-0.5)*gx+(float64(y)/n-0.5)*gy)/math.Sqrt2 + 0.5
				for c := range bg {
					bg[c] = t.C0[c]*(1-u) + t.C1[c]*u
				}
			case bgNoise:
				d := noise.NormFloat64() * t.Noise
				for c := range bg {
					bg[c] += d
				}
			}
			// Inverse map of the frame pixel's centre into the sprite.
			dx, dy := float64(x)+0.5-cx, float64(y)+0.5-cy
			sx := (cos*dx+sin*dy)/k + w/2
			sy := (-sin*dx+cos*dy)/k + h/2
			r, g, b, a := s.sample(sx, sy)
			px := [3]float64{r + (1-a)*bg[0], g + (1-a)*bg[1], b + (1-a)*bg[2]}
			// Colour jitter: brightness, contrast, saturation.
			luma := 0.299*px[0] + 0.587*px[1] + 0.114*px[2]
			for c := range px {
				v := luma + (px[c]-luma)*t.Sat
				v = (v*t.Bright-128)*t.Contrast + 128
				px[c] = v
			}
			if t.Occlude {
				fx, fy := float64(x)/n, float64(y)/n
				if fx >= t.OccRect[0] && fx < t.OccRect[0]+t.OccRect[2] && fy >= t.OccRect[1] && fy < t.OccRect[1]+t.OccRect[3] {
					px = t.OccCol
				}
			}
			i := 3 * (y*n + x)
			for c := range px {
				frame.Pix[i+c] = uint8(math.Round(math.Min(255, math.Max(0, px[c]))))
			}
		}
	}
	return imageproc.ResizeBicubic(frame, size, size)
}
