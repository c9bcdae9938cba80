// Package steptest holds what the training step's tests share (the host
// tests and the device tests, build tag cuda, of package step): a word
// tokenizer, two small tasks, learners, test batches and the comparison
// with the CPU learner.
package steptest

import (
	"math"
	"testing"

	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/internal/fixture"
	"github.com/softcpt/softcpt-go/optim"
	"github.com/softcpt/softcpt-go/softcpt"
	"github.com/softcpt/softcpt-go/tensor"
)

// WordTokenizer maps each word (and ".") to a stable id below vocab-2
// (fixture.WordTokenizer), standing in for BPE.
type WordTokenizer = fixture.WordTokenizer

// Tasks are two small tasks (softcpt's test tasks).
var Tasks = []softcpt.TaskSpec{
	{Name: "pets", TaskName: "pet image classification", Classes: []string{"cat", "dog", "golden retriever"}},
	{Name: "food", TaskName: "food image classification", Classes: []string{"pizza", "sushi", "apple pie", "ice_cream"}},
}

// Batches are the test steps: both tasks, then one task only (the other
// task's classes are not encoded and its context gets no gradient).
func Batches(e int) []softcpt.Batch {
	rng := tensor.NewRNG(9)
	mk := func(tasks, labels []int) softcpt.Batch {
		return softcpt.Batch{Features: tensor.RandN(rng, 0, 1, len(tasks), e), Tasks: tasks, Labels: labels}
	}
	return []softcpt.Batch{
		mk([]int{0, 1, 1, 0, 1, 0, 1}, []int{2, 3, 0, 1, 1, 0, 2}),
		mk([]int{1, 1, 1}, []int{3, 0, 2}),
		mk([]int{1, 0, 0, 1}, []int{1, 1, 2, 0}),
	}
}

// NormRel returns max|got-want| / max|want|.
func NormRel(got, want []float32) float64 {
	var d, m float64
	for i := range want {
		d = math.Max(d, math.Abs(float64(got[i]-want[i])))
		m = math.Max(m, math.Abs(float64(want[i])))
	}
	if math.IsNaN(d) || len(got) != len(want) {
		return math.Inf(1)
	}
	return d / m
}

// maxAbs returns max|x|.
func maxAbs(x []float32) float64 {
	var m float64
	for _, v := range x {
		m = math.Max(m, math.Abs(float64(v)))
	}
	return m
}

// ulp returns the spacing of float32 values at x (x ≥ 0).
func ulp(x float64) float64 {
	f := float32(x)
	return float64(math.Nextafter32(f, float32(math.Inf(1))) - f)
}

func diff(a, b []float32) []float32 {
	out := make([]float32, len(a))
	for i := range a {
		out[i] = a[i] - b[i]
	}
	return out
}

