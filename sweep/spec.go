package sweep

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/data"
	"github.com/softcpt/softcpt-go/internal/cliflag"
	"github.com/softcpt/softcpt-go/softcpt"
)

// Spec is a sweep file: what a sweep runs (see the package documentation
// for every field).
type Spec struct {
	// Name labels the sweep (Slurm job names); default: the sweep
	// folder's base name.
	Name string `json:"name,omitempty"`
	// Benchmark is Shipped (the default: the real-image benchmark
	// embedded in softcpt), a benchmark pack file (*.bin, the same
	// format), a shipped benchmark definition (general10, plant6,
	// fashion20) or a definition file.
	Benchmark string `json:"benchmark"`
	// Group is the task group of a packed benchmark (default "general").
	Group string `json:"group,omitempty"`
	// Tasks restricts the benchmark to these tasks (default: all).
	Tasks []string `json:"tasks,omitempty"`
	// DataRoot holds the datasets; CacheDir the generated splits and
	// few-shot samples (default DataRoot/.softcpt-cache).
	DataRoot string `json:"data_root,omitempty"`
	CacheDir string `json:"cache_dir,omitempty"`
	// Model is the CLIP checkpoint, or Shipped (the default: the small
	// CLIP embedded in softcpt); BPE its tokenizer's merges file (default:
	// the one the model's metadata names, or the embedded one).
	Model string `json:"model"`
	BPE   string `json:"bpe,omitempty"`
	// Output is the root of the cells' run folders (default: the sweep
	// folder's runs/).
	Output string `json:"output"`
	// Device runs the model: "cpu" (default) or "cuda".
	Device string `json:"device,omitempty"`
	// Methods are the learned-prompt methods (softcpt.Methods()).
	Methods []string `json:"methods,omitempty"`
	// Shots and Seeds span the grid of Methods and of the linear probe.
	Shots []int `json:"shots,omitempty"`
	Seeds []int `json:"seeds,omitempty"`
	// ZeroShot adds one zero-shot cell; LinProbe one linear-probe cell
	// per shot count and seed.
	ZeroShot bool `json:"zeroshot,omitempty"`
	LinProbe bool `json:"linprobe,omitempty"`
	// Params are the settings of every cell; Overrides replace some of
	// them for one method (or "zeroshot", "linprobe").
	Params    Params            `json:"params,omitzero"`
	Overrides map[string]Params `json:"overrides,omitempty"`
}

// Params are a cell's settings. A nil field is unset: the defaults of
// the paper (softcpt.Defaults, softcpt.MethodConfig) apply. The JSON keys
// are the flag names of `softcpt train` with "_" for "-".
type Params struct {
	Epochs       *int     `json:"epochs,omitempty"`
	BatchSize    *int     `json:"batch_size,omitempty"`
	LR           *float64 `json:"lr,omitempty"`
	Momentum     *float64 `json:"momentum,omitempty"`
	WeightDecay  *float64 `json:"weight_decay,omitempty"`
	WarmupEpochs *int     `json:"warmup_epochs,omitempty"`
	WarmupLR     *float64 `json:"warmup_lr,omitempty"`
	RepeatSteps  *int     `json:"repeat_steps,omitempty"`
	Augment      *bool    `json:"augment,omitempty"`
	NCtx         *int     `json:"n_ctx,omitempty"`
	CtxInit      *string  `json:"ctx_init,omitempty"`
	Position     *string  `json:"class_token_position,omitempty"`
	CSC          *bool    `json:"csc,omitempty"`
	ClassNCtx    *int     `json:"class_n_ctx,omitempty"`
	ClassCSC     *bool    `json:"class_csc,omitempty"`
	TaskNCtx     *int     `json:"task_n_ctx,omitempty"`
	TaskCSC      *bool    `json:"task_csc,omitempty"`
	TaskCtxInit  *string  `json:"task_ctx_init,omitempty"`
	PGType       *string  `json:"pg_type,omitempty"`
	ClassSample  *float64 `json:"cls_sample_rate,omitempty"`
	FullPrompts  *bool    `json:"full_prompts,omitempty"`
	// MaxIter is the linear probe's L-BFGS iterations per fit (1000).
	MaxIter *int `json:"max_iter,omitempty"`
	// Templates are extra zero-shot templates ensembled with each task's.
	Templates []string `json:"templates,omitempty"`
}

