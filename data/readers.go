package data

import (
	"bufio"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/pkg/errors"
)

// CoOp's read_and_split_data proportions (train, val; test is the rest).
const (
	pTrain = 0.5
	pVal   = 0.2
)

// coopCounts returns CoOp's split sizes for n images: Python's round
// (half to even) of n·0.5 and n·0.2, the rest for test.
func coopCounts(n int) (nTrain, nVal, nTest int) {
	nTrain = int(math.RoundToEven(float64(n) * pTrain))
	nVal = int(math.RoundToEven(float64(n) * pVal))
	return nTrain, nVal, n - nTrain - nVal
}

// requireDir returns an error naming dir (and what it is) unless it is
// an existing directory.
func requireDir(dir, what string) error {
	st, err := os.Stat(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return errors.Errorf("%s %s does not exist", what, dir)
		}
		return errors.Wrapf(err, "%s %s", what, dir)
	}
	if !st.IsDir() {
		return errors.Errorf("%s %s is not a directory", what, dir)
	}
	return nil
}

// listDir returns the sorted names of dir's non-hidden entries that are
// directories (dirs=true) or regular files (dirs=false); symbolic links
// are followed.
func listDir(dir string, dirs bool) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, errors.Wrapf(err, "list directory %s", dir)
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		isDir := e.IsDir()
		regular := e.Type().IsRegular()
		if e.Type()&os.ModeSymlink != 0 {
			st, err := os.Stat(filepath.Join(dir, e.Name()))
			if err != nil {
				return nil, errors.Wrapf(err, "follow link %s", filepath.Join(dir, e.Name()))
			}
			isDir, regular = st.IsDir(), st.Mode().IsRegular()
		}
		if (dirs && isDir) || (!dirs && regular) {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names, nil
}

// classDirs lists the class folders of dir minus the ignored ones.
func classDirs(dir string, ignore []string) ([]string, error) {
	if err := requireDir(dir, "image folder"); err != nil {
		return nil, err
	}
	names, err := listDir(dir, true)
	if err != nil {
		return nil, err
	}
	names = slices.DeleteFunc(names, func(n string) bool { return slices.Contains(ignore, n) })
	if len(names) == 0 {
		return nil, errors.Errorf("image folder %s has no class folders", dir)
	}
	return names, nil
}

// splitFolder is CoOp's read_and_split_data on dir/<class>/<images>:
// classes sorted by folder name, and for each class its images (sorted
// by name, then shuffled with rng) split 50/20/30 with Python rounding.
func splitFolder(dir string, ignore []string, rng *rand.Rand) (classes []string, train, val, test []Item, err error) {
	classes, err = classDirs(dir, ignore)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	for label, c := range classes {
		cdir := filepath.Join(dir, c)
		ims, err := listDir(cdir, false)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		rng.Shuffle(len(ims), func(i, j int) { ims[i], ims[j] = ims[j], ims[i] })
		nTrain, nVal, nTest := coopCounts(len(ims))
		if nTrain <= 0 || nVal <= 0 || nTest <= 0 {
			return nil, nil, nil, nil, errors.Errorf("class folder %s has %d images: too few for a 50/20/30 split (%d/%d/%d; every part must be non-empty)", cdir, len(ims), nTrain, nVal, nTest)
		}
		for i, im := range ims {
			it := Item{Path: filepath.Join(cdir, im), Label: label}
			switch {
			case i < nTrain:
				train = append(train, it)
			case i < nTrain+nVal:
				val = append(val, it)
			default:
				test = append(test, it)
			}
		}
	}
	return classes, train, val, test, nil
}

// splitRNG returns the generator for a generated split of task name.
func (r *entryReader) splitRNG(name string) *rand.Rand {
	return rand.New(rand.NewPCG(r.splitSeed(), hashString(r.def.Name+"/"+name)))
}

