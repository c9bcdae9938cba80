package data

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// synthItems returns items with counts[c] items of class c, interleaved.
func synthItems(dir string, counts []int) []Item {
	var items []Item
	left := slices.Clone(counts)
	for i := 0; ; i++ {
		added := false
		for c := range left {
			if left[c] > 0 {
				items = append(items, Item{Path: filepath.Join(dir, fmt.Sprintf("c%d", c), fmt.Sprintf("%03d.jpg", i)), Label: c})
				left[c]--
				added = true
			}
		}
		if !added {
			return items
		}
	}
}

func TestFewShotCountsAndDeterminism(t *testing.T) {
	items := synthItems("/d", []int{10, 3, 16, 4})
	got := FewShot(items, 5, 4, 1)
	if c := classCounts(got, 5); !slices.Equal(c, []int{4, 3, 4, 4, 0}) {
		t.Fatalf("per-class counts %v", c)
	}
	// Classes in label order, no repeats, every item from the input.
	in := map[Item]int{}
	for i, it := range items {
		in[it] = i
	}
	prevLabel, prevIdx := -1, -1
	seen := map[Item]bool{}
	for _, it := range got {
		idx, ok := in[it]
		if !ok || seen[it] {
			t.Fatalf("item %+v not from input or repeated", it)
		}
		seen[it] = true
		if it.Label < prevLabel || (it.Label == prevLabel && idx < prevIdx) {
			t.Fatalf("order: %+v after label %d index %d", it, prevLabel, prevIdx)
		}
		prevLabel, prevIdx = it.Label, idx
	}
	if again := FewShot(items, 5, 4, 1); !itemsEqual(got, again) {
		t.Error("same seed, different draw")
	}
	if other := FewShot(items, 5, 4, 2); itemsEqual(got, other) {
		t.Error("seeds 1 and 2 gave the same draw")
	}
	// All items when k covers every class.
	if all := FewShot(items, 5, 16, 3); len(all) != len(items) {
		t.Errorf("k=16: %d items, want %d", len(all), len(items))
	}
	if all := FewShot(items, 5, 0, 3); len(all) != len(items) {
		t.Errorf("k=0: %d items, want all %d", len(all), len(items))
	}
	// The draw of a class does not depend on how other classes' items are
	// interleaved: only on the order of the class's own items.
	var sorted []Item
	for c := 0; c < 4; c++ {
		for _, it := range items {
			if it.Label == c {
				sorted = append(sorted, it)
			}
		}
	}
	if s := FewShot(sorted, 5, 4, 1); !itemsEqual(s, got) {
		t.Error("draw depends on interleaving of classes")
	}
}

func TestFewShotUniform(t *testing.T) {
	// Each of 10 items of a class should be picked with probability 4/10.
	items := synthItems("/d", []int{10})
	hits := make(map[string]int)
	const runs = 4000
	for s := uint64(0); s < runs; s++ {
		for _, it := range FewShot(items, 1, 4, s) {
			hits[it.Path]++
		}
	}
	sd := math.Sqrt(runs * 0.4 * 0.6)
	for _, it := range items {
		if d := math.Abs(float64(hits[it.Path]) - runs*0.4); d > 5*sd {
			t.Errorf("%s picked %d times of %d, want about %.0f", it.Path, hits[it.Path], runs, runs*0.4)
		}
	}
}

func fewShotTask(t *testing.T) *Task {
	dir := t.TempDir()
	task := &Task{Name: "pets", TaskName: "pet image classification", Classes: []string{"a", "b", "c"}, Metric: Accuracy,
		Template: "a photo of a {}.", ImageDir: dir}
	task.Train = synthItems(filepath.Join(dir, "train"), []int{20, 2, 9})
	task.Val = synthItems(filepath.Join(dir, "val"), []int{8, 8, 3})
	task.Test = synthItems(filepath.Join(dir, "test"), []int{5, 5, 5})
	return task
}

