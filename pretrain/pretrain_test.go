package pretrain

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/softcpt/softcpt-go/autograd"
	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/clip/tokenizer"
	"github.com/softcpt/softcpt-go/tensor"
)

// refLoss is the symmetric InfoNCE loss in float64.
func refLoss(img, txt []float32, n, e int, logitScale float64) float64 {
	norm := func(x []float32) [][]float64 {
		out := make([][]float64, n)
		for i := 0; i < n; i++ {
			var s float64
			for k := 0; k < e; k++ {
				s += float64(x[i*e+k]) * float64(x[i*e+k])
			}
			out[i] = make([]float64, e)
			for k := 0; k < e; k++ {
				out[i][k] = float64(x[i*e+k]) / math.Sqrt(s)
			}
		}
		return out
	}
	a, b := norm(img), norm(txt)
	scale := math.Exp(logitScale)
	logits := make([][]float64, n)
	for i := range logits {
		logits[i] = make([]float64, n)
		for j := range logits[i] {
			for k := 0; k < e; k++ {
				logits[i][j] += a[i][k] * b[j][k]
			}
			logits[i][j] *= scale
		}
	}
	ce := func(row func(j int) float64, target int) float64 {
		m := math.Inf(-1)
		for j := 0; j < n; j++ {
			m = math.Max(m, row(j))
		}
		var s float64
		for j := 0; j < n; j++ {
			s += math.Exp(row(j) - m)
		}
		return m + math.Log(s) - row(target)
	}
	var li, lt float64
	for i := 0; i < n; i++ {
		li += ce(func(j int) float64 { return logits[i][j] }, i)
		lt += ce(func(j int) float64 { return logits[j][i] }, i)
	}
	return (li/float64(n) + lt/float64(n)) / 2
}

func TestContrastiveLossReference(t *testing.T) {
	rng := tensor.NewRNG(3)
	for _, c := range []struct {
		n, e  int
		scale float64
	}{{2, 3, 0}, {5, 4, math.Log(1 / 0.07)}, {7, 16, math.Log(100)}, {3, 8, 1.3}} {
		img := tensor.RandN(rng, 0, 1, c.n, c.e)
		txt := tensor.RandN(rng, 0, 1, c.n, c.e)
		got := ContrastiveLoss(autograd.Const(img), autograd.Const(txt), autograd.Const(tensor.Scalar(float32(c.scale)))).Value.Item()
		want := refLoss(img.Data(), txt.Data(), c.n, c.e, float64(float32(c.scale)))
		if math.Abs(float64(got)-want) > 1e-5*math.Max(1, want) {
			t.Errorf("n=%d e=%d scale=%v: loss %v, reference %v", c.n, c.e, c.scale, got, want)
		}
	}
	// Perfectly aligned, well separated pairs at a high temperature give a
	// loss near 0; identical features give log N.
	eye := tensor.New(4, 4)
	for i := 0; i < 4; i++ {
		eye.Data()[i*4+i] = 1
	}
	if l := ContrastiveLoss(autograd.Const(eye), autograd.Const(eye), autograd.Const(tensor.Scalar(MaxLogitScale))).Value.Item(); l > 1e-6 {
		t.Errorf("aligned pairs: loss %v", l)
	}
	same := tensor.Ones(4, 4)
	if l := ContrastiveLoss(autograd.Const(same), autograd.Const(same), autograd.Const(tensor.Scalar(2))).Value.Item(); math.Abs(float64(l)-math.Log(4)) > 1e-6 {
		t.Errorf("identical features: loss %v, want log 4", l)
	}
}

