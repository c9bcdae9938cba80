package main

import (
	"context"
	"flag"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/kernels"
	"github.com/softcpt/softcpt-go/optim"
	"github.com/softcpt/softcpt-go/softcpt"
	"github.com/softcpt/softcpt-go/tensor"
)

// deviceFlag is the --device flag of the commands that run CLIP.
type deviceFlag string

func (d *deviceFlag) register(fs *flag.FlagSet) {
	*d = "cpu"
	fs.StringVar((*string)(d), "device", "cpu", "where CLIP runs: cpu, or cuda (GPU 0) / cuda:N; cuda needs a binary built with -tags cuda (scripts/setup-cuda.sh)")
}

// parseDevice parses a --device value: "cpu" (or empty), "cuda" or
// "cuda:N". It returns whether the device is a GPU and its ordinal.
func parseDevice(s string) (gpu bool, ordinal int, err error) {
	s = strings.ToLower(strings.TrimSpace(s))
	switch {
	case s == "" || s == "cpu":
		return false, 0, nil
	case s == "cuda" || s == "gpu":
		return true, 0, nil
	case strings.HasPrefix(s, "cuda:"):
		n, err := strconv.Atoi(s[len("cuda:"):])
		if err != nil || n < 0 {
			return false, 0, errors.Errorf("--device %q: want cuda:N with a device number N >= 0", s)
		}
		return true, n, nil
	}
	return false, 0, errors.Errorf("--device %q: want cpu, cuda or cuda:N", s)
}

// backend runs the frozen CLIP of an experiment: image and text
// encoding, and training on cached image features. The CPU backend is
// clip.Model and the softcpt package; the CUDA backend (device_cuda.go,
// build tag cuda) runs the towers and the training steps of SoftCPT-NATA,
// SoftCPT-NATS and the CoOp baselines on a GPU and hands the rest to the
// CPU.
type backend interface {
	// String names the device for log lines.
	String() string
	// encodeImages returns the image features [N, E] of preprocessed
	// images [N, 3, R, R].
	encodeImages(pix *tensor.Tensor) (*tensor.Tensor, error)
	// encodeTexts returns the text features [batch, E] of token ids
	// [batch, length], as clip.Model.EncodeText.
	encodeTexts(ids []int, batch, length int) (*tensor.Tensor, error)
	// imageFeatures returns the frozen image features (CLIP's test
	// transform) of exs; f holds the batch size and decoding workers.
	imageFeatures(ctx context.Context, f *softcpt.Featurizer, exs []softcpt.Example) (*tensor.Tensor, error)
	// zeroShotFeatures is softcpt.ZeroShotFeatures on the device.
	zeroShotFeatures(tok softcpt.Tokenizer, tasks []softcpt.TaskSpec, templates [][]string) (*tensor.Tensor, error)
	// trainFeatures is softcpt.TrainFeatures on the device: l (built
	// with the backend's model and tok) ends up with the trained state.
	trainFeatures(ctx context.Context, l *softcpt.Learner, tok softcpt.Tokenizer, feats *tensor.Tensor, train []softcpt.Example, opt softcpt.TrainOptions) ([]softcpt.EpochStats, error)
	// close releases the device.
	close()
}

// openBackend opens the backend of a --device value for model m.
func openBackend(device string, m *clip.Model) (backend, error) {
	gpu, ordinal, err := parseDevice(device)
	if err != nil {
		return nil, err
	}
	if !gpu {
		return cpuBackend{m}, nil
	}
	b, err := openCUDA(ordinal, m)
	if err != nil {
		return nil, errors.Wrapf(err, "--device %s", device)
	}
	logf("CLIP on %s", b)
	return b, nil
}

// cpuBackend is clip.Model and the softcpt package on the CPU.
type cpuBackend struct{ m *clip.Model }

func (cpuBackend) String() string { return "cpu" }
func (cpuBackend) close()         {}

func (b cpuBackend) encodeImages(pix *tensor.Tensor) (*tensor.Tensor, error) {
	return b.m.EncodeImage(pix), nil
}

func (b cpuBackend) encodeTexts(ids []int, batch, length int) (*tensor.Tensor, error) {
	return b.m.EncodeText(ids, batch, length), nil
}

func (b cpuBackend) imageFeatures(ctx context.Context, f *softcpt.Featurizer, exs []softcpt.Example) (*tensor.Tensor, error) {
	return f.Features(ctx, exs, false, 0)
}

func (b cpuBackend) zeroShotFeatures(tok softcpt.Tokenizer, tasks []softcpt.TaskSpec, templates [][]string) (*tensor.Tensor, error) {
	return softcpt.ZeroShotFeatures(b.m, nil, tok, tasks, templates)
}

