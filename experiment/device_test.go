package experiment

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/clip/checkpoint"
	"github.com/softcpt/softcpt-go/clip/imageproc"
	"github.com/softcpt/softcpt-go/internal/fixture"
	"github.com/softcpt/softcpt-go/optim"
	"github.com/softcpt/softcpt-go/softcpt"
	"github.com/softcpt/softcpt-go/tensor"
)

// loadFixtureModel loads the ResNet CLIP fixture (fixture.RN).
func loadFixtureModel(t *testing.T) *clip.Model { return fixture.RN(t) }

// wordTokenizer hashes words into the vocabulary (no BPE file needed).
type wordTokenizer = fixture.WordTokenizer

var deviceTestTasks = []softcpt.TaskSpec{
	{Name: "pets", TaskName: "pet image classification", Classes: []string{"cat", "dog", "golden retriever"}},
	{Name: "food", TaskName: "food image classification", Classes: []string{"pizza", "sushi", "apple pie", "ice_cream"}},
}

// maxRel returns max|got-want| / max|want|.
func maxRel(got, want []float32) float64 {
	var d, w float64
	for i := range want {
		d = math.Max(d, math.Abs(float64(got[i]-want[i])))
		w = math.Max(w, math.Abs(float64(want[i])))
	}
	return d / w
}

func TestParseDevice(t *testing.T) {
	for _, c := range []struct {
		in      string
		gpu     bool
		ordinal int
		bad     bool
	}{
		{"", false, 0, false}, {"cpu", false, 0, false}, {"CPU", false, 0, false},
		{"cuda", true, 0, false}, {"cuda:0", true, 0, false}, {"cuda:3", true, 3, false}, {"gpu", true, 0, false},
		{"cuda:", false, 0, true}, {"cuda:-1", false, 0, true}, {"cuda:x", false, 0, true}, {"tpu", false, 0, true},
	} {
		gpu, ord, err := ParseDevice(c.in)
		if (err != nil) != c.bad || gpu != c.gpu || ord != c.ordinal {
			t.Errorf("ParseDevice(%q) = %v, %d, %v; want %v, %d, error %v", c.in, gpu, ord, err, c.gpu, c.ordinal, c.bad)
		}
	}
}

// fixtureImages returns examples of a few PNG test images.
func fixtureImages(t *testing.T) []softcpt.Example {
	t.Helper()
	paths, _ := filepath.Glob("../testdata/imageproc/*.png")
	if len(paths) < 5 {
		t.Skip("testdata/imageproc images absent")
	}
	paths = paths[:5]
	exs := make([]softcpt.Example, len(paths))
	for i, p := range paths {
		exs[i] = softcpt.Example{Name: p, Load: func() (*imageproc.RGB, error) { return imageproc.LoadRGB(p) }}
	}
	return exs
}

