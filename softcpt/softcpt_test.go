package softcpt

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/softcpt/softcpt-go/autograd"
	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/internal/fixture"
	"github.com/softcpt/softcpt-go/tensor"
)

// wordTokenizer stands in for BPE in tests that must not depend on the
// vocabulary file.
type wordTokenizer = fixture.WordTokenizer

// fixtureModel loads the ResNet CLIP fixture (fixture.RN).
func fixtureModel(t testing.TB) *clip.Model { return fixture.RN(t) }

var testTasks = []TaskSpec{
	{Name: "pets", TaskName: "pet image classification", Classes: []string{"cat", "dog", "golden retriever"}},
	{Name: "food", TaskName: "food image classification", Classes: []string{"pizza", "sushi", "apple pie", "ice_cream"}},
}

func testBatch(m *clip.Model, seed uint64) Batch {
	rng := tensor.NewRNG(seed)
	tasks := []int{0, 1, 1, 0, 1, 0, 1}
	labels := []int{2, 3, 0, 1, 1, 0, 2}
	return Batch{Features: tensor.RandN(rng, 0, 1, len(tasks), m.Config.EmbedDim), Tasks: tasks, Labels: labels}
}

func smallConfig(t *testing.T, name string) Config {
	c, err := MethodConfig(name)
	if err != nil {
		t.Fatal(err)
	}
	c.NCtx, c.TaskNCtx = 4, 2
	if c.CSC {
		c.ClassNCtx = 2
	}
	return c
}

// TestLossGradientsFiniteDifference checks the gradient of the SoftCPT
// loss with respect to every learnable tensor (context vectors, task and
// class contexts, meta network) against central differences, for every
// method, through the whole frozen text encoder.
func TestLossGradientsFiniteDifference(t *testing.T) {
	m := fixtureModel(t)
	tok := wordTokenizer{Vocab: m.Config.VocabSize}
	for _, name := range Methods() {
		cfg := smallConfig(t, name)
		cfg.InitStd = 0.5 // large enough that the loss moves measurably
		l, err := NewLearner(cfg, m, tok, testTasks, 3)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		checkGradients(t, name, l, testBatch(m, 5))
	}
}

// checkGradients compares the gradient of l's loss on b with respect to
// every learnable tensor with central differences.
func checkGradients(t *testing.T, name string, l *Learner, b Batch) {
	t.Helper()
	loss, _ := l.Loss(b, nil)
	loss.Backward()
	eval := func() float64 {
		var v *autograd.Var
		autograd.NoGrad(func() { v, _ = l.Loss(b, nil) })
		return float64(v.Value.Item())
	}
	for _, p := range l.Parameters() {
		if p.Grad == nil {
			t.Fatalf("%s: %s got no gradient", name, p.Name)
		}
		d := p.Value.Data()
		step := max(1, len(d)/7)
		for j := 0; j < len(d); j += step {
			const eps = 2e-3
			orig := d[j]
			d[j] = orig + eps
			lp := eval()
			d[j] = orig - eps
			lm := eval()
			d[j] = orig
			num := (lp - lm) / (2 * eps)
			an := float64(p.Grad.Data()[j])
			if math.Abs(an-num) > 2e-3+3e-2*math.Abs(num) {
				t.Errorf("%s: d loss/d %s[%d]: analytic %.6g numeric %.6g", name, p.Name, j, an, num)
			}
		}
	}
}

func TestMethodConfigs(t *testing.T) {
	c, _ := MethodConfig("SoftCPT-CSTS")
	if !c.CSC || !c.ClassCSC || !c.TaskCSC || c.NCtx != 16 || c.TaskNCtx != 4 || c.ClassNCtx != 4 {
		t.Fatalf("CSTS config wrong: %+v", c)
	}
	c, _ = MethodConfig("nata")
	if c.CSC || c.TaskCSC || c.Hard {
		t.Fatalf("NATA config wrong: %+v", c)
	}
	if _, err := MethodConfig("bogus"); err == nil {
		t.Fatal("unknown method accepted")
	}
	c.PGType = "lincls"
	if err := c.Validate(); err == nil {
		t.Fatal("lincls without class features accepted")
	}
}

func TestPromptTooLong(t *testing.T) {
	m := fixtureModel(t)
	tok := wordTokenizer{Vocab: m.Config.VocabSize}
	long := strings.Repeat("word ", 80)
	_, err := NewLearner(smallConfig(t, "coop-ca"), m, tok, []TaskSpec{{Name: "x", Classes: []string{long}}}, 1)
	if err == nil || !strings.Contains(err.Error(), "context length") {
		t.Fatalf("expected a context-length error, got %v", err)
	}
}