func (b cpuBackend) trainFeatures(ctx context.Context, l *softcpt.Learner, _ softcpt.Tokenizer, feats *tensor.Tensor, train []softcpt.Example, opt softcpt.TrainOptions) ([]softcpt.EpochStats, error) {
	return softcpt.TrainFeatures(ctx, l, feats, train, opt)
}

// encodeTextsWith is softcpt.EncodeTexts with another text encoder: texts
// are tokenized ([SOT] ids [EOT], zero-padded to the longest of a chunk)
// and encoded 256 at a time.
func encodeTextsWith(encode func(ids []int, batch, length int) (*tensor.Tensor, error), contextLength, embed int, tok softcpt.Tokenizer, texts []string) (*tensor.Tensor, error) {
	out := tensor.New(len(texts), embed)
	const chunk = 256
	for s := 0; s < len(texts); s += chunk {
		part := texts[s:min(len(texts), s+chunk)]
		var seqs [][]int
		L := 0
		for _, txt := range part {
			ids := append(append([]int{tok.SOT()}, tok.Encode(txt)...), tok.EOT())
			if len(ids) > contextLength {
				return nil, errors.Errorf("text %q needs %d tokens, more than the context length %d", txt, len(ids), contextLength)
			}
			seqs = append(seqs, ids)
			L = max(L, len(ids))
		}
		flat := make([]int, len(part)*L)
		for i, ids := range seqs {
			copy(flat[i*L:], ids)
		}
		f, err := encode(flat, len(part), L)
		if err != nil {
			return nil, err
		}
		copy(out.Data()[s*embed:], f.Data())
	}
	return out, nil
}

// zeroShotWith is softcpt.ZeroShotFeatures with another text encoder:
// each class's features under every template of its task are
// L2-normalised and averaged, then normalised again.
func zeroShotWith(encode func(ids []int, batch, length int) (*tensor.Tensor, error), cfg clip.Config, tok softcpt.Tokenizer, tasks []softcpt.TaskSpec, templates [][]string) (*tensor.Tensor, error) {
	if len(templates) != len(tasks) {
		return nil, errors.Errorf("%d template lists for %d tasks", len(templates), len(tasks))
	}
	E := cfg.EmbedDim
	var rows [][]float32
	for t, ts := range tasks {
		if len(templates[t]) == 0 {
			return nil, errors.Errorf("task %q has no zero-shot template", ts.Name)
		}
		acc := make([][]float32, len(ts.Classes))
		for i := range acc {
			acc[i] = make([]float32, E)
		}
		for _, tmpl := range templates[t] {
			texts := make([]string, len(ts.Classes))
			for i, c := range ts.Classes {
				texts[i] = softcpt.Template(tmpl, c)
			}
			feats, err := encodeTextsWith(encode, cfg.ContextLength, E, tok, texts)
			if err != nil {
				return nil, errors.Wrapf(err, "task %q template %q", ts.Name, tmpl)
			}
			fd := feats.Data()
			for i := range ts.Classes {
				row := append([]float32(nil), fd[i*E:(i+1)*E]...)
				normalizeRow(row)
				kernels.Axpy(1, row, acc[i])
			}
		}
		rows = append(rows, acc...)
	}
	out := tensor.New(len(rows), E)
	for i, r := range rows {
		normalizeRow(r)
		copy(out.Data()[i*E:], r)
	}
	return out, nil
}

// normalizeRow scales v to unit L2 norm (a zero row stays zero), with the
// arithmetic of softcpt's zero-shot classifier.
func normalizeRow(v []float32) {
	n := math.Sqrt(float64(kernels.Dot(v, v)))
	if n > 0 {
		kernels.Scale(float32(1/n), v)
	}
}

// featureStep is one optimiser step of a prompt learner on a batch of
// cached image features, run elsewhere than the learner (a GPU).
type featureStep interface {
	// setLR sets the learning rate of the following steps.
	setLR(lr float64)
	// step runs one step and returns the batch's loss and number of
	// correct predictions, both before the update.
	step(b softcpt.Batch) (loss float64, correct int, err error)
	// snapshot returns copies of the trained tensors and of the SGD
	// momentum buffers, both named as in Learner.State (no buffers
	// without momentum or before the first step).
	snapshot() (params, momentum map[string]*tensor.Tensor, err error)
	// restore replaces the trained tensors and the momentum buffers (a
	// parameter without one starts a new buffer, as in optim.SGD) and sets
	// the number of steps taken, as resuming from a checkpoint does.
	restore(params, momentum map[string]*tensor.Tensor, steps int) error
}

