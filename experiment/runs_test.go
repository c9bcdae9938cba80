package experiment

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/softcpt/softcpt-go/report"
	"github.com/softcpt/softcpt-go/softcpt"
	"github.com/softcpt/softcpt-go/tensor"
)

// captureRunLog collects the run folders' log lines until the test ends.
func captureRunLog(t *testing.T) *[]string {
	t.Helper()
	var lines []string
	old := runLog
	runLog = func(format string, args ...any) {
		lines = append(lines, fmt.Sprintf(format, args...))
		old(format, args...)
	}
	t.Cleanup(func() { runLog = old })
	return &lines
}

// logged returns the captured lines that contain s, and resets the capture.
func logged(lines *[]string, s string) []string {
	var out []string
	for _, l := range *lines {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	*lines = nil
	return out
}

// stopAfter is the CPU backend stopping training (as Ctrl-C does) once
// epochs epochs are done.
type stopAfter struct {
	cpuBackend
	epochs int
}

func (b stopAfter) trainFeatures(ctx context.Context, l *softcpt.Learner, tok softcpt.Tokenizer, feats *tensor.Tensor, train []softcpt.Example, opt softcpt.TrainOptions) ([]softcpt.EpochStats, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	n, log := 0, opt.Log
	opt.Log = func(format string, args ...any) {
		if log != nil {
			log(format, args...)
		}
		if n++; n == b.epochs {
			cancel()
		}
	}
	return b.cpuBackend.trainFeatures(ctx, l, tok, feats, train, opt)
}

// toyGrid is a short CoOp-CA grid on the toy benchmark (one cell).
func toyGrid() Grid {
	g := Grid{Methods: []string{"coop-ca"}, Shots: []int{2}, Seeds: []int{1}, Train: softcpt.Defaults(), StepsPerEpoch: 2,
		Config: func(method string) (softcpt.Config, error) {
			cfg, err := softcpt.MethodConfig(method)
			cfg.NCtx = 4
			return cfg, err
		}}
	g.Train.Epochs, g.Train.LR, g.Train.BatchSize = 3, 0.01, 0
	return g
}

// TestRunConfigName checks the configuration folders' names: readable,
// changed by every setting that changes results (in the hash at least)
// and by none that does not (seed, checkpoint folder, resume, logging),
// and unchanged by settings left at zero.
func TestRunConfigName(t *testing.T) {
	g := toyGrid()
	cfg, _ := softcpt.MethodConfig("nata")
	cfg.NCtx = 4
	base := RunConfig{Tasks: []string{"a", "b"}, Method: &cfg, Train: g.trainConfig()}
	name := base.Name()
	if !regexp.MustCompile(`^nctx4_ep3_steps2_lr0\.01-[0-9a-f]{8}$`).MatchString(name) {
		t.Errorf("name %q", name)
	}
	g2 := g
	g2.Train.Seed, g2.Train.CheckpointDir, g2.Train.Resume, g2.AutoResume, g2.Force = 7, "x", true, true, true
	g2.Train.Log = t.Logf
	if n := (RunConfig{Tasks: []string{"a", "b"}, Method: &cfg, Train: g2.trainConfig()}).Name(); n != name {
		t.Errorf("seed, checkpoint folder, resume and logging changed the name: %s, want %s", n, name)
	}
	for what, change := range map[string]func(c *RunConfig){
		"n-ctx":      func(c *RunConfig) { c.Method.NCtx = 16 },
		"task-n-ctx": func(c *RunConfig) { c.Method.TaskNCtx = 2 },
		"ctx-init":   func(c *RunConfig) { c.Method.CtxInit = "a photo of a" },
		"epochs":     func(c *RunConfig) { c.Train.Epochs = 4 },
		"batch-size": func(c *RunConfig) { c.Train.BatchSize, c.Train.StepsPerEpoch = 32, 0 },
		"lr":         func(c *RunConfig) { c.Train.LR = 0.002 },
		"momentum":   func(c *RunConfig) { c.Train.Momentum = 0.5 },
		"augment":    func(c *RunConfig) { c.Train.Augment = true },
		"tasks":      func(c *RunConfig) { c.Tasks = c.Tasks[:1] },
		"base2new":   func(c *RunConfig) { c.BaseToNew = true },
	} {
		m, tr := *base.Method, *base.Train
		c := RunConfig{Tasks: base.Tasks, Method: &m, Train: &tr}
		change(&c)
		if c.Name() == name {
			t.Errorf("changing %s keeps the name %s", what, name)
		}
	}
	if zs := (RunConfig{Tasks: []string{"a"}, Templates: []string{"x {}"}}).Name(); !strings.HasPrefix(zs, "templates2-") {
		t.Errorf("zero-shot name %q", zs)
	}
	if lp := (RunConfig{Tasks: []string{"a"}, Probe: &softcpt.ProbeOptions{}}).Name(); !strings.HasPrefix(lp, "iter1000-") {
		t.Errorf("linear-probe name %q", lp)
	}
	// A NaN setting has a name and fails when the run's files are written.
	nan := RunConfig{Tasks: []string{"a"}, Method: &softcpt.Config{Name: "x", ClassSample: math.NaN()}}
	if err := writeRunFile(t.TempDir(), "b", "x", nan); err == nil || !strings.Contains(err.Error(), "NaN") {
		t.Errorf("NaN setting: error %v", err)
	}
	// A setting at zero hashes as an absent one: a setting added later
	// with a zero default keeps the names of earlier runs.
	if a, b := (RunConfig{Tasks: []string{"a"}, Templates: []string{}}).Hash(), (RunConfig{Tasks: []string{"a"}}).Hash(); a != b {
		t.Errorf("empty templates hash to %s, none to %s", a, b)
	}
}

// TestRerunSkipsFinishedRuns checks that a rerun never silently replaces a
// finished result: every finished cell (learned, zero-shot, linear probe)
// is skipped with one line naming its folder; another configuration goes
// to another folder beside it; Force reruns a learned cell from scratch
// and replaces its folder only once the rerun is done; and a results.json
// of another run in a cell's folder is an error, not overwritten.
func TestRerunSkipsFinishedRuns(t *testing.T) {
	m := loadFixtureModel(t)
	out := t.TempDir()
	lines := captureRunLog(t)
	newExp := func(b Backend) *Experiment {
		return &Experiment{Benchmark: toyBenchmark(), Model: m, Tok: wordTokenizer{Vocab: m.Config.VocabSize}, Backend: b, Out: out}
	}
	ctx := context.Background()
	g := toyGrid()
	g.Methods = []string{"zeroshot", "linprobe", "coop-ca"}
	g.Probe.LBFGS.MaxIter = 10
	if err := newExp(nil).Run(ctx, g); err != nil {
		t.Fatal(err)
	}
	logged(lines, "")
	first := readResults(t, out)
	if len(first) != 3 {
		t.Fatalf("%d results, want 3", len(first))
	}
	if err := newExp(nil).Run(ctx, g); err != nil {
		t.Fatal(err)
	}
	skips := logged(lines, "skipping")
	if len(skips) != 3 {
		t.Errorf("the rerun logged %q, want a skip line per cell", skips)
	}
	coop := first[cell("CoOp-CA", 2, 1)]
	want := fmt.Sprintf("skipping CoOp-CA shots 2 seed 1: finished in %s (use --force to rerun)", filepath.Dir(coop.Path))
	if !strings.Contains(strings.Join(skips, "\n"), want) {
		t.Errorf("skip lines %q lack %q", skips, want)
	}
	for c, r := range readResults(t, out) {
		if !r.Created.Equal(first[c].Created) || r.Path != first[c].Path {
			t.Errorf("%s: the rerun rewrote %s", c, r.Path)
		}
	}
	// Another configuration: another folder; the finished one stays.
	g4 := g
	g4.Methods, g4.Train.Epochs = []string{"coop-ca"}, 2
	if err := newExp(nil).Run(ctx, g4); err != nil {
		t.Fatal(err)
	}
	rs, err := report.Scan(out)
	if err != nil || len(rs) != 4 {
		t.Fatalf("%d results (%v), want 4: a 2-epoch run beside the 3-epoch one", len(rs), err)
	}
	if _, err := os.Stat(coop.Path); err != nil {
		t.Errorf("the 3-epoch result is gone: %v", err)
	}
	// Force: an interrupted rerun leaves the finished run as it was ...
	dir := filepath.Dir(coop.Path)
	ckpt, _ := os.ReadFile(filepath.Join(dir, "checkpoint.json"))
	gf := g
	gf.Methods, gf.Force = []string{"coop-ca"}, true
	if err := newExp(stopAfter{cpuBackend{m}, 1}).Run(ctx, gf); err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("interrupted --force rerun: error %v", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "checkpoint.json"))
	if r, err := report.ReadResult(coop.Path); err != nil || !r.Created.Equal(coop.Created) || string(after) != string(ckpt) {
		t.Errorf("an interrupted --force rerun changed the finished run (%v)", err)
	}
	// ... and a complete one replaces it with the same (deterministic)
	// scores, leaving no temporary folder.
	if err := newExp(nil).Run(ctx, gf); err != nil {
		t.Fatal(err)
	}
	if n := logged(lines, "skipping"); len(n) != 0 {
		t.Errorf("--force skipped: %q", n)
	}
	r, err := report.ReadResult(coop.Path)
	if err != nil || r.Overall != coop.Overall || !reflect.DeepEqual(r.Tasks, coop.Tasks) {
		t.Errorf("--force rerun: %+v (%v), first run %+v", r, err, coop)
	}
	if left, _ := filepath.Glob(dir + ".*"); len(left) != 0 {
		t.Errorf("--force left %v", left)
	}
	// A result of another run in the folder is not replaced.
	other := r
	other.Run = "nctx16_ep50_bs32_lr0.002-00000000"
	if err := report.WriteResult(dir, other); err != nil {
		t.Fatal(err)
	}
	gf.Force = false
	if err := newExp(nil).Run(ctx, gf); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("a foreign results.json: error %v", err)
	}
	if r, _ := report.ReadResult(coop.Path); r.Run != other.Run {
		t.Error("a foreign results.json was replaced without --force")
	}
}