// TestTrainOverfits trains each method for a few epochs on a tiny
// synthetic multi-task set (image features are fixed random vectors per
// class plus noise) and checks that the loss falls and training accuracy
// beats chance.
func TestTrainOverfits(t *testing.T) {
	m := clip.NewRandom(clip.Config{EmbedDim: 32, ImageResolution: 32, VisionLayers: []int{1, 1, 1, 1}, VisionWidth: 8, VisionHeads: 4,
		ContextLength: 32, VocabSize: 1000, TransformerWidth: 64, TransformerHeads: 2, TransformerLayers: 2}, 4)
	m.SetTrainable(false)
	tok := wordTokenizer{Vocab: m.Config.VocabSize}
	E := m.Config.EmbedDim
	rng := tensor.NewRNG(9)
	protos := tensor.RandN(rng, 0, 1, 7, E).Data()
	var exs []Example
	var feats []float32
	for rep := 0; rep < 6; rep++ {
		for t, ts := range testTasks {
			for c := range ts.Classes {
				g := c
				if t == 1 {
					g += 3
				}
				exs = append(exs, Example{Task: t, Label: c})
				for k := 0; k < E; k++ {
					feats = append(feats, protos[g*E+k]+0.3*float32(rng.NormFloat64()))
				}
			}
		}
	}
	for _, name := range []string{"coop-mt", "coop-ca", "nata", "csts"} {
		cfg := smallConfig(t, name)
		l, err := NewLearner(cfg, m, tok, testTasks, 1)
		if err != nil {
			t.Fatal(err)
		}
		opt := Defaults()
		opt.Epochs, opt.BatchSize, opt.LR, opt.WarmupEpochs = 30, 8, 0.05, 0
		hist, err := TrainFeatures(context.Background(), l, tensor.FromSlice(append([]float32(nil), feats...), len(exs), E), exs, opt)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		first, last := hist[0], hist[len(hist)-1]
		if !(last.Loss < 0.7*first.Loss) || last.Accuracy < 60 {
			t.Errorf("%s: loss %.3f -> %.3f, accuracy %.1f%%: not learning", name, first.Loss, last.Loss, last.Accuracy)
		} else {
			t.Logf("%s: loss %.3f -> %.3f, train accuracy %.1f%%", name, first.Loss, last.Loss, last.Accuracy)
		}
	}
}

// TestSharedPrefixExact checks that encoding class prompts as a shared
// prefix plus suffixes gives the same loss and gradients as encoding
// every prompt in full, for the methods that share contexts.
func TestSharedPrefixExact(t *testing.T) {
	m := fixtureModel(t)
	tok := wordTokenizer{Vocab: m.Config.VocabSize}
	for _, name := range []string{"coop-mt", "coop-ca", "nata", "nats"} {
		var losses [2]float32
		var grads [2][]float32
		for k, full := range []bool{false, true} {
			cfg := smallConfig(t, name)
			cfg.InitStd = 0.5
			l, err := NewLearner(cfg, m, tok, testTasks, 3)
			if err != nil {
				t.Fatal(err)
			}
			if !full && !l.sharedPrefix() {
				t.Fatalf("%s should use the shared prefix", name)
			}
			l.FullPrompts = full
			loss, _ := l.Loss(testBatch(m, 5), nil)
			loss.Backward()
			losses[k] = loss.Value.Item()
			for _, p := range l.Parameters() {
				grads[k] = append(grads[k], p.Grad.Data()...)
			}
		}
		if d := math.Abs(float64(losses[0] - losses[1])); d > 1e-5*math.Abs(float64(losses[1])) {
			t.Errorf("%s: loss %v (shared) vs %v (full)", name, losses[0], losses[1])
		}
		var num, den float64
		for i := range grads[1] {
			num = math.Max(num, math.Abs(float64(grads[0][i]-grads[1][i])))
			den = math.Max(den, math.Abs(float64(grads[1][i])))
		}
		if num > 1e-5*den {
			t.Errorf("%s: gradients differ: max abs diff %.3g of max %.3g", name, num, den)
		}
	}
}

// TestClassSampling checks the authors' rule: the classes present in the
// batch plus ⌈rate·#others⌉ random others, the rest unscored.
func TestClassSampling(t *testing.T) {
	m := fixtureModel(t)
	tok := wordTokenizer{Vocab: m.Config.VocabSize}
	cfg := smallConfig(t, "cata")
	cfg.ClassSample = 0.5
	tasks := []TaskSpec{{Name: "a", TaskName: "a", Classes: []string{"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"}}}
	l, err := NewLearner(cfg, m, tok, tasks, 1)
	if err != nil {
		t.Fatal(err)
	}
	labels := []int{2, 5, 2}
	rng := tensor.NewRNG(3)
	seen := map[int]bool{}
	for rep := 0; rep < 20; rep++ {
		sel := l.selectClasses(0, []int{0, 1, 2}, labels, rng)
		// 2 positives + ⌈0.5·6⌉ = 3 others.
		if len(sel) != 5 || !containsInt(sel, 2) || !containsInt(sel, 5) {
			t.Fatalf("selected %v", sel)
		}
		for _, c := range sel {
			seen[c] = true
		}
	}
	if len(seen) != 8 {
		t.Fatalf("over 20 draws only classes %v were ever sampled", seen)
	}
	if all := l.selectClasses(0, []int{0}, labels, nil); len(all) != 8 {
		t.Fatalf("without a generator every class is scored, got %v", all)
	}
	cfg.CSC = false
	if err := cfg.Validate(); err == nil {
		t.Fatal("class sampling without class features was accepted")
	}
}

func containsInt(xs []int, v int) bool {
	for _, x := range xs {
		if x == v {
			return true
		}
	}
	return false
}

// TestTrainStopsOnNaN checks that a non-finite loss stops training with an
// error naming the step.
func TestTrainStopsOnNaN(t *testing.T) {
	m := fixtureModel(t)
	tok := wordTokenizer{Vocab: m.Config.VocabSize}
	l, err := NewLearner(smallConfig(t, "coop-ca"), m, tok, testTasks, 1)
	if err != nil {
		t.Fatal(err)
	}
	exs := []Example{{Task: 0, Label: 0}, {Task: 1, Label: 1}, {Task: 0, Label: 2}, {Task: 1, Label: 3}}
	feats := tensor.RandN(tensor.NewRNG(1), 0, 1, len(exs), m.Config.EmbedDim)
	feats.Data()[5] = float32(math.NaN())
	opt := Defaults()
	opt.Epochs, opt.BatchSize = 2, 2
	_, err = TrainFeatures(context.Background(), l, feats, exs, opt)
	if err == nil || !strings.Contains(err.Error(), "step") || !strings.Contains(err.Error(), "NaN") {
		t.Fatalf("expected an error naming the NaN loss and its step, got %v", err)
	}
}
