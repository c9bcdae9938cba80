package data

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzFiles writes files (relative path → content) into a fresh folder
// under root and returns it.
func fuzzFiles(t *testing.T, root string, files map[string][]byte) string {
	t.Helper()
	dir, err := os.MkdirTemp(root, "f")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for name, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// mustName fails unless err is nil or names file.
func mustName(t *testing.T, err error, file string) {
	t.Helper()
	if err != nil && !strings.Contains(err.Error(), file) {
		t.Fatalf("error does not name %s: %v", file, err)
	}
}

// FuzzSplitZhou reads arbitrary bytes as a CoOp split_zhou file.
func FuzzSplitZhou(f *testing.F) {
	f.Add([]byte(`{"train": [["a/1.jpg", 0, "cat"], ["b/2.jpg", 1, "dog"]], "val": [["a/3.jpg", 0, "cat"]], "test": []}`))
	f.Add([]byte(`{"train": [["../x.jpg", 0, "cat"]], "val": [], "test": []}`))
	f.Add([]byte(`{"train": [["a.jpg", 2147483648, "cat"]], "val": [], "test": []}`)) // a huge label: no huge class table
	f.Add([]byte(`{"train": [["a.jpg", 99999999, "cat"]], "val": [], "test": []}`))
	f.Add([]byte(`{"train": [["a.jpg", 0, "cat"], ["b.jpg", 0, "dog"]], "val": [], "test": []}`))
	f.Add([]byte(`{"train": {}, "val": [], "test": []}`))
	f.Add([]byte(`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[`))
	root := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := fuzzFiles(t, root, map[string][]byte{"split.json": b})
		file := filepath.Join(dir, "split.json")
		classes, train, val, test, err := ReadSplitZhou(file, filepath.Join(dir, "images"))
		mustName(t, err, file)
		if err != nil {
			return
		}
		for _, list := range [][]Item{train, val, test} {
			for _, it := range list {
				if it.Label < 0 || it.Label >= len(classes) {
					t.Fatalf("label %d outside %d classes", it.Label, len(classes))
				}
			}
		}
	})
}

// FuzzSplitDK reads arbitrary bytes as a SoftCPT split_dk file.
func FuzzSplitDK(f *testing.F) {
	f.Add([]byte(`{"train": [["a.jpg", [0], [0]], ["b.jpg", [1], [1]]], "val": [], "test": [["c.jpg", 0, 1]],
		"meta": {"taskid2cname": [["cat", "dog"], ["red", "blue"]], "taskid2tname": ["pets", "colour_names"], "taskid2metric": ["overall_acc", "mean_acc"]}}`))
	f.Add([]byte(`{"train": [["a.jpg", [5], [0]]], "val": [], "test": [], "meta": {"taskid2cname": [["cat"]]}}`))
	f.Add([]byte(`{"train": [["a.jpg", [0], [2147483648]]], "val": [], "test": [], "meta": {"taskid2cname": [["cat"]]}}`))
	f.Add([]byte(`{"train": [], "val": [], "test": [], "meta": {"taskid2cname": [[]]}}`))
	f.Add([]byte(`{"train": [], "val": [], "test": [], "meta": {"taskid2cname": [["a"]], "taskid2metric": ["bogus"]}}`))
	root := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := fuzzFiles(t, root, map[string][]byte{"split_dk.json": b})
		file := filepath.Join(dir, "split_dk.json")
		tasks, err := ReadSplitDK(file, filepath.Join(dir, "images"))
		mustName(t, err, file)
		for _, task := range tasks {
			for _, list := range [][]Item{task.Train, task.Val, task.Test} {
				for _, it := range list {
					if it.Label < 0 || it.Label >= len(task.Classes) {
						t.Fatalf("label %d outside %d classes", it.Label, len(task.Classes))
					}
				}
			}
		}
	})
}

