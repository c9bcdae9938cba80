package step

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/internal/fixture"
	"github.com/softcpt/softcpt-go/kernels/backend"
	"github.com/softcpt/softcpt-go/softcpt"
	"github.com/softcpt/softcpt-go/softcpt/step/steptest"
	"github.com/softcpt/softcpt-go/tensor"
)

// TestHostStepMatchesLearner runs three steps of every method on the Host
// backend and on the CPU learner (full prompts, and the learner's
// shared-prefix encoder where the method has one), with the default and a
// large initialisation, and of the class-feature methods with the meta
// networks linmean and lincls.
func TestHostStepMatchesLearner(t *testing.T) {
	m := fixture.RN(t)
	type run struct {
		method, pg string
		full       bool
		initStd    float32
	}
	var runs []run
	for _, method := range steptest.Methods {
		runs = append(runs, run{method, "lin", true, 0}, run{method, "lin", true, 0.5})
		if !strings.Contains(method, "CA") && !strings.Contains(method, "CS") || strings.HasPrefix(method, "CoOp") {
			// NA and CoOp: the learner's shared-prefix encoder too.
			runs = append(runs, run{method, "lin", false, 0})
		}
	}
	for _, method := range []string{"SoftCPT-CATA", "SoftCPT-CSTS"} {
		runs = append(runs, run{method, "linmean", true, 0}, run{method, "lincls", true, 0})
	}
	for _, c := range runs {
		t.Run(fmt.Sprintf("%s,pg=%s,full=%v,init=%v", c.method, c.pg, c.full, c.initStd), func(t *testing.T) {
			l := steptest.PGLearner(t, m, c.method, c.pg, c.initStd)
			l.FullPrompts = c.full
			matchesLearner(t, backend.Host{}, m, l)
		})
	}
}

// matchesLearner runs three steps of learner l (built over m with
// steptest's tokenizer) on backend be and on the CPU learner and compares
// them (steptest.Compare).
func matchesLearner[A comparable](t *testing.T, be backend.Backend[A], m *clip.Model, l *softcpt.Learner) {
	t.Helper()
	if err := CanTrain(l, softcpt.Defaults()); err != nil {
		t.Fatal(err)
	}
	st, err := New(be, l, m, steptest.WordTokenizer{Vocab: m.Config.VocabSize}, softcpt.Defaults())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Free()
	steptest.Compare(t, l, func(b softcpt.Batch) (float32, int, map[string]*tensor.Tensor, error) {
		loss, correct, err := st.Step(b)
		if err != nil {
			return 0, 0, nil, err
		}
		p, err := st.Params()
		return float32(loss), correct, p, err
	}, steptest.Batches(m.Config.EmbedDim), 1e-5, 1e-4)
	if st.Steps() != 3 {
		t.Errorf("%d steps counted, want 3", st.Steps())
	}
}

