package data

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pkg/errors"
)

// MaxValShots is the cap on few-shot validation images per class:
// val gets min(K, 4) per class, as in CoOp and SoftCPT.
const MaxValShots = 4

// valSalt separates the validation draw from the training draw.
const valSalt = 0x76616c5f73686f74 // "val_shot"

// TaskSeed derives the sampling seed of task name from the run seed, so
// that each (task, seed) pair has its own reproducible draw.
func TaskSeed(name string, seed uint64) uint64 {
	return mix64(hashString(name) ^ mix64(seed))
}

// FewShot returns k items per class drawn without replacement from items
// (every item of a class that has k or fewer). The draw depends only on
// items, numClasses, k and seed: classes are visited in label order with
// one PCG stream seeded by seed. The result lists the classes in label
// order and, within a class, the chosen items in their original order.
// k < 1 returns a copy of items (Dassl returns the full set then).
// Labels must lie in [0, numClasses) (tasks are validated when loaded);
// FewShot panics otherwise.
func FewShot(items []Item, numClasses, k int, seed uint64) []Item {
	if k < 1 {
		return append([]Item(nil), items...)
	}
	byClass := make([][]int, numClasses)
	for i, it := range items {
		if it.Label < 0 || it.Label >= numClasses {
			panic(fmt.Sprintf("data.FewShot: item %d (%s) has label %d outside [0,%d)", i, it.Path, it.Label, numClasses))
		}
		byClass[it.Label] = append(byClass[it.Label], i)
	}
	rng := rand.New(rand.NewPCG(seed, 0x66657773686f74)) // "fewshot"
	var out []Item
	for _, idx := range byClass {
		if len(idx) > k {
			// Partial Fisher–Yates: the first k positions are a uniform
			// sample without replacement.
			for i := 0; i < k; i++ {
				j := i + rng.IntN(len(idx)-i)
				idx[i], idx[j] = idx[j], idx[i]
			}
			idx = idx[:k]
			slices.Sort(idx)
		}
		for _, i := range idx {
			out = append(out, items[i])
		}
	}
	return out
}

// fewShotFile is the JSON cache of one task's few-shot draw.
type fewShotFile struct {
	Benchmark string            `json:"benchmark"`
	Task      string            `json:"task"`
	Shots     int               `json:"shots"`
	Seed      uint64            `json:"seed"`
	Classes   []string          `json:"classes"`
	Train     []json.RawMessage `json:"train"`
	Val       []json.RawMessage `json:"val"`
}

// FewShotCachePath returns <cacheDir>/fewshot/<benchmark>/<task>/shot_K-seed_S.json.
func FewShotCachePath(cacheDir, benchmark, task string, k int, seed uint64) string {
	return filepath.Join(cacheDir, "fewshot", benchmark, task, fmt.Sprintf("shot_%d-seed_%d.json", k, seed))
}

// AllShots, as a number of shots per class, asks for all the training
// data instead of a few-shot draw (Dassl's NUM_SHOTS 0 or less); run
// folders name it shots_all and results.json records it as shots -1
// (report.AllShots). 0 shots is zero-shot (no training data).
const AllShots = -1

// SampleFewShot returns a copy of t whose Train holds k images per class
// and whose Val holds min(k, 4) per class (FewShot with seeds derived by
// TaskSeed from t.Name and seed); Test is unchanged. With cacheDir set the
// draw is read from FewShotCachePath when that file exists (and checked
// against t: same benchmark, task, shots, seed and classes, every item
// from the task's split with its label, no repeats, the right number per
// class) and written there otherwise.
func SampleFewShot(t *Task, benchmark string, k int, seed uint64, cacheDir string) (*Task, error) {
	if k < 1 {
		return nil, errors.Errorf("data: few-shot K must be >= 1, got %d", k)
	}
	out := t.Clone()
	n := len(t.Classes)
	if cacheDir != "" {
		path := FewShotCachePath(cacheDir, benchmark, t.Name, k, seed)
		if _, err := os.Stat(path); err == nil {
			train, val, err := readFewShot(path, t, benchmark, k, seed)
			if err != nil {
				return nil, err
			}
			out.Train, out.Val = train, val
			return out, nil
		} else if !os.IsNotExist(err) {
			return nil, errors.Wrapf(err, "data: few-shot cache %s", path)
		}
		out.Train = FewShot(t.Train, n, k, TaskSeed(t.Name, seed))
		out.Val = FewShot(t.Val, n, min(k, MaxValShots), TaskSeed(t.Name, seed)^valSalt)
		if err := writeFewShot(path, out, benchmark, k, seed); err != nil {
			return nil, err
		}
		return out, nil
	}
	out.Train = FewShot(t.Train, n, k, TaskSeed(t.Name, seed))
	out.Val = FewShot(t.Val, n, min(k, MaxValShots), TaskSeed(t.Name, seed)^valSalt)
	return out, nil
}

// FewShot applies SampleFewShot to every task of b.
func (b *Benchmark) FewShot(k int, seed uint64, cacheDir string) (*Benchmark, error) {
	out := &Benchmark{Name: b.Name, Load: b.Load}
	for _, t := range b.Tasks {
		ft, err := SampleFewShot(t, b.Name, k, seed, cacheDir)
		if err != nil {
			return nil, err
		}
		out.Tasks = append(out.Tasks, ft)
	}
	return out, nil
}

