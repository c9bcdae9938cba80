package data

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pkg/errors"
)

//go:embed benchmarks/*.json
var shipped embed.FS

// Reader names accepted in a definition's "reader" field.
const (
	ReaderSplitZhou      = "split_zhou"
	ReaderSplitDK        = "split_dk"
	ReaderFolder         = "folder"
	ReaderFolderPresplit = "folder_presplit"
	ReaderAircraft       = "aircraft"
	ReaderFashion20      = "fashion20"
)

// Definition is a benchmark definition file (see the package
// documentation for the schema).
type Definition struct {
	Name  string    `json:"name"`
	Tasks []TaskDef `json:"tasks"`
	// source is the file (or "embedded:<name>") the definition came from.
	source string
}

// Source returns the file the definition was read from
// ("embedded:<name>" for shipped ones).
func (d *Definition) Source() string { return d.source }

// TaskDef is one entry of a definition's "tasks" list. One entry yields
// one task, except for the split_dk and fashion20 readers, which yield
// one task per task of the split file / task_info.csv.
type TaskDef struct {
	Name      string `json:"name"`
	TaskName  string `json:"task_name"`
	Reader    string `json:"reader"`
	Dir       string `json:"dir"`
	ImageDir  string `json:"image_dir"`
	SplitFile string `json:"split_file"`
	// Fallback, for split_zhou: "folder" generates the split from class
	// folders (CoOp's read_and_split_data) when the split file is missing;
	// "" makes a missing split file an error.
	Fallback string `json:"fallback"`
	// Missing is appended to the error for a missing split file: where to
	// get it.
	Missing  string            `json:"missing"`
	Metric   string            `json:"metric"`
	Template string            `json:"template"`
	Group    string            `json:"group"`
	Classes  []string          `json:"classes"`
	Rename   map[string]string `json:"rename"`
	Ignore   []string          `json:"ignore"`
	// SplitSeed seeds generated splits (default 1).
	SplitSeed *uint64 `json:"split_seed"`
	// Subsets are folder_presplit's split folders, concatenated in this
	// order (default train, test, validation as the authors do).
	Subsets []string `json:"subsets"`
	// TaskInfo is fashion20's task table (default "task_info.csv").
	TaskInfo string `json:"task_info"`
	// Subtasks override, by task index, the fields of the tasks a
	// multi-task reader produces.
	Subtasks []SubtaskDef `json:"subtasks"`
}

// SubtaskDef overrides fields of the i-th task produced by a multi-task
// reader. Empty fields keep the reader's / entry's values. In Template,
// "{group}" is replaced by Group.
type SubtaskDef struct {
	Name     string `json:"name"`
	TaskName string `json:"task_name"`
	Template string `json:"template"`
	Group    string `json:"group"`
	Metric   string `json:"metric"`
}

// ShippedDefinitions returns the names of the embedded definitions.
func ShippedDefinitions() []string {
	entries, err := shipped.ReadDir("benchmarks")
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".json"); ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// LoadDefinition reads a definition. nameOrPath is either the name of a
// shipped definition ("general10", "plant6", "fashion20") or the path of
// a JSON file. A path is recognised by a path separator or a ".json"
// suffix; a plain name that is not shipped but exists as a file is also
// read as a file.
func LoadDefinition(nameOrPath string) (*Definition, error) {
	isPath := strings.ContainsRune(nameOrPath, '/') || strings.ContainsRune(nameOrPath, filepath.Separator) || strings.HasSuffix(nameOrPath, ".json")
	if !isPath {
		b, err := shipped.ReadFile(path.Join("benchmarks", nameOrPath+".json"))
		if err == nil {
			return ParseDefinition(b, "embedded:"+nameOrPath)
		}
		if _, serr := os.Stat(nameOrPath); serr != nil {
			return nil, errors.Errorf("data: no shipped benchmark definition %q (shipped: %s) and no such file", nameOrPath, strings.Join(ShippedDefinitions(), ", "))
		}
	}
	b, err := os.ReadFile(nameOrPath)
	if err != nil {
		return nil, errors.Wrapf(err, "data: read benchmark definition %s", nameOrPath)
	}
	return ParseDefinition(b, nameOrPath)
}

