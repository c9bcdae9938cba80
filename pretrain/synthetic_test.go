package pretrain

import (
	"math/rand/v2"

	"github.com/softcpt/softcpt-go/clip/imageproc"
	"github.com/softcpt/softcpt-go/tensor"
)

var (
	synthColours = []string{"red", "green", "blue"}
	synthRGB     = [][3]float64{{220, 30, 30}, {30, 200, 40}, {40, 60, 230}}
	synthShapes  = []string{"square", "circle"}
)

// synthImage draws a coloured square or disc at a random place and size on
// a random grey background with pixel noise.
func synthImage(rng *rand.Rand, colour, shape, size int) *imageproc.RGB {
	img := imageproc.NewRGB(size, size)
	bg := 90 + rng.Float64()*80
	r := float64(size) * (0.22 + 0.12*rng.Float64())
	cx := r + rng.Float64()*(float64(size)-2*r)
	cy := r + rng.Float64()*(float64(size)-2*r)
	c := synthRGB[colour]
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			dx, dy := float64(x)+0.5-cx, float64(y)+0.5-cy
			in := dx*dx+dy*dy <= r*r
			if shape == 0 {
				in = dx >= -r && dx <= r && dy >= -r && dy <= r
			}
			for k := 0; k < 3; k++ {
				v := bg
				if in {
					v = c[k]
				}
				v += rng.NormFloat64() * 8
				img.Pix[(y*size+x)*3+k] = uint8(min(max(v, 0), 255))
			}
		}
	}
	return img
}

// synthPairs returns n images of coloured shapes captioned "a red square"
// and the like (several captions each), and the labels colour*2+shape.
func synthPairs(n, size int, seed uint64) (*multiPairs, []int) {
	rng := tensor.NewRNG(seed)
	p := &multiPairs{}
	labels := make([]int, n)
	for i := 0; i < n; i++ {
		c, s := rng.IntN(len(synthColours)), rng.IntN(len(synthShapes))
		p.images = append(p.images, synthImage(rng, c, s, size))
		name := synthColours[c] + " " + synthShapes[s]
		p.captions = append(p.captions, []string{"a " + name, "a " + name + ".", "a picture of a " + name})
		labels[i] = c*len(synthShapes) + s
	}
	return p, labels
}

// synthTask is the zero-shot task over colour×shape on fresh images.
func synthTask(n, size int, seed uint64) ZeroShotTask {
	p, labels := synthPairs(n, size, seed)
	t := ZeroShotTask{Name: "synth", Images: p.images, Labels: labels, Template: "a {}"}
	for _, c := range synthColours {
		for _, s := range synthShapes {
			t.Classes = append(t.Classes, c+" "+s)
		}
	}
	return t
}

// multiPairs is a MultiCaptioned in-memory source.
type multiPairs struct {
	images   []*imageproc.RGB
	captions [][]string
}

func (m *multiPairs) Len() int                            { return len(m.images) }
func (m *multiPairs) Image(i int) (*imageproc.RGB, error) { return m.images[i].Clone(), nil }
func (m *multiPairs) Caption(i int) string                { return m.captions[i][0] }
func (m *multiPairs) Captions(i int) []string             { return m.captions[i] }
