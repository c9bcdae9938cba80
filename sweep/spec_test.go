package sweep

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The General-10 sweep file of the README expands to the paper's full
// grid: 6 learned-prompt methods × 5 shot counts × 3 seeds = 90 training
// cells, 5 × 3 = 15 linear-probe cells and 1 zero-shot cell: 106 cells.
func TestGeneral10Grid(t *testing.T) {
	s, err := Load("testdata/general10.json")
	if err != nil {
		t.Fatal(err)
	}
	cells, err := s.Cells()
	if err != nil {
		t.Fatal(err)
	}
	if len(cells) != 106 {
		t.Fatalf("General-10 grid: %d cells, want 106", len(cells))
	}
	perMethod := map[string]int{}
	ids := map[string]bool{}
	for i, c := range cells {
		if c.Index != i {
			t.Fatalf("cell %d has index %d", i, c.Index)
		}
		if ids[c.ID] {
			t.Fatalf("id %s twice", c.ID)
		}
		ids[c.ID] = true
		perMethod[c.Method]++
	}
	want := map[string]int{ZeroShot: 1, LinProbe: 15, "coop-mt": 15, "coop-ca": 15, "coop-cs": 15, "nata": 15, "nats": 15, "cata": 15}
	for m, n := range want {
		if perMethod[m] != n {
			t.Errorf("%s: %d cells, want %d", m, perMethod[m], n)
		}
	}
	// Order: zero-shot, linear probe, then methods × shots × seeds.
	if cells[0].Method != ZeroShot || cells[1].Method != LinProbe || cells[16].Method != "coop-mt" {
		t.Errorf("order: cells 0, 1, 16 are %s, %s, %s", cells[0].Method, cells[1].Method, cells[16].Method)
	}
	if c := cells[17]; c.Shots != 1 || c.Seed != 2 || !strings.HasPrefix(c.ID, "coop-mt-1shot-seed2-") {
		t.Errorf("cell 17 = %+v, want coop-mt 1 shot seed 2", c)
	}
	// Overrides apply to their method only.
	for _, c := range cells {
		switch c.Method {
		case "cata":
			if c.Train.RepeatSteps != 4 || c.Train.ClassSample != 0.1 || !c.Train.CSC {
				t.Errorf("cata settings %+v", *c.Train)
			}
			cfg, err := c.Config()
			if err != nil || cfg.ClassSample != 0.1 || cfg.Name != "SoftCPT-CATA" {
				t.Errorf("cata config %v, %v", cfg, err)
			}
		case "nata":
			if c.Train.RepeatSteps != 3 || c.Train.ClassSample != 0 {
				t.Errorf("nata settings %+v", *c.Train)
			}
		case "coop-mt":
			if c.Train.RepeatSteps != 0 || c.Train.NCtx != 16 || c.Train.Epochs != 50 {
				t.Errorf("coop-mt settings %+v", *c.Train)
			}
			if o := c.TrainOptions(); o.Seed != uint64(c.Seed) || o.LR != 0.002 {
				t.Errorf("coop-mt train options %+v", o)
			}
		case LinProbe:
			if c.MaxIter != 1000 || c.Train != nil {
				t.Errorf("linprobe cell %+v", c)
			}
		}
	}
}

// A cell's id depends on its own settings only, not on its index or on
// the other cells.
func TestCellIDsStable(t *testing.T) {
	base := func() *Spec {
		return &Spec{Benchmark: "general10", Model: "m.pt", Output: "out", Methods: []string{"nata", "coop-ca"},
			Shots: []int{1, 2}, Seeds: []int{1}, ZeroShot: true}
	}
	idsOf := func(s *Spec) map[string]string {
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
		cells, err := s.Cells()
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, c := range cells {
			m[c.Method+"/"+string(rune('0'+c.Shots))] = c.ID
		}
		return m
	}
	a := idsOf(base())
	b := base()
	b.Methods = []string{"coop-ca", "SoftCPT-NATA"}
	if bb := idsOf(b); len(bb) != len(a) {
		t.Fatalf("%v vs %v", a, bb)
	} else {
		for k, v := range a {
			if bb[k] != v {
				t.Errorf("%s: id %s became %s when the method order changed", k, v, bb[k])
			}
		}
	}
	c := base()
	lr := 0.01
	c.Overrides = map[string]Params{"nata": {LR: &lr}}
	cc := idsOf(c)
	if cc["nata/1"] == a["nata/1"] || cc["coop-ca/1"] != a["coop-ca/1"] || cc["zeroshot/0"] != a["zeroshot/0"] {
		t.Errorf("an lr override of nata: ids %v, before %v", cc, a)
	}
}