// TestFeaturizerEncodeMatches checks the devices' feature pipeline
// (softcpt.Featurizer with an Encode function) against the plain
// Featurizer, with the CPU backend's encoder, over several batches and
// workers, and that a failing image or encoder is named in the error.
func TestFeaturizerEncodeMatches(t *testing.T) {
	m := loadFixtureModel(t)
	exs := fixtureImages(t)
	ctx := context.Background()
	want, err := (&softcpt.Featurizer{Model: m, BatchSize: 2}).Features(ctx, exs, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	cpu := cpuBackend{m}
	encodeWith := func(exs []softcpt.Example, workers int, enc func(*tensor.Tensor) (*tensor.Tensor, error)) (*tensor.Tensor, error) {
		return (&softcpt.Featurizer{Model: m, BatchSize: 2, Workers: workers, Encode: enc}).Features(ctx, exs, false, 0)
	}
	got, err := encodeWith(exs, 3, cpu.encodeImages)
	if err != nil {
		t.Fatal(err)
	}
	if !tensor.SameShape(got.Shape(), want.Shape()) {
		t.Fatalf("features %v, want %v", got.Shape(), want.Shape())
	}
	if d := maxRel(got.Data(), want.Data()); d > 1e-6 {
		t.Errorf("features differ from the Featurizer's by %g (relative)", d)
	}
	bad := append([]softcpt.Example(nil), exs...)
	bad[3] = softcpt.Example{Name: "broken.png", Load: func() (*imageproc.RGB, error) { return nil, errors.New("no such file") }}
	if _, err := encodeWith(bad, 2, cpu.encodeImages); err == nil || !strings.Contains(err.Error(), "broken.png") {
		t.Errorf("error %v does not name the broken image", err)
	}
	failing := func(*tensor.Tensor) (*tensor.Tensor, error) { return nil, errors.New("device lost") }
	if _, err := encodeWith(exs, 2, failing); err == nil || !strings.Contains(err.Error(), "device lost") {
		t.Errorf("encoder error not returned: %v", err)
	}
	wrong := func(pix *tensor.Tensor) (*tensor.Tensor, error) { return tensor.New(pix.Dim(0), 3), nil }
	if _, err := encodeWith(exs, 2, wrong); err == nil || !strings.Contains(err.Error(), "image encoder returned features") {
		t.Errorf("features of the wrong shape accepted: %v", err)
	}
}

// TestZeroShotWithMatchesSoftcpt checks the zero-shot classifier with a
// device's text encoder (two templates on one task, one on the other)
// against softcpt.ZeroShotFeatures with the CPU model's own, and that
// the encoder's errors and features of the wrong shape are reported.
func TestZeroShotWithMatchesSoftcpt(t *testing.T) {
	m := loadFixtureModel(t)
	tok := wordTokenizer{Vocab: m.Config.VocabSize}
	tmpl := [][]string{{"a photo of a {}.", "a blurry photo of the {}."}, {"a photo of {}, a type of food."}}
	want, err := softcpt.ZeroShotFeatures(m, nil, tok, deviceTestTasks, tmpl)
	if err != nil {
		t.Fatal(err)
	}
	got, err := softcpt.ZeroShotFeatures(m, cpuBackend{m}.encodeTexts, tok, deviceTestTasks, tmpl)
	if err != nil {
		t.Fatal(err)
	}
	if !tensor.SameShape(got.Shape(), want.Shape()) {
		t.Fatalf("class features %v, want %v", got.Shape(), want.Shape())
	}
	if d := maxRel(got.Data(), want.Data()); d != 0 {
		t.Errorf("class features differ from softcpt.ZeroShotFeatures by %g (relative)", d)
	}
	failing := func([]int, int, int) (*tensor.Tensor, error) { return nil, errors.New("device lost") }
	if _, err := softcpt.ZeroShotFeatures(m, failing, tok, deviceTestTasks, tmpl); err == nil || !strings.Contains(err.Error(), "device lost") {
		t.Errorf("encoder error not returned: %v", err)
	}
	wrong := func(_ []int, batch, _ int) (*tensor.Tensor, error) { return tensor.New(batch, 3), nil }
	if _, err := softcpt.ZeroShotFeatures(m, wrong, tok, deviceTestTasks, tmpl); err == nil || !strings.Contains(err.Error(), "text encoder returned features") {
		t.Errorf("features of the wrong shape accepted: %v", err)
	}
	if _, err := softcpt.ZeroShotFeatures(m, cpuBackend{m}.encodeTexts, tok, deviceTestTasks, tmpl[:1]); err == nil {
		t.Error("one template list for two tasks accepted")
	}
	long := [][]string{{strings.Repeat("very ", m.Config.ContextLength) + "{}"}, {"{}"}}
	if _, err := softcpt.ZeroShotFeatures(m, cpuBackend{m}.encodeTexts, tok, deviceTestTasks, long); err == nil || !strings.Contains(err.Error(), "context length") {
		t.Errorf("over-long template: error %v", err)
	}
}

// cpuStep is softcpt.Stepper on the CPU learner with optim.SGD: what
// softcpt.TrainFeatures does per batch.
type cpuStep struct {
	l   *softcpt.Learner
	sgd *optim.SGD
}

func (c *cpuStep) SetLR(lr float64) { c.sgd.LR = lr }

func (c *cpuStep) Step(b softcpt.Batch) (float64, int, error) {
	loss, n := c.l.Loss(b, nil)
	c.sgd.ZeroGrad()
	loss.Backward()
	c.sgd.Step()
	return float64(loss.Value.Item()), n, nil
}

func (c *cpuStep) Snapshot() (params, momentum map[string]*tensor.Tensor, err error) {
	params, momentum = map[string]*tensor.Tensor{}, map[string]*tensor.Tensor{}
	for k, v := range c.l.State() {
		params[k] = v.Clone()
	}
	st := c.sgd.State()
	for i, p := range c.sgd.Params {
		if b, ok := st["momentum_buffer."+strconv.Itoa(i)]; ok {
			momentum[p.Name] = b
		}
	}
	return params, momentum, nil
}

func (c *cpuStep) Restore(params, momentum map[string]*tensor.Tensor, steps int) error {
	if err := c.l.LoadState(params); err != nil {
		return err
	}
	st := map[string]*tensor.Tensor{"steps": tensor.Scalar(float32(steps))}
	for i, p := range c.sgd.Params {
		if b, ok := momentum[p.Name]; ok {
			st["momentum_buffer."+strconv.Itoa(i)] = b
		}
	}
	return c.sgd.LoadState(st)
}

// TestTrainWithMatchesTrainFeatures checks the device training loop
// (batch order, schedule, statistics, final state) against
// softcpt.TrainFeatures, with the CPU learner's step in place of the
// GPU's, for several batches per epoch and for one short batch.
func TestTrainWithMatchesTrainFeatures(t *testing.T) {
	m := loadFixtureModel(t)
	tok := wordTokenizer{Vocab: m.Config.VocabSize}
	cfg, err := softcpt.MethodConfig("nata")
	if err != nil {
		t.Fatal(err)
	}
	cfg.NCtx, cfg.TaskNCtx = 4, 2
	E := m.Config.EmbedDim
	rng := tensor.NewRNG(5)
	var train []softcpt.Example
	for i := 0; i < 11; i++ {
		task := i % 2
		train = append(train, softcpt.Example{Task: task, Label: i % len(deviceTestTasks[task].Classes)})
	}
	feats := tensor.RandN(rng, 0, 1, len(train), E)
	for _, bs := range []int{4, 16} {
		opt := softcpt.Defaults()
		opt.Epochs, opt.BatchSize, opt.LR, opt.Seed = 3, bs, 0.05, 2
		ref, err := softcpt.NewLearner(cfg, m, tok, deviceTestTasks, 1)
		if err != nil {
			t.Fatal(err)
		}
		wantHist, err := softcpt.TrainFeatures(context.Background(), ref, feats, train, opt)
		if err != nil {
			t.Fatal(err)
		}
		l, err := softcpt.NewLearner(cfg, m, tok, deviceTestTasks, 1)
		if err != nil {
			t.Fatal(err)
		}
		trainer, err := softcpt.NewLearner(cfg, m, tok, deviceTestTasks, 1)
		if err != nil {
			t.Fatal(err)
		}
		st := &cpuStep{l: trainer, sgd: &optim.SGD{Params: trainer.Parameters(), LR: opt.LR, Momentum: opt.Momentum, WeightDecay: opt.WeightDecay}}
		var lines int
		opt.Log = func(string, ...any) { lines++ }
		hist, err := softcpt.TrainWith(context.Background(), l, st, feats, train, opt)
		if err != nil {
			t.Fatal(err)
		}
		if len(hist) != len(wantHist) || lines != opt.Epochs {
			t.Fatalf("batch %d: %d epochs and %d log lines, want %d", bs, len(hist), lines, len(wantHist))
		}
		for i, h := range hist {
			w := wantHist[i]
			if h.Loss != w.Loss || h.Accuracy != w.Accuracy || h.LR != w.LR || h.Epoch != w.Epoch {
				t.Errorf("batch %d epoch %d: loss %v acc %v lr %v, want %v %v %v", bs, i+1, h.Loss, h.Accuracy, h.LR, w.Loss, w.Accuracy, w.LR)
			}
		}
		want, got := ref.State(), l.State()
		for k, w := range want {
			if d := maxRel(got[k].Data(), w.Data()); d != 0 {
				t.Errorf("batch %d: %s differs from TrainFeatures' by %g (relative)", bs, k, d)
			}
		}
	}
	// A cancelled context stops before the first step.
	l, _ := softcpt.NewLearner(cfg, m, tok, deviceTestTasks, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	st := &cpuStep{l: l, sgd: &optim.SGD{Params: l.Parameters(), LR: 0.1}}
	if _, err := softcpt.TrainWith(ctx, l, st, feats, train, softcpt.Defaults()); err == nil {
		t.Error("cancelled training returned no error")
	}
	if _, err := softcpt.TrainWith(context.Background(), l, st, feats, train[:3], softcpt.Defaults()); err == nil {
		t.Error("features for 11 examples accepted with 3 examples")
	}
	rep := softcpt.Defaults()
	rep.RepeatSteps = 3
	if _, err := softcpt.TrainWith(context.Background(), l, st, feats, train, rep); err == nil || !strings.Contains(err.Error(), "repeat-steps") {
		t.Errorf("repeated steps accepted by an external stepper: %v", err)
	}
}

// resumeFixture is a small training run for the checkpoint tests: 11
// examples of the two test tasks, batches of 4 (two steps per epoch), 4
// epochs (warm-up, then cosine) with momentum and weight decay.
type resumeFixture struct {
	m     *clip.Model
	tok   softcpt.Tokenizer
	cfg   softcpt.Config
	train []softcpt.Example
	feats *tensor.Tensor
	opt   softcpt.TrainOptions
}

func newResumeFixture(t *testing.T) *resumeFixture {
	t.Helper()
	m := loadFixtureModel(t)
	cfg, err := softcpt.MethodConfig("nata")
	if err != nil {
		t.Fatal(err)
	}
	cfg.NCtx, cfg.TaskNCtx = 4, 2
	var train []softcpt.Example
	for i := 0; i < 11; i++ {
		task := i % 2
		train = append(train, softcpt.Example{Task: task, Label: i % len(deviceTestTasks[task].Classes)})
	}
	opt := softcpt.Defaults()
	opt.Epochs, opt.BatchSize, opt.LR, opt.Seed = 4, 4, 0.05, 2
	return &resumeFixture{m: m, tok: wordTokenizer{Vocab: m.Config.VocabSize}, cfg: cfg, train: train,
		feats: tensor.RandN(tensor.NewRNG(5), 0, 1, len(train), m.Config.EmbedDim), opt: opt}
}

func (f *resumeFixture) learner(t *testing.T) *softcpt.Learner {
	t.Helper()
	l, err := softcpt.NewLearner(f.cfg, f.m, f.tok, deviceTestTasks, 1)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// step returns a cpuStep on a fresh learner of its own, as the GPU's step
// holds its own copy of the trained tensors.
func (f *resumeFixture) step(t *testing.T) *cpuStep {
	trainer := f.learner(t)
	return &cpuStep{l: trainer, sgd: &optim.SGD{Params: trainer.Parameters(), LR: f.opt.LR, Momentum: f.opt.Momentum, WeightDecay: f.opt.WeightDecay}}
}

// trainer is softcpt.TrainWith with a cpuStep, or softcpt.TrainFeatures.
type trainer func(ctx context.Context, l *softcpt.Learner, opt softcpt.TrainOptions) ([]softcpt.EpochStats, error)

func (f *resumeFixture) device(t *testing.T) trainer {
	return func(ctx context.Context, l *softcpt.Learner, opt softcpt.TrainOptions) ([]softcpt.EpochStats, error) {
		return softcpt.TrainWith(ctx, l, f.step(t), f.feats, f.train, opt)
	}
}

func (f *resumeFixture) cpu(ctx context.Context, l *softcpt.Learner, opt softcpt.TrainOptions) ([]softcpt.EpochStats, error) {
	return softcpt.TrainFeatures(ctx, l, f.feats, f.train, opt)
}

// interrupted runs train into dir and cancels its context in the log line
// of epoch k, as Ctrl-C during epoch k+1 does; it checks that the run
// stops with the cancellation and that epoch k's checkpoint is there.
func (f *resumeFixture) interrupted(t *testing.T, train trainer, dir string, k int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opt := f.opt
	opt.CheckpointDir = dir
	opt.Log = func(string, ...any) {
		if k--; k == 0 {
			cancel()
		}
	}
	hist, err := train(ctx, f.learner(t), opt)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: error %v, want context.Canceled", err)
	}
	ck, err := softcpt.LoadTrainCheckpoint(dir, f.learner(t), len(f.train), opt)
	if err != nil || ck == nil {
		t.Fatalf("checkpoint after the interruption: %v, %v", ck, err)
	}
	if ck.Epoch != len(hist) || len(ck.History) != len(hist) {
		t.Fatalf("interrupted after %d epochs, checkpoint of epoch %d with %d in its history", len(hist), ck.Epoch, len(ck.History))
	}
}

// sameRun fails unless two runs' histories (but for the timings) and
// trained tensors are bit-identical.
func sameRun(t *testing.T, what string, hist, wantHist []softcpt.EpochStats, l, want *softcpt.Learner) {
	t.Helper()
	if len(hist) != len(wantHist) {
		t.Fatalf("%s: %d epochs, want %d", what, len(hist), len(wantHist))
	}
	for i, h := range hist {
		w := wantHist[i]
		if h.Loss != w.Loss || h.Accuracy != w.Accuracy || h.LR != w.LR || h.Epoch != w.Epoch {
			t.Errorf("%s: epoch %d: loss %v acc %v lr %v, want %v %v %v", what, i+1, h.Loss, h.Accuracy, h.LR, w.Loss, w.Accuracy, w.LR)
		}
	}
	got := l.State()
	for k, w := range want.State() {
		if d := maxRel(got[k].Data(), w.Data()); d != 0 {
			t.Errorf("%s: %s differs from the uninterrupted run's by %g (relative)", what, k, d)
		}
	}
}

// sameCheckpoint fails unless the checkpoints in two directories hold
// bit-identical tensors, momentum buffers, steps and statistics.
func (f *resumeFixture) sameCheckpoint(t *testing.T, what, dir, wantDir string) {
	t.Helper()
	l, lw := f.learner(t), f.learner(t)
	ck, err := softcpt.LoadTrainCheckpoint(dir, l, len(f.train), f.opt)
	if err != nil {
		t.Fatal(err)
	}
	want, err := softcpt.LoadTrainCheckpoint(wantDir, lw, len(f.train), f.opt)
	if err != nil {
		t.Fatal(err)
	}
	if ck.Epoch != want.Epoch || ck.Steps != want.Steps || len(ck.Momentum) != len(want.Momentum) || len(want.Momentum) == 0 {
		t.Fatalf("%s: epoch %d, %d steps, %d momentum buffers; want %d, %d, %d", what, ck.Epoch, ck.Steps, len(ck.Momentum), want.Epoch, want.Steps, len(want.Momentum))
	}
	for k, w := range want.Momentum {
		if d := maxRel(ck.Momentum[k].Data(), w.Data()); d != 0 {
			t.Errorf("%s: momentum of %s differs by %g (relative)", what, k, d)
		}
	}
	sameRun(t, what+" (checkpoint)", ck.History, want.History, l, lw)
}

// TestTrainWithResume checks (tolerance: none, bit-identical tensors
// and statistics) that device training interrupted after epoch 1, 2 or 3
// and resumed gives the uninterrupted run's history, trained tensors and
// final checkpoint (tensors, momentum, steps), and that resuming a
// finished run takes no step.
func TestTrainWithResume(t *testing.T) {
	f := newResumeFixture(t)
	dev := f.device(t)
	ref := f.learner(t)
	refDir := t.TempDir()
	opt := f.opt
	opt.CheckpointDir = refDir
	refHist, err := dev(context.Background(), ref, opt)
	if err != nil {
		t.Fatal(err)
	}
	for k := 1; k < f.opt.Epochs; k++ {
		dir := t.TempDir()
		f.interrupted(t, dev, dir, k)
		l := f.learner(t)
		res := f.opt
		res.CheckpointDir, res.Resume = dir, true
		var lines int
		res.Log = func(string, ...any) { lines++ }
		hist, err := dev(context.Background(), l, res)
		if err != nil {
			t.Fatal(err)
		}
		if lines != f.opt.Epochs-k {
			t.Errorf("resumed after epoch %d: %d epochs logged, want %d", k, lines, f.opt.Epochs-k)
		}
		what := "resumed after epoch " + strconv.Itoa(k)
		sameRun(t, what, hist, refHist, l, ref)
		f.sameCheckpoint(t, what, dir, refDir)
	}
	// A finished run resumes to its result without a step.
	l, st := f.learner(t), f.step(t)
	res := f.opt
	res.CheckpointDir, res.Resume = refDir, true
	hist, err := softcpt.TrainWith(context.Background(), l, st, f.feats, f.train, res)
	if err != nil {
		t.Fatal(err)
	}
	if st.sgd.Steps != 2*f.opt.Epochs {
		t.Errorf("resuming a finished run: the step was at %d optimiser steps, want %d", st.sgd.Steps, 2*f.opt.Epochs)
	}
	sameRun(t, "resumed finished run", hist, refHist, l, ref)
}

// TestCheckpointAcrossTrainers checks (tolerance: none, bit-identical)
// that a checkpoint written by softcpt.TrainFeatures resumes in
// softcpt.TrainWith, and one written by softcpt.TrainWith in TrainFeatures, with
// the result, and the final checkpoint, of an uninterrupted
// TrainFeatures run.
func TestCheckpointAcrossTrainers(t *testing.T) {
	f := newResumeFixture(t)
	ref := f.learner(t)
	refDir := t.TempDir()
	opt := f.opt
	opt.CheckpointDir = refDir
	refHist, err := f.cpu(context.Background(), ref, opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name          string
		first, second trainer
	}{
		{"CPU then device", f.cpu, f.device(t)},
		{"device then CPU", f.device(t), f.cpu},
	} {
		dir := t.TempDir()
		f.interrupted(t, c.first, dir, 2)
		l := f.learner(t)
		res := f.opt
		res.CheckpointDir, res.Resume = dir, true
		hist, err := c.second(context.Background(), l, res)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		sameRun(t, c.name, hist, refHist, l, ref)
		f.sameCheckpoint(t, c.name, dir, refDir)
	}
}

// failingRestore is a softcpt.Stepper whose restore fails.
type failingRestore struct{ *cpuStep }

func (failingRestore) Restore(map[string]*tensor.Tensor, map[string]*tensor.Tensor, int) error {
	return errors.New("device lost")
}

// TestResumeBadCheckpoint checks that resuming device training from a
// corrupt or mismatched checkpoint fails, before any step, with an error
// naming the checkpoint's file (or directory, for a mismatch of the run).
func TestResumeBadCheckpoint(t *testing.T) {
	f := newResumeFixture(t)
	good := t.TempDir()
	opt := f.opt
	opt.Epochs, opt.CheckpointDir = 1, good
	if _, err := f.device(t)(context.Background(), f.learner(t), opt); err != nil {
		t.Fatal(err)
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(good, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	js, ts := read("checkpoint.json"), read("checkpoint.safetensors")
	sd, err := checkpoint.Load(filepath.Join(good, "checkpoint.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	// withTensors writes the checkpoint's tensors with edit applied.
	withTensors := func(edit func(map[string]*tensor.Tensor)) func(string) {
		return func(dir string) {
			ts := map[string]*tensor.Tensor{}
			for k, v := range sd.Tensors {
				ts[k] = v
			}
			edit(ts)
			if err := checkpoint.WriteSafetensors(filepath.Join(dir, "checkpoint.safetensors"), ts, nil, sd.Metadata); err != nil {
				t.Fatal(err)
			}
		}
	}
	other := f.cfg
	other.NCtx = 3
	for _, c := range []struct {
		name   string
		write  func(dir string) // after copying the good checkpoint
		edit   func(*softcpt.TrainOptions)
		cfg    *softcpt.Config
		step   func(*cpuStep) softcpt.Stepper
		inErr  string // a file name, or "" for the directory
		reason string
	}{
		{name: "truncated JSON", write: func(dir string) { os.WriteFile(filepath.Join(dir, "checkpoint.json"), js[:len(js)/2], 0o644) },
			inErr: "checkpoint.json", reason: "unexpected end"},
		{name: "truncated tensors", write: func(dir string) {
			os.WriteFile(filepath.Join(dir, "checkpoint.safetensors"), ts[:len(ts)/2], 0o644)
		}, inErr: "checkpoint.safetensors"},
		{name: "missing tensors", write: func(dir string) { os.Remove(filepath.Join(dir, "checkpoint.safetensors")) },
			inErr: "checkpoint.safetensors"},
		{name: "tensors of another epoch", write: func(dir string) {
			os.WriteFile(filepath.Join(dir, "checkpoint.json"), []byte(strings.Replace(string(js), `"epoch": 1`, `"epoch": 2`, 1)), 0o644)
		}, reason: "inconsistent"},
		{name: "momentum of another shape", write: withTensors(func(ts map[string]*tensor.Tensor) {
			ts["optimizer.momentum_buffer.1"] = tensor.New(2, 3)
		}), inErr: "checkpoint.safetensors", reason: "momentum_buffer.1"},
		{name: "momentum of no parameter", write: withTensors(func(ts map[string]*tensor.Tensor) {
			ts["optimizer.momentum_buffer.7"] = tensor.New(2, 3)
		}), inErr: "checkpoint.safetensors", reason: "momentum_buffer.7"},
		{name: "learner without a tensor", write: withTensors(func(ts map[string]*tensor.Tensor) {
			for k := range ts {
				if strings.HasPrefix(k, "learner.") {
					delete(ts, k)
					break
				}
			}
		}), inErr: "checkpoint.safetensors", reason: "learner state has no"},
		{name: "learner tensor of another shape", write: withTensors(func(ts map[string]*tensor.Tensor) {
			ts["learner.prompt_gen.P"] = tensor.New(2, 3)
		}), inErr: "checkpoint.safetensors", reason: "shape"},
		{name: "another context length", cfg: &other, reason: "NCtx:3"},
		{name: "another seed", edit: func(o *softcpt.TrainOptions) { o.Seed = 3 }, reason: "seed"},
		{name: "other settings", edit: func(o *softcpt.TrainOptions) { o.Epochs = 4 }, reason: "trained with {Epochs:1"},
		{name: "another method", cfg: func() *softcpt.Config {
			c, _ := softcpt.MethodConfig("coop-mt")
			c.NCtx = 4
			return &c
		}(), reason: "not CoOp-MT"},
		{name: "failed upload", step: func(s *cpuStep) softcpt.Stepper { return failingRestore{s} }, reason: "device lost"},
	} {
		dir := t.TempDir()
		for name, b := range map[string][]byte{"checkpoint.json": js, "checkpoint.safetensors": ts} {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if c.write != nil {
			c.write(dir)
		}
		res := f.opt
		res.Epochs, res.CheckpointDir, res.Resume = 1, dir, true // the good run's settings
		if c.edit != nil {
			c.edit(&res)
		}
		cfg := f.cfg
		if c.cfg != nil {
			cfg = *c.cfg
		}
		l, err := softcpt.NewLearner(cfg, f.m, f.tok, deviceTestTasks, 1)
		if err != nil {
			t.Fatal(err)
		}
		cs := &cpuStep{l: l, sgd: &optim.SGD{Params: l.Parameters(), LR: res.LR, Momentum: res.Momentum}}
		var st softcpt.Stepper = cs
		if c.step != nil {
			st = c.step(cs)
		}
		_, err = softcpt.TrainWith(context.Background(), l, st, f.feats, f.train, res)
		if err == nil {
			t.Errorf("%s: resumed", c.name)
			continue
		}
		if !strings.Contains(err.Error(), filepath.Join(dir, c.inErr)) || !strings.Contains(err.Error(), c.reason) {
			t.Errorf("%s: error %q does not name %s and %q", c.name, err, filepath.Join(dir, c.inErr), c.reason)
		}
		if cs.sgd.Steps != 0 {
			t.Errorf("%s: %d steps taken", c.name, cs.sgd.Steps)
		}
	}
	// SaveTrainCheckpoint refuses momentum buffers that fit no parameter.
	l := f.learner(t)
	for name, mom := range map[string]map[string]*tensor.Tensor{
		"unknown": {"prompt_learner.unknown": tensor.New(1)},
		"shape":   {l.Parameters()[0].Name: tensor.New(1)},
	} {
		dir := t.TempDir()
		err := softcpt.SaveTrainCheckpoint(dir, l, len(f.train), f.opt, softcpt.TrainCheckpoint{Epoch: 1, Steps: 2, Momentum: mom})
		if err == nil || !strings.Contains(err.Error(), dir) {
			t.Errorf("saving momentum of another %s: error %v", name, err)
		}
	}
}
