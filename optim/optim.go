package optim

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/autograd"
	"github.com/softcpt/softcpt-go/kernels"
	"github.com/softcpt/softcpt-go/tensor"
)

// Optimizer updates parameters in place from their gradients.
type Optimizer interface {
	// Step applies one update to every parameter whose Grad is not nil.
	Step()
	// ZeroGrad drops the gradients of all parameters.
	ZeroGrad()
	// LearningRate returns the current learning rate.
	LearningRate() float64
	// SetLearningRate sets the learning rate used by the next Step
	// (schedules call it once per epoch or step).
	SetLearningRate(lr float64)
	// State returns the optimiser state for checkpointing: per-parameter
	// tensors keyed "<kind>.<param index>" and the scalar "steps". The
	// tensors are copies.
	State() map[string]*tensor.Tensor
	// LoadState restores a State. It replaces the whole state and returns
	// an error naming the key for unknown keys, bad indices or shapes.
	LoadState(st map[string]*tensor.Tensor) error
}

// gradData returns the contiguous value and gradient slices of p, or nil
// when p has no gradient. A gradient whose shape differs from the value is
// a programming error.
func gradData(op string, i int, p *autograd.Var) (val, grad []float32) {
	if p.Grad == nil {
		return nil, nil
	}
	if !tensor.SameShape(p.Grad.Shape(), p.Value.Shape()) {
		panic(fmt.Sprintf("optim.%s: parameter %d (%s) has value %v but gradient %v", op, i, p.Name, p.Value.Shape(), p.Grad.Shape()))
	}
	if !p.Value.IsContiguous() {
		panic(fmt.Sprintf("optim.%s: parameter %d (%s) of shape %v is not contiguous", op, i, p.Name, p.Value.Shape()))
	}
	return p.Value.Data(), p.Grad.Contiguous().Data()
}

func zeroGrads(params []*autograd.Var) {
	for _, p := range params {
		p.ZeroGrad()
	}
}

// stateKey parses "<kind>.<index>" for the given kinds.
func stateKey(key string, kinds []string, n int) (kind string, idx int, err error) {
	dot := strings.LastIndexByte(key, '.')
	if dot < 0 {
		return "", 0, errors.Errorf("optimizer state key %q: want <kind>.<index>", key)
	}
	kind = key[:dot]
	known := false
	for _, k := range kinds {
		known = known || k == kind
	}
	if !known {
		return "", 0, errors.Errorf("optimizer state key %q: unknown kind %q (want one of %v)", key, kind, kinds)
	}
	idx, err = strconv.Atoi(key[dot+1:])
	if err != nil || idx < 0 || idx >= n {
		return "", 0, errors.Errorf("optimizer state key %q: parameter index out of range [0, %d)", key, n)
	}
	return kind, idx, nil
}

// loadSteps reads the scalar "steps" entry.
func loadSteps(st map[string]*tensor.Tensor) (int, error) {
	t, ok := st["steps"]
	if !ok || t == nil {
		return 0, errors.New("optimizer state: missing key \"steps\"")
	}
	if t.Numel() != 1 {
		return 0, errors.Errorf("optimizer state key \"steps\": want a scalar, got shape %v", t.Shape())
	}
	v := t.Contiguous().Data()[0]
	if v < 0 || v != float32(math.Trunc(float64(v))) {
		return 0, errors.Errorf("optimizer state key \"steps\": %v is not a count", v)
	}
	return int(v), nil
}

// checkStateTensor validates a per-parameter state tensor against the
// parameter's shape.
func checkStateTensor(key string, t *tensor.Tensor, p *autograd.Var) error {
	if t == nil {
		return errors.Errorf("optimizer state key %q: nil tensor", key)
	}
	if !tensor.SameShape(t.Shape(), p.Value.Shape()) {
		return errors.Errorf("optimizer state key %q: expected shape %v (parameter %s), got %v", key, p.Value.Shape(), p.Name, t.Shape())
	}
	return nil
}

