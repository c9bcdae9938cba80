package data

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pkg/errors"
)

// officialSplit generates a split from a dataset's own (official) files
// the way CoOp's dataset class does when its split_zhou file is missing.
type officialSplit struct {
	// dataset is CoOp's dataset class name.
	dataset string
	// read reads the official files of the dataset folder base, with the
	// images under imgDir.
	read func(base, imgDir string) (*officialData, error)
}

// officialData is what a dataset's official files give: the classes (by
// label) and either an official trainval/test partition (trainval is
// then split 80/20 per class, CoOp's split_trainval) or, for perClass,
// all images (split 50/20/30 per class).
type officialData struct {
	classes  []string
	trainval []Item
	test     []Item
	// src names the file(s) the images were listed in, for errors.
	src      string
	perClass bool
}

// officialSplits maps the base name of CoOp's split_zhou file to the
// generator CoOp runs when that file is missing. A split_zhou entry
// without "fallback" whose split file is missing uses it.
var officialSplits = map[string]officialSplit{
	"split_zhou_OxfordPets.json":    {"OxfordPets", readPetsOfficial},
	"split_zhou_SUN397.json":        {"SUN397", readSUN397Official},
	"split_zhou_UCF101.json":        {"UCF101", readUCF101Official},
	"split_zhou_OxfordFlowers.json": {"OxfordFlowers", readFlowersOfficial},
	"split_zhou_StanfordCars.json":  {"StanfordCars", readCarsOfficial},
}

// readOfficial generates (or reads back from the split cache) the split
// of the current split_zhou entry from the dataset's official files;
// splitFile is the missing split_zhou file.
func (r *entryReader) readOfficial(o officialSplit, splitFile string) (*Task, error) {
	td := r.td
	imgDir := r.imageDir()
	d, err := o.read(r.baseDir(), imgDir)
	if err != nil {
		msg := fmt.Sprintf("split file %s is missing and the %s split cannot be generated from the dataset's official files", splitFile, o.dataset)
		if td.Missing != "" {
			msg += " (" + td.Missing + ")"
		}
		return nil, errors.Wrap(err, msg)
	}
	return r.cached(r.splitCachePath(td.Name), imgDir, d.classes, func() (*Task, error) {
		t := &Task{Classes: d.classes, ImageDir: imgDir}
		rng := r.splitRNG(td.Name)
		var err error
		if d.perClass {
			t.Train, t.Val, t.Test, err = splitPerClass(d.trainval, d.classes, d.src, rng)
		} else {
			t.Train, t.Val, err = splitTrainVal(d.trainval, d.classes, d.src, rng)
			t.Test = d.test
		}
		if err != nil {
			return nil, err
		}
		return t, nil
	})
}

// byLabel groups the indices of items by label, labels in order of first
// occurrence (as CoOp's defaultdict trackers do).
func byLabel(items []Item) (order []int, idx map[int][]int) {
	idx = map[int][]int{}
	for i, it := range items {
		if _, ok := idx[it.Label]; !ok {
			order = append(order, it.Label)
		}
		idx[it.Label] = append(idx[it.Label], i)
	}
	return order, idx
}

// splitTrainVal is CoOp's split_trainval (p_val = 0.2): for each label,
// in order of first occurrence, shuffle its items and put the first
// round(0.2·n) (Python rounding) in val and the rest in train. Every
// class needs a validation image (n ≥ 3), as CoOp asserts.
func splitTrainVal(trainval []Item, classes []string, src string, rng *rand.Rand) (train, val []Item, err error) {
	order, idx := byLabel(trainval)
	for _, l := range order {
		ids := idx[l]
		nVal := int(math.RoundToEven(float64(len(ids)) * 0.2))
		if nVal <= 0 {
			return nil, nil, errors.Errorf("class %d (%q) has %d training images in %s: too few for the 80/20 train/val split (round(0.2·n) must be at least 1)", l, classes[l], len(ids), src)
		}
		rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		for n, i := range ids {
			if n < nVal {
				val = append(val, trainval[i])
			} else {
				train = append(train, trainval[i])
			}
		}
	}
	return train, val, nil
}

