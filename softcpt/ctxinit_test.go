package softcpt

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/softcpt/softcpt-go/tensor"
)

func TestTemplatePrefix(t *testing.T) {
	for tmpl, want := range map[string]string{
		"a photo of a {}.":                   "a photo of a",
		"{} texture.":                        "",
		"a photo of a {}, a type of flower.": "a photo of a",
		" the flag of {}.":                   "the flag of",
	} {
		got, err := templatePrefix(tmpl)
		if err != nil || got != want {
			t.Errorf("templatePrefix(%q) = %q, %v; want %q", tmpl, got, err, want)
		}
	}
	if _, err := templatePrefix("a photo"); err == nil {
		t.Error("a template without {} was accepted")
	}
}

// templateTasks are testTasks with zero-shot templates of different
// lengths.
func templateTasks() []TaskSpec {
	tasks := append([]TaskSpec(nil), testTasks...)
	tasks[0].Template = "a photo of a {}."
	tasks[1].Template = "delicious {}."
	return tasks
}

// TestCtxInitHard checks that CoOp's contexts start from the words
// (last slots) padded with the start-of-text embedding, and the errors.
func TestCtxInitHard(t *testing.T) {
	m := fixtureModel(t)
	tok := wordTokenizer{m.Config.VocabSize}
	tasks := templateTasks()
	cfg := smallConfig(t, "coop-ca")
	cfg.CtxInit = CtxInitTemplate
	l, err := NewLearner(cfg, m, tok, tasks, 1)
	if err != nil {
		t.Fatal(err)
	}
	W := m.Config.TransformerWidth
	emb := func(id int) []float32 { return m.TokenEmbeddings([]int{id}, 1, 1).Value.Contiguous().Data() }
	d := l.Ctx.Value.Data()
	// Task 1's one word fills the last slot; SOS pads the others.
	for s, id := range []int{tok.SOT(), tok.SOT(), tok.SOT(), tok.Encode("delicious")[0]} {
		if got := d[(cfg.NCtx+s)*W : (cfg.NCtx+s+1)*W]; !slices.Equal(got, emb(id)) {
			t.Errorf("task 1 slot %d is not the embedding of token %d", s, id)
		}
	}
	// "a photo of a" fills all four slots of task 0.
	for s, w := range strings.Fields("a photo of a") {
		if got := d[s*W : (s+1)*W]; !slices.Equal(got, emb(tok.Encode(w)[0])) {
			t.Errorf("task 0 slot %d is not %q", s, w)
		}
	}

	cfg.NCtx = 3
	if _, err := NewLearner(cfg, m, tok, tasks, 1); err == nil || !strings.Contains(err.Error(), "more than n_ctx 3") {
		t.Errorf("4 words in 3 slots: err = %v", err)
	}
	mt := smallConfig(t, "coop-mt")
	mt.CtxInit = CtxInitTemplate
	if _, err := NewLearner(mt, m, tok, tasks, 1); err == nil || !strings.Contains(err.Error(), "differ") {
		t.Errorf("CoOp-MT with per-task templates: err = %v", err)
	}
	mt.CtxInit = "a photo"
	if _, err := NewLearner(mt, m, tok, tasks, 1); err != nil {
		t.Errorf("CoOp-MT with words: %v", err)
	}
	cfg.NCtx = 4
	bad := templateTasks()
	bad[1].Template = "no placeholder"
	if _, err := NewLearner(cfg, m, tok, bad, 1); err == nil || !strings.Contains(err.Error(), `task "food"`) {
		t.Errorf("template without {}: err = %v", err)
	}
}

