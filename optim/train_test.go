package optim

import (
	"math"
	"math/rand/v2"

	"testing"

	"github.com/softcpt/softcpt-go/autograd"
	"github.com/softcpt/softcpt-go/tensor"
)

// toyData returns two Gaussian blobs in 2-D centred at (±1.5, ±1.5) with
// labels 0/1: linearly separable up to rare outliers.
func toyData(n int, seed uint64) (*tensor.Tensor, []int) {
	rng := tensor.NewRNG(seed)
	x := tensor.New(n, 2)
	y := make([]int, n)
	d := x.Data()
	for i := 0; i < n; i++ {
		y[i] = i % 2
		c := float32(1.5)
		if y[i] == 0 {
			c = -1.5
		}
		d[2*i] = c + 0.5*float32(rng.NormFloat64())
		d[2*i+1] = c + 0.5*float32(rng.NormFloat64())
	}
	return x, y
}

// mlp is a two-layer perceptron in, hidden, out with activation act,
// initialised as torch.nn.Linear (uniform in ±1/sqrt(fan_in)).
type mlp struct {
	w1, b1, w2, b2 *autograd.Var
	act            func(*autograd.Var) *autograd.Var
}

func newMLP(in, hidden, out int, act func(*autograd.Var) *autograd.Var, rng *rand.Rand) *mlp {
	param := func(fanIn int, shape ...int) *autograd.Var {
		bound := float32(1 / math.Sqrt(float64(fanIn)))
		t := tensor.New(shape...)
		for i := range t.Data() {
			t.Data()[i] = bound * (2*rng.Float32() - 1)
		}
		return autograd.Param(t)
	}
	return &mlp{param(in, hidden, in), param(in, hidden), param(hidden, out, hidden), param(hidden, out), act}
}

func (m *mlp) params() []*autograd.Var { return []*autograd.Var{m.w1, m.b1, m.w2, m.b2} }

func (m *mlp) Forward(x *autograd.Var) *autograd.Var {
	return autograd.Linear(m.act(autograd.Linear(x, m.w1, m.b1)), m.w2, m.b2)
}

// TestMLPTrainsWithSGD trains a 2-16-2 MLP with momentum SGD and a cosine
// schedule; the loss must fall by more than 90%.
func TestMLPTrainsWithSGD(t *testing.T) {
	rng := tensor.NewRNG(11)
	model := newMLP(2, 16, 2, autograd.Relu, rng)
	opt := &SGD{Params: model.params(), LR: 0.1, Momentum: 0.9, WeightDecay: 1e-4}
	sched := ConstantWarmup{WarmupEpochs: 1, WarmupLR: 0.01, After: CosineAnnealing{BaseLR: 0.1, TMax: 60}}
	x, y := toyData(64, 12)
	xv := autograd.Const(x)
	var first, last float32
	for epoch := 0; epoch < 60; epoch++ {
		opt.SetLearningRate(sched.LR(epoch))
		opt.ZeroGrad()
		loss := autograd.CrossEntropy(model.Forward(xv), y, autograd.ReduceMean)
		loss.Backward()
		opt.Step()
		if epoch == 0 {
			first = loss.Value.Item()
		}
		last = loss.Value.Item()
	}
	t.Logf("loss %.4f -> %.5f", first, last)
	if !(last < 0.1*first) {
		t.Fatalf("loss fell from %g to %g, less than 90%%", first, last)
	}
	correct := 0
	autograd.NoGrad(func() {
		logits := model.Forward(xv).Value
		for i, pred := range autograd.ArgMax(logits, 1) {
			if pred == y[i] {
				correct++
			}
		}
	})
	if correct < 62 {
		t.Fatalf("train accuracy %d/64", correct)
	}
}

// TestMLPTrainsWithAdamW is the same problem with AdamW.
func TestMLPTrainsWithAdamW(t *testing.T) {
	rng := tensor.NewRNG(13)
	model := newMLP(2, 16, 2, autograd.Tanh, rng)
	opt := NewAdamW(model.params(), 0.05)
	x, y := toyData(64, 14)
	xv := autograd.Const(x)
	var first, last float32
	for step := 0; step < 60; step++ {
		opt.ZeroGrad()
		loss := autograd.CrossEntropy(model.Forward(xv), y, autograd.ReduceMean)
		loss.Backward()
		opt.Step()
		if step == 0 {
			first = loss.Value.Item()
		}
		last = loss.Value.Item()
	}
	t.Logf("loss %.4f -> %.5f", first, last)
	if !(last < 0.1*first) {
		t.Fatalf("loss fell from %g to %g, less than 90%%", first, last)
	}
}