// splitPerClass is OxfordFlowers' split: for each label, in order of
// first occurrence, shuffle its items and split them 50/20/30 with
// Python rounding; every part must be non-empty.
func splitPerClass(items []Item, classes []string, src string, rng *rand.Rand) (train, val, test []Item, err error) {
	order, idx := byLabel(items)
	for _, l := range order {
		ids := idx[l]
		nTrain, nVal, nTest := coopCounts(len(ids))
		if nTrain <= 0 || nVal <= 0 || nTest <= 0 {
			return nil, nil, nil, errors.Errorf("class %d (%q) has %d images in %s: too few for a 50/20/30 split (%d/%d/%d; every part must be non-empty)", l, classes[l], len(ids), src, nTrain, nVal, nTest)
		}
		rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		for n, i := range ids {
			switch {
			case n < nTrain:
				train = append(train, items[i])
			case n < nTrain+nVal:
				val = append(val, items[i])
			default:
				test = append(test, items[i])
			}
		}
	}
	return train, val, test, nil
}

// classTable collects class names by 0-based label.
type classTable struct {
	names []string
}

// set records name for label; a label must keep one name. where locates
// the record in errors.
func (c *classTable) set(label int, name, where string) error {
	if label < 0 || label > 1<<20 {
		return errors.Errorf("%s: label %d out of range", where, label+1)
	}
	if name == "" {
		return errors.Errorf("%s: empty class name", where)
	}
	for len(c.names) <= label {
		c.names = append(c.names, "")
	}
	if prev := c.names[label]; prev != "" && prev != name {
		return errors.Errorf("%s: label %d is %q, but earlier %q", where, label+1, name, prev)
	}
	c.names[label] = name
	return nil
}

// list returns the names; every label up to the largest must be named and
// names must be unique. src names the source in errors.
func (c *classTable) list(src string) ([]string, error) {
	if len(c.names) == 0 {
		return nil, errors.Errorf("%s: no classes", src)
	}
	seen := map[string]int{}
	for l, n := range c.names {
		if n == "" {
			return nil, errors.Errorf("%s: label %d never occurs (labels must be 1..%d)", src, l+1, len(c.names))
		}
		if prev, dup := seen[n]; dup {
			return nil, errors.Errorf("%s: labels %d and %d share the class name %q", src, prev+1, l+1, n)
		}
		seen[n] = l
	}
	return c.names, nil
}

// imagePath joins imgDir and rel (slash-separated) after checking that
// rel stays inside imgDir.
func imagePath(imgDir, rel string) (string, error) {
	c := filepath.Clean(filepath.FromSlash(rel))
	if rel == "" || filepath.IsAbs(c) || c == "." || c == ".." || strings.HasPrefix(c, ".."+string(filepath.Separator)) {
		return "", errors.Errorf("image path %q must be relative and stay inside the image folder", rel)
	}
	return filepath.Join(imgDir, c), nil
}

// nonEmptyLines returns the trimmed non-empty lines of file with their
// 1-based line numbers.
func nonEmptyLines(file string) (lines []string, nums []int, err error) {
	all, err := readLines(file)
	if err != nil {
		return nil, nil, err
	}
	for i, l := range all {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
			nums = append(nums, i+1)
		}
	}
	if len(lines) == 0 {
		return nil, nil, errors.Errorf("%s is empty", file)
	}
	return lines, nums, nil
}

// readPetsOfficial reads Oxford-IIIT Pets' annotations/trainval.txt and
// annotations/test.txt: lines "<image> <class id> <species> <breed id>"
// (class ids from 1; '#' lines are comments). The class name is the image
// name without its last "_" part, lower-cased (CoOp's breed names, e.g.
// "american_bulldog"); images are image_dir/<image>.jpg.
func readPetsOfficial(base, imgDir string) (*officialData, error) {
	annos := filepath.Join(base, "annotations")
	var ct classTable
	var lists [2][]Item
	for k, name := range []string{"trainval.txt", "test.txt"} {
		file := filepath.Join(annos, name)
		lines, nums, err := nonEmptyLines(file)
		if err != nil {
			return nil, err
		}
		for i, l := range lines {
			if strings.HasPrefix(l, "#") {
				continue
			}
			where := fmt.Sprintf("%s:%d", file, nums[i])
			f := strings.Fields(l)
			if len(f) != 4 {
				return nil, errors.Errorf("%s: want \"<image> <class id> <species> <breed id>\", got %q", where, l)
			}
			cut := strings.LastIndex(f[0], "_")
			if cut <= 0 {
				return nil, errors.Errorf("%s: image name %q has no \"<breed>_<number>\" form", where, f[0])
			}
			id, err := strconv.Atoi(f[1])
			if err != nil || id < 1 {
				return nil, errors.Errorf("%s: class id %q is not a positive integer", where, f[1])
			}
			if err := ct.set(id-1, strings.ToLower(f[0][:cut]), where); err != nil {
				return nil, err
			}
			p, err := imagePath(imgDir, f[0]+".jpg")
			if err != nil {
				return nil, errors.Wrap(err, where)
			}
			lists[k] = append(lists[k], Item{Path: p, Label: id - 1})
		}
	}
	classes, err := ct.list(annos + "/{trainval,test}.txt")
	if err != nil {
		return nil, err
	}
	return &officialData{classes: classes, trainval: lists[0], test: lists[1], src: filepath.Join(annos, "trainval.txt")}, nil
}