func TestParseErrors(t *testing.T) {
	ok := `"benchmark": "general10", "model": "m.pt", "output": "o", "shots": [1], "seeds": [1]`
	for _, tc := range []struct{ name, json, want string }{
		{"unknown field", `{` + ok + `, "methods": ["nata"], "epoch": 3}`, `unknown field "epoch"`},
		{"unknown param", `{` + ok + `, "methods": ["nata"], "params": {"learning_rate": 1}}`, `unknown field "learning_rate"`},
		{"bad method", `{` + ok + `, "methods": ["nata", "cocoop"]}`, `methods[1]: Method "cocoop": unknown method`},
		{"duplicate method", `{` + ok + `, "methods": ["nata", "SoftCPT-NATA"]}`, `listed twice`},
		{"zeroshot as method", `{` + ok + `, "methods": ["zeroshot"]}`, `"zeroshot": true`},
		{"group of a definition", `{` + ok + `, "methods": ["nata"], "group": "nature"}`, `group "nature": only a packed benchmark`},
		{"nothing", `{` + ok + `}`, "nothing to run"},
		{"zero shots", `{"benchmark": "general10", "model": "m.pt", "output": "o", "shots": [0], "seeds": [1], "methods": ["nata"]}`, "shots[0] = 0"},
		{"duplicate seed", `{"benchmark": "general10", "model": "m.pt", "output": "o", "shots": [1], "seeds": [1, 1], "methods": ["nata"]}`, "seeds[1]: 1 is listed twice"},
		{"negative lr", `{` + ok + `, "methods": ["nata"], "params": {"lr": -1}}`, "params: lr = -1"},
		{"bad position", `{` + ok + `, "methods": ["nata"], "params": {"class_token_position": "top"}}`, "class_token_position"},
		{"bad meta net", `{` + ok + `, "methods": ["nata"], "params": {"pg_type": "linmean"}}`, `method nata: Config.PGType "linmean": needs class features`},
		{"override of absent method", `{` + ok + `, "methods": ["nata"], "overrides": {"nats": {"lr": 1}}}`, `overrides.nats: "nats" is not one of the sweep's methods`},
		{"max_iter on a method", `{` + ok + `, "methods": ["nata"], "overrides": {"nata": {"max_iter": 5}}}`, "overrides.nata.max_iter: only linprobe cells use it"},
		{"zeroshot override without zeroshot", `{` + ok + `, "methods": ["nata"], "overrides": {"zeroshot": {"templates": ["a {}"]}}}`, "the sweep has no zeroshot cells"},
		{"bad type", `{` + ok + `, "methods": ["nata"], "params": {"epochs": "50"}}`, "epochs"},
		{"bad device", `{` + ok + `, "methods": ["nata"], "device": "tpu"}`, `device "tpu"`},
		{"trailing", `{` + ok + `, "methods": ["nata"]} {}`, "trailing data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.json), "x.json")
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "x.json") {
				t.Fatalf("error %v, want one naming x.json and containing %q", err, tc.want)
			}
		})
	}
}

// TestShippedDefaults: without a benchmark and a model, a sweep runs on
// the shipped ones (the general group), and its run folders go into the
// sweep folder.
func TestShippedDefaults(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.json")
	os.WriteFile(path, []byte(`{"methods": ["nata"], "shots": [1], "seeds": [1]}`), 0o644)
	spec, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if spec.Benchmark != Shipped || spec.Model != Shipped || spec.Group != DefaultGroup || !spec.Packed() {
		t.Errorf("defaults %+v, want the shipped benchmark (group %s) and model", spec, DefaultGroup)
	}
	s, err := Create(filepath.Join(dir, "sw"), spec)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "sw", "runs"); s.Output != want {
		t.Errorf("output %q, want %q", s.Output, want)
	}
	if _, err := Open(s.Dir); err != nil {
		t.Errorf("reopening: %v", err)
	}
	os.WriteFile(path, []byte(`{"benchmark": "nosuch.bin", "methods": ["nata"], "shots": [1], "seeds": [1]}`), 0o644)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), `benchmark pack "nosuch.bin"`) {
		t.Errorf("missing pack: %v", err)
	}
}

