package experiment

import (
	"context"

	"github.com/softcpt/softcpt-go/data"
	"github.com/softcpt/softcpt-go/softcpt"
)

// CacheFeatures computes, through the feature cache (in memory and on
// disk), the frozen image features that the cells on the draw b read:
// the test set of every task (every cell's evaluation); with train, the
// training set (the learned methods without augmentation); with probe,
// each task's training, validation and test sets (the linear probe).
// Each image is encoded once. A cell on the same draw, in this process or
// another with the same cache folder, then encodes no image: a sweep's
// feature-cache job calls it for every draw of its cells.
func (e *Experiment) CacheFeatures(ctx context.Context, b *data.Benchmark, train, probe bool) error {
	sets := [][]softcpt.Example{examples(b, func(t *data.Task) []data.Item { return t.Test })}
	if train {
		sets = append(sets, examples(b, func(t *data.Task) []data.Item { return t.Train }))
	}
	if probe {
		for ti, t := range b.Tasks {
			sets = append(sets, taskExamples(b, ti, t.Train), taskExamples(b, ti, t.Val), taskExamples(b, ti, t.Test))
		}
	}
	for _, exs := range sets {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := e.features(ctx, b.Name, exs); err != nil {
			return err
		}
	}
	return nil
}
