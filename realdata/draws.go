package realdata

import (
	"sync"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/clip/imageproc"
)

// styleSource is one style's source image of a class: a PNG (rendered
// from an SVG where the source is vector) and the source it comes from.
type styleSource struct {
	path string
	src  int
}

// drawJob asks for n images of one class, each an i.i.d. draw of a style
// (uniform over the class's styles) and a render transform, seeded by key.
type drawJob struct {
	key    string
	styles []styleSource
	n      int
}

// drawResult holds a job's images and their source IDs, or none when fewer
// than minStyles of its styles could be loaded.
type drawResult struct {
	imgs []*imageproc.RGB
	srcs []int
}

// loadSprite decodes a PNG into a sprite (see newSprite).
func loadSprite(path string) (*sprite, error) {
	img, err := decodeImage(path)
	if err != nil {
		return nil, err
	}
	s := newSprite(img)
	if s == nil {
		return nil, errors.Errorf("%s: no visible content", path)
	}
	return s, nil
}

// run renders one job; a class with fewer than minStyles loadable styles
// gives an empty result.
func (j drawJob) run(seed uint64, size, minStyles int) drawResult {
	var sprites []*sprite
	var srcs []int
	for _, st := range j.styles {
		s, err := loadSprite(st.path)
		if err != nil {
			continue
		}
		sprites = append(sprites, s)
		srcs = append(srcs, st.src)
	}
	if len(sprites) < minStyles {
		return drawResult{}
	}
	rng := classRNG(seed, j.key)
	var out drawResult
	for range j.n {
		k := rng.IntN(len(sprites))
		t := drawTransform(rng)
		noise := classRNG(rng.Uint64(), "noise")
		out.imgs = append(out.imgs, sprites[k].render(t, size, noise))
		out.srcs = append(out.srcs, srcs[k])
	}
	return out
}

// drawAll renders the jobs with cfg.Workers goroutines and adds the images
// to the benchmark pool in job order. It returns, per job, the pool
// indices of its images (nil for a class dropped for lack of styles).
func (b *builder) drawAll(jobs []drawJob, minStyles int) [][]int {
	res := make([]drawResult, len(jobs))
	ch := make(chan int)
	var wg sync.WaitGroup
	for range b.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ch {
				res[i] = jobs[i].run(b.cfg.Seed, b.cfg.Size, minStyles)
			}
		}()
	}
	for i := range jobs {
		ch <- i
	}
	close(ch)
	wg.Wait()
	out := make([][]int, len(jobs))
	for i, r := range res {
		for k, img := range r.imgs {
			out[i] = append(out[i], b.bench.add("", r.srcs[k], img, nil))
		}
	}
	return out
}
