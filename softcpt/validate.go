package softcpt

import (
	"github.com/softcpt/softcpt-go/internal/setting"
)

// Validate checks the training settings before any work starts: at least
// one epoch, a batch of at least one example, a positive learning rate,
// momentum in [0, 1), non-negative weight decay, warm-up epochs within
// [0, Epochs] at a non-negative rate, and RepeatSteps >= 0. Errors are
// *setting.Error values named "TrainOptions.FIELD".
func (o TrainOptions) Validate() error {
	err := setting.First(
		setting.AtLeast("TrainOptions.Epochs", o.Epochs, 1, "training epochs, MAX_EPOCH"),
		setting.AtLeast("TrainOptions.BatchSize", o.BatchSize, 1, "training examples per batch"),
		setting.Positive("TrainOptions.LR", o.LR, "SGD learning rate"),
		setting.NonNegative("TrainOptions.WeightDecay", o.WeightDecay, "SGD weight decay"),
		setting.AtLeast("TrainOptions.WarmupEpochs", o.WarmupEpochs, 0, "constant warm-up epochs"),
		setting.NonNegative("TrainOptions.WarmupLR", o.WarmupLR, "warm-up learning rate"),
		setting.AtLeast("TrainOptions.RepeatSteps", o.RepeatSteps, 0, "repeated optimiser steps; 0 = off"),
	)
	switch {
	case err != nil:
		return err
	case !(o.Momentum >= 0 && o.Momentum < 1):
		return setting.Errorf("TrainOptions.Momentum", o.Momentum, "must be in [0, 1) (SGD momentum)")
	case o.WarmupEpochs > o.Epochs:
		return setting.Errorf("TrainOptions.WarmupEpochs", o.WarmupEpochs, "must be at most the %d training epochs", o.Epochs)
	}
	return nil
}

// Validate checks the linear probe's settings: every C of the grid
// positive and finite, and no negative L-BFGS bound (0 takes the
// default). Errors are *setting.Error values.
func (o ProbeOptions) Validate() error {
	for _, c := range o.Grid {
		if err := setting.Positive("ProbeOptions.Grid", c, "inverse regularisation strength C"); err != nil {
			return err
		}
	}
	l := o.LBFGS
	return setting.First(
		setting.AtLeast("LBFGSOptions.MaxIter", l.MaxIter, 0, "L-BFGS iterations per fit; 0 = 1000"),
		setting.AtLeast("LBFGSOptions.Memory", l.Memory, 0, "L-BFGS correction pairs; 0 = 10"),
		setting.AtLeast("LBFGSOptions.MaxLineSearch", l.MaxLineSearch, 0, "evaluations per line search; 0 = 50"),
		setting.AtLeast("LBFGSOptions.MaxEval", l.MaxEval, 0, "function evaluations per fit; 0 = 15000"),
		setting.NonNegative("LBFGSOptions.GradTol", l.GradTol, "gradient tolerance; 0 = 1e-4"),
	)
}

// CheckContext checks the configuration's context lengths against a
// model's text context length: a class prompt holds the start token,
// NCtx context tokens, at least one class-name token, "." and the end
// token, and the task and class prompts of SoftCPT likewise hold
// TaskNCtx and ClassNCtx context tokens. Longer class names are checked
// when the prompts are built (NewLearner).
func (c Config) CheckContext(contextLength int) error {
	const extra = 4 // start token, one name token, "." and end token
	for _, f := range []struct {
		name string
		n    int
		used bool
	}{{"Config.NCtx", c.NCtx, true}, {"Config.TaskNCtx", c.TaskNCtx, !c.Hard}, {"Config.ClassNCtx", c.ClassNCtx, !c.Hard && c.CSC}} {
		if f.used && f.n+extra > contextLength {
			return setting.Errorf(f.name, f.n, "must be at most %d: the model's context is %d tokens, of which a prompt needs 4 beside its context (start, a name token, \".\", end)",
				contextLength-extra, contextLength)
		}
	}
	return nil
}
