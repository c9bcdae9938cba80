package softcpt

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/softcpt/softcpt-go/clip"
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

// templateSetup returns the fixture model, its tokenizer, templateTasks
// and the small configuration of method name started from the templates.
func templateSetup(t *testing.T, name string) (*clip.Model, wordTokenizer, []TaskSpec, Config) {
	t.Helper()
	m := fixtureModel(t)
	cfg := smallConfig(t, name)
	cfg.CtxInit = CtxInitTemplate
	return m, wordTokenizer{Vocab: m.Config.VocabSize}, templateTasks(), cfg
}

// TestCtxInitHard checks that CoOp's contexts start from the words
// (last slots) padded with the start-of-text embedding, and the errors.
func TestCtxInitHard(t *testing.T) {
	m, tok, tasks, cfg := templateSetup(t, "coop-ca")
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
	tok := wordTokenizer{Vocab: m.Config.VocabSize}
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

// TestCtxInitSoftCPTStart checks the form of SoftCPT's start from the
// templates: fixed start contexts equal to CoOp-CA's (per task, or per
// class's task), a meta network at zero, and the gradients of the
// residual form start[task] + (x/‖x‖)·P (checked with P moved off zero,
// where the task and class contexts get gradients too).
func TestCtxInitSoftCPTStart(t *testing.T) {
	m, tok, tasks, ca := templateSetup(t, "coop-ca")
	hard, err := NewLearner(ca, m, tok, tasks, 1)
	if err != nil {
		t.Fatal(err)
	}
	if hard.ContextStart() != nil {
		t.Error("CoOp-CA has start contexts")
	}
	want := hard.Ctx.Value.Data()
	for _, name := range []string{"nata", "nats", "cata", "csts"} {
		cfg := smallConfig(t, name)
		cfg.CtxInit = CtxInitTemplate
		l, err := NewLearner(cfg, m, tok, tasks, 1)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		st := l.ContextStart()
		if st == nil || !slices.Equal(st.Data(), want) {
			t.Errorf("%s: start contexts differ from CoOp-CA's", name)
		}
		if n := frobNorm(l.Meta.Value.Data()); n != 0 {
			t.Errorf("%s: meta network starts with norm %g, want 0", name, n)
		}
		rng := tensor.NewRNG(9)
		l.Meta.Value.CopyFrom(tensor.RandN(rng, 0, 0.5, l.Meta.Value.Shape()...))
		checkGradients(t, name, l, testBatch(m, 5))

		cfg.CtxInit = ""
		if l, err = NewLearner(cfg, m, tok, tasks, 1); err != nil {
			t.Fatal(err)
		}
		if l.ContextStart() != nil {
			t.Errorf("%s: random init has start contexts", name)
		}
	}
}

// TestCtxInitState checks that the start contexts travel with the
// learned tensors: a state without them (a checkpoint of the meta network
// fitted to the templates, before they existed) and a state with them
// into a learner without a ctx init are errors that leave the learner
// unchanged; a round trip restores the contexts.
func TestCtxInitState(t *testing.T) {
	m, tok, tasks, cfg := templateSetup(t, "nata")
	src, err := NewLearner(cfg, m, tok, tasks, 1)
	if err != nil {
		t.Fatal(err)
	}
	src.Meta.Value.CopyFrom(tensor.RandN(tensor.NewRNG(4), 0, 0.1, src.Meta.Value.Shape()...))
	want := src.AllClassFeatures().Data()
	dst, err := NewLearner(cfg, m, tok, tasks, 2)
	if err != nil {
		t.Fatal(err)
	}
	before := dst.AllClassFeatures().Data()
	old := src.State()
	delete(old, ctxStartName)
	if err := dst.LoadState(old); err == nil || !strings.Contains(err.Error(), ctxStartName) {
		t.Errorf("state without start contexts: err = %v", err)
	}
	plain := cfg
	plain.CtxInit = ""
	other, err := NewLearner(plain, m, tok, tasks, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.LoadState(src.State()); err == nil || !strings.Contains(err.Error(), "start contexts") {
		t.Errorf("start contexts into a learner without: err = %v", err)
	}
	if got := dst.AllClassFeatures().Data(); !slices.Equal(got, before) {
		t.Error("a failed LoadState changed the learner")
	}
	if err := dst.LoadState(src.State()); err != nil {
		t.Fatal(err)
	}
	if got := dst.AllClassFeatures().Data(); !slices.Equal(got, want) {
		t.Errorf("after a round trip the class features differ by %.2g", maxRelDiff(got, want))
	}
}

func frobNorm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

// TestCtxInitResume checks that a SoftCPT run from the templates resumed
// from its checkpoint after the first of two epochs ends where the
// uninterrupted run ends, with the same start contexts.
func TestCtxInitResume(t *testing.T) {
	m, tok, tasks, cfg := templateSetup(t, "nata")
	var train []Example
	for i := 0; i < 8; i++ {
		task := i % 2
		train = append(train, Example{Task: task, Label: i % len(tasks[task].Classes)})
	}
	feats := tensor.RandN(tensor.NewRNG(3), 0, 1, len(train), m.Config.EmbedDim)
	opt := Defaults()
	opt.Epochs, opt.BatchSize, opt.LR, opt.WarmupEpochs = 2, 4, 0.01, 0
	run := func(ctx context.Context, seed uint64, opt TrainOptions) *Learner {
		l, err := NewLearner(cfg, m, tok, tasks, seed)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := TrainFeatures(ctx, l, feats, train, opt); err != nil && ctx.Err() == nil {
			t.Fatal(err)
		}
		return l
	}
	whole := run(context.Background(), 1, opt)

	opt.CheckpointDir = t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := opt
	first.Log = func(string, ...any) { cancel() } // stop after the first epoch's checkpoint
	run(ctx, 1, first)
	opt.Resume = true
	resumed := run(context.Background(), 2, opt)
	for k, v := range whole.State() {
		if got := resumed.State()[k]; got == nil || maxRelDiff(got.Data(), v.Data()) > 1e-6 {
			t.Errorf("%s differs between the resumed and the uninterrupted run", k)
		}
	}
	if frobNorm(whole.Meta.Value.Data()) == 0 {
		t.Error("the meta network did not move from zero")
	}
}

// TestTaskCtxInit checks that TASK_CTX_INIT starts every task context
// (shared, TA, and per task, TS) from the words' embeddings in the last
// slots, the start-of-text embedding before them, that the task prompt
// then encodes as the plain text "[SOS]… words <task name>.", and the
// errors.
func TestTaskCtxInit(t *testing.T) {
	m := fixtureModel(t)
	tok := wordTokenizer{Vocab: m.Config.VocabSize}
	W := m.Config.TransformerWidth
	emb := func(id int) []float32 { return m.TokenEmbeddings([]int{id}, 1, 1).Value.Contiguous().Data() }
	for _, name := range []string{"nata", "nats"} {
		cfg := smallConfig(t, name)
		cfg.TaskNCtx, cfg.TaskCtxInit = 3, "a picture"
		l, err := NewLearner(cfg, m, tok, testTasks, 1)
		if err != nil {
			t.Fatal(err)
		}
		d := l.TaskCtx.Value.Data()
		copies := 1
		if cfg.TaskCSC {
			copies = len(testTasks)
		}
		if len(d) != copies*3*W {
			t.Fatalf("%s: task context has %d values, want %d", name, len(d), copies*3*W)
		}
		want := slices.Concat(emb(tok.SOT()), emb(tok.Encode("a")[0]), emb(tok.Encode("picture")[0]))
		for c := 0; c < copies; c++ {
			if !slices.Equal(d[c*3*W:(c+1)*3*W], want) {
				t.Errorf("%s: task context %d is not [SOS] a picture", name, c)
			}
		}
		// The task features are then those of the plain task prompts.
		got := l.TaskFeatures().Value.Contiguous().Data()
		for i, ts := range testTasks {
			ids := append([]int{tok.SOT(), tok.SOT()}, tok.Encode("a picture "+ts.TaskName+" .")...)
			ids = append(ids, tok.EOT())
			plain := m.EncodeText(ids, 1, len(ids)).Data()
			E := len(plain)
			for k := range plain {
				if math.Abs(float64(got[i*E+k]-plain[k])) > 1e-4 {
					t.Fatalf("%s: task %d feature %d = %v, plain prompt gives %v", name, i, k, got[i*E+k], plain[k])
				}
			}
		}
	}

	cfg := smallConfig(t, "nata")
	cfg.TaskNCtx, cfg.TaskCtxInit = 1, "a picture"
	if _, err := NewLearner(cfg, m, tok, testTasks, 1); err == nil || !strings.Contains(err.Error(), "task_n_ctx 1") {
		t.Errorf("2 words in 1 slot: err = %v", err)
	}
	cfg.TaskNCtx = 0
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "Config.TaskCtxInit") {
		t.Errorf("task ctx init without a task context: err = %v", err)
	}
	ca := smallConfig(t, "coop-ca")
	ca.TaskCtxInit = "a picture"
	if err := ca.Validate(); err == nil || !strings.Contains(err.Error(), "Config.TaskCtxInit") {
		t.Errorf("task ctx init on CoOp-CA: err = %v", err)
	}
	// The setting survives MethodSettings, and is absent from the JSON of
	// configurations without it (their run names stay as they were).
	cfg = smallConfig(t, "nats")
	cfg.TaskCtxInit = "a picture"
	back, err := cfg.Settings().Config("nats")
	if err != nil || back.TaskCtxInit != "a picture" {
		t.Errorf("Settings().Config: %q, %v", back.TaskCtxInit, err)
	}
	js, _ := json.Marshal(smallConfig(t, "nats").Settings())
	if strings.Contains(string(js), "task_ctx_init") {
		t.Errorf("settings without a task ctx init: %s", js)
	}
}