// TestResumeSaysWhat checks --resume's messages: nothing to resume, the
// folder and epoch it resumes from after an interruption (with the
// result of an uninterrupted run), and that it needs no repeated method
// flags: without them it takes the settings of the one trained run, and a
// flag given that contradicts them is named in one line before any
// tensor is read.
func TestResumeSaysWhat(t *testing.T) {
	m := loadFixtureModel(t)
	lines := captureRunLog(t)
	newExp := func(out string, b Backend) *Experiment {
		return &Experiment{Benchmark: toyBenchmark(), Model: m, Tok: wordTokenizer{Vocab: m.Config.VocabSize}, Backend: b, Out: out}
	}
	ctx := context.Background()
	g := toyGrid()
	ref := t.TempDir()
	if err := newExp(ref, nil).Run(ctx, g); err != nil {
		t.Fatal(err)
	}
	want := readResults(t, ref)[cell("CoOp-CA", 2, 1)]
	dir := filepath.Dir(want.Path)

	out := t.TempDir()
	dir = strings.Replace(dir, ref, out, 1)
	g.Train.Resume = true
	if err := newExp(out, stopAfter{cpuBackend{m}, 1}).Run(ctx, g); err == nil {
		t.Fatal("the interrupted run did not stop")
	}
	if got := logged(lines, "--resume"); len(got) != 1 || got[0] != fmt.Sprintf("--resume: no checkpoint in %s, starting from scratch", dir) {
		t.Errorf("first --resume logged %q", got)
	}
	// Resume with the method's default N_CTX and another learning rate
	// not given: the saved run's settings are taken.
	h := g
	h.Config, h.Train.LR = nil, 0.5
	if err := newExp(out, nil).Run(ctx, h); err != nil {
		t.Fatal(err)
	}
	got := logged(lines, "")
	if s := strings.Join(got, "\n"); !strings.Contains(s, fmt.Sprintf("resuming CoOp-CA shots 2 seed 1 from epoch 1/3 in %s", dir)) ||
		!strings.Contains(s, "taking the settings of "+filepath.Base(filepath.Dir(filepath.Dir(dir)))) {
		t.Errorf("resume logged %q", got)
	}
	r := readResults(t, out)[cell("CoOp-CA", 2, 1)]
	if filepath.Dir(r.Path) != dir || r.Overall != want.Overall || !reflect.DeepEqual(r.Tasks, want.Tasks) {
		t.Errorf("resumed run %s scored %+v, uninterrupted %+v", r.Path, r.Tasks, want.Tasks)
	}
	// A contradicting flag given explicitly: one line naming it.
	os.Remove(r.Path)
	h.Given = []string{"n-ctx", "epochs"}
	err := newExp(out, nil).Run(ctx, h)
	if err == nil || !strings.Contains(err.Error(), "--n-ctx 16 given, the checkpoint was trained with 4") ||
		strings.Contains(err.Error(), "epochs") || strings.Contains(err.Error(), "{") || strings.Contains(err.Error(), "momentum") {
		t.Errorf("contradicting --n-ctx: error %v", err)
	}
}

