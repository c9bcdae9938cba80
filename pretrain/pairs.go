package pretrain

import (
	"strings"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/clip/imageproc"
	"github.com/softcpt/softcpt-go/realdata"
)

// Pairs is a source of image–caption pairs for pretraining. Image may be
// called from several goroutines at once and must not return an image
// that the caller may not modify in place (return a copy if the source
// keeps it).
type Pairs interface {
	// Len returns the number of pairs (images).
	Len() int
	// Image returns image i (any size; it is cropped and resized).
	Image(i int) (*imageproc.RGB, error)
	// Caption returns the caption of image i.
	Caption(i int) string
}

// MultiCaptioned is implemented by pair sources whose images have several
// captions. Train then draws one of them at random each time an image is
// used (Caption is not called).
type MultiCaptioned interface {
	// Captions returns every caption of image i (at least one).
	Captions(i int) []string
}

// Captions returns every caption of p (all of them for a MultiCaptioned
// source), e.g. to learn a BPE vocabulary with tokenizer.Learn.
func Captions(p Pairs) []string {
	var out []string
	mc, multi := p.(MultiCaptioned)
	for i := 0; i < p.Len(); i++ {
		if multi {
			out = append(out, mc.Captions(i)...)
		} else {
			out = append(out, p.Caption(i))
		}
	}
	return out
}

// MemoryPairs is an in-memory pair source (tests, small data sets).
type MemoryPairs struct {
	Images []*imageproc.RGB
	Texts  []string
}

// Len returns the number of pairs.
func (m *MemoryPairs) Len() int { return len(m.Images) }

// Image returns a copy of image i.
func (m *MemoryPairs) Image(i int) (*imageproc.RGB, error) { return m.Images[i].Clone(), nil }

// Caption returns the caption of image i.
func (m *MemoryPairs) Caption(i int) string { return m.Texts[i] }

// realPairs adapts realdata.Pairs.
type realPairs struct{ p *realdata.Pairs }

// FromRealdata adapts the project's packed pretraining set
// (realdata.OpenPairs) to Pairs; its images have several captions each,
// so the result is also MultiCaptioned.
func FromRealdata(p *realdata.Pairs) Pairs { return realPairs{p} }

func (r realPairs) Len() int                            { return r.p.Len() }
func (r realPairs) Image(i int) (*imageproc.RGB, error) { return r.p.Image(i), nil }
func (r realPairs) Caption(i int) string                { return r.p.Captions[i][0] }
func (r realPairs) Captions(i int) []string             { return r.p.Captions[i] }

// ZeroShotTask is a held-out classification task for zero-shot
// evaluation: each image is assigned the class whose prompt
// (Template with "{}" replaced by the class name) is most similar.
type ZeroShotTask struct {
	// Name identifies the task in logs.
	Name string
	// Images are the test images and Labels their classes (indices into
	// Classes).
	Images []*imageproc.RGB
	Labels []int
	// Classes are the class names.
	Classes []string
	// Template is the prompt, e.g. "a photo of a {}."; empty means "{}".
	Template string
}

// Validate checks the task's consistency.
func (t *ZeroShotTask) Validate() error {
	if len(t.Images) == 0 || len(t.Images) != len(t.Labels) {
		return errors.Errorf("zero-shot task %q: %d images and %d labels", t.Name, len(t.Images), len(t.Labels))
	}
	if len(t.Classes) < 2 {
		return errors.Errorf("zero-shot task %q: %d classes (need at least 2)", t.Name, len(t.Classes))
	}
	for i, l := range t.Labels {
		if l < 0 || l >= len(t.Classes) {
			return errors.Errorf("zero-shot task %q: label %d of image %d outside [0,%d)", t.Name, l, i, len(t.Classes))
		}
	}
	return nil
}

// Prompts returns the task's class prompts.
func (t *ZeroShotTask) Prompts() []string {
	tmpl := t.Template
	if tmpl == "" {
		tmpl = "{}"
	}
	out := make([]string, len(t.Classes))
	for i, c := range t.Classes {
		out[i] = strings.ReplaceAll(tmpl, "{}", c)
	}
	return out
}

// TasksFromBenchmark returns the test splits of the benchmark's tasks
// (all of them, or those of the given groups) as zero-shot tasks, each
// capped at maxImages test images (0: no cap; the first ones in file
// order, so the evaluation is the same at every step).
func TasksFromBenchmark(b *realdata.Benchmark, groups []string, maxImages int) []ZeroShotTask {
	keep := func(g string) bool {
		if len(groups) == 0 {
			return true
		}
		for _, x := range groups {
			if x == g {
				return true
			}
		}
		return false
	}
	var out []ZeroShotTask
	for _, t := range b.Tasks {
		if !keep(t.Group) {
			continue
		}
		zt := ZeroShotTask{Name: t.ID, Classes: t.Classes, Template: t.Template}
		for k, it := range t.Test {
			if maxImages > 0 && k >= maxImages {
				break
			}
			zt.Images = append(zt.Images, b.Image(it.Image))
			zt.Labels = append(zt.Labels, it.Label)
		}
		if len(zt.Images) > 0 {
			out = append(out, zt)
		}
	}
	return out
}
