package softcpt

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/autograd"
	"github.com/softcpt/softcpt-go/clip/checkpoint"
	"github.com/softcpt/softcpt-go/internal/atomicfile"
	"github.com/softcpt/softcpt-go/optim"
	"github.com/softcpt/softcpt-go/tensor"
)

// TrainOptions are the trainer's settings; Defaults returns the paper's.
type TrainOptions struct {
	Epochs       int     // MAX_EPOCH (50)
	BatchSize    int     // 32, drop-last
	LR           float64 // 0.002
	Momentum     float64 // 0.9
	WeightDecay  float64 // 5e-4
	WarmupEpochs int     // 1 constant warm-up epoch ...
	WarmupLR     float64 // ... at 1e-5
	// RepeatSteps reproduces the authors' MTCoOp quirk (softcpt.md §3.2):
	// the optimiser steps RepeatSteps times on each gradient and the
	// schedule advances RepeatSteps times per epoch. 0 or 1 is off (the
	// default); the authors' runs had 3 (NA variants) or 4 (CA/CS).
	RepeatSteps int
	// Augment re-encodes the training images every epoch with CoOp's
	// random resized crop and flip; without it, image features are
	// computed once and cached.
	Augment bool
	// Seed drives batch order, augmentation and class sampling.
	Seed uint64
	// CheckpointDir, when set, receives an atomic checkpoint after every
	// epoch; with Resume, training continues from the last one there,
	// which must come from a run of the same method configuration,
	// training examples, seed and training settings (epochs, batch size,
	// learning rates, optimiser, augmentation); anything else is an
	// error.
	CheckpointDir string
	Resume        bool
	// Log receives one line per epoch (and Progress per step) when set.
	Log      func(format string, args ...any)           `json:"-"`
	Progress func(epoch, step, steps int, loss float64) `json:"-"`
}

// Defaults returns the paper's training settings (softcpt.md §3.1).
func Defaults() TrainOptions {
	return TrainOptions{Epochs: 50, BatchSize: 32, LR: 0.002, Momentum: 0.9, WeightDecay: 5e-4, WarmupEpochs: 1, WarmupLR: 1e-5, Seed: 1}
}

// Schedule returns the learning-rate schedule of the options: cosine
// annealing over Epochs after a constant warm-up, advanced RepeatSteps
// times per epoch when the quirk is on.
func (o TrainOptions) Schedule() optim.Schedule {
	var s optim.Schedule = optim.ConstantWarmup{
		WarmupEpochs: o.WarmupEpochs, WarmupLR: o.WarmupLR,
		After: optim.CosineAnnealing{BaseLR: o.LR, TMax: o.Epochs},
	}
	if o.RepeatSteps > 1 {
		s = optim.Repeated{Inner: s, Times: o.RepeatSteps}
	}
	return s
}

// EpochStats summarises one training epoch.
type EpochStats struct {
	Epoch    int     `json:"epoch"`
	Loss     float64 `json:"loss"`
	Accuracy float64 `json:"accuracy"` // within-task training accuracy, percent
	LR       float64 `json:"lr"`
	Seconds  float64 `json:"seconds"`
}

// trainState is the JSON half of a checkpoint.
type trainState struct {
	Method    string       `json:"method"`
	Epoch     int          `json:"epoch"` // epochs completed
	OptSteps  int          `json:"optimizer_steps"`
	History   []EpochStats `json:"history"`
	Examples  int          `json:"examples"`
	Seed      uint64       `json:"seed"`
	Completed bool         `json:"completed"`
	// Config is the method's configuration and Settings the options that
	// shape the run's trajectory (both absent from checkpoints of earlier
	// versions, which are not checked against them).
	Config   *Config        `json:"config,omitempty"`
	Settings *TrainSettings `json:"settings,omitempty"`
	// note reports a folder left by an interrupted save (see ckptNext).
	note string
}