// Special method names of the zero-shot and linear-probe cells.
const (
	ZeroShot = "zeroshot"
	LinProbe = "linprobe"
)

// Shipped names the benchmark and the model embedded in softcpt (package
// shipped) as a sweep's benchmark or model.
const Shipped = "shipped"

// DefaultGroup is the task group of a packed benchmark when none is
// given: the general set, the analogue of the paper's General-10.
const DefaultGroup = "general"

// Packed reports whether the sweep's benchmark is a benchmark pack (the
// shipped one or a *.bin file) rather than a definition.
func (s *Spec) Packed() bool {
	return s.Benchmark == Shipped || strings.HasSuffix(s.Benchmark, ".bin")
}

// Load reads and checks a sweep file; relative paths in it are taken
// from the file's folder.
func Load(path string) (*Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, errors.Wrap(err, "sweep: read sweep file")
	}
	s, err := Parse(b, path)
	if err != nil {
		return nil, err
	}
	if err := s.resolve(filepath.Dir(path)); err != nil {
		return nil, errors.Wrapf(err, "sweep file %s", path)
	}
	return s, nil
}

// Parse parses and checks sweep-file JSON; source names it in errors.
// Unknown fields are errors (they are usually typos). Paths are kept as
// written.
func Parse(b []byte, source string) (*Spec, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var s Spec
	if err := dec.Decode(&s); err != nil {
		return nil, errors.Wrapf(err, "sweep file %s", source)
	}
	if dec.More() {
		return nil, errors.Errorf("sweep file %s: trailing data after the JSON object", source)
	}
	if err := s.Validate(); err != nil {
		return nil, errors.Wrapf(err, "sweep file %s", source)
	}
	return &s, nil
}

// Flags are the values of `softcpt sweep`'s flags that describe a sweep
// without a sweep file.
type Flags struct {
	Name, Benchmark, Group, Tasks, DataRoot, CacheDir, Model, BPE, Output, Device string
	// Methods is a comma-separated list of methods; "zeroshot" and
	// "linprobe" in it add those cells.
	Methods      string
	Shots, Seeds []int
	// Params maps the flags given on the command line (name → value, e.g.
	// "batch-size" → "16", "templates" → "a|b") to cell settings.
	Params map[string]string
	// names are Register's grid flags, cell its cell settings.
	names []string
	cell  cliflag.Settings
}

// FromFlags builds and checks a sweep from flag values; relative paths
// are taken from the working directory.
func FromFlags(f Flags) (*Spec, error) {
	s := &Spec{Name: f.Name, Benchmark: f.Benchmark, Group: f.Group, DataRoot: f.DataRoot, CacheDir: f.CacheDir,
		Model: f.Model, BPE: f.BPE, Output: f.Output, Device: f.Device, Shots: f.Shots, Seeds: f.Seeds}
	s.Tasks = splitList(f.Tasks, ",")
	for _, m := range splitList(f.Methods, ",") {
		switch strings.ToLower(m) {
		case ZeroShot:
			s.ZeroShot = true
		case LinProbe:
			s.LinProbe = true
		default:
			s.Methods = append(s.Methods, m)
		}
	}
	p, err := ParseParams(f.Params)
	if err != nil {
		return nil, err
	}
	s.Params = p
	if err := s.Validate(); err != nil {
		return nil, errors.Wrap(err, "sweep flags")
	}
	if err := s.resolve("."); err != nil {
		return nil, errors.Wrap(err, "sweep flags")
	}
	return s, nil
}

