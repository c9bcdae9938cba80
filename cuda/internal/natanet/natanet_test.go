package natanet

import (
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/cuda/internal/clipnet"
	"github.com/softcpt/softcpt-go/nn"
	"github.com/softcpt/softcpt-go/softcpt"
	"github.com/softcpt/softcpt-go/tensor"
)

const fixture = "../../../testdata/clip/rn.safetensors"

func loadFixture(t *testing.T) *clip.Model {
	t.Helper()
	if _, err := os.Stat(fixture); err != nil {
		t.Skip("fixture testdata/clip/rn.safetensors absent")
	}
	m, err := clip.LoadWith(fixture, clip.Options{VisionHeads: 2, TransformerHeads: 2})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// WordTokenizer maps each word (and ".") to a stable id below vocab-2
// (softcpt's test tokenizer), standing in for BPE.
type WordTokenizer struct{ Vocab int }

func (w WordTokenizer) Encode(text string) []int {
	text = strings.ReplaceAll(text, ".", " . ")
	var ids []int
	for _, f := range strings.Fields(strings.ToLower(text)) {
		h := fnv.New32a()
		h.Write([]byte(f))
		ids = append(ids, 1+int(h.Sum32()%uint32(w.Vocab-3)))
	}
	return ids
}
func (w WordTokenizer) SOT() int { return w.Vocab - 2 }
func (w WordTokenizer) EOT() int { return w.Vocab - 1 }

var testTasks = []softcpt.TaskSpec{
	{Name: "pets", TaskName: "pet image classification", Classes: []string{"cat", "dog", "golden retriever"}},
	{Name: "food", TaskName: "food image classification", Classes: []string{"pizza", "sushi", "apple pie", "ice_cream"}},
}

// batches are the test steps: both tasks, then one task only (the other
// task's classes are not encoded and its context gets no gradient).
func batches(e int) []softcpt.Batch {
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

// normRel returns max|got-want| / max|want|.
func normRel(got, want []float32) float64 {
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

func diff(a, b []float32) []float32 {
	out := make([]float32, len(a))
	for i := range a {
		out[i] = a[i] - b[i]
	}
	return out
}

// Compare runs steps of the CPU learner (Loss, Backward, nn.SGD.Step) and
// of step, and fails unless the losses, the correct counts and the updated
// parameters agree within tol (relative), and the updates themselves
// (new - old, a check of the gradients) within updTol.
func Compare(t *testing.T, l *softcpt.Learner, step func(softcpt.Batch) (Loss, map[string]*tensor.Tensor, error), bs []softcpt.Batch, tol, updTol float64) {
	t.Helper()
	opt := softcpt.Defaults()
	sgd := &nn.SGD{Params: l.Parameters(), LR: opt.LR, Momentum: opt.Momentum, WeightDecay: opt.WeightDecay}
	for i, b := range bs {
		before := map[string][]float32{}
		for k, v := range l.State() {
			before[k] = append([]float32(nil), v.Contiguous().Data()...)
		}
		loss, correct := l.Loss(b, nil)
		sgd.ZeroGrad()
		loss.Backward()
		sgd.Step()
		got, params, err := step(b)
		if err != nil {
			t.Fatalf("step %d: %v", i+1, err)
		}
		want := loss.Value.Item()
		if rel := math.Abs(float64(got.Value-want)) / math.Abs(float64(want)); !(rel <= tol) {
			t.Fatalf("step %d: loss %v, CPU learner %v (rel %.3g)", i+1, got.Value, want, rel)
		}
		if got.Correct != correct {
			t.Errorf("step %d: %d correct, CPU learner %d", i+1, got.Correct, correct)
		}
		for k, w := range l.State() {
			g, ok := params[k]
			if !ok {
				t.Fatalf("step %d: no parameter %s", i+1, k)
			}
			wd, gd := w.Contiguous().Data(), g.Data()
			rel := normRel(gd, wd)
			urel := normRel(diff(gd, before[k]), diff(wd, before[k]))
			t.Logf("step %d: loss %.7g (CPU %.7g); %s rel %.2g, update rel %.2g", i+1, got.Value, want, k, rel, urel)
			if !(rel <= tol) || !(urel <= updTol) {
				t.Fatalf("step %d: %s differs from the CPU learner's: rel %.3g (tol %g), update rel %.3g (tol %g)", i+1, k, rel, tol, urel, updTol)
			}
		}
	}
}

func learner(t *testing.T, m *clip.Model, initStd float32) *softcpt.Learner {
	t.Helper()
	cfg, err := softcpt.MethodConfig("SoftCPT-NATA")
	if err != nil {
		t.Fatal(err)
	}
	cfg.NCtx, cfg.TaskNCtx = 4, 2
	if initStd > 0 {
		cfg.InitStd = initStd
	}
	l, err := softcpt.NewLearner(cfg, m, WordTokenizer{m.Config.VocabSize}, testTasks, 3)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestHostStepMatchesLearner runs three NATA steps on the Host backend
// and on the CPU learner (full prompts, and the learner's shared-prefix
// encoder), with the default and a large initialisation.
func TestHostStepMatchesLearner(t *testing.T) {
	m := loadFixture(t)
	for _, c := range []struct {
		full    bool
		initStd float32
	}{{true, 0}, {false, 0}, {true, 0.5}} {
		t.Run(fmt.Sprintf("full=%v,init=%v", c.full, c.initStd), func(t *testing.T) {
			l := learner(t, m, c.initStd)
			l.FullPrompts = c.full
			spec, err := SpecFromLearner(l, m, WordTokenizer{m.Config.VocabSize}, softcpt.Defaults())
			if err != nil {
				t.Fatal(err)
			}
			st, err := New[*clipnet.HostArray](Host{}, m, spec)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Free()
			Compare(t, l, func(b softcpt.Batch) (Loss, map[string]*tensor.Tensor, error) {
				loss, err := st.Step(b.Features, b.Tasks, b.Labels)
				if err != nil {
					return loss, nil, err
				}
				p, err := st.Params()
				return loss, p, err
			}, batches(m.Config.EmbedDim), 1e-5, 1e-4)
		})
	}
}

func TestSpecRejects(t *testing.T) {
	m := loadFixture(t)
	tok := WordTokenizer{m.Config.VocabSize}
	for _, name := range []string{"SoftCPT-NATS", "SoftCPT-CATA", "CoOp-MT"} {
		cfg, err := softcpt.MethodConfig(name)
		if err != nil {
			t.Fatal(err)
		}
		cfg.NCtx, cfg.TaskNCtx, cfg.ClassNCtx = 4, 2, 2
		l, err := softcpt.NewLearner(cfg, m, tok, testTasks, 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := SpecFromLearner(l, m, tok, softcpt.Defaults()); err == nil {
			t.Errorf("SpecFromLearner accepted %s", name)
		}
	}
	l := learner(t, m, 0)
	spec, err := SpecFromLearner(l, m, tok, softcpt.Defaults())
	if err != nil {
		t.Fatal(err)
	}
	st, err := New[*clipnet.HostArray](Host{}, m, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Free()
	f := tensor.New(2, m.Config.EmbedDim)
	for _, c := range []struct{ tasks, labels []int }{{[]int{0, 2}, []int{0, 0}}, {[]int{0, 1}, []int{3, 0}}, {[]int{0}, []int{0}}} {
		if _, err := st.Step(f, c.tasks, c.labels); err == nil {
			t.Errorf("Step accepted tasks %v labels %v for features %v", c.tasks, c.labels, f.Shape())
		}
	}
	if st.Steps != 0 {
		t.Errorf("rejected steps counted: %d", st.Steps)
	}
}