// TrainSettings are the training options that shape a run's trajectory,
// which a resumed run must share with its checkpoint's: with any other
// epochs, batch size, learning rates, schedule, optimiser or augmentation
// it would not continue the same trajectory. The JSON keys are the flags
// of 'softcpt train' with "_" for "-" (a sweep's cells use them too).
type TrainSettings struct {
	Epochs       int     `json:"epochs"`
	BatchSize    int     `json:"batch_size"`
	LR           float64 `json:"lr"`
	Momentum     float64 `json:"momentum"`
	WeightDecay  float64 `json:"weight_decay"`
	WarmupEpochs int     `json:"warmup_epochs"`
	WarmupLR     float64 `json:"warmup_lr"`
	RepeatSteps  int     `json:"repeat_steps"`
	Augment      bool    `json:"augment"`
}

// Settings returns the options' TrainSettings.
func (o TrainOptions) Settings() TrainSettings {
	return TrainSettings{Epochs: o.Epochs, BatchSize: o.BatchSize, LR: o.LR, Momentum: o.Momentum,
		WeightDecay: o.WeightDecay, WarmupEpochs: o.WarmupEpochs, WarmupLR: o.WarmupLR,
		RepeatSteps: o.RepeatSteps, Augment: o.Augment}
}

// Apply returns o with the settings s.
func (s TrainSettings) Apply(o TrainOptions) TrainOptions {
	o.Epochs, o.BatchSize, o.LR, o.Momentum, o.WeightDecay = s.Epochs, s.BatchSize, s.LR, s.Momentum, s.WeightDecay
	o.WarmupEpochs, o.WarmupLR, o.RepeatSteps, o.Augment = s.WarmupEpochs, s.WarmupLR, s.RepeatSteps, s.Augment
	return o
}

// settingsOf returns the settings a checkpoint records (RepeatSteps 0 and
// 1 both mean off).
func settingsOf(opt TrainOptions) *TrainSettings {
	s := opt.Settings()
	s.RepeatSteps = max(1, s.RepeatSteps)
	return &s
}

// Stepper takes optimiser steps of a prompt learner on batches of cached image features.
type Stepper interface {
	// SetLR sets the learning rate of the following steps.
	SetLR(lr float64)
	// Step runs one step and returns the batch's loss and number of
	// correct predictions, both before the update. A NaN or Inf loss
	// leaves the trained tensors as they were.
	Step(b Batch) (loss float64, correct int, err error)
	// Snapshot returns copies of the trained tensors and of the SGD
	// momentum buffers, both named as in Learner.State (no buffers
	// without momentum or before the first step).
	Snapshot() (params, momentum map[string]*tensor.Tensor, err error)
	// Restore replaces the trained tensors and the momentum buffers (a
	// parameter without one starts a new buffer, as in optim.SGD) and
	// sets the number of optimiser steps taken, as resuming from a
	// checkpoint does.
	Restore(params, momentum map[string]*tensor.Tensor, steps int) error
}

// Train fits the learner's prompts on the training examples with mixed
// task batches (random order, drop-last), the per-task cross-entropy
// loss, SGD and the warm-up + cosine schedule. It returns per-epoch
// statistics. A NaN or Inf loss stops training with an error naming the
// epoch and step. Cancelling ctx stops after the current step; the last
// completed epoch's checkpoint remains.
func Train(ctx context.Context, l *Learner, f *Featurizer, train []Example, opt TrainOptions) ([]EpochStats, error) {
	if len(train) == 0 {
		return nil, errors.New("softcpt.Train: no training examples")
	}
	if opt.Augment {
		return trainLoop(ctx, l, newLearnerStep(l, opt), train, opt, func(epoch int) (*tensor.Tensor, error) {
			feats, err := f.Features(ctx, train, true, opt.Seed*1_000_003+uint64(epoch))
			return feats, errors.Wrapf(err, "epoch %d: encoding augmented images", epoch+1)
		})
	}
	feats, err := f.Features(ctx, train, false, 0)
	if err != nil {
		return nil, errors.Wrap(err, "encoding training images")
	}
	return TrainFeatures(ctx, l, feats, train, opt)
}