func TestContrastiveLossGradients(t *testing.T) {
	rng := tensor.NewRNG(5)
	img := tensor.RandN(rng, 0, 1, 6, 5)
	txt := tensor.RandN(rng, 0, 1, 6, 5)
	ls := tensor.Scalar(1.1)
	err := autograd.CheckGradients(func(xs []*autograd.Var) *autograd.Var {
		return ContrastiveLoss(xs[0], xs[1], xs[2])
	}, []*tensor.Tensor{img, txt, ls}, autograd.GradCheckOptions{Eps: 1e-2, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
}

func TestDecayed(t *testing.T) {
	m := clip.NewRandom(tinyConfig(600), 1)
	var dec []string
	for _, k := range m.Keys() {
		p, _ := m.Param(k)
		if Decayed(k, p.Value.NDim()) {
			dec = append(dec, k)
		}
	}
	has := func(k string) bool {
		for _, d := range dec {
			if d == k {
				return true
			}
		}
		return false
	}
	for _, k := range []string{"visual.conv1.weight", "visual.attnpool.q_proj.weight", "text_projection", "transformer.resblocks.0.mlp.c_fc.weight"} {
		if !has(k) {
			t.Errorf("%s is not decayed", k)
		}
	}
	for _, k := range []string{"logit_scale", "token_embedding.weight", "positional_embedding", "visual.attnpool.positional_embedding", "visual.bn1.weight", "ln_final.bias", "transformer.resblocks.0.attn.in_proj_bias"} {
		if has(k) {
			t.Errorf("%s is decayed", k)
		}
	}
}

// tinyConfig is a model small enough for unit tests.
func tinyConfig(vocab int) clip.Config {
	return clip.Config{EmbedDim: 32, ImageResolution: 32, VisionLayers: []int{1, 1, 1, 1}, VisionWidth: 8, VisionHeads: 4,
		ContextLength: 12, VocabSize: vocab, TransformerWidth: 32, TransformerHeads: 2, TransformerLayers: 1}
}

// tinySetup returns synthetic pairs, a tokenizer learned on them and
// options for a short run.
func tinySetup(t testing.TB, steps int) (*multiPairs, *tokenizer.Tokenizer, Options) {
	pairs, _ := synthPairs(192, 32, 11)
	merges, err := tokenizer.Learn(Captions(pairs), 530)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.New(merges)
	if err != nil {
		t.Fatal(err)
	}
	opt := DefaultOptions(tinyConfig(tok.VocabSize()))
	opt.Steps, opt.BatchSize, opt.WarmupSteps = steps, 32, 5
	opt.LR = 2e-3
	opt.CheckpointEvery, opt.EvalEvery = 0, 0
	opt.Seed = 7
	return pairs, tok, opt
}

func TestTrainLearns(t *testing.T) {
	pairs, tok, opt := tinySetup(t, 60)
	task := synthTask(120, 32, 99)
	opt.Eval = ZeroShotEval(tok, []ZeroShotTask{task})
	opt.EvalEvery = 30
	var logs []string
	opt.Log = func(f string, a ...any) { logs = append(logs, f) }
	progress := 0
	opt.Progress = func(p Progress) {
		progress++
		if p.Step != progress || p.Steps != 60 || !(p.ImagesPerS > 0) {
			t.Errorf("progress %+v", p)
		}
	}
	res, err := Train(context.Background(), pairs, tok, opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.History) != 60 || progress != 60 {
		t.Fatalf("%d history entries, %d progress calls", len(res.History), progress)
	}
	mean := func(h []StepStats) float64 {
		var s float64
		for _, x := range h {
			s += x.Loss
		}
		return s / float64(len(h))
	}
	first, last := mean(res.History[:5]), mean(res.History[55:])
	t.Logf("loss: first 5 steps %.3f, last 5 steps %.3f (log 32 = %.3f)", first, last, math.Log(32))
	if !(last < 0.7*first) {
		t.Errorf("loss did not fall clearly: %.3f -> %.3f", first, last)
	}
	if len(res.Evals) != 2 || res.Evals[1].Step != 60 {
		t.Fatalf("evals %+v", res.Evals)
	}
	acc := res.Evals[1].Results[0].Value
	t.Logf("zero-shot accuracy on 6 classes (chance 0.167): step 30 %.3f, step 60 %.3f", res.Evals[0].Results[0].Value, acc)
	if !(acc > 0.4) {
		t.Errorf("zero-shot accuracy %.3f is not clearly above chance 1/6", acc)
	}
	// The schedule: warm-up ramp, peak, cosine to MinLR.
	if h := res.History; !(h[0].LR < h[4].LR && h[5].LR == opt.LR && h[59].LR < 0.01*opt.LR) {
		t.Errorf("learning rates %v %v %v %v", h[0].LR, h[4].LR, h[5].LR, h[59].LR)
	}
	for _, h := range res.History {
		if h.LogitScale < 1 || h.LogitScale > 100.0001 {
			t.Errorf("step %d: logit scale %v outside [1, 100]", h.Step, h.LogitScale)
		}
	}
	// The result can be saved and read back by clip.LoadWith.
	path := filepath.Join(t.TempDir(), "model.safetensors")
	if err := res.Model.Save(path, nil); err != nil {
		t.Fatal(err)
	}
	m, err := clip.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	acc2, err := ZeroShotAccuracy(m, tok, &task)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(acc2-acc) > 1.5/float64(len(task.Images)) {
		t.Errorf("reloaded (BatchNorm folded) accuracy %.3f, trained %.3f", acc2, acc)
	}
}

func TestBatchIndependentOfWorkers(t *testing.T) {
	pairs, tok, opt := tinySetup(t, 3)
	var xs []*tensor.Tensor
	var idss [][]int
	for _, w := range []int{1, 3} {
		opt.Workers = w
		tr := &trainer{pairs: pairs, multi: pairs, tok: tok, opt: opt, permEpoch: -1, m: clip.NewRandom(opt.Model, 1)}
		x, ids, err := tr.batch(7)
		if err != nil {
			t.Fatal(err)
		}
		xs, idss = append(xs, x), append(idss, ids)
	}
	if !reflect.DeepEqual(xs[0].Data(), xs[1].Data()) || !reflect.DeepEqual(idss[0], idss[1]) {
		t.Fatal("batch depends on the number of workers")
	}
	// Every image of a batch is distinct within an epoch.
	tr := &trainer{pairs: pairs, tok: tok, opt: opt, permEpoch: -1}
	seen := map[int]bool{}
	for s := 0; s < pairs.Len()/opt.BatchSize; s++ {
		for _, j := range tr.indices(s) {
			if seen[j] {
				t.Fatalf("pair %d twice in epoch 0", j)
			}
			seen[j] = true
		}
	}
}

func TestResumeMatchesUninterrupted(t *testing.T) {
	pairs, tok, opt := tinySetup(t, 10)
	full, err := Train(context.Background(), pairs, tok, opt)
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	opt.CheckpointDir, opt.CheckpointEvery, opt.Resume = dir, 3, true
	ctx, cancel := context.WithCancel(context.Background())
	opt.Progress = func(p Progress) {
		if p.Step == 5 {
			cancel() // Ctrl-C after step 5: saved, then stopped
		}
	}
	part, err := Train(ctx, pairs, tok, opt)
	if err == nil || !strings.Contains(err.Error(), "interrupted after step 5") {
		t.Fatalf("interrupted run: err %v", err)
	}
	if len(part.History) != 5 {
		t.Fatalf("interrupted run has %d steps", len(part.History))
	}
	opt.Progress = nil
	resumed, err := Train(context.Background(), pairs, tok, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(resumed.History, full.History) {
		for i := range full.History {
			t.Logf("step %d: uninterrupted %+v resumed %+v", i+1, full.History[i], resumed.History[i])
		}
		t.Fatal("resumed loss trajectory differs from the uninterrupted one")
	}
	a, b := full.Model.StateDict(), resumed.Model.StateDict()
	for k, v := range a {
		if !reflect.DeepEqual(v.Data(), b[k].Data()) {
			t.Fatalf("final %s differs", k)
		}
	}
	// Resuming a finished run does nothing and returns its history.
	again, err := Train(context.Background(), pairs, tok, opt)
	if err != nil || !reflect.DeepEqual(again.History, full.History) {
		t.Fatalf("resuming a finished run: err %v", err)
	}
}

func TestCorruptCheckpoint(t *testing.T) {
	pairs, tok, opt := tinySetup(t, 2)
	dir := t.TempDir()
	opt.CheckpointDir, opt.Resume = dir, true
	if _, err := Train(context.Background(), pairs, tok, opt); err != nil {
		t.Fatal(err)
	}
	opt.Steps = 4
	// The state records the run's length; use a fresh state for the
	// longer run's checks by rewriting it.
	stateJS, _ := os.ReadFile(filepath.Join(dir, CheckpointState))
	stateJS = []byte(strings.Replace(string(stateJS), `"steps": 2`, `"steps": 4`, 1))
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(CheckpointState, stateJS)
	model, _ := os.ReadFile(filepath.Join(dir, CheckpointModel))
	optim, _ := os.ReadFile(filepath.Join(dir, CheckpointOptimizer))
	for _, c := range []struct {
		name, file string
		data       []byte
		want       string
	}{
		{"truncated model", CheckpointModel, model[:len(model)/2], CheckpointModel},
		{"garbage model", CheckpointModel, []byte("not a checkpoint at all, not a checkpoint at all"), CheckpointModel},
		{"truncated optimizer", CheckpointOptimizer, optim[:len(optim)-10], CheckpointOptimizer},
		{"garbage state", CheckpointState, []byte("{\"step\": "), CheckpointState},
		{"state ahead of tensors", CheckpointState, []byte(strings.Replace(string(stateJS), `"step": 2`, `"step": 1`, 1)), "step"},
	} {
		t.Run(c.name, func(t *testing.T) {
			write(c.file, c.data)
			defer func() {
				write(CheckpointModel, model)
				write(CheckpointOptimizer, optim)
				write(CheckpointState, stateJS)
			}()
			_, err := Train(context.Background(), pairs, tok, opt)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want one mentioning %q", err, c.want)
			}
		})
	}
	// Intact again: resumes and finishes.
	res, err := Train(context.Background(), pairs, tok, opt)
	if err != nil || len(res.History) != 4 {
		t.Fatalf("intact checkpoint: err %v", err)
	}
	// A different seed is refused.
	opt.Seed++
	if _, err := Train(context.Background(), pairs, tok, opt); err == nil || !strings.Contains(err.Error(), "seed") {
		t.Fatalf("other seed: err %v", err)
	}
}

func TestNaNLoss(t *testing.T) {
	pairs, tok, opt := tinySetup(t, 20)
	opt.LR, opt.WarmupSteps, opt.MinLR = 1e30, 0, 1e30
	_, err := Train(context.Background(), pairs, tok, opt)
	if err == nil || !strings.Contains(err.Error(), "at step") {
		t.Fatalf("err %v, want a non-finite loss naming the step", err)
	}
	t.Log(err)
}

func TestOptionErrors(t *testing.T) {
	pairs, tok, opt := tinySetup(t, 2)
	for name, mod := range map[string]func(*Options){
		"batch larger than data": func(o *Options) { o.BatchSize = 1000 },
		"batch of one":           func(o *Options) { o.BatchSize = 1 },
		"no steps":               func(o *Options) { o.Steps = 0 },
		"vocabulary mismatch":    func(o *Options) { o.Model.VocabSize++ },
		"crop scale":             func(o *Options) { o.CropScale = [2]float64{0, 1} },
	} {
		o := opt
		mod(&o)
		if _, err := Train(context.Background(), pairs, tok, o); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
