package data

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/internal/atomicfile"
)

// splitNames are the keys of a split file, in order.
var splitNames = [3]string{"train", "val", "test"}

// zhouEntry is one element of a split_zhou list.
type zhouEntry struct {
	Path  string
	Label int
	Class string
}

// ReadSplitZhou reads a CoOp split_zhou JSON file
// ({"train": [[impath, label, classname], ...], "val": ..., "test": ...})
// and resolves the image paths against imageDir. Classes are ordered by
// label; every label from 0 to the largest must occur, and each label must
// always carry the same class name. Errors name the file and the offending
// element.
func ReadSplitZhou(file, imageDir string) (classes []string, train, val, test []Item, err error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, nil, nil, errors.Wrapf(err, "read split file %s", file)
	}
	lists, err := splitLists(raw, file)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	names := map[int]string{}
	maxLabel := -1
	var out [3][]Item
	for s, list := range lists {
		out[s] = make([]Item, 0, len(list))
		for i, el := range list {
			e, err := parseZhouEntry(el)
			if err != nil {
				return nil, nil, nil, nil, errors.Wrapf(err, "split file %s: %s[%d]", file, splitNames[s], i)
			}
			if prev, ok := names[e.Label]; ok && prev != e.Class {
				return nil, nil, nil, nil, errors.Errorf("split file %s: %s[%d]: label %d has class name %q, but earlier %q", file, splitNames[s], i, e.Label, e.Class, prev)
			}
			names[e.Label] = e.Class
			maxLabel = max(maxLabel, e.Label)
			out[s] = append(out[s], Item{Path: filepath.Join(imageDir, filepath.FromSlash(e.Path)), Label: e.Label})
		}
	}
	if maxLabel < 0 {
		return nil, nil, nil, nil, errors.Errorf("split file %s: no items", file)
	}
	if maxLabel >= len(names) { // some label below the largest is missing
		c := 0
		for ; c < maxLabel; c++ {
			if _, ok := names[c]; !ok {
				break
			}
		}
		return nil, nil, nil, nil, errors.Errorf("split file %s: label %d never occurs (labels must be 0..%d)", file, c, maxLabel)
	}
	classes = make([]string, maxLabel+1)
	seenName := map[string]int{}
	for c := range classes {
		n, ok := names[c]
		if !ok {
			return nil, nil, nil, nil, errors.Errorf("split file %s: label %d never occurs (labels must be 0..%d)", file, c, maxLabel)
		}
		if prev, dup := seenName[n]; dup {
			return nil, nil, nil, nil, errors.Errorf("split file %s: labels %d and %d share the class name %q", file, prev, c, n)
		}
		seenName[n] = c
		classes[c] = n
	}
	return classes, out[0], out[1], out[2], nil
}

// splitLists decodes the three split lists of a split file, each as raw
// elements.
func splitLists(raw []byte, file string) ([3][]json.RawMessage, error) {
	var lists [3][]json.RawMessage
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return lists, errors.Wrapf(err, "split file %s: bad JSON (want an object with train/val/test lists)", file)
	}
	for s, name := range splitNames {
		v, ok := top[name]
		if !ok {
			return lists, errors.Errorf("split file %s: missing %q list", file, name)
		}
		if err := json.Unmarshal(v, &lists[s]); err != nil || (lists[s] == nil && !bytes.Equal(bytes.TrimSpace(v), []byte("[]"))) {
			return lists, errors.Errorf("split file %s: %q is not a list", file, name)
		}
	}
	return lists, nil
}

func parseZhouEntry(el json.RawMessage) (zhouEntry, error) {
	var parts []json.RawMessage
	if err := json.Unmarshal(el, &parts); err != nil || len(parts) != 3 {
		return zhouEntry{}, errors.Errorf("want [impath, label, classname], got %s", clip(el))
	}
	var e zhouEntry
	var err error
	if e.Path, err = jsonRelPath(parts[0]); err != nil {
		return e, err
	}
	if e.Label, err = jsonInt(parts[1], "label"); err != nil {
		return e, err
	}
	if err := json.Unmarshal(parts[2], &e.Class); err != nil {
		return e, errors.Errorf("class name %s is not a string", clip(parts[2]))
	}
	if e.Class == "" {
		return e, errors.New("empty class name")
	}
	return e, nil
}