// TrainFeatures is Train on precomputed image features [len(train), E]
// (frozen image tower, no augmentation): feature extraction is done once
// by the caller, for example with Featurizer.Features.
func TrainFeatures(ctx context.Context, l *Learner, feats *tensor.Tensor, train []Example, opt TrainOptions) ([]EpochStats, error) {
	if len(train) == 0 || feats.NDim() != 2 || feats.Dim(0) != len(train) || feats.Dim(1) != l.model.Config.EmbedDim {
		return nil, errors.Errorf("softcpt.TrainFeatures: features %v for %d examples (embedding %d)", feats.Shape(), len(train), l.model.Config.EmbedDim)
	}
	return trainLoop(ctx, l, newLearnerStep(l, opt), train, opt, func(int) (*tensor.Tensor, error) { return feats, nil })
}

// TrainWith is TrainFeatures with the steps taken by st (for example a
// GPU's step, which holds its own copy of the trained tensors): the same
// batches, learning rates, statistics, log lines and checkpoints (either
// trainer resumes the other's). The trained state is loaded into l at
// the end and before every checkpoint. RepeatSteps > 1 is not supported.
func TrainWith(ctx context.Context, l *Learner, st Stepper, feats *tensor.Tensor, train []Example, opt TrainOptions) ([]EpochStats, error) {
	if len(train) == 0 || feats.NDim() != 2 || feats.Dim(0) != len(train) {
		return nil, errors.Errorf("training features %v for %d examples", feats.Shape(), len(train))
	}
	if opt.RepeatSteps > 1 {
		return nil, errors.Errorf("%s: --repeat-steps %d is not supported on the device", l.Cfg.Name, opt.RepeatSteps)
	}
	return trainLoop(ctx, l, st, train, opt, func(int) (*tensor.Tensor, error) { return feats, nil })
}

// learnerStep is the Stepper of the autograd learner itself: its loss
// and gradients, optim.SGD (stepped RepeatSteps times per gradient) and
// an arena for the step's activations.
type learnerStep struct {
	l      *Learner
	sgd    *optim.SGD
	repeat int
	arena  *tensor.Arena
	rng    *rand.Rand // the epoch's generator (class sampling)
}

func newLearnerStep(l *Learner, opt TrainOptions) *learnerStep {
	return &learnerStep{l: l, sgd: &optim.SGD{Params: l.Parameters(), LR: opt.LR, Momentum: opt.Momentum, WeightDecay: opt.WeightDecay},
		repeat: max(1, opt.RepeatSteps), arena: tensor.NewArena()}
}

func (s *learnerStep) SetLR(lr float64)          { s.sgd.LR = lr }
func (s *learnerStep) startEpoch(rng *rand.Rand) { s.rng = rng }

func (s *learnerStep) Step(b Batch) (float64, int, error) {
	// The step's activations and gradients come from the arena and are
	// recycled after the update: a step of a fixed shape allocates no
	// large buffers after the first one. The optimiser runs outside it
	// (its momentum buffers persist).
	var lv float64
	var c int
	s.arena.Do(func() {
		loss, correct := s.l.Loss(b, s.rng)
		lv, c = float64(loss.Value.Item()), correct
		if !math.IsNaN(lv) && !math.IsInf(lv, 0) {
			s.sgd.ZeroGrad()
			loss.Backward()
		}
	})
	if math.IsNaN(lv) || math.IsInf(lv, 0) {
		s.arena.Reset()
		return lv, c, nil
	}
	for k := 0; k < s.repeat; k++ {
		s.sgd.Step()
	}
	s.sgd.ZeroGrad()
	s.arena.Reset()
	return lv, c, nil
}

