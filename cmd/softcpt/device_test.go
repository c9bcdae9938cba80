package main

import (
	"context"
	"hash/fnv"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/clip/imageproc"
	"github.com/softcpt/softcpt-go/nn"
	"github.com/softcpt/softcpt-go/softcpt"
	"github.com/softcpt/softcpt-go/tensor"
)

const fixtureModel = "../../testdata/clip/rn.safetensors"

func loadFixtureModel(t *testing.T) *clip.Model {
	t.Helper()
	if _, err := os.Stat(fixtureModel); err != nil {
		t.Skip("fixture testdata/clip/rn.safetensors absent")
	}
	m, err := clip.LoadWith(fixtureModel, clip.Options{VisionHeads: 2, TransformerHeads: 2})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// wordTokenizer hashes words into the vocabulary (no BPE file needed).
type wordTokenizer struct{ vocab int }

func (w wordTokenizer) Encode(text string) []int {
	text = strings.ReplaceAll(text, ".", " . ")
	var ids []int
	for _, f := range strings.Fields(strings.ToLower(text)) {
		h := fnv.New32a()
		h.Write([]byte(f))
		ids = append(ids, 1+int(h.Sum32()%uint32(w.vocab-3)))
	}
	return ids
}

func (w wordTokenizer) SOT() int { return w.vocab - 2 }
func (w wordTokenizer) EOT() int { return w.vocab - 1 }

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
		gpu, ord, err := parseDevice(c.in)
		if (err != nil) != c.bad || gpu != c.gpu || ord != c.ordinal {
			t.Errorf("parseDevice(%q) = %v, %d, %v; want %v, %d, error %v", c.in, gpu, ord, err, c.gpu, c.ordinal, c.bad)
		}
	}
}

