package realdata

import (
	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/clip/imageproc"
)

// Pairs is the pretraining set: images, each with one or more captions.
// A training step samples an image and one of its captions.
type Pairs struct {
	// Kind is KindPairs.
	Kind string `json:"kind"`
	// ImageSize is the side of the square images.
	ImageSize int `json:"image_size"`
	// Sources lists every upstream source with its licence.
	Sources []Source `json:"sources"`
	// ImageSources gives, per image, the index into Sources it came from.
	ImageSources []int `json:"image_sources"`
	// Captions gives, per image, its captions (at least one each).
	Captions [][]string `json:"captions"`
	// Notes documents how the set was assembled.
	Notes string `json:"notes,omitempty"`
	// Images holds the pixels.
	Images *Images `json:"-"`
}

// Len returns the number of images.
func (p *Pairs) Len() int { return len(p.Captions) }

// Image returns a copy of image i.
func (p *Pairs) Image(i int) *imageproc.RGB { return p.Images.Image(i) }

// Pixels returns image i as a read-only H×W×3 slice.
func (p *Pairs) Pixels(i int) []uint8 { return p.Images.Pixels(i) }

// NumPairs returns the number of (image, caption) pairs.
func (p *Pairs) NumPairs() int {
	n := 0
	for _, c := range p.Captions {
		n += len(c)
	}
	return n
}

// OpenPairs reads and validates a pretraining pairs pack.
func OpenPairs(path string) (*Pairs, error) {
	p := &Pairs{}
	imgs, err := readPack(path, p)
	if err != nil {
		return nil, err
	}
	p.Images = imgs
	if err := p.validate(); err != nil {
		return nil, errors.Wrapf(err, "realdata: %s: invalid pairs file; %s", path, RegenerateHint)
	}
	return p, nil
}

// WritePairs writes p (after validating it) to path.
func WritePairs(path string, p *Pairs) error {
	p.Kind = KindPairs
	if err := p.validate(); err != nil {
		return errors.Wrapf(err, "realdata: refusing to write invalid pairs %s", path)
	}
	return writePack(path, p, p.Images)
}

// validate checks the internal consistency of p.
func (p *Pairs) validate() error {
	if p.Kind != KindPairs {
		return errors.Errorf("kind %q, want %q", p.Kind, KindPairs)
	}
	if p.Images == nil || p.Images.W != p.ImageSize || p.Images.H != p.ImageSize {
		return errors.Errorf("image size mismatch (image_size %d)", p.ImageSize)
	}
	n := p.Images.Len()
	if len(p.Captions) != n || len(p.ImageSources) != n {
		return errors.Errorf("%d captions lists and %d sources for %d images", len(p.Captions), len(p.ImageSources), n)
	}
	for i := range p.Captions {
		if len(p.Captions[i]) == 0 {
			return errors.Errorf("image %d has no caption", i)
		}
		for _, c := range p.Captions[i] {
			if c == "" {
				return errors.Errorf("image %d has an empty caption", i)
			}
		}
		if s := p.ImageSources[i]; s < 0 || s >= len(p.Sources) {
			return errors.Errorf("image %d: source index %d out of range", i, s)
		}
	}
	return nil
}
