package data

import (
	"os"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/clip/imageproc"
)

// VerifyFiles checks that every image of t's splits exists as a regular
// file. The error names the first missing file and its split.
func VerifyFiles(t *Task) error {
	for s, items := range [3][]Item{t.Train, t.Val, t.Test} {
		for i, it := range items {
			st, err := os.Stat(it.Path)
			if err != nil {
				return errors.Wrapf(err, "data: task %s: %s[%d]", t.Name, splitNames[s], i)
			}
			if !st.Mode().IsRegular() {
				return errors.Errorf("data: task %s: %s[%d]: %s is not a regular file", t.Name, splitNames[s], i, it.Path)
			}
		}
	}
	return nil
}

// VerifyImages decodes the images of t's splits with imageproc.Load, at
// most limit per split (every image when limit <= 0). The error names the
// first file that does not open or decode.
func VerifyImages(t *Task, limit int) error {
	for s, items := range [3][]Item{t.Train, t.Val, t.Test} {
		if limit > 0 && len(items) > limit {
			items = items[:limit]
		}
		for i, it := range items {
			if _, err := imageproc.Load(it.Path); err != nil {
				return errors.Wrapf(err, "data: task %s: %s[%d]", t.Name, splitNames[s], i)
			}
		}
	}
	return nil
}