func (s *learnerStep) Snapshot() (params, momentum map[string]*tensor.Tensor, err error) {
	params, momentum = map[string]*tensor.Tensor{}, map[string]*tensor.Tensor{}
	for k, v := range s.l.State() {
		params[k] = v.Clone()
	}
	st := s.sgd.State()
	for i, p := range s.sgd.Params {
		if b, ok := st[momentumKey(i)]; ok {
			momentum[p.Name] = b
		}
	}
	return params, momentum, nil
}

func (s *learnerStep) Restore(params, momentum map[string]*tensor.Tensor, steps int) error {
	if err := s.l.LoadState(params); err != nil {
		return err
	}
	st := map[string]*tensor.Tensor{"steps": tensor.Scalar(float32(steps))}
	for i, p := range s.sgd.Params {
		if b, ok := momentum[p.Name]; ok {
			st[momentumKey(i)] = b
		}
	}
	return s.sgd.LoadState(st)
}

// trainLoop is the one training loop: per epoch a generator seeded with
// Seed·7919 + epoch + 17 permutes the examples into drop-last batches of
// BatchSize (one short batch when there are fewer examples), st steps on
// each at the epoch's learning rate (opt.Schedule), a NaN or Inf loss
// stops training, and every epoch is logged and checkpointed
// (SaveTrainCheckpoint); with Resume training continues from the
// checkpoint there (LoadTrainCheckpoint). features returns the epoch's
// image features [len(train), E].
func trainLoop(ctx context.Context, l *Learner, st Stepper, train []Example, opt TrainOptions, features func(epoch int) (*tensor.Tensor, error)) ([]EpochStats, error) {
	bs := opt.BatchSize
	if bs <= 0 {
		bs = 32
	}
	checked := opt
	checked.BatchSize = bs
	if err := checked.Validate(); err != nil {
		return nil, err
	}
	var ck TrainCheckpoint
	if opt.CheckpointDir != "" && opt.Resume {
		saved, err := LoadTrainCheckpoint(opt.CheckpointDir, l, len(train), opt)
		if err != nil {
			return nil, err
		}
		if saved != nil {
			if err := st.Restore(l.State(), saved.Momentum, saved.Steps); err != nil {
				return nil, errors.Wrapf(err, "%s: resuming from the checkpoint in %s", l.Cfg.Name, opt.CheckpointDir)
			}
			ck = *saved
		}
	}
	sched := opt.Schedule()
	repeat := max(1, opt.RepeatSteps)
	for epoch := ck.Epoch; epoch < opt.Epochs; epoch++ {
		start := time.Now()
		lr := sched.LR(epoch)
		st.SetLR(lr)
		feats, err := features(epoch)
		if err != nil {
			return ck.History, err
		}
		E := feats.Dim(1)
		fd := feats.Contiguous().Data()
		// The batch order depends only on (seed, epoch), so a resumed run
		// sees the same batches as an uninterrupted one.
		rng := tensor.NewRNG(opt.Seed*7919 + uint64(epoch) + 17)
		order := rng.Perm(len(train))
		if e, ok := st.(interface{ startEpoch(*rand.Rand) }); ok {
			e.startEpoch(rng)
		}
		steps := len(train) / bs
		if steps == 0 { // fewer examples than one batch: one short batch
			steps, bs = 1, len(train)
		}
		var lossSum float64
		correct, seen := 0, 0
		for s := 0; s < steps; s++ {
			if err := ctx.Err(); err != nil {
				return ck.History, errors.Wrapf(err, "interrupted in epoch %d", epoch+1)
			}
			idx := order[s*bs : (s+1)*bs]
			b := Batch{Features: tensor.New(len(idx), E), Tasks: make([]int, len(idx)), Labels: make([]int, len(idx))}
			bd := b.Features.Data()
			for i, j := range idx {
				copy(bd[i*E:(i+1)*E], fd[j*E:(j+1)*E])
				b.Tasks[i], b.Labels[i] = train[j].Task, train[j].Label
			}
			lv, c, err := st.Step(b)
			if err != nil {
				return ck.History, errors.Wrapf(err, "%s: epoch %d, step %d", l.Cfg.Name, epoch+1, s+1)
			}
			if math.IsNaN(lv) || math.IsInf(lv, 0) {
				return ck.History, errors.Errorf("%s: loss is %v at epoch %d, step %d", l.Cfg.Name, lv, epoch+1, s+1)
			}
			lossSum += lv
			correct += c
			seen += len(idx)
			if opt.Progress != nil {
				opt.Progress(epoch+1, s+1, steps, lv)
			}
		}
		es := EpochStats{Epoch: epoch + 1, Loss: lossSum / float64(steps), Accuracy: 100 * float64(correct) / float64(seen),
			LR: lr, Seconds: time.Since(start).Seconds()}
		ck.History = append(ck.History, es)
		ck.Epoch = epoch + 1
		ck.Steps += steps * repeat
		if opt.Log != nil {
			opt.Log("%s epoch %d/%d loss %.4f acc %.1f%% lr %.3g (%.1fs)", l.Cfg.Name, es.Epoch, opt.Epochs, es.Loss, es.Accuracy, es.LR, es.Seconds)
		}
		if opt.CheckpointDir != "" {
			params, momentum, err := st.Snapshot()
			if err != nil {
				return ck.History, errors.Wrapf(err, "%s: epoch %d: downloading the checkpoint", l.Cfg.Name, epoch+1)
			}
			if err := l.LoadState(params); err != nil {
				return ck.History, errors.Wrapf(err, "%s: epoch %d: the device's trained state", l.Cfg.Name, epoch+1)
			}
			ck.Momentum = momentum
			if err := SaveTrainCheckpoint(opt.CheckpointDir, l, len(train), opt, ck); err != nil {
				return ck.History, err
			}
		}
	}
	state, _, err := st.Snapshot()
	if err != nil {
		return ck.History, err
	}
	if err := l.LoadState(state); err != nil {
		return ck.History, errors.Wrap(err, "loading the trained state into the learner")
	}
	return ck.History, nil
}