// trainWithStep is softcpt.TrainFeatures with the steps taken by st: the
// same batches (per epoch a generator seeded with seed·7919 + epoch + 17
// permutes the examples, drop-last batches of BatchSize, or one short
// batch when there are fewer examples), the same learning rate per epoch
// (opt.Schedule), the same per-epoch statistics and log lines, and the
// same checkpoints: with opt.CheckpointDir, softcpt's checkpoint is
// written after every epoch, and with opt.Resume training continues from
// the one there (written by either trainer), so that cancelling ctx loses
// at most the current epoch. The trained state is loaded into l at the
// end. RepeatSteps > 1 is not supported (the caller falls back to the
// CPU).
func trainWithStep(ctx context.Context, l *softcpt.Learner, st featureStep, feats *tensor.Tensor, train []softcpt.Example, opt softcpt.TrainOptions) ([]softcpt.EpochStats, error) {
	if len(train) == 0 || feats.NDim() != 2 || feats.Dim(0) != len(train) {
		return nil, errors.Errorf("training features %v for %d examples", feats.Shape(), len(train))
	}
	if opt.RepeatSteps > 1 {
		return nil, errors.Errorf("%s: --repeat-steps %d is not supported on the device", l.Cfg.Name, opt.RepeatSteps)
	}
	if err := (&optim.SGD{LR: opt.LR, Momentum: opt.Momentum, WeightDecay: opt.WeightDecay}).Validate(); err != nil {
		return nil, err
	}
	bs := opt.BatchSize
	if bs <= 0 {
		bs = 32
	}
	var ck softcpt.TrainCheckpoint
	if opt.CheckpointDir != "" && opt.Resume {
		saved, err := softcpt.LoadTrainCheckpoint(opt.CheckpointDir, l, len(train), opt)
		if err != nil {
			return nil, err
		}
		if saved != nil {
			if err := st.restore(l.State(), saved.Momentum, saved.Steps); err != nil {
				return nil, errors.Wrapf(err, "%s: resuming from the checkpoint in %s", l.Cfg.Name, opt.CheckpointDir)
			}
			ck = *saved
		}
	}
	sched := opt.Schedule()
	E := feats.Dim(1)
	fd := feats.Contiguous().Data()
	for epoch := ck.Epoch; epoch < opt.Epochs; epoch++ {
		start := time.Now()
		lr := sched.LR(epoch)
		st.setLR(lr)
		rng := tensor.NewRNG(opt.Seed*7919 + uint64(epoch) + 17)
		order := rng.Perm(len(train))
		steps := len(train) / bs
		if steps == 0 {
			steps, bs = 1, len(train)
		}
		var lossSum float64
		correct, seen := 0, 0
		for s := 0; s < steps; s++ {
			if err := ctx.Err(); err != nil {
				return ck.History, errors.Wrapf(err, "interrupted in epoch %d", epoch+1)
			}
			idx := order[s*bs : (s+1)*bs]
			b := softcpt.Batch{Features: tensor.New(len(idx), E), Tasks: make([]int, len(idx)), Labels: make([]int, len(idx))}
			bd := b.Features.Data()
			for i, j := range idx {
				copy(bd[i*E:(i+1)*E], fd[j*E:(j+1)*E])
				b.Tasks[i], b.Labels[i] = train[j].Task, train[j].Label
			}
			lv, c, err := st.step(b)
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
		es := softcpt.EpochStats{Epoch: epoch + 1, Loss: lossSum / float64(steps), Accuracy: 100 * float64(correct) / float64(seen),
			LR: lr, Seconds: time.Since(start).Seconds()}
		ck.History = append(ck.History, es)
		ck.Epoch = epoch + 1
		ck.Steps += steps
		if opt.Log != nil {
			opt.Log("%s epoch %d/%d loss %.4f acc %.1f%% lr %.3g (%.1fs)", l.Cfg.Name, es.Epoch, opt.Epochs, es.Loss, es.Accuracy, es.LR, es.Seconds)
		}
		if opt.CheckpointDir != "" {
			params, momentum, err := st.snapshot()
			if err != nil {
				return ck.History, errors.Wrapf(err, "%s: epoch %d: downloading the checkpoint", l.Cfg.Name, epoch+1)
			}
			if err := l.LoadState(params); err != nil {
				return ck.History, errors.Wrapf(err, "%s: epoch %d: the device's trained state", l.Cfg.Name, epoch+1)
			}
			ck.Momentum = momentum
			if err := softcpt.SaveTrainCheckpoint(opt.CheckpointDir, l, len(train), opt, ck); err != nil {
				return ck.History, err
			}
		}
	}
	state, _, err := st.snapshot()
	if err != nil {
		return ck.History, err
	}
	if err := l.LoadState(state); err != nil {
		return ck.History, errors.Wrap(err, "loading the trained state into the learner")
	}
	return ck.History, nil
}

// optionTrainingReason reports why training with opt cannot run on a
// device's step ("" when it can): the step takes one optimiser step per
// batch.
func optionTrainingReason(opt softcpt.TrainOptions) string {
	if opt.RepeatSteps > 1 {
		return "the device's step does not repeat optimiser steps"
	}
	return ""
}