func TestSpecRejects(t *testing.T) {
	m := fixture.RN(t)
	tok := steptest.WordTokenizer{Vocab: m.Config.VocabSize}
	for _, c := range []struct {
		name string
		edit func(*softcpt.Config)
	}{
		{"SoftCPT-CATA", func(c *softcpt.Config) { c.ClassSample = 0.1 }},
		{"SoftCPT-CSTS", func(c *softcpt.Config) { c.ClassNCtx = 0 }},
		{"SoftCPT-CSTA", func(c *softcpt.Config) { c.Position = softcpt.Front }},
		{"SoftCPT-NATA", func(c *softcpt.Config) { c.Position = softcpt.Middle }},
		{"SoftCPT-NATS", func(c *softcpt.Config) { c.TaskNCtx = 0 }},
		{"CoOp-MT", func(c *softcpt.Config) { c.Position = softcpt.Front }},
		{"CoOp-CA", func(c *softcpt.Config) { c.NCtx = 0 }},
	} {
		cfg, err := softcpt.MethodConfig(c.name)
		if err != nil {
			t.Fatal(err)
		}
		cfg.NCtx, cfg.TaskNCtx, cfg.ClassNCtx = 4, 2, 2
		if c.edit != nil {
			c.edit(&cfg)
		}
		l, err := softcpt.NewLearner(cfg, m, tok, steptest.Tasks, 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := SpecFromLearner(l, m, tok, softcpt.Defaults()); err == nil {
			t.Errorf("SpecFromLearner accepted %s", cfg)
		}
	}
	for i, name := range steptest.Methods {
		l := steptest.MethodLearner(t, m, name, 0)
		got, err := MethodOf(l)
		if err != nil || got != Method(i) || got.String() != name {
			t.Errorf("MethodOf(%s) = %v (%d), %v; want %d", name, got, got, err, i)
		}
	}
	l := steptest.Learner(t, m, 0)
	spec, err := SpecFromLearner(l, m, tok, softcpt.Defaults())
	if err != nil {
		t.Fatal(err)
	}
	st, err := fromSpec[*backend.HostArray](backend.Host{}, m, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Free()
	f := tensor.New(2, m.Config.EmbedDim)
	for _, c := range []struct{ tasks, labels []int }{{[]int{0, 2}, []int{0, 0}}, {[]int{0, 1}, []int{3, 0}}, {[]int{0}, []int{0}}} {
		if _, _, err := st.Step(softcpt.Batch{Features: f, Tasks: c.tasks, Labels: c.labels}); err == nil {
			t.Errorf("Step accepted tasks %v labels %v for features %v", c.tasks, c.labels, f.Shape())
		}
	}
	if st.Steps() != 0 {
		t.Errorf("rejected steps counted: %d", st.Steps())
	}
}

// TestCanTrain checks that CanTrain accepts a method the step implements
// and refuses repeated optimiser steps and class sampling, saying why.
func TestCanTrain(t *testing.T) {
	m := fixture.RN(t)
	opt := softcpt.Defaults()
	if err := CanTrain(steptest.Learner(t, m, 0), opt); err != nil {
		t.Errorf("CanTrain(NATA, defaults) = %v", err)
	}
	rep := opt
	rep.RepeatSteps = 2
	if err := CanTrain(steptest.Learner(t, m, 0), rep); err == nil || !strings.Contains(err.Error(), "repeat") {
		t.Errorf("CanTrain with RepeatSteps 2 = %v, want an error about repeated steps", err)
	}
	res := opt
	res.CheckpointDir, res.Resume = t.TempDir(), true
	if err := os.WriteFile(filepath.Join(res.CheckpointDir, "checkpoint.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := CanTrain(steptest.Learner(t, m, 0), res); err != nil {
		t.Errorf("a run with a checkpoint to resume would not train on the backend: %v", err)
	}
	start, err := softcpt.MethodConfig("SoftCPT-NATA")
	if err != nil {
		t.Fatal(err)
	}
	start.NCtx, start.CtxInit = 4, "a photo of"
	ls, err := softcpt.NewLearner(start, m, steptest.WordTokenizer{Vocab: m.Config.VocabSize}, steptest.Tasks, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := CanTrain(ls, opt); err == nil || !strings.Contains(err.Error(), "fixed contexts") {
		t.Errorf("CanTrain(NATA from words) = %v, want an error: the step has no start contexts", err)
	}
	cfg, err := softcpt.MethodConfig("SoftCPT-CATA")
	if err != nil {
		t.Fatal(err)
	}
	cfg.NCtx, cfg.TaskNCtx, cfg.ClassNCtx, cfg.ClassSample = 4, 2, 2, 0.1
	l, err := softcpt.NewLearner(cfg, m, steptest.WordTokenizer{Vocab: m.Config.VocabSize}, steptest.Tasks, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := CanTrain(l, opt); err == nil || !strings.Contains(err.Error(), "samples classes") {
		t.Errorf("CanTrain with class sampling = %v, want an error about sampling", err)
	}
}
