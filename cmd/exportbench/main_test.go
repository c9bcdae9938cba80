package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/softcpt/softcpt-go/clip/imageproc"
	"github.com/softcpt/softcpt-go/data"
	"github.com/softcpt/softcpt-go/shipped"
)

// TestExportReadsBack exports a task and reads it back with both readers of
// package data: the split file must give the benchmark's own split with the
// same pixels, the class folders every image of every class.
func TestExportReadsBack(t *testing.T) {
	out := t.TempDir()
	if err := run(out, "nature/birds", ""); err != nil {
		t.Fatal(err)
	}
	def := `{"name": "mine", "tasks": [
	  {"name": "split", "task_name": "bird recognition", "reader": "split_zhou", "dir": "birds", "image_dir": "images",
	   "split_file": "split.json", "metric": "accuracy", "template": "a picture of a {}."},
	  {"name": "folders", "task_name": "bird recognition", "reader": "folder", "dir": "birds", "image_dir": "images",
	   "metric": "accuracy", "template": "a picture of a {}."}]}`
	path := filepath.Join(out, "mine.json")
	if err := os.WriteFile(path, []byte(def), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := data.Load(path, data.Options{Root: out, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := shipped.OpenBenchmark("")
	if err != nil {
		t.Fatal(err)
	}
	want := b.Task("nature/birds")
	split := got.Task("split")
	if len(split.Classes) != len(want.Classes) || len(split.Train)+len(split.Val) != len(want.Train) || len(split.Test) != len(want.Test) || len(split.Val) == 0 {
		t.Fatalf("split file: %d classes, %d+%d+%d images; want %d classes, %d+%d", len(split.Classes), len(split.Train), len(split.Val), len(split.Test), len(want.Classes), len(want.Train), len(want.Test))
	}
	for i, it := range split.Test {
		if c := strings.ReplaceAll(want.Classes[want.Test[i].Label], " ", "_"); split.Classes[it.Label] != c {
			t.Fatalf("test image %d: class %q, want %q", i, split.Classes[it.Label], c)
		}
		img, err := imageproc.LoadRGB(it.Path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(img.Pix, b.Pixels(want.Test[i].Image)) {
			t.Fatalf("test image %d (%s): pixels differ from the benchmark's", i, it.Path)
		}
	}
	folders := got.Task("folders")
	if n := len(folders.Train) + len(folders.Val) + len(folders.Test); len(folders.Classes) != len(want.Classes) || n != len(want.Train)+len(want.Test) {
		t.Fatalf("folders: %d classes, %d images", len(folders.Classes), n)
	}
}

// TestBadTask checks that an unknown task id is named.
func TestBadTask(t *testing.T) {
	if err := run(t.TempDir(), "nature/unicorns", ""); err == nil || !strings.Contains(err.Error(), "nature/unicorns") {
		t.Fatalf("err = %v", err)
	}
}