// cached returns the split cached at path if present (after checking
// that its classes equal wantClasses), and otherwise calls gen and caches
// its result.
func (r *entryReader) cached(path, imgDir string, wantClasses []string, gen func() (*Task, error)) (*Task, error) {
	if _, err := os.Stat(path); err == nil {
		classes, train, val, test, err := ReadSplitZhou(path, imgDir)
		if err != nil {
			return nil, errors.Wrapf(err, "cached split (delete %s to regenerate it)", path)
		}
		if err := checkClasses(classes, wantClasses); err != nil {
			return nil, errors.Wrapf(err, "cached split %s does not match the data (delete it to regenerate)", path)
		}
		return &Task{Classes: classes, Train: train, Val: val, Test: test, ImageDir: imgDir}, nil
	} else if !os.IsNotExist(err) {
		return nil, errors.Wrapf(err, "cached split %s", path)
	}
	t, err := gen()
	if err != nil {
		return nil, err
	}
	if err := WriteSplitZhou(path, t); err != nil {
		return nil, errors.Wrap(err, "cache generated split")
	}
	return t, nil
}

// readSingleFolderOrSplit serves the split_zhou and folder readers. A
// split_zhou entry whose split file is missing falls back to its
// "fallback" (class folders), else, for CoOp's Pets, SUN397, UCF101,
// Flowers and Cars split files, to generating the split from the
// dataset's official files (see officialSplits), else it is an error.
func (r *entryReader) readSingleFolderOrSplit() (*Task, error) {
	td := r.td
	imgDir := r.imageDir()
	if err := requireDir(imgDir, "image folder"); err != nil {
		return nil, err
	}
	if td.SplitFile != "" {
		sf := filepath.Join(r.baseDir(), td.SplitFile)
		_, err := os.Stat(sf)
		switch {
		case err == nil:
			classes, train, val, test, err := ReadSplitZhou(sf, imgDir)
			if err != nil {
				return nil, err
			}
			return &Task{Classes: classes, Train: train, Val: val, Test: test, ImageDir: imgDir}, nil
		case !os.IsNotExist(err):
			return nil, errors.Wrapf(err, "split file %s", sf)
		case td.Reader == ReaderSplitZhou && td.Fallback == "":
			if o, ok := officialSplits[filepath.Base(td.SplitFile)]; ok {
				return r.readOfficial(o, sf)
			}
			msg := fmt.Sprintf("split file %s is missing", sf)
			if td.Missing != "" {
				msg += ": " + td.Missing
			}
			return nil, errors.New(msg)
		}
	}
	classes, err := classDirs(imgDir, td.Ignore)
	if err != nil {
		return nil, err
	}
	return r.cached(r.splitCachePath(td.Name), imgDir, classes, func() (*Task, error) {
		classes, train, val, test, err := splitFolder(imgDir, td.Ignore, r.splitRNG(td.Name))
		if err != nil {
			return nil, err
		}
		return &Task{Classes: classes, Train: train, Val: val, Test: test, ImageDir: imgDir}, nil
	})
}

// readPresplit splits each of image_dir/{train,test,validation} 50/20/30
// per class and concatenates the parts (the authors' FruitVegetable and
// KaggleVegetable procedure). All subsets must hold the same classes.
func (r *entryReader) readPresplit() (*Task, error) {
	td := r.td
	imgDir := r.imageDir()
	if err := requireDir(imgDir, "image folder"); err != nil {
		return nil, err
	}
	subsets := td.Subsets
	if len(subsets) == 0 {
		subsets = []string{"train", "test", "validation"}
	}
	classes, err := classDirs(filepath.Join(imgDir, subsets[0]), td.Ignore)
	if err != nil {
		return nil, err
	}
	return r.cached(r.splitCachePath(td.Name), imgDir, classes, func() (*Task, error) {
		t := &Task{Classes: classes, ImageDir: imgDir}
		rng := r.splitRNG(td.Name)
		for _, s := range subsets {
			sdir := filepath.Join(imgDir, s)
			cl, train, val, test, err := splitFolder(sdir, td.Ignore, rng)
			if err != nil {
				return nil, err
			}
			if err := checkClasses(cl, classes); err != nil {
				return nil, errors.Wrapf(err, "class folders of %s differ from those of %s", sdir, filepath.Join(imgDir, subsets[0]))
			}
			t.Train = append(t.Train, train...)
			t.Val = append(t.Val, val...)
			t.Test = append(t.Test, test...)
		}
		return t, nil
	})
}

// readLines returns the lines of file with trailing "\r\n"/"\n" removed.
func readLines(file string) ([]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, errors.Wrapf(err, "open %s", file)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	for sc.Scan() {
		lines = append(lines, strings.TrimRight(sc.Text(), "\r"))
	}
	if err := sc.Err(); err != nil {
		return nil, errors.Wrapf(err, "read %s", file)
	}
	return lines, nil
}