// Checkpoint file names inside a checkpoint directory.
const (
	ckptTensors = "checkpoint.safetensors"
	ckptState   = "checkpoint.json"
)

// saveCheckpoint writes the learner's tensors and the optimiser state
// optState (optim.SGD.State's names) as safetensors and the training state
// as JSON, so that the folder holds one consistent generation whenever the
// process is killed (see ckptNext): new tensors beside the old ones, then
// the JSON manifest (the commit point), then the tensors' rename.
func saveCheckpoint(dir string, l *Learner, optState map[string]*tensor.Tensor, st *trainState) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return errors.Wrapf(err, "creating checkpoint directory %s", dir)
	}
	removeStaleTemps(dir)
	ts := map[string]*tensor.Tensor{}
	for k, v := range l.State() {
		ts["learner."+k] = v
	}
	for k, v := range optState {
		ts["optimizer."+k] = v
	}
	md := map[string]string{"epoch": fmt.Sprint(st.Epoch), "method": st.Method}
	next := filepath.Join(dir, ckptNext)
	if err := checkpoint.WriteSafetensors(next, ts, nil, md); err != nil {
		return errors.Wrapf(err, "writing checkpoint in %s", dir)
	}
	if ckptHook != nil {
		ckptHook("tensors")
	}
	js, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return errors.Wrap(err, "encoding checkpoint state")
	}
	if err := atomicfile.Write(filepath.Join(dir, ckptState), js); err != nil {
		return err
	}
	if ckptHook != nil {
		ckptHook("manifest")
	}
	if err := os.Rename(next, filepath.Join(dir, ckptTensors)); err != nil {
		return errors.Wrapf(err, "writing checkpoint in %s", dir)
	}
	syncDir(dir)
	return nil
}