func TestSampleFewShotCache(t *testing.T) {
	task := fewShotTask(t)
	cache := t.TempDir()
	fs, err := SampleFewShot(task, "bench", 8, 1, cache)
	if err != nil {
		t.Fatal(err)
	}
	if c := classCounts(fs.Train, 3); !slices.Equal(c, []int{8, 2, 8}) {
		t.Errorf("train counts %v", c)
	}
	if c := classCounts(fs.Val, 3); !slices.Equal(c, []int{4, 4, 3}) {
		t.Errorf("val counts %v (want min(K,4) per class)", c)
	}
	if !itemsEqual(fs.Test, task.Test) || len(task.Train) != 31 {
		t.Error("test split changed or input task modified")
	}
	path := FewShotCachePath(cache, "bench", "pets", 8, 1)
	if path != filepath.Join(cache, "fewshot", "bench", "pets", "shot_8-seed_1.json") {
		t.Errorf("cache path %s", path)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("cache not written: %v", err)
	}
	// Without a cache the draw is the same.
	nc, err := SampleFewShot(task, "bench", 8, 1, "")
	if err != nil || !itemsEqual(nc.Train, fs.Train) || !itemsEqual(nc.Val, fs.Val) {
		t.Fatalf("uncached draw differs (%v)", err)
	}
	// Different task names give different draws for the same seed.
	other := task.Clone()
	other.Name = "cars"
	oc, _ := SampleFewShot(other, "bench", 8, 1, "")
	if itemsEqual(oc.Train, fs.Train) {
		t.Error("tasks pets and cars drew the same items")
	}

	// The cache is what is read back: replace one class-0 train item by
	// an unchosen one and load again.
	raw, _ := os.ReadFile(path)
	var f map[string]json.RawMessage
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("cache JSON: %v", err)
	}
	chosen := map[string]bool{}
	for _, it := range fs.Train {
		chosen[it.Path] = true
	}
	var unchosen Item
	for _, it := range task.Train {
		if it.Label == 0 && !chosen[it.Path] {
			unchosen = it
			break
		}
	}
	relOld, _ := relPath(task.ImageDir, fs.Train[0].Path)
	relNew, _ := relPath(task.ImageDir, unchosen.Path)
	edited := strings.Replace(string(raw), `"`+relOld+`"`, `"`+relNew+`"`, 1)
	writeFile(t, path, edited)
	re, err := SampleFewShot(task, "bench", 8, 1, cache)
	if err != nil {
		t.Fatal(err)
	}
	if re.Train[0] != unchosen {
		t.Errorf("cache not reused: first train item %+v, want %+v", re.Train[0], unchosen)
	}

	bad := []struct{ name, content, want string }{
		{"json", "{", "bad JSON"},
		{"seed", strings.Replace(string(raw), `"seed":1`, `"seed":2`, 1), "seed 2"},
		{"unknown path", strings.Replace(string(raw), `"`+relOld+`"`, `"train/c0/nope.jpg"`, 1), "train[0]"},
		{"duplicate", strings.Replace(string(raw), `"`+relOld+`"`, `"`+relPathMust(task, fs.Train[1])+`"`, 1), "appears twice"},
		{"wrong label", strings.Replace(string(raw), `"`+relOld+`", 0, "a"`, `"`+relOld+`", 1, "b"`, 1), "has label 0"},
		{"classes", strings.Replace(string(raw), `"classes":["a","b","c"]`, `"classes":["a","b","z"]`, 1), "classes differ"},
		{"count", dropFirstTrain(string(raw)), "class 0"},
	}
	for _, c := range bad {
		if c.content == string(raw) {
			t.Fatalf("%s: test edit did not apply", c.name)
		}
		writeFile(t, path, c.content)
		_, err := SampleFewShot(task, "bench", 8, 1, cache)
		mustErr(t, err, path, c.want)
	}
}

func relPathMust(task *Task, it Item) string {
	r, err := relPath(task.ImageDir, it.Path)
	if err != nil {
		panic(err)
	}
	return r
}

// dropFirstTrain removes the first element of the cache's train list.
func dropFirstTrain(s string) string {
	i := strings.Index(s, `"train": [`)
	j := strings.Index(s[i:], "],") + i
	return s[:i+len(`"train": [`)] + s[j+2:]
}

func TestBenchmarkFewShot(t *testing.T) {
	b := &Benchmark{Name: "bench", Tasks: []*Task{fewShotTask(t)}}
	fb, err := b.FewShot(1, 3, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if c := classCounts(fb.Tasks[0].Train, 3); !slices.Equal(c, []int{1, 1, 1}) {
		t.Errorf("1-shot counts %v", c)
	}
	if _, err := SampleFewShot(b.Tasks[0], "bench", 0, 1, ""); err == nil {
		t.Error("K=0: want error")
	}
}

func TestBaseNewSplit(t *testing.T) {
	task := &Task{Name: "dtd", Classes: []string{"a", "b", "c", "d", "e"}}
	for c := 0; c < 5; c++ {
		task.Train = append(task.Train, Item{Path: fmt.Sprintf("%d.jpg", c), Label: c})
		task.Test = append(task.Test, Item{Path: fmt.Sprintf("t%d.jpg", c), Label: c})
	}
	base, novel, err := BaseNewSplit(task)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(base.Classes, []string{"a", "b", "c"}) || !slices.Equal(novel.Classes, []string{"d", "e"}) {
		t.Fatalf("classes %q / %q", base.Classes, novel.Classes)
	}
	if len(base.Train) != 3 || len(novel.Train) != 2 || novel.Train[1] != (Item{Path: "4.jpg", Label: 1}) || novel.Test[0] != (Item{Path: "t3.jpg", Label: 0}) {
		t.Errorf("items base %+v new %+v", base.Train, novel.Train)
	}
	if task.Train[4].Label != 4 {
		t.Error("input modified")
	}
	if _, _, err := BaseNewSplit(&Task{Name: "one", Classes: []string{"x"}}); err == nil {
		t.Error("1 class: want error")
	}
}
