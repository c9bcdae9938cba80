package softcpt

import (
	"context"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/clip/imageproc"
	"github.com/softcpt/softcpt-go/tensor"
)

// Example is one labelled image of a task.
type Example struct {
	Task, Label int
	// Name identifies the image in error messages (e.g. its path).
	Name string
	// Load returns the decoded image.
	Load func() (*imageproc.RGB, error)
}

// Featurizer computes frozen CLIP image features, decoding and
// preprocessing images on several goroutines while the image tower runs.
type Featurizer struct {
	Model *clip.Model
	// BatchSize is the number of images encoded at once (default 32).
	BatchSize int
	// Workers decode and preprocess images (default GOMAXPROCS).
	Workers int
	// Encode, when set, encodes a batch of preprocessed images [n, 3, R,
	// R] into features [n, E] in place of Model.EncodeImage (e.g. on a
	// GPU); Model still gives the resolution R and the embedding width E.
	Encode func(pix *tensor.Tensor) (*tensor.Tensor, error)
}

func (f *Featurizer) batchSize() int {
	if f.BatchSize > 0 {
		return f.BatchSize
	}
	return 32
}

// preprocess decodes ex and applies CLIP's test transform, or CoOp's
// training augmentation when rng is not nil, writing into dst (3·R·R).
func (f *Featurizer) preprocess(ex Example, rng *rand.Rand, dst []float32) error {
	img, err := ex.Load()
	if err != nil {
		return errors.Wrapf(err, "loading image %s", ex.Name)
	}
	r := f.Model.Config.ImageResolution
	var out []float32
	if rng != nil {
		out = imageproc.CoOpTrainTransform(rng, img, r)
	} else {
		out = imageproc.CLIPTransformRGB(img, r)
	}
	copy(dst, out)
	return nil
}

// Features returns the image features [len(exs), E] of the examples. With
// augment, every image gets CoOp's random resized crop and flip drawn from
// a generator seeded by (seed, index), so results do not depend on the
// number of workers. Memory stays bounded: at most two batches of pixels
// are alive at once. It stops early when ctx is cancelled.
func (f *Featurizer) Features(ctx context.Context, exs []Example, augment bool, seed uint64) (*tensor.Tensor, error) {
	E := f.Model.Config.EmbedDim
	r := f.Model.Config.ImageResolution
	out := tensor.New(len(exs), E)
	bs := f.batchSize()
	workers := f.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	type job struct {
		start int
		pix   *tensor.Tensor
		err   error
	}
	jobs := make(chan job, 1) // one batch prepared ahead of the encoder
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(jobs)
		for start := 0; start < len(exs); start += bs {
			n := min(bs, len(exs)-start)
			pix := tensor.New(n, 3, r, r)
			pd := pix.Data()
			var wg sync.WaitGroup
			var mu sync.Mutex
			var firstErr error
			next := make(chan int)
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range next {
						if ctx.Err() != nil {
							continue // drain: the batch is dropped
						}
						var rng *rand.Rand
						if augment {
							rng = tensor.NewRNG(seed*0x9e3779b1 + uint64(start+i) + 1)
						}
						if err := f.preprocess(exs[start+i], rng, pd[i*3*r*r:(i+1)*3*r*r]); err != nil {
							mu.Lock()
							if firstErr == nil {
								firstErr = err
							}
							mu.Unlock()
						}
					}
				}()
			}
			for i := 0; i < n; i++ {
				next <- i
			}
			close(next)
			wg.Wait()
			select {
			case jobs <- job{start: start, pix: pix, err: firstErr}:
			case <-ctx.Done():
				return
			}
			if firstErr != nil {
				return
			}
		}
	}()
	od := out.Data()
	for {
		var j job
		var ok bool
		select {
		case j, ok = <-jobs:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if !ok {
			break
		}
		if j.err != nil {
			return nil, j.err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var feats *tensor.Tensor
		if f.Encode == nil {
			feats = f.Model.EncodeImage(j.pix)
		} else {
			n := j.pix.Dim(0)
			var err error
			if feats, err = f.Encode(j.pix); err != nil {
				return nil, errors.Wrapf(err, "encoding images %d to %d", j.start, j.start+n-1)
			}
			if !tensor.SameShape(feats.Shape(), []int{n, E}) {
				return nil, errors.Errorf("image encoder returned features %v for %d images (embedding %d)", feats.Shape(), n, E)
			}
		}
		copy(od[j.start*E:], feats.Contiguous().Data())
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