func writeFewShot(path string, t *Task, benchmark string, k int, seed uint64) error {
	var sb strings.Builder
	head, _ := json.Marshal(struct {
		Benchmark string   `json:"benchmark"`
		Task      string   `json:"task"`
		Shots     int      `json:"shots"`
		Seed      uint64   `json:"seed"`
		Classes   []string `json:"classes"`
	}{benchmark, t.Name, k, seed, t.Classes})
	sb.Write(head[:len(head)-1])
	for s, items := range [2][]Item{t.Train, t.Val} {
		fmt.Fprintf(&sb, ",\n %q: [", splitNames[s])
		for i, it := range items {
			rel, err := relPath(t.ImageDir, it.Path)
			if err != nil {
				return errors.Wrapf(err, "data: write few-shot cache %s", path)
			}
			if i > 0 {
				sb.WriteString(",")
			}
			p, _ := json.Marshal(rel)
			c, _ := json.Marshal(t.Classes[it.Label])
			fmt.Fprintf(&sb, "\n  [%s, %d, %s]", p, it.Label, c)
		}
		sb.WriteString("]")
	}
	sb.WriteString("\n}\n")
	if err := writeFileAtomic(path, []byte(sb.String())); err != nil {
		return errors.Wrap(err, "data: few-shot cache")
	}
	return nil
}

func readFewShot(path string, t *Task, benchmark string, k int, seed uint64) (train, val []Item, err error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, errors.Wrapf(err, "data: read few-shot cache %s", path)
	}
	bad := func(format string, args ...any) error {
		return errors.Errorf("data: few-shot cache %s (delete it to resample): %s", path, fmt.Sprintf(format, args...))
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var f fewShotFile
	if err := dec.Decode(&f); err != nil {
		return nil, nil, bad("bad JSON: %v", err)
	}
	if f.Benchmark != benchmark || f.Task != t.Name || f.Shots != k || f.Seed != seed {
		return nil, nil, bad("it is for benchmark %q task %q shots %d seed %d, want %q %q %d %d", f.Benchmark, f.Task, f.Shots, f.Seed, benchmark, t.Name, k, seed)
	}
	if err := checkClasses(f.Classes, t.Classes); err != nil {
		return nil, nil, bad("classes differ from the task's: %v", err)
	}
	n := len(t.Classes)
	for s, pool := range [2][]Item{t.Train, t.Val} {
		lists := [2][]json.RawMessage{f.Train, f.Val}
		if lists[s] == nil {
			return nil, nil, bad("missing %q list", splitNames[s])
		}
		want := k
		if s == 1 {
			want = min(k, MaxValShots)
		}
		avail := make([]int, n)
		byRel := map[string]Item{}
		for _, it := range pool {
			avail[it.Label]++
			rel, err := relPath(t.ImageDir, it.Path)
			if err != nil {
				return nil, nil, bad("%v", err)
			}
			byRel[rel] = it
		}
		got := make([]int, n)
		used := map[string]bool{}
		var items []Item
		for i, el := range lists[s] {
			e, err := parseZhouEntry(el)
			if err != nil {
				return nil, nil, bad("%s[%d]: %v", splitNames[s], i, err)
			}
			it, ok := byRel[e.Path]
			if !ok {
				return nil, nil, bad("%s[%d]: %q is not in the task's %s split", splitNames[s], i, e.Path, splitNames[s])
			}
			if it.Label != e.Label || e.Label >= n || t.Classes[e.Label] != e.Class {
				return nil, nil, bad("%s[%d]: %q has label %d (%q) in the task, %d (%q) in the cache", splitNames[s], i, e.Path, it.Label, t.Classes[it.Label], e.Label, e.Class)
			}
			if used[e.Path] {
				return nil, nil, bad("%s[%d]: %q appears twice", splitNames[s], i, e.Path)
			}
			used[e.Path] = true
			got[e.Label]++
			items = append(items, it)
		}
		for c := 0; c < n; c++ {
			if got[c] != min(want, avail[c]) {
				return nil, nil, bad("%s: class %d (%q) has %d items, want %d", splitNames[s], c, t.Classes[c], got[c], min(want, avail[c]))
			}
		}
		if s == 0 {
			train = items
		} else {
			val = items
		}
	}
	return train, val, nil
}

// BaseNewSplit splits t's classes into base = the first ⌈n/2⌉ labels and
// new = the rest, relabelled from 0 (the base-to-new protocol). Both tasks
// keep t's Name, TaskName, Metric, Template and Group; items of the other
// half are dropped from every split. It returns an error for a task with
// fewer than 2 classes.
func BaseNewSplit(t *Task) (base, novel *Task, err error) {
	n := len(t.Classes)
	if n < 2 {
		return nil, nil, errors.Errorf("data: task %s has %d class(es); base-to-new needs at least 2", t.Name, n)
	}
	m := (n + 1) / 2
	pick := func(lo, hi int) *Task {
		c := *t
		c.Classes = append([]string(nil), t.Classes[lo:hi]...)
		sel := func(items []Item) []Item {
			var out []Item
			for _, it := range items {
				if it.Label >= lo && it.Label < hi {
					out = append(out, Item{Path: it.Path, Label: it.Label - lo})
				}
			}
			return out
		}
		c.Train, c.Val, c.Test = sel(t.Train), sel(t.Val), sel(t.Test)
		return &c
	}
	return pick(0, m), pick(m, n), nil
}