// readSUN397Official reads SUN397's ClassName.txt ("/a/abbey", label =
// line order) and partition 01, Training_01.txt and Testing_01.txt
// ("/a/abbey/sun_x.jpg"; the image's folder is its class). Class names
// drop the leading letter folder and reverse the rest ("/b/bakery/shop"
// → "shop bakery"), as CoOp does.
func readSUN397Official(base, imgDir string) (*officialData, error) {
	cfile := filepath.Join(base, "ClassName.txt")
	lines, nums, err := nonEmptyLines(cfile)
	if err != nil {
		return nil, err
	}
	label := map[string]int{}
	var classes []string
	seen := map[string]int{}
	for i, l := range lines {
		where := fmt.Sprintf("%s:%d", cfile, nums[i])
		folder := strings.TrimPrefix(l, "/")
		if _, dup := label[folder]; dup {
			return nil, errors.Errorf("%s: duplicate class %q", where, l)
		}
		parts := strings.Split(folder, "/")[1:]
		for a, b := 0, len(parts)-1; a < b; a, b = a+1, b-1 {
			parts[a], parts[b] = parts[b], parts[a]
		}
		name := strings.Join(parts, " ")
		if strings.TrimSpace(name) == "" {
			return nil, errors.Errorf("%s: class %q has no name after its letter folder (want \"/<letter>/<name>[/<sub>]\")", where, l)
		}
		if prev, dup := seen[name]; dup {
			return nil, errors.Errorf("%s: class %q has the same name %q as line %d", where, l, name, nums[prev])
		}
		seen[name] = i
		label[folder] = len(classes)
		classes = append(classes, name)
	}
	var lists [2][]Item
	for k, name := range []string{"Training_01.txt", "Testing_01.txt"} {
		file := filepath.Join(base, name)
		lines, nums, err := nonEmptyLines(file)
		if err != nil {
			return nil, err
		}
		for i, l := range lines {
			where := fmt.Sprintf("%s:%d", file, nums[i])
			im := strings.TrimPrefix(l, "/")
			y, ok := label[path.Dir(im)]
			if !ok {
				return nil, errors.Errorf("%s: class folder %q of %q is not in %s", where, path.Dir(im), l, cfile)
			}
			p, err := imagePath(imgDir, im)
			if err != nil {
				return nil, errors.Wrap(err, where)
			}
			lists[k] = append(lists[k], Item{Path: p, Label: y})
		}
	}
	return &officialData{classes: classes, trainval: lists[0], test: lists[1], src: filepath.Join(base, "Training_01.txt")}, nil
}

// camelWords splits a CamelCase UCF101 action into its capitalised words
// joined by "_" (CoOp's "_".join(re.findall("[A-Z][^A-Z]*", action)):
// characters before the first upper-case letter are dropped).
func camelWords(action string) string {
	var words []string
	for _, r := range action {
		switch {
		case r >= 'A' && r <= 'Z':
			words = append(words, string(r))
		case len(words) > 0:
			words[len(words)-1] += string(r)
		}
	}
	return strings.Join(words, "_")
}

