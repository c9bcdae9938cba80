// Command exportbench writes tasks of the shipped real-image benchmark as
// ordinary image folders in CoOp's layout, so that the folder readers of
// package data, `softcpt train --benchmark FILE` and any other tool can be
// tried on real images without a download (README.md, "Your own data").
//
// Each task goes to OUT/<task>/ (the task id after its group, e.g.
// "birds" for nature/birds):
//
//	OUT/<task>/images/<class>/<image>.png   one folder per class (spaces in class names become '_')
//	OUT/<task>/split.json                   CoOp's split_zhou file: {"train", "val", "test": [[path, label, class], ...]}
//
// The split file keeps the benchmark's own split: its held-out test images
// as "test", and its training pool as "train" with a fifth of each class's
// images (at least one, when the class has two or more) moved to "val". The class folders hold all of a task's images, so
// the "folder" reader, which splits them 50/20/30 itself, can be used
// instead of the split file.
//
//	go run ./cmd/exportbench -out mydata -tasks general/handwritten-digits,nature/birds
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"image/png"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/realdata"
	"github.com/softcpt/softcpt-go/shipped"
)

func main() {
	out := flag.String("out", "", "output folder (required)")
	tasks := flag.String("tasks", "", "comma-separated task ids of the benchmark, e.g. nature/birds (default: list them)")
	benchPath := flag.String("benchmark-file", "", "benchmark pack (default: the shipped one embedded in this binary)")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: exportbench -out DIR -tasks ID[,ID...] [-benchmark-file FILE]\n\nWrites tasks of the shipped benchmark as class folders of PNG images with a\nCoOp split_zhou split file (see 'go doc ./cmd/exportbench').")
		flag.PrintDefaults()
	}
	flag.Parse()
	if err := run(*out, *tasks, *benchPath); err != nil {
		fmt.Fprintln(os.Stderr, "exportbench:", err)
		os.Exit(1)
	}
}

func run(out, tasks, benchPath string) error {
	b, src, err := shipped.OpenBenchmark(benchPath)
	if err != nil {
		return err
	}
	if tasks == "" || out == "" {
		fmt.Printf("tasks of %s (give -out and -tasks):\n", src)
		for _, t := range b.Tasks {
			fmt.Printf("  %-28s %3d classes, %4d training-pool and %4d test images\n", t.ID, len(t.Classes), len(t.Train), len(t.Test))
		}
		if out == "" && tasks != "" {
			return errors.New("-out is required")
		}
		return nil
	}
	for _, id := range strings.Split(tasks, ",") {
		t := b.Task(strings.TrimSpace(id))
		if t == nil {
			return errors.Errorf("no task %q in %s (run without -tasks to list them)", id, src)
		}
		n, err := export(b, t, filepath.Join(out, path.Base(t.ID)))
		if err != nil {
			return errors.Wrapf(err, "task %s", t.ID)
		}
		fmt.Printf("%s: %d classes, %d images in %s\n", t.ID, len(t.Classes), n, filepath.Join(out, path.Base(t.ID)))
	}
	return nil
}

// export writes one task's images and split file into dir and returns the
// number of images written.
func export(b *realdata.Benchmark, t *realdata.Task, dir string) (int, error) {
	folders := make([]string, len(t.Classes))
	for c, name := range t.Classes {
		folders[c] = strings.ReplaceAll(name, " ", "_")
		if folders[c] == "" || strings.ContainsAny(folders[c], `/\`) || strings.HasPrefix(folders[c], ".") {
			return 0, errors.Errorf("class name %q cannot be a folder name", name)
		}
		if err := os.MkdirAll(filepath.Join(dir, "images", folders[c]), 0o755); err != nil {
			return 0, err
		}
	}
	split := map[string][][3]any{"train": {}, "val": {}, "test": {}}
	// Per class, the last round(n/5) of its n training-pool images, at
	// least one when n >= 2, go to "val".
	pool := make([]int, len(t.Classes))
	for _, it := range t.Train {
		pool[it.Label]++
	}
	seen := make([]int, len(t.Classes)) // training-pool images per class so far
	n := 0
	add := func(list string, it realdata.Item) error {
		rel := fmt.Sprintf("%s/%05d.png", folders[it.Label], it.Image)
		var buf bytes.Buffer
		if err := png.Encode(&buf, b.Image(it.Image)); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "images", filepath.FromSlash(rel)), buf.Bytes(), 0o644); err != nil {
			return err
		}
		split[list] = append(split[list], [3]any{rel, it.Label, folders[it.Label]})
		n++
		return nil
	}
	for _, it := range t.Train {
		list, size := "train", pool[it.Label]
		if nVal := max(min(size-1, 1), (size+2)/5); seen[it.Label] >= size-nVal {
			list = "val"
		}
		seen[it.Label]++
		if err := add(list, it); err != nil {
			return n, err
		}
	}
	for _, it := range t.Test {
		if err := add("test", it); err != nil {
			return n, err
		}
	}
	js, err := json.Marshal(split)
	if err != nil {
		return n, err
	}
	return n, os.WriteFile(filepath.Join(dir, "split.json"), js, 0o644)
}
