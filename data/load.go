package data

import (
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"

	"github.com/pkg/errors"
)

// Options control how a benchmark is read.
type Options struct {
	// Root is the data root that definition paths are relative to.
	Root string
	// CacheDir receives generated splits and few-shot samples. Empty means
	// DefaultCacheDir(Root).
	CacheDir string
	// Only, if not empty, restricts loading to the definition entries with
	// these names (the other entries' data are not touched).
	Only []string
}

// DefaultCacheDir returns <root>/.softcpt-cache.
func DefaultCacheDir(root string) string { return filepath.Join(root, ".softcpt-cache") }

func (o Options) cacheDir() string {
	if o.CacheDir != "" {
		return o.CacheDir
	}
	return DefaultCacheDir(o.Root)
}

// Load reads the benchmark named by nameOrPath (a shipped definition or a
// definition file; see LoadDefinition) from the data under opts.Root.
func Load(nameOrPath string, opts Options) (*Benchmark, error) {
	def, err := LoadDefinition(nameOrPath)
	if err != nil {
		return nil, err
	}
	return LoadBenchmark(def, opts)
}

// LoadBenchmark reads every task of def, in definition order, from the
// data under opts.Root. Splits generated from folders are written to (and
// later read back from) opts.CacheDir as split_zhou JSON, so runs are
// reproducible.
func LoadBenchmark(def *Definition, opts Options) (*Benchmark, error) {
	if opts.Root == "" {
		return nil, errors.New("data: Options.Root (data root) is empty")
	}
	if st, err := os.Stat(opts.Root); err != nil {
		return nil, errors.Wrapf(err, "data: data root %s", opts.Root)
	} else if !st.IsDir() {
		return nil, errors.Errorf("data: data root %s is not a directory", opts.Root)
	}
	only := map[string]bool{}
	for _, n := range opts.Only {
		only[n] = true
	}
	for n := range only {
		found := false
		for _, td := range def.Tasks {
			found = found || td.Name == n
		}
		if !found {
			return nil, errors.Errorf("data: benchmark %s (%s) has no task entry %q", def.Name, def.source, n)
		}
	}
	b := &Benchmark{Name: def.Name}
	seen := map[string]bool{}
	for i := range def.Tasks {
		td := &def.Tasks[i]
		if len(only) > 0 && !only[td.Name] {
			continue
		}
		r := &entryReader{def: def, td: td, root: opts.Root, cache: opts.cacheDir()}
		tasks, err := r.read()
		if err != nil {
			return nil, errors.Wrapf(err, "data: benchmark %s: task %s", def.Name, td.Name)
		}
		for _, t := range tasks {
			if seen[t.Name] {
				return nil, errors.Errorf("data: benchmark %s: duplicate task name %q", def.Name, t.Name)
			}
			seen[t.Name] = true
			b.Tasks = append(b.Tasks, t)
		}
	}
	return b, nil
}

// entryReader reads one definition entry.
type entryReader struct {
	def   *Definition
	td    *TaskDef
	root  string
	cache string
}

func (r *entryReader) baseDir() string  { return filepath.Join(r.root, r.td.Dir) }
func (r *entryReader) imageDir() string { return filepath.Join(r.root, r.td.Dir, r.td.ImageDir) }

func (r *entryReader) splitSeed() uint64 {
	if r.td.SplitSeed != nil {
		return *r.td.SplitSeed
	}
	return 1
}

// splitCachePath is where a generated split of task name is cached.
func (r *entryReader) splitCachePath(name string) string {
	return filepath.Join(r.cache, "splits", r.def.Name, fmt.Sprintf("%s-seed_%d.json", name, r.splitSeed()))
}

func (r *entryReader) read() ([]*Task, error) {
	td := r.td
	var tasks []*Task
	var err error
	switch td.Reader {
	case ReaderSplitZhou, ReaderFolder:
		var t *Task
		t, err = r.readSingleFolderOrSplit()
		tasks = []*Task{t}
	case ReaderFolderPresplit:
		var t *Task
		t, err = r.readPresplit()
		tasks = []*Task{t}
	case ReaderAircraft:
		var t *Task
		t, err = r.readAircraft()
		tasks = []*Task{t}
	case ReaderSplitDK:
		tasks, err = r.readSplitDK()
	case ReaderFashion20:
		tasks, err = r.readFashion20()
	default:
		err = errors.Errorf("unknown reader %q", td.Reader)
	}
	if err != nil {
		return nil, err
	}
	multi := td.Reader == ReaderSplitDK || td.Reader == ReaderFashion20
	if multi && len(td.Subtasks) > len(tasks) {
		return nil, errors.Errorf("%d subtasks given for %d tasks", len(td.Subtasks), len(tasks))
	}
	for i, t := range tasks {
		if err := r.finish(t, i, multi); err != nil {
			return nil, err
		}
	}
	return tasks, nil
}