// loadCheckpoint restores a checkpoint if dir holds one that accept
// accepts (its error is returned otherwise, before anything is loaded);
// it reports whether it did.
func loadCheckpoint(dir string, l *Learner, sgd *optim.SGD, st *trainState, accept func(*trainState) error) (bool, error) {
	ok, s, err := readCheckpoint(dir, l, sgd, accept)
	if !ok || err != nil {
		return false, err
	}
	sgd.Steps = s.OptSteps
	*st = s
	return true, nil
}

// readCheckpoint reads the checkpoint in dir, if there is one (ok), and
// returns its training state. Unless accept rejects that state, it loads
// the optimiser tensors into sgd and the learner tensors into l. A folder
// left by an interrupted save resumes from its last consistent
// generation, with a note (trainState.note) for accept to log.
func readCheckpoint(dir string, l *Learner, sgd *optim.SGD, accept func(*trainState) error) (ok bool, st trainState, err error) {
	js, err := os.ReadFile(filepath.Join(dir, ckptState))
	if os.IsNotExist(err) {
		return false, st, nil
	}
	if err != nil {
		return false, st, errors.Wrapf(err, "reading checkpoint state in %s", dir)
	}
	if err := json.Unmarshal(js, &st); err != nil {
		return false, st, errors.Wrapf(err, "checkpoint state %s", filepath.Join(dir, ckptState))
	}
	sd, path, note, terr := ckptTensorsFor(dir, st.Epoch)
	st.note = note
	if err := accept(&st); err != nil {
		return false, st, err
	}
	if terr != nil {
		return false, st, terr
	}
	rollForward(dir, path)
	learner, opt := map[string]*tensor.Tensor{}, map[string]*tensor.Tensor{}
	for k, v := range sd.Tensors {
		switch {
		case len(k) > 8 && k[:8] == "learner.":
			learner[k[8:]] = v
		case len(k) > 10 && k[:10] == "optimizer.":
			opt[k[10:]] = v
		}
	}
	if err := sgd.LoadState(opt); err != nil {
		return false, st, errors.Wrapf(err, "checkpoint %s", path)
	}
	if err := l.LoadState(learner); err != nil {
		return false, st, errors.Wrapf(err, "checkpoint %s", path)
	}
	return true, st, nil
}

// check reports a checkpoint of another run: another method or method
// configuration (CTX_INIT, context lengths, ...), number of training
// examples, seed or training settings (epochs, batch size, learning
// rates, ...).
func (st *trainState) check(dir string, l *Learner, examples int, opt TrainOptions) error {
	if err := st.mismatch(dir, l, examples, opt); err != nil {
		return err
	}
	if st.note != "" && opt.Log != nil {
		opt.Log("%s", st.note)
	}
	return nil
}

// mismatch is check without the log.
func (st *trainState) mismatch(dir string, l *Learner, examples int, opt TrainOptions) error {
	if st.Examples != examples || st.Seed != opt.Seed || st.Method != l.Cfg.Name {
		return errors.Errorf("checkpoint in %s is for %s with %d examples and seed %d, not %s with %d and %d",
			dir, st.Method, st.Examples, st.Seed, l.Cfg.Name, examples, opt.Seed)
	}
	if st.Config != nil && *st.Config != l.Cfg {
		type fields Config // every field, not Config.String's summary
		return errors.Errorf("checkpoint in %s is for %s configured as %+v, not %+v", dir, st.Method, fields(*st.Config), fields(l.Cfg))
	}
	if want := settingsOf(opt); st.Settings != nil && *st.Settings != *want {
		return errors.Errorf("checkpoint in %s was trained with %+v, not %+v (use another output directory for other settings)", dir, *st.Settings, *want)
	}
	return nil
}

// momentumKey is optim.SGD.State's name of the momentum buffer of parameter
// i (the checkpoint stores it under "optimizer." + this name).
func momentumKey(i int) string { return "momentum_buffer." + strconv.Itoa(i) }

