package softcpt

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/softcpt/softcpt-go/tensor"
)

// checkpointRun trains cfg for one epoch on a few random features with a
// checkpoint in dir and returns the examples, features and options.
func checkpointRun(t *testing.T, cfg Config, dir string) ([]Example, *tensor.Tensor, TrainOptions) {
	t.Helper()
	l, train, feats := fixtureRun(t, cfg, 6)
	opt := Defaults()
	opt.Epochs, opt.BatchSize, opt.CheckpointDir = 1, 3, dir
	if _, err := TrainFeatures(context.Background(), l, feats, train, opt); err != nil {
		t.Fatal(err)
	}
	return train, feats, opt
}

// fixtureRun returns a learner of cfg on the fixture model and n training
// examples (alternating tasks) with random features.
func fixtureRun(tb testing.TB, cfg Config, n int) (*Learner, []Example, *tensor.Tensor) {
	tb.Helper()
	m := fixtureModel(tb)
	l, err := NewLearner(cfg, m, wordTokenizer{Vocab: m.Config.VocabSize}, testTasks, 1)
	if err != nil {
		tb.Fatal(err)
	}
	var train []Example
	for i := 0; i < n; i++ {
		task := i % 2
		train = append(train, Example{Task: task, Label: i % len(testTasks[task].Classes)})
	}
	return l, train, tensor.RandN(tensor.NewRNG(3), 0, 1, len(train), m.Config.EmbedDim)
}

// TestResumeChecksConfig checks that a checkpoint is not resumed by a run
// of the same method configured otherwise (here: another CTX_INIT, which
// the checkpoint's tensors cannot reveal), by Train or by
// LoadTrainCheckpoint.
func TestResumeChecksConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig(t, "coop-ca")
	train, feats, opt := checkpointRun(t, cfg, dir)
	m := fixtureModel(t)
	tok := wordTokenizer{Vocab: m.Config.VocabSize}
	other := cfg
	other.CtxInit = "a photo"
	l, err := NewLearner(other, m, tok, testTasks, 1)
	if err != nil {
		t.Fatal(err)
	}
	res := opt
	res.Resume = true
	if _, err := TrainFeatures(context.Background(), l, feats, train, res); err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "a photo") {
		t.Errorf("resuming with another ctx init: error %v, want one naming %s and the init", err, dir)
	}
	if _, err := LoadTrainCheckpoint(dir, l, len(train), res); err == nil || !strings.Contains(err.Error(), "a photo") {
		t.Errorf("LoadTrainCheckpoint with another ctx init: error %v", err)
	}
	// The same configuration resumes.
	same, err := NewLearner(cfg, m, tok, testTasks, 1)
	if err != nil {
		t.Fatal(err)
	}
	if ck, err := LoadTrainCheckpoint(dir, same, len(train), res); err != nil || ck == nil || ck.Epoch != 1 {
		t.Errorf("LoadTrainCheckpoint with the same configuration: %+v, %v", ck, err)
	}
	// Other training settings (here: more epochs, which changes the
	// cosine schedule; another learning rate) are refused too.
	for name, change := range map[string]func(*TrainOptions){
		"epochs": func(o *TrainOptions) { o.Epochs = 2 },
		"lr":     func(o *TrainOptions) { o.LR = 0.01 },
	} {
		o := res
		change(&o)
		if _, err := TrainFeatures(context.Background(), same, feats, train, o); err == nil || !strings.Contains(err.Error(), "trained with") {
			t.Errorf("resuming with other %s: error %v", name, err)
		}
	}
}

// TestResumeMismatchKeepsLearner checks that a checkpoint of another run
// (seed, number of examples, method configuration) is refused before any
// of its tensors is loaded into the learner.
func TestResumeMismatchKeepsLearner(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig(t, "nata")
	train, feats, opt := checkpointRun(t, cfg, dir)
	m := fixtureModel(t)
	tok := wordTokenizer{Vocab: m.Config.VocabSize}
	otherInit := cfg
	otherInit.InitStd = 0.03
	for _, c := range []struct {
		name     string
		cfg      Config
		examples int
		seed     uint64
	}{
		{"seed", cfg, len(train), opt.Seed + 1},
		{"examples", cfg, len(train) - 1, opt.Seed},
		{"config", otherInit, len(train), opt.Seed},
	} {
		l, err := NewLearner(c.cfg, m, tok, testTasks, 7)
		if err != nil {
			t.Fatal(err)
		}
		before := map[string][]float32{}
		for k, v := range l.State() {
			before[k] = slices.Clone(v.Data())
		}
		res := opt
		res.Seed, res.Resume = c.seed, true
		if _, err := LoadTrainCheckpoint(dir, l, c.examples, res); err == nil {
			t.Errorf("%s: another run's checkpoint was loaded", c.name)
		}
		if _, err := TrainFeatures(context.Background(), l, feats.Narrow(0, 0, c.examples).Contiguous(), train[:c.examples], res); err == nil {
			t.Errorf("%s: another run's checkpoint was resumed", c.name)
		}
		for k, v := range l.State() {
			if !slices.Equal(v.Data(), before[k]) {
				t.Errorf("%s: the refused checkpoint changed %s", c.name, k)
			}
		}
	}
}