// sortedKeys returns the keys of st in order (deterministic errors).
func sortedKeys(st map[string]*tensor.Tensor) []string {
	keys := make([]string, 0, len(st))
	for k := range st {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// SGD is torch.optim.SGD (foreach=False, maximize=False). For each
// parameter p with gradient g, in float32 (up to rounding order, see
// sgdMomentum):
//
//	d = g + WeightDecay·p
//	buf = d                                  (first step with momentum)
//	buf = Momentum·buf + (1−Dampening)·d     (later steps)
//	d = d + Momentum·buf if Nesterov, else d = buf   (when Momentum ≠ 0)
//	p = p − LR·d
//
// The gradient is not modified, so calling Step several times on the same
// gradient (as Dassl's MTCoOp does, see softcpt.md §3.2) matches PyTorch.
type SGD struct {
	// Params are the parameters updated; those with a nil Grad are skipped.
	Params []*autograd.Var
	// LR is the learning rate.
	LR float64
	// Momentum is the momentum factor (0 disables momentum buffers).
	Momentum float64
	// Dampening scales the gradient added to the momentum buffer by
	// 1−Dampening (not on the buffer's first step).
	Dampening float64
	// WeightDecay is the L2 penalty added to the gradient.
	WeightDecay float64
	// Nesterov enables Nesterov momentum (needs Momentum > 0 and
	// Dampening = 0, as in PyTorch).
	Nesterov bool
	// Steps counts calls to Step.
	Steps int

	bufs []*tensor.Tensor // momentum buffers by parameter index
}

// NewSGD returns plain SGD over params with the given learning rate;
// set the other fields for momentum, dampening, weight decay or Nesterov.
func NewSGD(params []*autograd.Var, lr float64) *SGD {
	return &SGD{Params: params, LR: lr}
}

// Validate reports invalid hyperparameters, with PyTorch's rules.
func (o *SGD) Validate() error {
	switch {
	case o.LR < 0:
		return errors.Errorf("optim.SGD: invalid learning rate %v", o.LR)
	case o.Momentum < 0:
		return errors.Errorf("optim.SGD: invalid momentum %v", o.Momentum)
	case o.WeightDecay < 0:
		return errors.Errorf("optim.SGD: invalid weight decay %v", o.WeightDecay)
	case o.Nesterov && (o.Momentum <= 0 || o.Dampening != 0):
		return errors.Errorf("optim.SGD: Nesterov momentum requires a momentum and zero dampening (momentum %v, dampening %v)", o.Momentum, o.Dampening)
	}
	return nil
}

func (o *SGD) ensureState() {
	if len(o.bufs) != len(o.Params) {
		if o.bufs != nil {
			panic(fmt.Sprintf("optim.SGD: Params changed from %d to %d entries after the first step", len(o.bufs), len(o.Params)))
		}
		o.bufs = make([]*tensor.Tensor, len(o.Params))
	}
}

// Step applies one SGD update. It panics if Validate fails.
func (o *SGD) Step() {
	if err := o.Validate(); err != nil {
		panic(err.Error())
	}
	o.ensureState()
	lr, wd := float32(o.LR), float32(o.WeightDecay)
	mom, damp := float32(o.Momentum), float32(1-o.Dampening)
	for i, p := range o.Params {
		val, grad := gradData("SGD.Step", i, p)
		if val == nil {
			continue
		}
		if o.Momentum == 0 {
			sgdPlain(val, grad, lr, wd)
			continue
		}
		if o.bufs[i] == nil {
			o.bufs[i] = tensor.New(p.Value.Shape()...)
			sgdFirst(val, grad, o.bufs[i].Data(), lr, wd, mom, o.Nesterov)
			continue
		}
		sgdMomentum(val, grad, o.bufs[i].Data(), lr, wd, mom, damp, o.Nesterov)
	}
	o.Steps++
}

// sgdChunk is the number of elements the SGD update processes per pass:
// each chunk of p, g and the momentum buffer stays in L1 across the
// several vector passes, so memory traffic equals a fused loop's.
const sgdChunk = 2048

// The SGD updates below run as kernels.Scale/Axpy passes over chunks.
// They compute PyTorch's update up to float32 rounding order (PyTorch
// rounds d = g + wd·p before adding it to the buffer; here g and wd·p are
// added to the buffer one after the other).

// sgdPlain: p = p − lr·(g + wd·p) = (1 − lr·wd)·p − lr·g.
func sgdPlain(p, g []float32, lr, wd float32) {
	g = g[:len(p)]
	for lo := 0; lo < len(p); lo += sgdChunk {
		hi := min(lo+sgdChunk, len(p))
		pc := p[lo:hi]
		if wd != 0 {
			kernels.Scale(1-lr*wd, pc)
		}
		kernels.Axpy(-lr, g[lo:hi], pc)
	}
}

// sgdFirst sets the momentum buffer to d = g + wd·p and updates p with d
// (Nesterov: with d + mom·d).
func sgdFirst(p, g, buf []float32, lr, wd, mom float32, nesterov bool) {
	g, buf = g[:len(p)], buf[:len(p)]
	step := -lr
	if nesterov {
		step = -lr * (1 + mom)
	}
	for lo := 0; lo < len(p); lo += sgdChunk {
		hi := min(lo+sgdChunk, len(p))
		pc, bc := p[lo:hi], buf[lo:hi]
		copy(bc, g[lo:hi])
		if wd != 0 {
			kernels.Axpy(wd, pc, bc)
		}
		kernels.Axpy(step, bc, pc)
	}
}

// sgdMomentum: buf = mom·buf + damp·(g + wd·p); then p −= lr·buf, or for
// Nesterov p −= lr·(g + wd·p + mom·buf).
func sgdMomentum(p, g, buf []float32, lr, wd, mom, damp float32, nesterov bool) {
	g, buf = g[:len(p)], buf[:len(p)]
	for lo := 0; lo < len(p); lo += sgdChunk {
		hi := min(lo+sgdChunk, len(p))
		pc, gc, bc := p[lo:hi], g[lo:hi], buf[lo:hi]
		kernels.Scale(mom, bc)
		kernels.Axpy(damp, gc, bc)
		if wd != 0 {
			kernels.Axpy(damp*wd, pc, bc)
		}
		if !nesterov {
			kernels.Axpy(-lr, bc, pc)
			continue
		}
		if wd != 0 {
			kernels.Scale(1-lr*wd, pc)
		}
		kernels.Axpy(-lr, gc, pc)
		kernels.Axpy(-lr*mom, bc, pc)
	}
}

// ZeroGrad drops the gradients of all parameters.
func (o *SGD) ZeroGrad() { zeroGrads(o.Params) }

// LearningRate returns LR.
func (o *SGD) LearningRate() float64 { return o.LR }

// SetLearningRate sets LR.
func (o *SGD) SetLearningRate(lr float64) { o.LR = lr }

// State returns "steps" and "momentum_buffer.<i>" for every parameter
// that has a momentum buffer (copies).
func (o *SGD) State() map[string]*tensor.Tensor {
	st := map[string]*tensor.Tensor{"steps": tensor.Scalar(float32(o.Steps))}
	for i, b := range o.bufs {
		if b != nil {
			st["momentum_buffer."+strconv.Itoa(i)] = b.Clone()
		}
	}
	return st
}

// LoadState restores a State saved from an SGD over parameters of the
// same shapes. Parameters without a buffer in st start a new one on their
// next step, as in PyTorch.
func (o *SGD) LoadState(st map[string]*tensor.Tensor) error {
	steps, err := loadSteps(st)
	if err != nil {
		return errors.Wrap(err, "optim.SGD.LoadState")
	}
	bufs := make([]*tensor.Tensor, len(o.Params))
	for _, k := range sortedKeys(st) {
		if k == "steps" {
			continue
		}
		_, i, err := stateKey(k, []string{"momentum_buffer"}, len(o.Params))
		if err != nil {
			return errors.Wrap(err, "optim.SGD.LoadState")
		}
		if err := checkStateTensor(k, st[k], o.Params[i]); err != nil {
			return errors.Wrap(err, "optim.SGD.LoadState")
		}
		bufs[i] = st[k].Clone()
	}
	o.bufs, o.Steps = bufs, steps
	return nil
}

// AdamW is torch.optim.AdamW (amsgrad=False, foreach=False). Each
// parameter keeps its own step count t (parameters skipped for a nil Grad
// do not advance). For parameter p with gradient g:
//
//	t = t + 1
//	p = p·(1 − LR·WeightDecay)
//	m = Beta1·m + (1−Beta1)·g
//	v = Beta2·v + (1−Beta2)·g²
//	p = p − LR/(1−Beta1^t) · m / (√v/√(1−Beta2^t) + Eps)
type AdamW struct {
	// Params are the parameters updated; those with a nil Grad are skipped.
	Params []*autograd.Var
	// LR is the learning rate.
	LR float64
	// Beta1 and Beta2 are the decay rates of the first and second moments.
	Beta1, Beta2 float64
	// Eps is added to the denominator.
	Eps float64
	// WeightDecay is the decoupled weight decay coefficient.
	WeightDecay float64
	// Steps counts calls to Step.
	Steps int

	state []adamState
}

type adamState struct {
	t    int            // updates applied to this parameter
	m, v *tensor.Tensor // exp_avg and exp_avg_sq
}

// NewAdamW returns AdamW over params with PyTorch's defaults (betas 0.9,
// 0.999, eps 1e-8, weight decay 0.01) and the given learning rate.
func NewAdamW(params []*autograd.Var, lr float64) *AdamW {
	return &AdamW{Params: params, LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01}
}

// Validate reports invalid hyperparameters, with PyTorch's rules.
func (o *AdamW) Validate() error {
	switch {
	case o.LR < 0:
		return errors.Errorf("optim.AdamW: invalid learning rate %v", o.LR)
	case o.Eps < 0:
		return errors.Errorf("optim.AdamW: invalid epsilon %v", o.Eps)
	case o.Beta1 < 0 || o.Beta1 >= 1:
		return errors.Errorf("optim.AdamW: invalid beta1 %v", o.Beta1)
	case o.Beta2 < 0 || o.Beta2 >= 1:
		return errors.Errorf("optim.AdamW: invalid beta2 %v", o.Beta2)
	case o.WeightDecay < 0:
		return errors.Errorf("optim.AdamW: invalid weight decay %v", o.WeightDecay)
	}
	return nil
}

// Step applies one AdamW update. It panics if Validate fails.
func (o *AdamW) Step() {
	if err := o.Validate(); err != nil {
		panic(err.Error())
	}
	if len(o.state) != len(o.Params) {
		if o.state != nil {
			panic(fmt.Sprintf("optim.AdamW: Params changed from %d to %d entries after the first step", len(o.state), len(o.Params)))
		}
		o.state = make([]adamState, len(o.Params))
	}
	decay := float32(1 - o.LR*o.WeightDecay)
	b1, b2 := float32(o.Beta1), float32(o.Beta2)
	c1, c2 := float32(1-o.Beta1), float32(1-o.Beta2)
	eps := float32(o.Eps)
	for i, p := range o.Params {
		val, grad := gradData("AdamW.Step", i, p)
		if val == nil {
			continue
		}
		s := &o.state[i]
		if s.m == nil {
			s.m, s.v = tensor.New(p.Value.Shape()...), tensor.New(p.Value.Shape()...)
		}
		s.t++
		t := float64(s.t)
		bc1 := 1 - math.Pow(o.Beta1, t)
		bc2 := 1 - math.Pow(o.Beta2, t)
		stepSize := float32(o.LR / bc1)
		bc2Sqrt := float32(math.Sqrt(bc2))
		adamwUpdate(val, grad, s.m.Data(), s.v.Data(), decay, b1, b2, c1, c2, stepSize, bc2Sqrt, eps)
	}
	o.Steps++
}

// adamwUpdate is the fused per-element AdamW update.
func adamwUpdate(p, g, m, v []float32, decay, b1, b2, c1, c2, stepSize, bc2Sqrt, eps float32) {
	g, m, v = g[:len(p)], m[:len(p)], v[:len(p)]
	for j := range p {
		gj := g[j]
		pj := p[j] * decay
		mj := b1*m[j] + c1*gj
		vj := b2*v[j] + c2*gj*gj
		m[j], v[j] = mj, vj
		denom := float32(math.Sqrt(float64(vj)))/bc2Sqrt + eps
		p[j] = pj - stepSize*mj/denom
	}
}

// ZeroGrad drops the gradients of all parameters.
func (o *AdamW) ZeroGrad() { zeroGrads(o.Params) }

// LearningRate returns LR.
func (o *AdamW) LearningRate() float64 { return o.LR }

// SetLearningRate sets LR.
func (o *AdamW) SetLearningRate(lr float64) { o.LR = lr }

// State returns "steps" and, for every parameter that has been updated,
// "step.<i>" (scalar), "exp_avg.<i>" and "exp_avg_sq.<i>" (copies).
// Step counts are stored as float32, exact up to 2^24.
func (o *AdamW) State() map[string]*tensor.Tensor {
	st := map[string]*tensor.Tensor{"steps": tensor.Scalar(float32(o.Steps))}
	for i, s := range o.state {
		if s.m == nil {
			continue
		}
		n := strconv.Itoa(i)
		st["step."+n] = tensor.Scalar(float32(s.t))
		st["exp_avg."+n] = s.m.Clone()
		st["exp_avg_sq."+n] = s.v.Clone()
	}
	return st
}

// LoadState restores a State saved from an AdamW over parameters of the
// same shapes. Each parameter needs all three of step, exp_avg and
// exp_avg_sq, or none.
func (o *AdamW) LoadState(st map[string]*tensor.Tensor) error {
	steps, err := loadSteps(st)
	if err != nil {
		return errors.Wrap(err, "optim.AdamW.LoadState")
	}
	state := make([]adamState, len(o.Params))
	seen := make([]int, len(o.Params))
	for _, k := range sortedKeys(st) {
		if k == "steps" {
			continue
		}
		kind, i, err := stateKey(k, []string{"step", "exp_avg", "exp_avg_sq"}, len(o.Params))
		if err != nil {
			return errors.Wrap(err, "optim.AdamW.LoadState")
		}
		t := st[k]
		seen[i]++
		if kind == "step" {
			if t == nil || t.Numel() != 1 {
				return errors.Errorf("optim.AdamW.LoadState: key %q: want a scalar step count", k)
			}
			v := t.Contiguous().Data()[0]
			if v < 1 || v != float32(math.Trunc(float64(v))) {
				return errors.Errorf("optim.AdamW.LoadState: key %q: %v is not a step count", k, v)
			}
			state[i].t = int(v)
			continue
		}
		if err := checkStateTensor(k, t, o.Params[i]); err != nil {
			return errors.Wrap(err, "optim.AdamW.LoadState")
		}
		if kind == "exp_avg" {
			state[i].m = t.Clone()
		} else {
			state[i].v = t.Clone()
		}
	}
	for i, n := range seen {
		if n != 0 && n != 3 {
			return errors.Errorf("optim.AdamW.LoadState: parameter %d has %d of the 3 entries step, exp_avg, exp_avg_sq", i, n)
		}
	}
	o.state, o.Steps = state, steps
	return nil
}