func TestLoadResolvesPaths(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.json")
	os.WriteFile(path, []byte(`{"benchmark": "general10", "model": "models/RN50.pt", "output": "out", "zeroshot": true}`), 0o644)
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if s.Model != filepath.Join(dir, "models/RN50.pt") || s.Output != filepath.Join(dir, "out") || s.Benchmark != "general10" {
		t.Errorf("paths not resolved: %+v", s)
	}
	os.WriteFile(path, []byte(`{"benchmark": "nosuch", "model": "m", "output": "out", "zeroshot": true}`), 0o644)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), `benchmark "nosuch"`) {
		t.Errorf("missing benchmark: %v", err)
	}
}

func TestFromFlags(t *testing.T) {
	s, err := FromFlags(Flags{Benchmark: "general10", Model: "m.pt", Output: "out", Methods: "zeroshot, nata,linprobe",
		Shots: []int{1, 2}, Seeds: []int{1}, Params: map[string]string{"batch-size": "16", "task_csc": "true", "templates": "a {}.|b {}."}})
	if err != nil {
		t.Fatal(err)
	}
	cells, err := s.Cells()
	if err != nil {
		t.Fatal(err)
	}
	if len(cells) != 1+2+2 || cells[0].Method != ZeroShot || len(cells[0].Templates) != 2 {
		t.Fatalf("cells %+v", cells)
	}
	if c := cells[3]; c.Train.BatchSize != 16 || !c.Train.TaskCSC || !filepath.IsAbs(s.Model) {
		t.Errorf("nata cell %+v of %+v", *c.Train, s)
	}
	for flags, want := range map[string]map[string]string{
		"--epochs":   {"epochs": "x"},
		"--lr":       {"lr": "fast"},
		"--augment":  {"augment": "maybe"},
		"--n-epochs": {"n-epochs": "3"},
		"epochs = 0": {"epochs": "0"},
	} {
		_, err := FromFlags(Flags{Benchmark: "general10", Model: "m", Output: "o", Methods: "nata", Shots: []int{1}, Seeds: []int{1}, Params: want})
		if err == nil || !strings.Contains(err.Error(), flags) {
			t.Errorf("flags %v: error %v, want it to name %s", want, err, flags)
		}
	}
}

func TestCreateOpen(t *testing.T) {
	spec := &Spec{Benchmark: "general10", Model: "/m.pt", Output: "/out", Methods: []string{"nata"}, Shots: []int{1, 2}, Seeds: []int{1, 2}, LinProbe: true}
	dir := filepath.Join(t.TempDir(), "sw")
	s, err := Create(dir, spec)
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "sw" || len(s.Cells) != 8 {
		t.Fatalf("sweep %+v", s)
	}
	o, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range s.Cells {
		if o.Cells[i].ID != s.Cells[i].ID {
			t.Errorf("cell %d: %s reopened as %s", i, s.Cells[i].ID, o.Cells[i].ID)
		}
	}
	if _, err := Create(dir, spec); err != nil {
		t.Errorf("recreating the same sweep: %v", err)
	}
	other := *spec
	other.Seeds = []int{1, 2, 3}
	if _, err := Create(dir, &other); err == nil || !strings.Contains(err.Error(), "holds another sweep") {
		t.Errorf("another sweep in the same folder: %v", err)
	}
	if _, err := o.Cell(8); err == nil || !strings.Contains(err.Error(), "cells 0–7, no cell 8") {
		t.Errorf("cell 8: %v", err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, cellsFile))
	os.WriteFile(filepath.Join(dir, cellsFile), []byte(strings.Replace(string(b), s.Cells[3].ID, "nata-2shot-seed9-00000000", 1)), 0o644)
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "cell 3") {
		t.Errorf("edited cells.json: %v", err)
	}
}