// readUCF101Official reads UCF101's ucfTrainTestlist: classInd.txt
// ("<id> <Action>", ids from 1) and split 01, trainlist01.txt
// ("<Action>/<video>.avi <id>") and testlist01.txt ("<Action>/<video>.avi").
// Class names are the actions split at capitals ("ApplyEyeMakeup" →
// "Apply_Eye_Makeup"); images are the middle frames
// image_dir/<class name>/<video>.jpg.
func readUCF101Official(base, imgDir string) (*officialData, error) {
	dir := filepath.Join(base, "ucfTrainTestlist")
	cfile := filepath.Join(dir, "classInd.txt")
	lines, nums, err := nonEmptyLines(cfile)
	if err != nil {
		return nil, err
	}
	label := map[string]int{}
	var ct classTable
	for i, l := range lines {
		where := fmt.Sprintf("%s:%d", cfile, nums[i])
		f := strings.Fields(l)
		if len(f) != 2 {
			return nil, errors.Errorf("%s: want \"<class id> <action>\", got %q", where, l)
		}
		id, err := strconv.Atoi(f[0])
		if err != nil || id < 1 {
			return nil, errors.Errorf("%s: class id %q is not a positive integer", where, f[0])
		}
		if _, dup := label[f[1]]; dup {
			return nil, errors.Errorf("%s: duplicate action %q", where, f[1])
		}
		if id-1 < len(ct.names) && ct.names[id-1] != "" {
			return nil, errors.Errorf("%s: duplicate class id %d", where, id)
		}
		if err := ct.set(id-1, camelWords(f[1]), where+": action "+strconv.Quote(f[1])); err != nil {
			return nil, err
		}
		label[f[1]] = id - 1
	}
	classes, err := ct.list(cfile)
	if err != nil {
		return nil, err
	}
	var lists [2][]Item
	for k, name := range []string{"trainlist01.txt", "testlist01.txt"} {
		file := filepath.Join(dir, name)
		lines, nums, err := nonEmptyLines(file)
		if err != nil {
			return nil, err
		}
		for i, l := range lines {
			where := fmt.Sprintf("%s:%d", file, nums[i])
			video := strings.Fields(l)[0]
			parts := strings.Split(video, "/")
			if len(parts) != 2 {
				return nil, errors.Errorf("%s: want \"<action>/<video>.avi\", got %q", where, video)
			}
			y, ok := label[parts[0]]
			if !ok {
				return nil, errors.Errorf("%s: action %q is not in %s", where, parts[0], cfile)
			}
			p, err := imagePath(imgDir, classes[y]+"/"+strings.ReplaceAll(parts[1], ".avi", ".jpg"))
			if err != nil {
				return nil, errors.Wrap(err, where)
			}
			lists[k] = append(lists[k], Item{Path: p, Label: y})
		}
	}
	return &officialData{classes: classes, trainval: lists[0], test: lists[1], src: filepath.Join(dir, "trainlist01.txt")}, nil
}

// readFlowersOfficial reads Oxford Flowers 102's imagelabels.mat
// (variable "labels": the 1-based class of image_%05d.jpg, in image
// order) and cat_to_name.json ({"<label>": "<name>"}). All images are
// split 50/20/30 per class.
func readFlowersOfficial(base, imgDir string) (*officialData, error) {
	mfile := filepath.Join(base, "imagelabels.mat")
	m, err := ReadMat(mfile)
	if err != nil {
		return nil, err
	}
	v, err := m.Var("labels")
	if err != nil {
		return nil, err
	}
	labels, err := v.Ints()
	if err != nil {
		return nil, errors.Wrapf(err, "mat file %s: variable \"labels\"", mfile)
	}
	if v.Len() != v.Dims[0] && v.Len() != v.Dims[len(v.Dims)-1] {
		return nil, errors.Errorf("mat file %s: variable \"labels\" is %s, want a vector", mfile, v.describe())
	}
	jfile := filepath.Join(base, "cat_to_name.json")
	raw, err := os.ReadFile(jfile)
	if err != nil {
		return nil, errors.Wrapf(err, "read %s", jfile)
	}
	var names map[string]string
	if err := json.Unmarshal(raw, &names); err != nil {
		return nil, errors.Wrapf(err, "%s: want an object of label → class name strings", jfile)
	}
	var ct classTable
	items := make([]Item, len(labels))
	for i, l := range labels {
		if l < 1 {
			return nil, errors.Errorf("mat file %s: labels(%d) = %d, want a label from 1", mfile, i+1, l)
		}
		name, ok := names[strconv.Itoa(l)]
		if !ok {
			return nil, errors.Errorf("%s has no class name for label \"%d\" (used by image %d of %s)", jfile, l, i+1, mfile)
		}
		if err := ct.set(l-1, name, jfile+": key \""+strconv.Itoa(l)+"\""); err != nil {
			return nil, err
		}
		p, err := imagePath(imgDir, fmt.Sprintf("image_%05d.jpg", i+1))
		if err != nil {
			return nil, err
		}
		items[i] = Item{Path: p, Label: l - 1}
	}
	classes, err := ct.list(mfile + " with " + jfile)
	if err != nil {
		return nil, err
	}
	return &officialData{classes: classes, trainval: items, src: mfile, perClass: true}, nil
}

