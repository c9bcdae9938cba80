package pretrain

import (
	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/optim"
)

// Options configure Train. DefaultOptions gives the recommended values.
type Options struct {
	// Model is the architecture trained from scratch; it must be a
	// ModifiedResNet (VisionLayers set) whose VocabSize equals the
	// tokenizer's. Ignored on resume (the checkpoint's model is used, and
	// must have the same configuration).
	Model clip.Config

	// Steps is the number of optimiser steps and BatchSize the number of
	// pairs per step (each step draws BatchSize distinct images: batches
	// are consecutive slices of a per-epoch shuffle, the remainder of an
	// epoch is dropped).
	Steps     int
	BatchSize int

	// LR is the peak learning rate, reached after WarmupSteps steps of
	// linear warm-up and then decayed to MinLR with a cosine over the
	// remaining steps (schedule computed per step).
	LR          float64
	MinLR       float64
	WarmupSteps int

	// WeightDecay is AdamW's decoupled weight decay, applied only to
	// weight matrices and convolution kernels (parameters of two or more
	// dimensions that are not embeddings). Biases, LayerNorm/BatchNorm
	// parameters, token/positional/class embeddings and logit_scale are
	// not decayed (as in CLIP's training code, which also excludes gains
	// and biases).
	WeightDecay float64
	// Beta1, Beta2 and Eps are AdamW's; CLIP used 0.9, 0.98, 1e-6.
	Beta1, Beta2, Eps float64

	// CropScale is the area range of the random resized crop (aspect
	// ratio in [3/4, 4/3]); Flip adds random horizontal flips.
	CropScale [2]float64
	Flip      bool

	// Seed drives the initialisation, batch order, caption choice and
	// augmentation.
	Seed uint64
	// Workers is the number of goroutines preparing images (0: 2).
	Workers int

	// CheckpointDir, when set, receives an atomic checkpoint every
	// CheckpointEvery steps (0: only at the end and on cancellation);
	// with Resume, training continues from the checkpoint there, if any.
	CheckpointDir   string
	CheckpointEvery int
	Resume          bool

	// Eval, when set, runs every EvalEvery steps (0: only at the end)
	// with BatchNorm in eval mode; its results are logged and recorded.
	Eval      EvalFunc
	EvalEvery int

	// Log receives progress lines (checkpoints, evaluations, resume).
	Log func(format string, args ...any)
	// Progress is called after every step.
	Progress func(Progress)
}

// SmallConfig returns the recommended small CLIP for 32×32 (or larger)
// images: a ModifiedResNet with one bottleneck per stage and width 16
// (attention pool of 512 channels, 8 heads), a 3-layer text transformer
// of width 128 (2 heads) over 32 tokens, and a 128-d joint embedding.
func SmallConfig(vocabSize, imageSize int) clip.Config {
	return clip.Config{
		EmbedDim: 128, ImageResolution: imageSize, VisionLayers: []int{1, 1, 1, 1}, VisionWidth: 16, VisionHeads: 8,
		ContextLength: 32, VocabSize: vocabSize, TransformerWidth: 128, TransformerHeads: 2, TransformerLayers: 3,
	}
}

// DefaultOptions returns the recommended training settings for the given
// architecture. With SmallConfig (vocabulary 4096) at batch 256 a step
// took 1.0 CPU-second, 1.3 s of wall time on the project's shared 2-core
// machine (BenchmarkTrainStep), so the 3500 steps fit in 90 minutes.
func DefaultOptions(cfg clip.Config) Options {
	return Options{
		Model: cfg, Steps: 3500, BatchSize: 256,
		LR: 5e-4, MinLR: 0, WarmupSteps: 100, WeightDecay: 0.1,
		Beta1: 0.9, Beta2: 0.98, Eps: 1e-6,
		CropScale: [2]float64{0.5, 1}, Flip: true,
		Seed: 1, Workers: 2, CheckpointEvery: 200, EvalEvery: 200,
	}
}

// Schedule returns the per-step learning rate: a linear ramp from
// LR/WarmupSteps to LR over WarmupSteps steps, then a cosine from LR to
// MinLR over the remaining steps.
func (o Options) Schedule() optim.Schedule {
	cos := optim.CosineAnnealing{BaseLR: o.LR, TMax: max(1, o.Steps-o.WarmupSteps), EtaMin: o.MinLR}
	if o.WarmupSteps <= 0 {
		return cos
	}
	return optim.LinearWarmup{WarmupSteps: o.WarmupSteps, StartLR: o.LR / float64(o.WarmupSteps), After: cos}
}

// validate checks the options against the data set size.
func (o *Options) validate(pairs int) error {
	switch {
	case o.Steps <= 0:
		return errors.Errorf("pretrain: steps %d must be positive", o.Steps)
	case o.BatchSize < 2:
		return errors.Errorf("pretrain: batch size %d must be at least 2 (contrastive loss)", o.BatchSize)
	case pairs < o.BatchSize:
		return errors.Errorf("pretrain: %d pairs are fewer than one batch of %d", pairs, o.BatchSize)
	case !(o.LR > 0) || o.MinLR < 0 || o.MinLR > o.LR:
		return errors.Errorf("pretrain: learning rates LR %v, MinLR %v (want 0 ≤ MinLR ≤ LR, LR > 0)", o.LR, o.MinLR)
	case o.WarmupSteps < 0 || o.WeightDecay < 0:
		return errors.Errorf("pretrain: negative warm-up (%d) or weight decay (%v)", o.WarmupSteps, o.WeightDecay)
	case !(o.CropScale[0] > 0) || o.CropScale[0] > o.CropScale[1] || o.CropScale[1] > 1:
		return errors.Errorf("pretrain: crop scale %v (want 0 < lo ≤ hi ≤ 1)", o.CropScale)
	}
	if o.Workers <= 0 {
		o.Workers = 2
	}
	return nil
}