// fixtureImages returns examples of a few PNG test images.
func fixtureImages(t *testing.T) []softcpt.Example {
	t.Helper()
	paths, _ := filepath.Glob("../../testdata/imageproc/*.png")
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

// TestEncodeExamplesMatchesFeaturizer checks the device feature pipeline
// against softcpt.Featurizer with the CPU model as the encoder, over
// several batches, and that a failing image is named in the error.
func TestEncodeExamplesMatchesFeaturizer(t *testing.T) {
	m := loadFixtureModel(t)
	exs := fixtureImages(t)
	ctx := context.Background()
	want, err := (&softcpt.Featurizer{Model: m, BatchSize: 2}).Features(ctx, exs, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	cpu := cpuBackend{m}
	got, err := encodeExamples(ctx, exs, m.Config.ImageResolution, m.Config.EmbedDim, 2, 3, cpu.encodeImages)
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
	if _, err := encodeExamples(ctx, bad, m.Config.ImageResolution, m.Config.EmbedDim, 2, 2, cpu.encodeImages); err == nil || !strings.Contains(err.Error(), "broken.png") {
		t.Errorf("error %v does not name the broken image", err)
	}
	failing := func(*tensor.Tensor) (*tensor.Tensor, error) { return nil, errors.New("device lost") }
	if _, err := encodeExamples(ctx, exs, m.Config.ImageResolution, m.Config.EmbedDim, 2, 2, failing); err == nil || !strings.Contains(err.Error(), "device lost") {
		t.Errorf("encoder error not returned: %v", err)
	}
}

// TestZeroShotWithMatchesSoftcpt checks the device zero-shot classifier
// (two templates on one task, one on the other) against
// softcpt.ZeroShotFeatures with the CPU model's text encoder.
func TestZeroShotWithMatchesSoftcpt(t *testing.T) {
	m := loadFixtureModel(t)
	tok := wordTokenizer{m.Config.VocabSize}
	tmpl := [][]string{{"a photo of a {}.", "a blurry photo of the {}."}, {"a photo of {}, a type of food."}}
	want, err := softcpt.ZeroShotFeatures(m, tok, deviceTestTasks, tmpl)
	if err != nil {
		t.Fatal(err)
	}
	got, err := zeroShotWith(cpuBackend{m}.encodeTexts, m.Config, tok, deviceTestTasks, tmpl)
	if err != nil {
		t.Fatal(err)
	}
	if !tensor.SameShape(got.Shape(), want.Shape()) {
		t.Fatalf("class features %v, want %v", got.Shape(), want.Shape())
	}
	if d := maxRel(got.Data(), want.Data()); d != 0 {
		t.Errorf("class features differ from softcpt.ZeroShotFeatures by %g (relative)", d)
	}
	if _, err := zeroShotWith(cpuBackend{m}.encodeTexts, m.Config, tok, deviceTestTasks, tmpl[:1]); err == nil {
		t.Error("one template list for two tasks accepted")
	}
	long := [][]string{{strings.Repeat("very ", m.Config.ContextLength) + "{}"}, {"{}"}}
	if _, err := zeroShotWith(cpuBackend{m}.encodeTexts, m.Config, tok, deviceTestTasks, long); err == nil || !strings.Contains(err.Error(), "context length") {
		t.Errorf("over-long template: error %v", err)
	}
}

// cpuStep is featureStep on the CPU learner with nn.SGD: what
// softcpt.TrainFeatures does per batch.
type cpuStep struct {
	l   *softcpt.Learner
	sgd *nn.SGD
}

func (c *cpuStep) setLR(lr float64) { c.sgd.LR = lr }

func (c *cpuStep) step(b softcpt.Batch) (float64, int, error) {
	loss, n := c.l.Loss(b, nil)
	c.sgd.ZeroGrad()
	loss.Backward()
	c.sgd.Step()
	return float64(loss.Value.Item()), n, nil
}

func (c *cpuStep) snapshot() (params, momentum map[string]*tensor.Tensor, err error) {
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

func (c *cpuStep) restore(params, momentum map[string]*tensor.Tensor, steps int) error {
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

// TestTrainWithStepMatchesTrainFeatures checks the device training loop
// (batch order, schedule, statistics, final state) against
// softcpt.TrainFeatures, with the CPU learner's step in place of the
// GPU's, for several batches per epoch and for one short batch.
func TestTrainWithStepMatchesTrainFeatures(t *testing.T) {
	m := loadFixtureModel(t)
	tok := wordTokenizer{m.Config.VocabSize}
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
		st := &cpuStep{l: trainer, sgd: &nn.SGD{Params: trainer.Parameters(), LR: opt.LR, Momentum: opt.Momentum, WeightDecay: opt.WeightDecay}}
		var lines int
		opt.Log = func(string, ...any) { lines++ }
		hist, err := trainWithStep(context.Background(), l, st, feats, train, opt)
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
	st := &cpuStep{l: l, sgd: &nn.SGD{Params: l.Parameters(), LR: 0.1}}
	if _, err := trainWithStep(ctx, l, st, feats, train, softcpt.Defaults()); err == nil {
		t.Error("cancelled training returned no error")
	}
	if _, err := trainWithStep(context.Background(), l, st, feats, train[:3], softcpt.Defaults()); err == nil {
		t.Error("features for 11 examples accepted with 3 examples")
	}
}

// TestCPUTrainingReason checks which runs the device trains.
func TestCPUTrainingReason(t *testing.T) {
	m := loadFixtureModel(t)
	tok := wordTokenizer{m.Config.VocabSize}
	learner := func(method string) *softcpt.Learner {
		cfg, err := softcpt.MethodConfig(method)
		if err != nil {
			t.Fatal(err)
		}
		cfg.NCtx = 4
		l, err := softcpt.NewLearner(cfg, m, tok, deviceTestTasks, 1)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	opt := softcpt.Defaults()
	if why := cpuTrainingReason(learner("nata"), opt); why != "" {
		t.Errorf("nata not trained on the device: %s", why)
	}
	for _, method := range []string{"coop-mt", "nats", "cata", "csts"} {
		if cpuTrainingReason(learner(method), opt) == "" {
			t.Errorf("%s would train on the device", method)
		}
	}
	rep := opt
	rep.RepeatSteps = 3
	if cpuTrainingReason(learner("nata"), rep) == "" {
		t.Error("repeated steps would train on the device")
	}
	dir := t.TempDir()
	res := opt
	res.CheckpointDir, res.Resume = dir, true
	if why := cpuTrainingReason(learner("nata"), res); why != "" {
		t.Errorf("nothing to resume, yet: %s", why)
	}
	os.WriteFile(filepath.Join(dir, "checkpoint.json"), []byte("{}"), 0o644)
	if why := cpuTrainingReason(learner("nata"), res); why != "" {
		t.Errorf("a run with a checkpoint to resume would not train on the device: %s", why)
	}
}