// jsonRelPath decodes an image path that must be relative and stay
// inside the image directory.
func jsonRelPath(m json.RawMessage) (string, error) {
	var p string
	if err := json.Unmarshal(m, &p); err != nil {
		return "", errors.Errorf("image path %s is not a string", clip(m))
	}
	if p == "" {
		return "", errors.New("empty image path")
	}
	c := filepath.Clean(filepath.FromSlash(p))
	if filepath.IsAbs(c) || c == ".." || strings.HasPrefix(c, ".."+string(filepath.Separator)) {
		return "", errors.Errorf("image path %q must be relative to the image directory", p)
	}
	return p, nil
}

// jsonInt decodes a non-negative integer (a JSON number without fraction).
func jsonInt(m json.RawMessage, what string) (int, error) {
	dec := json.NewDecoder(bytes.NewReader(m))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return 0, errors.Errorf("%s %s is not an integer", what, clip(m))
	}
	n, ok := v.(json.Number)
	if !ok {
		return 0, errors.Errorf("%s %s is not an integer", what, clip(m))
	}
	i, err := n.Int64()
	if err != nil || i < 0 || i > 1<<31 {
		return 0, errors.Errorf("%s %s is not a non-negative integer", what, clip(m))
	}
	return int(i), nil
}

// jsonIntOrList decodes n or [n] (split_dk stores labels and tasks as
// one-element lists).
func jsonIntOrList(m json.RawMessage, what string) (int, error) {
	t := bytes.TrimSpace(m)
	if len(t) > 0 && t[0] == '[' {
		var parts []json.RawMessage
		if err := json.Unmarshal(t, &parts); err != nil || len(parts) != 1 {
			return 0, errors.Errorf("%s %s: want one integer or a one-element list", what, clip(m))
		}
		return jsonInt(parts[0], what)
	}
	return jsonInt(m, what)
}

func clip(m []byte) string {
	s := string(m)
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

// WriteSplitZhou writes t's splits as a CoOp split_zhou JSON file, with
// image paths relative to t.ImageDir (slash-separated). The file is
// written atomically (temporary file, then rename).
func WriteSplitZhou(file string, t *Task) error {
	var sb strings.Builder
	sb.WriteString("{")
	for s, items := range [3][]Item{t.Train, t.Val, t.Test} {
		if s > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, "\n  %q: [", splitNames[s])
		for i, it := range items {
			rel, err := relPath(t.ImageDir, it.Path)
			if err != nil {
				return errors.Wrapf(err, "write split file %s", file)
			}
			if i > 0 {
				sb.WriteString(",")
			}
			p, _ := json.Marshal(rel)
			c, _ := json.Marshal(t.Classes[it.Label])
			fmt.Fprintf(&sb, "\n    [%s, %d, %s]", p, it.Label, c)
		}
		sb.WriteString("\n  ]")
	}
	sb.WriteString("\n}\n")
	return writeFileAtomic(file, []byte(sb.String()))
}

// relPath returns p relative to dir, slash-separated; p must lie inside dir.
func relPath(dir, p string) (string, error) {
	rel, err := filepath.Rel(dir, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", errors.Errorf("image %s is not inside %s", p, dir)
	}
	return filepath.ToSlash(rel), nil
}

func writeFileAtomic(file string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return errors.Wrapf(err, "create cache directory for %s", file)
	}
	return atomicfile.Write(file, b)
}

// dkMeta is the "meta" object of a split_dk file.
type dkMeta struct {
	TaskID2CName  [][]string `json:"taskid2cname"`
	TaskID2TName  []string   `json:"taskid2tname"`
	TaskID2Metric []string   `json:"taskid2metric"`
	TaskID2Desc   any        `json:"taskid2desc"`
	TaskID2Type   []string   `json:"taskid2type"`
}