// carsClassName moves the year (the last word) of a Stanford Cars class
// name to the front, as CoOp does ("AM General Hummer SUV 2000" →
// "2000 AM General Hummer SUV").
func carsClassName(s string) string {
	words := strings.Split(s, " ")
	last := len(words) - 1
	return strings.Join(append([]string{words[last]}, words[:last]...), " ")
}

// readCarsOfficial reads Stanford Cars' devkit/cars_meta.mat (variable
// "class_names", a cell array of strings), devkit/cars_train_annos.mat
// and cars_test_annos_withlabels.mat (variable "annotations", a struct
// array with fields "fname" and "class", class from 1); images are
// image_dir/cars_train/<fname> and image_dir/cars_test/<fname>.
func readCarsOfficial(base, imgDir string) (*officialData, error) {
	mfile := filepath.Join(base, "devkit", "cars_meta.mat")
	m, err := ReadMat(mfile)
	if err != nil {
		return nil, err
	}
	v, err := m.Var("class_names")
	if err != nil {
		return nil, err
	}
	if v.Class != MatCell || v.Len() == 0 {
		return nil, errors.Errorf("mat file %s: variable \"class_names\" is %s, want a non-empty cell array of strings", mfile, v.describe())
	}
	var ct classTable
	for i, c := range v.Cells {
		s, err := c.Str()
		if err != nil {
			return nil, errors.Wrapf(err, "mat file %s: variable \"class_names{%d}\"", mfile, i+1)
		}
		if err := ct.set(i, carsClassName(s), fmt.Sprintf("mat file %s: class_names{%d}", mfile, i+1)); err != nil {
			return nil, err
		}
	}
	classes, err := ct.list(mfile)
	if err != nil {
		return nil, err
	}
	var lists [2][]Item
	for k, src := range [2][2]string{
		{filepath.Join(base, "devkit", "cars_train_annos.mat"), "cars_train"},
		{filepath.Join(base, "cars_test_annos_withlabels.mat"), "cars_test"},
	} {
		file, sub := src[0], src[1]
		m, err := ReadMat(file)
		if err != nil {
			return nil, err
		}
		a, err := m.Var("annotations")
		if err != nil {
			return nil, err
		}
		if a.Class != MatStruct || a.Field(0, "fname") == nil || a.Field(0, "class") == nil {
			return nil, errors.Errorf("mat file %s: variable \"annotations\" is %s with fields %q, want a struct array with fields fname and class", file, a.describe(), a.Fields)
		}
		for i := 0; i < a.Len(); i++ {
			where := fmt.Sprintf("mat file %s: annotations(%d)", file, i+1)
			fname, err := a.Field(i, "fname").Str()
			if err != nil {
				return nil, errors.Wrapf(err, "%s.fname", where)
			}
			cls, err := a.Field(i, "class").Ints()
			if err != nil {
				return nil, errors.Wrapf(err, "%s.class", where)
			}
			if len(cls) != 1 || cls[0] < 1 || cls[0] > len(classes) {
				return nil, errors.Errorf("%s.class = %v, want one class in 1..%d (the classes of %s)", where, cls, len(classes), mfile)
			}
			p, err := imagePath(imgDir, sub+"/"+fname)
			if err != nil {
				return nil, errors.Wrap(err, where+".fname")
			}
			lists[k] = append(lists[k], Item{Path: p, Label: cls[0] - 1})
		}
	}
	return &officialData{classes: classes, trainval: lists[0], test: lists[1], src: filepath.Join(base, "devkit", "cars_train_annos.mat")}, nil
}