// TestCtxInitMatchesZeroShot checks the point of the template init: at
// the first step, the class features of CoOp-CA and of every SoftCPT
// variant (whose meta network is fitted to generate the same contexts)
// equal the zero-shot text features of "<template words> <class>." when
// the words fill the context.
func TestCtxInitMatchesZeroShot(t *testing.T) {
	m := fixtureModel(t)
	tok := wordTokenizer{m.Config.VocabSize}
	tasks := templateTasks()
	tasks[1].Template = "a tasty dish called {}."
	var want []float32
	for _, ts := range tasks {
		prefix, _ := templatePrefix(ts.Template)
		for _, c := range ts.Classes {
			words := tok.Encode(prefix + " " + strings.ReplaceAll(c, "_", " ") + ".")
			ids := append(append([]int{tok.SOT()}, words...), tok.EOT())
			want = append(want, m.EncodeText(ids, 1, len(ids)).Data()...)
		}
	}
	for _, name := range []string{"coop-ca", "coop-cs", "nata", "nats", "cata", "csts"} {
		cfg := smallConfig(t, name)
		cfg.CtxInit = CtxInitTemplate
		l, err := NewLearner(cfg, m, tok, tasks, 7)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := l.AllClassFeatures().Data()
		if e := maxRelDiff(got, want); e > 1e-4 {
			t.Errorf("%s: class features at init differ from zero-shot by %.2g (relative)", name, e)
		} else {
			t.Logf("%s: relative difference from zero-shot %.2g", name, e)
		}
	}
	// Without the init, the features are far from zero-shot (the test
	// can fail).
	l, err := NewLearner(smallConfig(t, "nata"), m, tok, tasks, 7)
	if err != nil {
		t.Fatal(err)
	}
	if e := maxRelDiff(l.AllClassFeatures().Data(), want); e < 1e-2 {
		t.Errorf("random init is within %.2g of zero-shot", e)
	}
}

func maxRelDiff(got, want []float32) float64 {
	var num, den float64
	for i := range got {
		num = math.Max(num, math.Abs(float64(got[i]-want[i])))
		den = math.Max(den, math.Abs(float64(want[i])))
	}
	return num / den
}

// TestFitMeta checks the minimum-norm fit on a random problem: the
// targets are met, untouched columns stay put, and the change lies in
// the row space of x.
func TestFitMeta(t *testing.T) {
	rng := tensor.NewRNG(3)
	rows, in, out := 5, 9, 6
	x := tensor.RandN(rng, 0, 1, rows, in).Data()
	p := tensor.RandN(rng, 0, 0.1, in, out).Data()
	p0 := append([]float32(nil), p...)
	target := tensor.RandN(rng, 0, 1, rows, 2).Data()
	place := func(row []float32, r int) { copy(row[out-2:], target[r*2:r*2+2]) }
	rowTask := []int{0, 1, 2, 3, 4}
	before := matmul(x, p, rows, in, out)
	if err := fitMeta(p, x, rows, in, out, rowTask, place); err != nil {
		t.Fatal(err)
	}
	after := matmul(x, p, rows, in, out)
	for r := 0; r < rows; r++ {
		for j := 0; j < out; j++ {
			want := before[r*out+j]
			if j >= out-2 {
				want = target[r*2+j-(out-2)]
			}
			if d := math.Abs(float64(after[r*out+j] - want)); d > 1e-4 {
				t.Errorf("row %d col %d: x·p = %g, want %g", r, j, after[r*out+j], want)
			}
		}
	}
	// The change Δ = p−p0 must be xᵀz for some z, that is, equal to its
	// projection onto the row space of x: Δ = xᵀ(xxᵀ)⁻¹xΔ.
	delta := make([]float32, len(p))
	for i := range p {
		delta[i] = p[i] - p0[i]
	}
	xd := matmul(x, delta, rows, in, out) // [rows, out]
	k := make([]float64, rows*rows)
	for i := 0; i < rows; i++ {
		for j := 0; j < rows; j++ {
			for c := 0; c < in; c++ {
				k[i*rows+j] += float64(x[i*in+c]) * float64(x[j*in+c])
			}
		}
	}
	z := make([]float64, len(xd))
	for i, v := range xd {
		z[i] = float64(v)
	}
	if err := choleskySolve(k, z, rows, out); err != nil {
		t.Fatal(err)
	}
	for c := 0; c < in; c++ {
		for j := 0; j < out; j++ {
			var proj float64
			for r := 0; r < rows; r++ {
				proj += float64(x[r*in+c]) * z[r*out+j]
			}
			if d := math.Abs(proj - float64(delta[c*out+j])); d > 1e-4 {
				t.Errorf("Δ[%d,%d] = %g has a component off the row space of x (projection %g)", c, j, delta[c*out+j], proj)
			}
		}
	}
}

func matmul(a, b []float32, m, k, n int) []float32 {
	out := make([]float32, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for c := 0; c < k; c++ {
				s += float64(a[i*k+c]) * float64(b[c*n+j])
			}
			out[i*n+j] = float32(s)
		}
	}
	return out
}

func TestCholeskySolveRejectsIndefinite(t *testing.T) {
	a := []float64{1, 2, 2, 1} // eigenvalues 3 and -1
	b := []float64{1, 1}
	if err := choleskySolve(a, b, 2, 1); err == nil {
		t.Error("an indefinite matrix was accepted")
	}
}