// FuzzDefinition parses arbitrary bytes as a benchmark definition, seeded
// with the shipped ones.
func FuzzDefinition(f *testing.F) {
	for _, name := range ShippedDefinitions() {
		b, err := shipped.ReadFile("benchmarks/" + name + ".json")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"name": "x", "tasks": [{"name": "a", "reader": "folder", "dir": "../../etc", "image_dir": "i", "metric": "accuracy", "template": "{}"}]}`))
	f.Add([]byte(`{"name": "x", "tasks": [], "bogus": 1}`))
	f.Add([]byte(`{"name": "x", "tasks": [{"name": "a", "reader": "nope"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseDefinition(b, "fuzz.json")
		mustName(t, err, "fuzz.json")
		if err == nil && d.Source() != "fuzz.json" {
			t.Fatalf("source %q", d.Source())
		}
	})
}

// officialLayouts are the files that FuzzListFiles writes its three inputs
// to, by reader: the list files of data/readers.go and
// data/officialsplits.go.
var officialLayouts = []struct {
	name  string
	files [3]string
	read  func(base string) error
}{
	{"pets", [3]string{"annotations/trainval.txt", "annotations/test.txt", ""},
		func(base string) error { _, err := readPetsOfficial(base, filepath.Join(base, "images")); return err }},
	{"sun397", [3]string{"ClassName.txt", "Training_01.txt", "Testing_01.txt"},
		func(base string) error { _, err := readSUN397Official(base, filepath.Join(base, "images")); return err }},
	{"ucf101", [3]string{"ucfTrainTestlist/classInd.txt", "ucfTrainTestlist/trainlist01.txt", "ucfTrainTestlist/testlist01.txt"},
		func(base string) error { _, err := readUCF101Official(base, filepath.Join(base, "images")); return err }},
	{"flowers", [3]string{"imagelabels.mat", "cat_to_name.json", ""},
		func(base string) error {
			_, err := readFlowersOfficial(base, filepath.Join(base, "images"))
			return err
		}},
	{"cars", [3]string{"devkit/cars_meta.mat", "devkit/cars_train_annos.mat", "cars_test_annos_withlabels.mat"},
		func(base string) error { _, err := readCarsOfficial(base, filepath.Join(base, "images")); return err }},
	{"fashion task_info", [3]string{"task_info.csv", "", ""},
		func(base string) error { _, err := readTaskInfo(filepath.Join(base, "task_info.csv")); return err }},
}

// FuzzListFiles reads arbitrary bytes as the list files of the dataset
// readers (which selects the reader, a, b and c its files): errors must
// name a file of the folder, never panic.
func FuzzListFiles(f *testing.F) {
	mat := func(name string) []byte {
		b, err := os.ReadFile(matFixture(name))
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	f.Add(uint8(0), []byte("# comment\nAbyssinian_1 1 1 1\nbeagle_2 2 2 1\n"), []byte("Abyssinian_3 1 1 1\n"), []byte(nil))
	f.Add(uint8(0), []byte("Abyssinian_1 1048577 1 1\n"), []byte("x 1 1 1\n"), []byte(nil))
	f.Add(uint8(1), []byte("/a/abbey\n/b/bus_interior/indoor\n"), []byte("/a/abbey/1.jpg\n"), []byte("/b/bus_interior/indoor/2.jpg\n"))
	f.Add(uint8(2), []byte("1 ApplyEyeMakeup\n2 Archery\n"), []byte("ApplyEyeMakeup/v_1.avi 1\n"), []byte("Archery/v_2.avi\n"))
	f.Add(uint8(3), mat("imagelabels.mat"), []byte(`{"1": "pink primrose", "2": "globe thistle"}`), []byte(nil))
	f.Add(uint8(4), mat("cars_meta.mat"), mat("cars_train_annos.mat"), mat("cars_test_annos_withlabels.mat"))
	f.Add(uint8(5), []byte("id\tname\tx\tclasses\n0\tshoes\t-\tboot,sandal\n"), []byte(nil), []byte(nil))
	root := f.TempDir()
	f.Fuzz(func(t *testing.T, which uint8, a, b, c []byte) {
		l := officialLayouts[int(which)%len(officialLayouts)]
		files := map[string][]byte{}
		for i, content := range [][]byte{a, b, c} {
			if l.files[i] != "" {
				files[l.files[i]] = content
			}
		}
		base := fuzzFiles(t, root, files)
		if err := l.read(base); err != nil && !strings.Contains(err.Error(), base) {
			t.Fatalf("%s: error does not name a file of %s: %v", l.name, base, err)
		}
	})
}

// TestSplitZhouHugeLabel: a split file naming one label of 2^31 is an
// error about the missing labels, without a table of 2^31 classes.
func TestSplitZhouHugeLabel(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "split.json")
	if err := os.WriteFile(file, []byte(`{"train": [["a.jpg", 2147483648, "cat"]], "val": [], "test": []}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, _, _, err := ReadSplitZhou(file, dir)
	mustErr(t, err, file, "label 0 never occurs")
	if bytes.Contains([]byte(err.Error()), []byte("panic")) {
		t.Fatal(err)
	}
}