// readAircraft reads CoOp's FGVC-Aircraft layout: variants.txt (one class
// per line, label = line order) and images_variant_{train,val,test}.txt
// ("<image id> <variant name>"), images at image_dir/<id>.jpg.
func (r *entryReader) readAircraft() (*Task, error) {
	base := r.baseDir()
	imgDir := r.imageDir()
	if err := requireDir(imgDir, "image folder"); err != nil {
		return nil, err
	}
	vfile := filepath.Join(base, "variants.txt")
	lines, err := readLines(vfile)
	if err != nil {
		return nil, err
	}
	t := &Task{ImageDir: imgDir}
	label := map[string]int{}
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if _, dup := label[l]; dup {
			return nil, errors.Errorf("%s:%d: duplicate variant %q", vfile, i+1, l)
		}
		label[l] = len(t.Classes)
		t.Classes = append(t.Classes, l)
	}
	if len(t.Classes) == 0 {
		return nil, errors.Errorf("%s lists no variants", vfile)
	}
	for s, name := range splitNames {
		file := filepath.Join(base, "images_variant_"+name+".txt")
		lines, err := readLines(file)
		if err != nil {
			return nil, err
		}
		var items []Item
		for i, l := range lines {
			l = strings.TrimSpace(l)
			if l == "" {
				continue
			}
			id, cname, ok := strings.Cut(l, " ")
			if !ok || id == "" {
				return nil, errors.Errorf("%s:%d: want \"<image id> <variant>\", got %q", file, i+1, l)
			}
			y, ok := label[cname]
			if !ok {
				return nil, errors.Errorf("%s:%d: variant %q is not in %s", file, i+1, cname, vfile)
			}
			items = append(items, Item{Path: filepath.Join(imgDir, id+".jpg"), Label: y})
		}
		switch s {
		case 0:
			t.Train = items
		case 1:
			t.Val = items
		default:
			t.Test = items
		}
	}
	return t, nil
}

// readSplitDK reads a split_dk file; one task per meta.taskid2cname entry.
func (r *entryReader) readSplitDK() ([]*Task, error) {
	imgDir := r.imageDir()
	if err := requireDir(imgDir, "image folder"); err != nil {
		return nil, err
	}
	sf := filepath.Join(r.baseDir(), r.td.SplitFile)
	if _, err := os.Stat(sf); err != nil {
		msg := fmt.Sprintf("split file %s is missing", sf)
		if r.td.Missing != "" {
			msg += ": " + r.td.Missing
		}
		if os.IsNotExist(err) {
			return nil, errors.New(msg)
		}
		return nil, errors.Wrapf(err, "split file %s", sf)
	}
	tasks, err := ReadSplitDK(sf, imgDir)
	if err != nil {
		return nil, err
	}
	for i, t := range tasks {
		if len(tasks) == 1 {
			t.Name = r.td.Name
		} else {
			t.Name = fmt.Sprintf("%s_%02d", r.td.Name, i)
		}
	}
	return tasks, nil
}

// fashionTask is one row of Fashion-20's task_info.csv.
type fashionTask struct {
	name    string
	classes []string
}

// readTaskInfo reads Fashion-20's task_info.csv: tab-separated, a header
// row, then one row per task (row i = task folder i): column 2 is the task
// name and column 4 the comma-separated class names.
func readTaskInfo(file string) ([]fashionTask, error) {
	lines, err := readLines(file)
	if err != nil {
		return nil, err
	}
	var out []fashionTask
	for i, l := range lines {
		if i == 0 || strings.TrimSpace(l) == "" {
			continue
		}
		cols := strings.Split(l, "\t")
		if len(cols) != 4 {
			return nil, errors.Errorf("%s:%d: want 4 tab-separated columns (id, task name, description, class names), got %d", file, i+1, len(cols))
		}
		name := strings.TrimSpace(cols[1])
		if name == "" {
			return nil, errors.Errorf("%s:%d: empty task name", file, i+1)
		}
		var classes []string
		for _, c := range strings.Split(cols[3], ",") {
			c = strings.TrimSpace(c)
			if c == "" {
				return nil, errors.Errorf("%s:%d: empty class name in %q", file, i+1, cols[3])
			}
			classes = append(classes, c)
		}
		out = append(out, fashionTask{name: name, classes: classes})
	}
	if len(out) == 0 {
		return nil, errors.Errorf("%s has no task rows", file)
	}
	return out, nil
}