// Compare runs steps of the CPU learner (Loss, Backward, optim.SGD.Step) and
// of step, and fails unless the losses, the correct counts and the updated
// parameters agree within tol (relative), and the updates themselves
// (new - old, a check of the gradients) within updTol plus two float32
// roundings of the largest parameter relative to the largest update (the
// resolution of new - old).
func Compare(t *testing.T, l *softcpt.Learner, step func(softcpt.Batch) (float32, int, map[string]*tensor.Tensor, error), bs []softcpt.Batch, tol, updTol float64) {
	t.Helper()
	opt := softcpt.Defaults()
	sgd := &optim.SGD{Params: l.Parameters(), LR: opt.LR, Momentum: opt.Momentum, WeightDecay: opt.WeightDecay}
	for i, b := range bs {
		before := map[string][]float32{}
		for k, v := range l.State() {
			before[k] = append([]float32(nil), v.Contiguous().Data()...)
		}
		loss, correct := l.Loss(b, nil)
		sgd.ZeroGrad()
		loss.Backward()
		sgd.Step()
		got, gotCorrect, params, err := step(b)
		if err != nil {
			t.Fatalf("step %d: %v", i+1, err)
		}
		want := loss.Value.Item()
		if rel := math.Abs(float64(got-want)) / math.Abs(float64(want)); !(rel <= tol) {
			t.Fatalf("step %d: loss %v, CPU learner %v (rel %.3g)", i+1, got, want, rel)
		}
		if gotCorrect != correct {
			t.Errorf("step %d: %d correct, CPU learner %d", i+1, gotCorrect, correct)
		}
		for k, w := range l.State() {
			g, ok := params[k]
			if !ok {
				t.Fatalf("step %d: no parameter %s", i+1, k)
			}
			wd, gd := w.Contiguous().Data(), g.Data()
			rel := NormRel(gd, wd)
			upd := diff(wd, before[k])
			if maxAbs(upd) == 0 {
				// A tensor optim.SGD skips (no gradient) must stay as it was.
				if d := maxAbs(diff(gd, before[k])); d != 0 {
					t.Fatalf("step %d: %s changed by up to %g, the CPU learner left it unchanged", i+1, k, d)
				}
				t.Logf("step %d: loss %.7g (CPU %.7g); %s unchanged, as on the CPU", i+1, got, want, k)
				continue
			}
			urel := NormRel(diff(gd, before[k]), upd)
			// The update is measured as new - old in float32: parameters
			// one rounding apart (an ulp of the largest) differ in it by
			// ulp/max|update|, whatever the gradients.
			ut := updTol + 2*ulp(maxAbs(wd))/maxAbs(upd)
			t.Logf("step %d: loss %.7g (CPU %.7g); %s rel %.2g, update rel %.2g (tol %.2g)", i+1, got, want, k, rel, urel, ut)
			if !(rel <= tol) || !(urel <= ut) {
				t.Fatalf("step %d: %s differs from the CPU learner's: rel %.3g (tol %g), update rel %.3g (tol %.3g)", i+1, k, rel, tol, urel, ut)
			}
		}
	}
}

// Learner returns a NATA learner over Tasks with N_CTX 4 and TASK_N_CTX 2
// (initStd > 0 replaces the initialisation's std).
func Learner(t testing.TB, m *clip.Model, initStd float32) *softcpt.Learner {
	t.Helper()
	return MethodLearner(t, m, "SoftCPT-NATA", initStd)
}

// Methods are the methods the training step implements, in step.Method
// order.
var Methods = []string{"SoftCPT-NATA", "SoftCPT-NATS", "CoOp-MT", "CoOp-CA", "CoOp-CS",
	"SoftCPT-CATA", "SoftCPT-CSTA", "SoftCPT-CATS", "SoftCPT-CSTS"}

// MethodLearner returns a learner of the named method over Tasks with
// N_CTX 4, TASK_N_CTX 2 and CLASS_N_CTX 3 (initStd > 0 replaces the
// initialisation's std).
func MethodLearner(t testing.TB, m *clip.Model, method string, initStd float32) *softcpt.Learner {
	t.Helper()
	return PGLearner(t, m, method, "lin", initStd)
}

// PGLearner is MethodLearner with the meta network pgType (lin, linmean
// or lincls; the latter two need class features).
func PGLearner(t testing.TB, m *clip.Model, method, pgType string, initStd float32) *softcpt.Learner {
	t.Helper()
	cfg, err := softcpt.MethodConfig(method)
	if err != nil {
		t.Fatal(err)
	}
	cfg.NCtx, cfg.TaskNCtx, cfg.PGType = 4, 2, pgType
	if cfg.CSC {
		cfg.ClassNCtx = 3
	}
	if initStd > 0 {
		cfg.InitStd = initStd
	}
	l, err := softcpt.NewLearner(cfg, m, WordTokenizer{Vocab: m.Config.VocabSize}, Tasks, 3)
	if err != nil {
		t.Fatal(err)
	}
	return l
}
