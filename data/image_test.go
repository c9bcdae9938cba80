package data

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/softcpt/softcpt-go/clip/imageproc"
)

// TestBenchmarkImage checks that a benchmark decodes its items' images
// from files by default and through Load when it is set, that few-shot
// benchmarks keep Load, and that a missing file is an error naming it.
func TestBenchmarkImage(t *testing.T) {
	path := filepath.Join("..", "testdata", "imageproc", "conv_gray.png")
	want, err := imageproc.LoadRGB(path)
	if err != nil {
		t.Skip("testdata/imageproc absent")
	}
	files := &Benchmark{Name: "files"}
	got, err := files.Image(path)
	if err != nil || got.W != want.W || got.H != want.H || string(got.Pix) != string(want.Pix) {
		t.Fatalf("file image: %v", err)
	}
	if _, err := files.Image("nope.png"); err == nil || !strings.Contains(err.Error(), "nope.png") {
		t.Errorf("missing file: error %v", err)
	}
	packed := &Benchmark{Name: "packed", Tasks: []*Task{fewShotTask(t)},
		Load: func(p string) (*imageproc.RGB, error) { return imageproc.NewRGB(len(p), 1), nil }}
	if img, err := packed.Image("abc"); err != nil || img.W != 3 {
		t.Fatalf("Load not used: %v, %v", img, err)
	}
	fs, err := packed.FewShot(2, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	if img, err := fs.Image("abcd"); err != nil || img.W != 4 {
		t.Errorf("the few-shot benchmark lost Load: %v, %v", img, err)
	}
}