// TestEvalTakesSavedSettings checks that evaluation needs no repeated
// method flags (the configuration comes from the trained run), names a
// contradicting one in one line, chooses among several trained runs with
// the flags given, and says which flags would tell runs apart otherwise.
func TestEvalTakesSavedSettings(t *testing.T) {
	m := loadFixtureModel(t)
	newExp := func(out string) *Experiment {
		return &Experiment{Benchmark: toyBenchmark(), Model: m, Tok: wordTokenizer{Vocab: m.Config.VocabSize}, Out: out}
	}
	ctx := context.Background()
	trained := t.TempDir()
	g := toyGrid()
	g.Methods = []string{"nata"}
	g.Train.Epochs = 2
	if err := newExp(trained).Run(ctx, g); err != nil {
		t.Fatal(err)
	}
	want := readResults(t, trained)[cell("SoftCPT-NATA", 2, 1)]
	ev := Grid{Methods: []string{"nata"}, Shots: []int{2}, Seeds: []int{1}, From: trained}
	out := t.TempDir()
	if err := newExp(out).Run(ctx, ev); err != nil {
		t.Fatal(err)
	}
	r := readResults(t, out)[cell("SoftCPT-NATA", 2, 1)]
	if r.Overall != want.Overall || r.Run != want.Run {
		t.Errorf("eval without method flags: %.4f (run %s), trained %.4f (run %s)", r.Overall, r.Run, want.Overall, want.Run)
	}
	ev.Given = []string{"n-ctx"}
	if err := newExp(t.TempDir()).Run(ctx, ev); err == nil || err.Error() != "eval: --n-ctx 16 given, the checkpoint was trained with 4 ("+filepath.Dir(want.Path)+")" {
		t.Errorf("eval with a contradicting --n-ctx: error %v", err)
	}
	// A second trained configuration: the flags given choose.
	g.Config = func(method string) (softcpt.Config, error) {
		cfg, err := softcpt.MethodConfig(method)
		cfg.NCtx = 2
		return cfg, err
	}
	if err := newExp(trained).Run(ctx, g); err != nil {
		t.Fatal(err)
	}
	ev.Given = nil
	if err := newExp(t.TempDir()).Run(ctx, ev); err == nil || !strings.Contains(err.Error(), "2 trained runs") || !strings.Contains(err.Error(), "--n-ctx") {
		t.Errorf("eval with two trained runs: error %v", err)
	}
	ev.Given, ev.Config = []string{"n-ctx"}, g.Config
	out2 := t.TempDir()
	if err := newExp(out2).Run(ctx, ev); err != nil {
		t.Fatal(err)
	}
	var stored struct {
		Run RunConfig `json:"run"`
	}
	r = readResults(t, out2)[cell("SoftCPT-NATA", 2, 1)]
	if err := json.Unmarshal(r.Config, &stored); err != nil || stored.Run.Method.NCtx != 2 {
		t.Errorf("eval --n-ctx 2 evaluated %+v (%v)", stored.Run.Method, err)
	}
}

