package optim

import "math"

// Schedule maps an epoch (or step) index, counted from 0, to a learning
// rate. Implementations are closed forms with no hidden state: resuming
// at epoch e only needs LR(e).
type Schedule interface {
	LR(epoch int) float64
}

// ConstantLR is a fixed learning rate.
type ConstantLR float64

// LR returns the constant.
func (c ConstantLR) LR(int) float64 { return float64(c) }

// CosineAnnealing is torch.optim.lr_scheduler.CosineAnnealingLR in closed
// form:
//
//	lr(e) = EtaMin + (BaseLR − EtaMin)·(1 + cos(π·e/TMax))/2
//
// Like PyTorch's it continues periodically past TMax (it rises again).
// PyTorch's chainable form, used by step() without an epoch, computes the
// same values recursively; they agree up to float64 rounding.
type CosineAnnealing struct {
	// BaseLR is the learning rate at epoch 0.
	BaseLR float64
	// TMax is the half period in epochs.
	TMax int
	// EtaMin is the minimum learning rate.
	EtaMin float64
}

// LR returns the learning rate for epoch e.
func (c CosineAnnealing) LR(e int) float64 {
	return c.EtaMin + (c.BaseLR-c.EtaMin)*(1+math.Cos(math.Pi*float64(e)/float64(c.TMax)))/2
}

// ConstantWarmup is Dassl's ConstantWarmupScheduler with
// WARMUP_RECOUNT=True (Dassl's default, used by CoOp and SoftCPT),
// stepped once per epoch:
//
//	lr(e) = WarmupLR          for e < WarmupEpochs
//	lr(e) = After.LR(e − W)   for e ≥ WarmupEpochs = W
//
// The successor restarts its count at the end of warm-up: with
// WarmupEpochs=1, WarmupLR=1e-5 and After=CosineAnnealing{0.002, 50, 0},
// epoch 0 runs at 1e-5, epoch 1 at 0.002 = cosine(0), epoch 2 at cosine(1)
// and so on. (In Dassl, the wrapper's step that ends warm-up returns the
// successor's initial lr, and every later step calls successor.step().)
type ConstantWarmup struct {
	// WarmupEpochs is the number of epochs at WarmupLR.
	WarmupEpochs int
	// WarmupLR is the constant warm-up learning rate (Dassl's cons_lr).
	WarmupLR float64
	// After is the schedule that follows, counted from 0 at the end of
	// warm-up.
	After Schedule
}

// LR returns the learning rate for epoch e.
func (c ConstantWarmup) LR(e int) float64 {
	if e < c.WarmupEpochs {
		return c.WarmupLR
	}
	return c.After.LR(e - c.WarmupEpochs)
}

// LinearWarmup is Dassl's LinearWarmupScheduler with WARMUP_RECOUNT=True:
//
//	lr(0) = StartLR
//	lr(s) = After.LR(0)·s/WarmupSteps   for 0 < s < WarmupSteps
//	lr(s) = After.LR(s − WarmupSteps)   for s ≥ WarmupSteps
//
// After.LR(0) plays the role of the optimiser's base learning rate.
type LinearWarmup struct {
	// WarmupSteps is the length of the ramp.
	WarmupSteps int
	// StartLR is the learning rate of step 0 (Dassl's min_lr).
	StartLR float64
	// After is the schedule that follows, counted from 0 at the end of
	// warm-up.
	After Schedule
}

// LR returns the learning rate for step s.
func (l LinearWarmup) LR(s int) float64 {
	switch {
	case s >= l.WarmupSteps:
		return l.After.LR(s - l.WarmupSteps)
	case s == 0:
		return l.StartLR
	}
	return l.After.LR(0) * float64(s) / float64(l.WarmupSteps)
}

// Repeated is a schedule stepped Times times per epoch:
// lr(e) = Inner.LR(Times·e). It reproduces MTCoOp's repeated
// scheduler.step() calls (softcpt.md §3.2: k=3 for the NA variants, k=4
// for CA/CS), e.g. Repeated{3, ConstantWarmup{1, 1e-5, cosine}}.
type Repeated struct {
	// Times is the number of scheduler steps per epoch.
	Times int
	// Inner is the schedule being stepped.
	Inner Schedule
}

// LR returns the learning rate for epoch e.
func (r Repeated) LR(e int) float64 { return r.Inner.LR(r.Times * e) }