// readFashion20 reads the Fashion-20 layout: image_dir/<task id>/<class
// id>/* with integer folder names (task id = row of task_info.csv, class
// id = label), and splits each task's images 50/20/30 as a whole (not per
// class), as the authors do.
func (r *entryReader) readFashion20() ([]*Task, error) {
	td := r.td
	imgDir := r.imageDir()
	if err := requireDir(imgDir, "image folder"); err != nil {
		return nil, err
	}
	infoName := td.TaskInfo
	if infoName == "" {
		infoName = "task_info.csv"
	}
	infoFile := filepath.Join(r.baseDir(), infoName)
	info, err := readTaskInfo(infoFile)
	if err != nil {
		return nil, err
	}
	taskDirs, err := listDir(imgDir, true)
	if err != nil {
		return nil, err
	}
	dirOf := make([]string, len(info))
	for _, d := range taskDirs {
		id, err := strconv.Atoi(d)
		if err != nil || id < 0 || id >= len(info) {
			return nil, errors.Errorf("task folder %s: name must be a task index in [0,%d) (rows of %s)", filepath.Join(imgDir, d), len(info), infoFile)
		}
		if dirOf[id] != "" {
			return nil, errors.Errorf("task folders %s and %s both have index %d", filepath.Join(imgDir, dirOf[id]), filepath.Join(imgDir, d), id)
		}
		dirOf[id] = d
	}
	tasks := make([]*Task, len(info))
	for tid, ft := range info {
		if dirOf[tid] == "" {
			return nil, errors.Errorf("task %d (%s of %s): folder %s does not exist", tid, ft.name, infoFile, filepath.Join(imgDir, strconv.Itoa(tid)))
		}
		name := sanitizeID(ft.name)
		if name == "" {
			name = fmt.Sprintf("task%02d", tid)
		}
		cacheName := fmt.Sprintf("%s.task%02d", td.Name, tid)
		tdir := filepath.Join(imgDir, dirOf[tid])
		t, err := r.cached(r.splitCachePath(cacheName), imgDir, ft.classes, func() (*Task, error) {
			return r.splitFashionTask(tdir, imgDir, ft, r.splitRNG(cacheName))
		})
		if err != nil {
			return nil, errors.Wrapf(err, "task %d (%s)", tid, ft.name)
		}
		t.Name = name
		t.TaskName = strings.ReplaceAll(ft.name, "_", " ")
		tasks[tid] = t
	}
	return tasks, nil
}

func (r *entryReader) splitFashionTask(tdir, imgDir string, ft fashionTask, rng *rand.Rand) (*Task, error) {
	cdirs, err := listDir(tdir, true)
	if err != nil {
		return nil, err
	}
	type labelled struct {
		id  int
		dir string
	}
	var cls []labelled
	for _, c := range cdirs {
		id, err := strconv.Atoi(c)
		if err != nil || id < 0 || id >= len(ft.classes) {
			return nil, errors.Errorf("class folder %s: name must be a class index in [0,%d)", filepath.Join(tdir, c), len(ft.classes))
		}
		cls = append(cls, labelled{id, c})
	}
	slices.SortFunc(cls, func(a, b labelled) int { return a.id - b.id })
	var items []Item
	for i, c := range cls {
		if i > 0 && cls[i-1].id == c.id {
			return nil, errors.Errorf("class folders %s and %s both have index %d", filepath.Join(tdir, cls[i-1].dir), filepath.Join(tdir, c.dir), c.id)
		}
		cdir := filepath.Join(tdir, c.dir)
		ims, err := listDir(cdir, false)
		if err != nil {
			return nil, err
		}
		for _, im := range ims {
			items = append(items, Item{Path: filepath.Join(cdir, im), Label: c.id})
		}
	}
	rng.Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
	nTrain, nVal, nTest := coopCounts(len(items))
	if nTrain <= 0 || nVal <= 0 || nTest <= 0 {
		return nil, errors.Errorf("task folder %s has %d images: too few for a 50/20/30 split", tdir, len(items))
	}
	return &Task{
		Classes:  append([]string(nil), ft.classes...),
		ImageDir: imgDir,
		Train:    items[:nTrain:nTrain],
		Val:      items[nTrain : nTrain+nVal : nTrain+nVal],
		Test:     items[nTrain+nVal:],
	}, nil
}