// ParseDefinition parses and checks definition JSON; source names it in
// errors. Unknown fields are errors (they are usually typos).
func ParseDefinition(b []byte, source string) (*Definition, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var d Definition
	if err := dec.Decode(&d); err != nil {
		return nil, errors.Wrapf(err, "data: parse benchmark definition %s", source)
	}
	d.source = source
	if err := d.check(); err != nil {
		return nil, errors.Wrapf(err, "data: benchmark definition %s", source)
	}
	return &d, nil
}

func (d *Definition) check() error {
	if d.Name == "" {
		return errors.New(`missing "name"`)
	}
	if len(d.Tasks) == 0 {
		return errors.New(`no "tasks"`)
	}
	seen := map[string]bool{}
	for i := range d.Tasks {
		td := &d.Tasks[i]
		where := fmt.Sprintf("tasks[%d] (%q)", i, td.Name)
		if td.Name == "" {
			return errors.Errorf("tasks[%d]: missing \"name\"", i)
		}
		if !validID(td.Name) {
			return errors.Errorf("%s: name must use only letters, digits, '_', '-' and '.'", where)
		}
		if seen[td.Name] {
			return errors.Errorf("%s: duplicate name", where)
		}
		seen[td.Name] = true
		switch td.Reader {
		case ReaderSplitZhou, ReaderFolder, ReaderFolderPresplit, ReaderAircraft:
			if td.TaskName == "" {
				return errors.Errorf("%s: missing \"task_name\"", where)
			}
			if td.Template == "" {
				return errors.Errorf("%s: missing \"template\"", where)
			}
		case ReaderSplitDK, ReaderFashion20:
		case "":
			return errors.Errorf("%s: missing \"reader\"", where)
		default:
			return errors.Errorf("%s: unknown reader %q (want split_zhou, split_dk, folder, folder_presplit, aircraft or fashion20)", where, td.Reader)
		}
		if td.Reader == ReaderSplitZhou || td.Reader == ReaderSplitDK {
			if td.SplitFile == "" {
				return errors.Errorf("%s: reader %s needs \"split_file\"", where, td.Reader)
			}
		}
		if td.Fallback != "" && (td.Reader != ReaderSplitZhou || td.Fallback != ReaderFolder) {
			return errors.Errorf("%s: \"fallback\" %q: only \"folder\" for reader split_zhou is supported", where, td.Fallback)
		}
		if td.Template != "" && !strings.Contains(td.Template, "{}") {
			return errors.Errorf("%s: template %q has no \"{}\"", where, td.Template)
		}
		if td.Metric != "" {
			if _, err := ParseMetric(td.Metric); err != nil {
				return errors.Wrapf(err, "%s", where)
			}
		}
		for j, st := range td.Subtasks {
			if st.Metric != "" {
				if _, err := ParseMetric(st.Metric); err != nil {
					return errors.Wrapf(err, "%s: subtasks[%d]", where, j)
				}
			}
			if st.Template != "" && !strings.Contains(st.Template, "{}") {
				return errors.Errorf("%s: subtasks[%d]: template %q has no \"{}\"", where, j, st.Template)
			}
			if st.Name != "" && !validID(st.Name) {
				return errors.Errorf("%s: subtasks[%d]: name %q must use only letters, digits, '_', '-' and '.'", where, j, st.Name)
			}
		}
		if len(td.Subtasks) > 0 && td.Reader != ReaderSplitDK && td.Reader != ReaderFashion20 {
			return errors.Errorf("%s: \"subtasks\" only apply to the split_dk and fashion20 readers", where)
		}
		for _, p := range []string{td.Dir, td.ImageDir, td.SplitFile, td.TaskInfo} {
			if filepath.IsAbs(p) || strings.HasPrefix(filepath.Clean(p), "..") {
				return errors.Errorf("%s: path %q must be relative to the data root and stay inside it", where, p)
			}
		}
	}
	return nil
}

func validID(s string) bool {
	if s == "" || s == "." || s == ".." {
		return false
	}
	for _, r := range s {
		ok := r == '_' || r == '-' || r == '.' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if !ok {
			return false
		}
	}
	return true
}