// ReadSplitDK reads a SoftCPT split_dk JSON file
// ({"train": [[relpath, [label], [task]], ...], "val", "test",
// "meta": {"taskid2cname": [[...], ...], "taskid2tname": [...],
// "taskid2metric": [...], ...}}) into one task per entry of
// meta.taskid2cname. Task names come from taskid2tname ("_" turned into
// spaces) and metrics from taskid2metric ("overall_acc"/"mean_acc"). The
// tasks' Name fields are left empty.
func ReadSplitDK(file, imageDir string) ([]*Task, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, errors.Wrapf(err, "read split file %s", file)
	}
	lists, err := splitLists(raw, file)
	if err != nil {
		return nil, err
	}
	var top struct {
		Meta *json.RawMessage `json:"meta"`
	}
	_ = json.Unmarshal(raw, &top)
	if top.Meta == nil {
		return nil, errors.Errorf("split file %s: missing \"meta\" object (split_dk files carry taskid2cname, taskid2tname, ...)", file)
	}
	var meta dkMeta
	if err := json.Unmarshal(*top.Meta, &meta); err != nil {
		return nil, errors.Wrapf(err, "split file %s: bad \"meta\"", file)
	}
	nt := len(meta.TaskID2CName)
	if nt == 0 {
		return nil, errors.Errorf("split file %s: meta.taskid2cname is empty", file)
	}
	if meta.TaskID2TName != nil && len(meta.TaskID2TName) != nt {
		return nil, errors.Errorf("split file %s: meta.taskid2tname has %d entries for %d tasks", file, len(meta.TaskID2TName), nt)
	}
	if meta.TaskID2Metric != nil && len(meta.TaskID2Metric) != nt {
		return nil, errors.Errorf("split file %s: meta.taskid2metric has %d entries for %d tasks", file, len(meta.TaskID2Metric), nt)
	}
	tasks := make([]*Task, nt)
	for i := range tasks {
		t := &Task{Classes: append([]string(nil), meta.TaskID2CName[i]...), ImageDir: imageDir}
		if len(t.Classes) == 0 {
			return nil, errors.Errorf("split file %s: meta.taskid2cname[%d] is empty", file, i)
		}
		if meta.TaskID2TName != nil {
			t.TaskName = strings.ReplaceAll(meta.TaskID2TName[i], "_", " ")
		}
		if meta.TaskID2Metric != nil {
			m, err := ParseMetric(meta.TaskID2Metric[i])
			if err != nil {
				return nil, errors.Wrapf(err, "split file %s: meta.taskid2metric[%d]", file, i)
			}
			t.Metric = m
		}
		tasks[i] = t
	}
	for s, list := range lists {
		for i, el := range list {
			var parts []json.RawMessage
			if err := json.Unmarshal(el, &parts); err != nil || len(parts) != 3 {
				return nil, errors.Errorf("split file %s: %s[%d]: want [relpath, [label], [task]], got %s", file, splitNames[s], i, clip(el))
			}
			p, err := jsonRelPath(parts[0])
			if err != nil {
				return nil, errors.Wrapf(err, "split file %s: %s[%d]", file, splitNames[s], i)
			}
			label, err := jsonIntOrList(parts[1], "label")
			if err != nil {
				return nil, errors.Wrapf(err, "split file %s: %s[%d]", file, splitNames[s], i)
			}
			task, err := jsonIntOrList(parts[2], "task")
			if err != nil {
				return nil, errors.Wrapf(err, "split file %s: %s[%d]", file, splitNames[s], i)
			}
			if task >= nt {
				return nil, errors.Errorf("split file %s: %s[%d]: task %d outside [0,%d)", file, splitNames[s], i, task, nt)
			}
			t := tasks[task]
			if label >= len(t.Classes) {
				return nil, errors.Errorf("split file %s: %s[%d]: label %d outside [0,%d) of task %d", file, splitNames[s], i, label, len(t.Classes), task)
			}
			it := Item{Path: filepath.Join(imageDir, filepath.FromSlash(p)), Label: label}
			switch s {
			case 0:
				t.Train = append(t.Train, it)
			case 1:
				t.Val = append(t.Val, it)
			default:
				t.Test = append(t.Test, it)
			}
		}
	}
	return tasks, nil
}