// finish applies the entry's (and subtask's) fields, renames classes and
// validates the task.
func (r *entryReader) finish(t *Task, i int, multi bool) error {
	td := r.td
	if !multi {
		t.Name = td.Name
	}
	if td.TaskName != "" && (!multi || t.TaskName == "") {
		t.TaskName = td.TaskName
	}
	if td.Metric != "" {
		t.Metric, _ = ParseMetric(td.Metric)
	}
	if td.Template != "" {
		t.Template = td.Template
	}
	if td.Group != "" {
		t.Group = td.Group
	}
	if multi && i < len(td.Subtasks) {
		st := td.Subtasks[i]
		if st.Name != "" {
			t.Name = st.Name
		}
		if st.TaskName != "" {
			t.TaskName = st.TaskName
		}
		if st.Template != "" {
			t.Template = st.Template
		}
		if st.Group != "" {
			t.Group = st.Group
		}
		if st.Metric != "" {
			t.Metric, _ = ParseMetric(st.Metric)
		}
	}
	t.Template = strings.ReplaceAll(t.Template, "{group}", t.Group)
	if t.Metric == "" {
		t.Metric = Accuracy
	}
	if t.Template == "" {
		t.Template = "a photo of a {}."
	}
	if t.TaskName == "" {
		return errors.Errorf("task %s: no task name (set \"task_name\" in the definition)", t.Name)
	}
	t.Classes = renameClasses(t.Classes, td.Rename)
	if !multi && td.Classes != nil {
		if err := checkClasses(t.Classes, td.Classes); err != nil {
			return errors.Wrapf(err, "task %s: classes do not match the definition's \"classes\"", t.Name)
		}
	}
	return validateTask(t)
}

func renameClasses(classes []string, rename map[string]string) []string {
	if len(rename) == 0 {
		return classes
	}
	out := make([]string, len(classes))
	for i, c := range classes {
		if n, ok := rename[c]; ok {
			out[i] = n
		} else {
			out[i] = c
		}
	}
	return out
}

func checkClasses(got, want []string) error {
	if len(got) != len(want) {
		return errors.Errorf("data has %d classes, definition lists %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			return errors.Errorf("class %d is %q in the data, %q in the definition", i, got[i], want[i])
		}
	}
	return nil
}

// validateTask checks labels and that no class is empty and that train
// and test are not empty.
func validateTask(t *Task) error {
	n := len(t.Classes)
	if n == 0 {
		return errors.Errorf("task %s has no classes", t.Name)
	}
	count := make([]int, n)
	for _, s := range []struct {
		name  string
		items []Item
	}{{"train", t.Train}, {"val", t.Val}, {"test", t.Test}} {
		for j, it := range s.items {
			if it.Label < 0 || it.Label >= n {
				return errors.Errorf("task %s: %s[%d] (%s): label %d outside [0,%d)", t.Name, s.name, j, it.Path, it.Label, n)
			}
			count[it.Label]++
		}
	}
	for c, k := range count {
		if k == 0 {
			return errors.Errorf("task %s: class %d (%q) has no images", t.Name, c, t.Classes[c])
		}
	}
	if len(t.Train) == 0 {
		return errors.Errorf("task %s: empty train split", t.Name)
	}
	if len(t.Test) == 0 {
		return errors.Errorf("task %s: empty test split", t.Name)
	}
	return nil
}

// hashString is FNV-1a 64 of s.
func hashString(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// mix64 is the splitmix64 finaliser.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// sanitizeID lower-cases s and turns runs of other characters than
// letters and digits into '_'.
func sanitizeID(s string) string {
	var b strings.Builder
	under := false
	for _, r := range strings.ToLower(strings.TrimSpace(s)) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			under = false
		} else if !under && b.Len() > 0 {
			b.WriteByte('_')
			under = true
		}
	}
	return strings.TrimSuffix(b.String(), "_")
}