// TestNCtxFromModel checks that NCtxFromModel takes N_CTX from the model
// and says so.
func TestNCtxFromModel(t *testing.T) {
	m := loadFixtureModel(t)
	lines := captureRunLog(t)
	out := t.TempDir()
	e := &Experiment{Benchmark: toyBenchmark(), Model: m, Tok: wordTokenizer{Vocab: m.Config.VocabSize}, Out: out,
		ModelNCtx: 3, ModelNCtxRule: "recorded in the test model"}
	g := toyGrid()
	g.Config, g.NCtxFromModel, g.Train.Epochs = nil, true, 1
	if err := e.Run(context.Background(), g); err != nil {
		t.Fatal(err)
	}
	if got := logged(lines, "N_CTX"); len(got) != 1 || got[0] != "CoOp-CA: N_CTX 3 (--n-ctx not given): recorded in the test model" {
		t.Errorf("logged %q", got)
	}
	r := readResults(t, out)[cell("CoOp-CA", 2, 1)]
	if !strings.HasPrefix(r.Run, "nctx3_") {
		t.Errorf("run %s: want N_CTX 3", r.Run)
	}
	e.ModelNCtx = 0
	if err := e.Run(context.Background(), g); err == nil || !strings.Contains(err.Error(), "--n-ctx") {
		t.Errorf("no model default: error %v", err)
	}
}
