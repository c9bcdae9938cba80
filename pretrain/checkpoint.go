package pretrain

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/internal/atomicfile"

	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/clip/checkpoint"
	"github.com/softcpt/softcpt-go/tensor"
)

// Checkpoint file names inside Options.CheckpointDir.
const (
	// CheckpointModel holds the model's parameters and BatchNorm buffers
	// (clip.Model.Save, loadable with clip.LoadWith).
	CheckpointModel = "model.safetensors"
	// CheckpointOptimizer holds both AdamW groups' moments and step counts.
	CheckpointOptimizer = "optimizer.safetensors"
	// CheckpointState is the JSON State, written last.
	CheckpointState = "state.json"
)

// State is the JSON part of a checkpoint. All random streams derive from
// Seed and the step number, so Seed and Step are the whole generator
// state.
type State struct {
	Step      int          `json:"step"` // steps completed
	Steps     int          `json:"steps"`
	BatchSize int          `json:"batch_size"`
	Seed      uint64       `json:"seed"`
	Pairs     int          `json:"pairs"`
	Config    clip.Config  `json:"config"`
	History   []StepStats  `json:"history"`
	Evals     []EvalRecord `json:"evals,omitempty"`
}

// save writes the model, the optimiser state and the JSON state, each
// atomically; the JSON goes last and the step is recorded in all three,
// so a crash in between is detected on load.
func (t *trainer) save() error {
	dir := t.opt.CheckpointDir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return errors.Wrapf(err, "pretrain: creating checkpoint directory %s", dir)
	}
	step := strconv.Itoa(t.st.Step)
	if err := t.m.Save(filepath.Join(dir, CheckpointModel), map[string]string{"step": step}); err != nil {
		return errors.Wrap(err, "pretrain: checkpoint")
	}
	ts := map[string]*tensor.Tensor{}
	for k, v := range t.decay.State() {
		ts["decay."+k] = v
	}
	for k, v := range t.noDecay.State() {
		ts["no_decay."+k] = v
	}
	if err := checkpoint.WriteSafetensors(filepath.Join(dir, CheckpointOptimizer), ts, nil, map[string]string{"step": step}); err != nil {
		return errors.Wrap(err, "pretrain: checkpoint")
	}
	js, err := json.MarshalIndent(&t.st, "", " ")
	if err != nil {
		return errors.Wrap(err, "pretrain: encoding checkpoint state")
	}
	return atomicfile.Write(filepath.Join(dir, CheckpointState), js)
}

// load restores the checkpoint in CheckpointDir; it reports false when
// there is none (no state file).
func (t *trainer) load() (bool, error) {
	dir := t.opt.CheckpointDir
	statePath := filepath.Join(dir, CheckpointState)
	js, err := os.ReadFile(statePath)
	if os.IsNotExist(err) {
		return false, nil
	}
	if err != nil {
		return false, errors.Wrapf(err, "pretrain: reading checkpoint state %s", statePath)
	}
	var st State
	if err := json.Unmarshal(js, &st); err != nil {
		return false, errors.Wrapf(err, "pretrain: checkpoint state %s", statePath)
	}
	if st.Step < 0 || st.Step > t.opt.Steps || len(st.History) != st.Step {
		return false, errors.Errorf("pretrain: checkpoint state %s: step %d with %d history entries (run of %d steps)", statePath, st.Step, len(st.History), t.opt.Steps)
	}
	if st.Seed != t.opt.Seed || st.BatchSize != t.opt.BatchSize || st.Pairs != t.pairs.Len() || st.Steps != t.opt.Steps {
		return false, errors.Errorf("pretrain: checkpoint in %s is for seed %d, batch %d, %d pairs, %d steps; this run has seed %d, batch %d, %d pairs, %d steps",
			dir, st.Seed, st.BatchSize, st.Pairs, st.Steps, t.opt.Seed, t.opt.BatchSize, t.pairs.Len(), t.opt.Steps)
	}
	modelPath := filepath.Join(dir, CheckpointModel)
	msd, err := checkpoint.Load(modelPath)
	if err != nil {
		return false, errors.Wrap(err, "pretrain: checkpoint model")
	}
	m, err := clip.FromStateDictWith(msd.Tensors, clip.Options{VisionHeads: st.Config.VisionHeads, TransformerHeads: st.Config.TransformerHeads})
	if err != nil {
		return false, errors.Wrapf(err, "pretrain: checkpoint model %s", modelPath)
	}
	if !reflect.DeepEqual(m.Config, st.Config) {
		return false, errors.Errorf("pretrain: checkpoint model %s has architecture %+v, the state says %+v", modelPath, m.Config, st.Config)
	}
	if m.Config.VocabSize != t.tok.VocabSize() {
		return false, errors.Errorf("pretrain: checkpoint model %s has a vocabulary of %d, the tokenizer %d", modelPath, m.Config.VocabSize, t.tok.VocabSize())
	}
	optPath := filepath.Join(dir, CheckpointOptimizer)
	sd, err := checkpoint.Load(optPath)
	if err != nil {
		return false, errors.Wrap(err, "pretrain: checkpoint optimizer")
	}
	want := strconv.Itoa(st.Step)
	if sd.Metadata["step"] != want || msd.Metadata["step"] != want {
		return false, errors.Errorf("pretrain: checkpoint in %s is inconsistent: state at step %s, model at step %q, optimizer at step %q (a save was interrupted; delete the directory or resume from a copy)",
			dir, want, msd.Metadata["step"], sd.Metadata["step"])
	}
	m.SetTrainable(true)
	t.m = m
	t.st = st
	t.newOptimizers()
	dec, nodec := map[string]*tensor.Tensor{}, map[string]*tensor.Tensor{}
	for k, v := range sd.Tensors {
		switch {
		case strings.HasPrefix(k, "decay."):
			dec[strings.TrimPrefix(k, "decay.")] = v
		case strings.HasPrefix(k, "no_decay."):
			nodec[strings.TrimPrefix(k, "no_decay.")] = v
		default:
			return false, errors.Errorf("pretrain: checkpoint optimizer %s: unexpected tensor %q", optPath, k)
		}
	}
	if err := t.decay.LoadState(dec); err != nil {
		return false, errors.Wrapf(err, "pretrain: checkpoint optimizer %s (decayed group)", optPath)
	}
	if err := t.noDecay.LoadState(nodec); err != nil {
		return false, errors.Wrapf(err, "pretrain: checkpoint optimizer %s (undecayed group)", optPath)
	}
	return true, nil
}