// TrainCheckpoint is what a training checkpoint holds besides the
// learner's tensors, for a trainer outside this package (a GPU's step)
// that writes and resumes the checkpoints of Train and TrainFeatures:
// the same files, so either trainer resumes the other's.
type TrainCheckpoint struct {
	// Epoch is the number of completed epochs; History holds their
	// statistics.
	Epoch   int
	History []EpochStats
	// Steps is the number of optimiser steps taken.
	Steps int
	// Momentum holds the SGD momentum buffers by the name of their
	// parameter (Learner.State's names). A parameter without one (no
	// momentum, or no step yet) starts a new buffer on its next step, as
	// in optim.SGD.
	Momentum map[string]*tensor.Tensor
}

// SaveTrainCheckpoint writes the checkpoint of a run of opt on examples
// training examples after ck.Epoch epochs to dir, as Train does after
// every epoch: l holds the trained tensors, ck the optimiser's state and
// the history. Both files are written atomically, the state last.
func SaveTrainCheckpoint(dir string, l *Learner, examples int, opt TrainOptions, ck TrainCheckpoint) error {
	params := l.Parameters()
	optState := map[string]*tensor.Tensor{"steps": tensor.Scalar(float32(ck.Steps))}
	for name, b := range ck.Momentum {
		i := slices.IndexFunc(params, func(p *autograd.Var) bool { return p.Name == name })
		if i < 0 {
			return errors.Errorf("checkpoint in %s: momentum buffer for %q, which %s does not train", dir, name, l.Cfg.Name)
		}
		optState[momentumKey(i)] = b
	}
	// optim.SGD checks the buffers' shapes against the parameters.
	if err := (&optim.SGD{Params: params}).LoadState(optState); err != nil {
		return errors.Wrapf(err, "checkpoint in %s", dir)
	}
	st := trainState{Method: l.Cfg.Name, Epoch: ck.Epoch, OptSteps: ck.Steps, History: ck.History,
		Examples: examples, Seed: opt.Seed, Completed: ck.Epoch == opt.Epochs, Config: &l.Cfg, Settings: settingsOf(opt)}
	return saveCheckpoint(dir, l, optState, &st)
}

// LoadTrainCheckpoint restores the checkpoint in dir (written by Train or
// SaveTrainCheckpoint) for a run of opt on examples training examples: it
// loads the learner's tensors into l and returns the rest, or nil when dir
// holds no checkpoint. A checkpoint that cannot be read, is inconsistent,
// belongs to another method, method configuration (Config), number of
// examples or seed, or whose tensors do not fit l is an error naming the
// directory or file; l is loaded only from a checkpoint of the same run.
func LoadTrainCheckpoint(dir string, l *Learner, examples int, opt TrainOptions) (*TrainCheckpoint, error) {
	params := l.Parameters()
	sgd := &optim.SGD{Params: params}
	accept := func(st *trainState) error { return st.check(dir, l, examples, opt) }
	ok, st, err := readCheckpoint(dir, l, sgd, accept)
	if !ok || err != nil {
		return nil, err
	}
	optState := sgd.State()
	ck := &TrainCheckpoint{Epoch: st.Epoch, History: st.History, Steps: st.OptSteps, Momentum: map[string]*tensor.Tensor{}}
	for i, p := range params {
		if b, ok := optState[momentumKey(i)]; ok {
			ck.Momentum[p.Name] = b
		}
	}
	return ck, nil
}

// LoadCheckpoint restores the learned prompts of a training checkpoint
// directory (written by Train with CheckpointDir) into l and returns the
// number of completed epochs. It fails, naming the directory, when there is
// no checkpoint, when it belongs to another method, or when the tensors do
// not fit l.
func LoadCheckpoint(dir string, l *Learner) (int, error) {
	sgd := &optim.SGD{Params: l.Parameters()}
	var st trainState
	ok, err := loadCheckpoint(dir, l, sgd, &st, func(s *trainState) error {
		if s.Method != l.Cfg.Name {
			return errors.Errorf("checkpoint in %s is for %s, not %s", dir, s.Method, l.Cfg.Name)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, errors.Errorf("no training checkpoint in %s", dir)
	}
	return st.Epoch, nil
}