func splitList(v, sep string) []string {
	var out []string
	for _, f := range strings.Split(v, sep) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// ParseParams turns flag values (flag name → value; "-" or "_" in the
// names) into Params. "templates" is a "|"-separated list.
func ParseParams(flags map[string]string) (Params, error) {
	var p Params
	v := reflect.ValueOf(&p).Elem()
	fields := paramFields()
	for name, val := range flags {
		i, ok := fields[strings.ReplaceAll(name, "-", "_")]
		if !ok {
			return p, errors.Errorf("sweep: --%s is not a cell setting (want one of %s)", name, strings.Join(ParamNames(), ", "))
		}
		f := v.Field(i)
		if f.Kind() == reflect.Slice {
			f.Set(reflect.ValueOf(splitList(val, "|")))
			continue
		}
		ptr := reflect.New(f.Type().Elem())
		var err error
		switch e := ptr.Elem(); e.Kind() {
		case reflect.Int:
			var n int
			n, err = strconv.Atoi(val)
			e.SetInt(int64(n))
		case reflect.Float64:
			var x float64
			x, err = strconv.ParseFloat(val, 64)
			e.SetFloat(x)
		case reflect.Bool:
			var b bool
			b, err = strconv.ParseBool(val)
			e.SetBool(b)
		case reflect.String:
			e.SetString(val)
		}
		if err != nil {
			return p, errors.Errorf("sweep: --%s: %q is not a %s", name, val, ptr.Elem().Kind())
		}
		f.Set(ptr)
	}
	return p, p.check("flags")
}

// paramFields maps the JSON keys of Params to field indices.
func paramFields() map[string]int {
	t := reflect.TypeOf(Params{})
	m := map[string]int{}
	for i := range t.NumField() {
		m[jsonName(t.Field(i))] = i
	}
	return m
}

func jsonName(f reflect.StructField) string {
	n, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	return n
}

// ParamNames lists the keys of Params in declaration order.
func ParamNames() []string {
	t := reflect.TypeOf(Params{})
	out := make([]string, t.NumField())
	for i := range out {
		out[i] = jsonName(t.Field(i))
	}
	return out
}

// set returns the keys of the fields p sets.
func (p Params) set() []string {
	v := reflect.ValueOf(p)
	var out []string
	for i := range v.NumField() {
		if !v.Field(i).IsNil() {
			out = append(out, jsonName(v.Type().Field(i)))
		}
	}
	return out
}

// merge returns p with the fields that o sets replaced.
func (p Params) merge(o Params) Params {
	v, ov := reflect.ValueOf(&p).Elem(), reflect.ValueOf(o)
	for i := range v.NumField() {
		if !ov.Field(i).IsNil() {
			v.Field(i).Set(ov.Field(i))
		}
	}
	return p
}

// check checks the values that do not depend on the method; where names
// the params in errors.
func (p Params) check(where string) error {
	pos := func(name string, v *int, min int) error {
		if v != nil && *v < min {
			return errors.Errorf("%s: %s = %d, want ≥ %d", where, name, *v, min)
		}
		return nil
	}
	nonneg := func(name string, v *float64) error {
		if v != nil && !(*v >= 0) {
			return errors.Errorf("%s: %s = %g, want ≥ 0", where, name, *v)
		}
		return nil
	}
	for _, err := range []error{
		pos("epochs", p.Epochs, 1), pos("batch_size", p.BatchSize, 1), pos("warmup_epochs", p.WarmupEpochs, 0),
		pos("repeat_steps", p.RepeatSteps, 0), pos("n_ctx", p.NCtx, 0), pos("class_n_ctx", p.ClassNCtx, 0),
		pos("task_n_ctx", p.TaskNCtx, 0), pos("max_iter", p.MaxIter, 1),
		nonneg("lr", p.LR), nonneg("momentum", p.Momentum), nonneg("weight_decay", p.WeightDecay),
		nonneg("warmup_lr", p.WarmupLR), nonneg("cls_sample_rate", p.ClassSample),
	} {
		if err != nil {
			return err
		}
	}
	if p.LR != nil && *p.LR == 0 {
		return errors.Errorf("%s: lr = 0", where)
	}
	if p.Position != nil {
		if _, err := softcpt.ParsePosition(*p.Position); err != nil {
			return errors.Wrapf(err, "%s: class_token_position", where)
		}
	}
	return nil
}

// onlyFor names the cells that use the Params key: "train",
// ZeroShot or LinProbe.
func onlyFor(key string) string {
	switch key {
	case "max_iter":
		return LinProbe
	case "templates":
		return ZeroShot
	}
	return "train"
}

// Validate checks the sweep: known methods, positive shots, distinct
// seeds, and every cell's settings (each method's resolved configuration
// must pass softcpt.Config.Validate). It writes the defaults of the
// benchmark, group and model, and the method names (and the overrides'
// keys) in canonical form.
func (s *Spec) Validate() error {
	if s.Benchmark == "" {
		s.Benchmark = Shipped
	}
	if s.Model == "" {
		s.Model = Shipped
	}
	switch {
	case s.Packed() && s.Group == "":
		s.Group = DefaultGroup
	case !s.Packed() && s.Group != "":
		return errors.Errorf("group %q: only a packed benchmark (%s or a *.bin file) has task groups; benchmark %s is a definition", s.Group, Shipped, s.Benchmark)
	}
	switch s.Device {
	case "", "cpu", "cuda":
	default:
		return errors.Errorf("device %q: want cpu or cuda", s.Device)
	}
	if len(s.Methods) == 0 && !s.ZeroShot && !s.LinProbe {
		return errors.New("nothing to run: no methods, zeroshot or linprobe")
	}
	seen := map[string]bool{}
	for i, m := range s.Methods {
		switch strings.ToLower(m) {
		case ZeroShot, LinProbe:
			return errors.Errorf("methods[%d] = %q: set \"%s\": true instead", i, m, strings.ToLower(m))
		}
		if _, err := softcpt.MethodConfig(m); err != nil {
			return errors.Wrapf(err, "methods[%d]", i)
		}
		c := canonicalMethod(m)
		if seen[c] {
			return errors.Errorf("methods[%d]: %q is listed twice", i, m)
		}
		seen[c] = true
		s.Methods[i] = c
	}
	if len(s.Methods) > 0 || s.LinProbe {
		if len(s.Shots) == 0 || len(s.Seeds) == 0 {
			return errors.New("shots and seeds must not be empty")
		}
	}
	if err := distinct("shots", s.Shots, 1); err != nil {
		return err
	}
	if err := distinct("seeds", s.Seeds, 0); err != nil {
		return err
	}
	if err := s.Params.check("params"); err != nil {
		return err
	}
	for key, o := range s.Overrides {
		name := canonicalMethod(key)
		where := "overrides." + key
		switch {
		case name == ZeroShot && !s.ZeroShot, name == LinProbe && !s.LinProbe:
			return errors.Errorf("%s: the sweep has no %s cells", where, name)
		case name != ZeroShot && name != LinProbe && !seen[name]:
			return errors.Errorf("%s: %q is not one of the sweep's methods (%s)", where, key, strings.Join(s.Methods, ", "))
		}
		kind := name
		if kind != ZeroShot && kind != LinProbe {
			kind = "train"
		}
		for _, k := range o.set() {
			if onlyFor(k) != kind {
				return errors.Errorf("%s.%s: only %s cells use it", where, k, onlyFor(k))
			}
		}
		if err := o.check(where); err != nil {
			return err
		}
		if key != name {
			delete(s.Overrides, key)
			s.Overrides[name] = o
		}
	}
	for _, m := range s.Methods {
		if _, err := s.trainSettings(m); err != nil {
			return err
		}
	}
	return nil
}

func distinct(name string, v []int, min int) error {
	seen := map[int]bool{}
	for i, x := range v {
		if x < min {
			return errors.Errorf("%s[%d] = %d, want ≥ %d", name, i, x, min)
		}
		if seen[x] {
			return errors.Errorf("%s[%d]: %d is listed twice", name, i, x)
		}
		seen[x] = true
	}
	return nil
}

// canonicalMethod is the lower-case method name without "softcpt-".
func canonicalMethod(m string) string {
	return strings.TrimPrefix(strings.ToLower(strings.TrimSpace(m)), "softcpt-")
}

// resolve makes the paths absolute, relative to base, and checks that the
// benchmark definition can be read.
func (s *Spec) resolve(base string) error {
	abs := func(p *string) error {
		if *p == "" || filepath.IsAbs(*p) {
			return nil
		}
		a, err := filepath.Abs(filepath.Join(base, *p))
		*p = a
		return err
	}
	bench := s.Benchmark
	builtin := bench == Shipped
	for _, n := range data.ShippedDefinitions() {
		builtin = builtin || n == bench
	}
	paths := []*string{&s.DataRoot, &s.CacheDir, &s.BPE, &s.Output}
	if !builtin {
		paths = append(paths, &s.Benchmark)
	}
	if s.Model != Shipped {
		paths = append(paths, &s.Model)
	}
	for _, p := range paths {
		if err := abs(p); err != nil {
			return err
		}
	}
	switch {
	case bench == Shipped:
	case s.Packed():
		if _, err := os.Stat(s.Benchmark); err != nil {
			return errors.Wrapf(err, "benchmark pack %q", bench)
		}
	default:
		if _, err := data.LoadDefinition(s.Benchmark); err != nil {
			return errors.Wrapf(err, "benchmark %q", bench)
		}
	}
	return nil
}
