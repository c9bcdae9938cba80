package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/softcpt/softcpt-go/autograd"
	"github.com/softcpt/softcpt-go/tensor"
)

// kaimingBound is the bound of PyTorch's kaiming_uniform_(a=√5) for a
// given fan-in, which is also its default bias bound: 1/√fan_in (0 for an
// empty fan-in).
func kaimingBound(fanIn int) float32 {
	if fanIn <= 0 {
		return 0
	}
	return float32(1 / math.Sqrt(float64(fanIn)))
}

func uniformParam(rng *rand.Rand, bound float32, shape ...int) *autograd.Var {
	return autograd.Param(tensor.RandU(rng, -bound, bound, shape...))
}

// addOpt registers v under prefix.name when v is not nil.
func addOpt(r *Registry, prefix, name string, v *autograd.Var) {
	if v != nil {
		r.AddParam(Join(prefix, name), v)
	}
}

// Linear is torch.nn.Linear: y = x·Weightᵀ + Bias over the last axis.
// State-dict names: weight [out, in], bias [out].
type Linear struct {
	// Weight is [out, in].
	Weight *autograd.Var
	// Bias is [out], or nil for none.
	Bias *autograd.Var
}

// NewLinear returns a Linear with PyTorch's default initialisation:
// weight and bias uniform in ±1/√in (kaiming_uniform_ with a=√5).
func NewLinear(in, out int, bias bool, rng *rand.Rand) *Linear {
	b := kaimingBound(in)
	l := &Linear{Weight: uniformParam(rng, b, out, in)}
	if bias {
		l.Bias = uniformParam(rng, b, out)
	}
	return l
}

// Forward applies the layer to x [..., in].
func (l *Linear) Forward(x *autograd.Var) *autograd.Var { return autograd.Linear(x, l.Weight, l.Bias) }

// Register adds weight and bias.
func (l *Linear) Register(r *Registry, prefix string) {
	r.AddParam(Join(prefix, "weight"), l.Weight)
	addOpt(r, prefix, "bias", l.Bias)
}

// Train does nothing: Linear has no mode.
func (l *Linear) Train(bool) {}

// Conv2d is torch.nn.Conv2d over NCHW input. State-dict names: weight
// [out, in/groups, KH, KW], bias [out].
type Conv2d struct {
	// Weight is [out, in/groups, KH, KW].
	Weight *autograd.Var
	// Bias is [out], or nil for none.
	Bias *autograd.Var
	// Options holds stride, padding, dilation and groups.
	Options autograd.Conv2dOptions
}

// NewConv2d returns a Conv2d with a square kernel and PyTorch's default
// initialisation: weight and bias uniform in ±1/√fan_in with
// fan_in = in/groups·kernel². opt.Groups of 0 means 1.
func NewConv2d(in, out, kernel int, opt autograd.Conv2dOptions, bias bool, rng *rand.Rand) *Conv2d {
	groups := max(opt.Groups, 1)
	if in%groups != 0 || out%groups != 0 {
		panic(fmt.Sprintf("nn.NewConv2d: %d groups do not divide %d input and %d output channels", groups, in, out))
	}
	b := kaimingBound(in / groups * kernel * kernel)
	c := &Conv2d{Weight: uniformParam(rng, b, out, in/groups, kernel, kernel), Options: opt}
	if bias {
		c.Bias = uniformParam(rng, b, out)
	}
	return c
}

// Forward applies the convolution to x [N, C, H, W].
func (c *Conv2d) Forward(x *autograd.Var) *autograd.Var {
	return autograd.Conv2d(x, c.Weight, c.Bias, c.Options)
}

// Register adds weight and bias.
func (c *Conv2d) Register(r *Registry, prefix string) {
	r.AddParam(Join(prefix, "weight"), c.Weight)
	addOpt(r, prefix, "bias", c.Bias)
}

// Train does nothing: Conv2d has no mode.
func (c *Conv2d) Train(bool) {}

// BatchNorm2d is torch.nn.BatchNorm2d (affine, tracking running stats).
// In training mode it normalises with batch statistics and updates the
// running ones; in eval mode it uses the running statistics. State-dict
// names: weight, bias, running_mean, running_var (all [C]) and
// num_batches_tracked (a scalar count, int64 in PyTorch, float32 here;
// optional on Load because momentum is fixed and it affects nothing).
type BatchNorm2d struct {
	// Weight (gamma) and Bias (beta) are [C].
	Weight, Bias *autograd.Var
	// RunningMean and RunningVar are [C] buffers updated in training.
	RunningMean, RunningVar *tensor.Tensor
	// NumBatchesTracked counts training forward passes (scalar).
	NumBatchesTracked *tensor.Tensor
	// Momentum is the running-statistics update factor (0.1).
	Momentum float32
	// Eps is added to the variance (1e-5).
	Eps float32
	// Training selects batch statistics (true after construction, as in
	// PyTorch).
	Training bool
}

// NewBatchNorm2d returns a BatchNorm2d over c channels with PyTorch's
// defaults: weight 1, bias 0, running mean 0, running variance 1,
// momentum 0.1, eps 1e-5, training mode.
func NewBatchNorm2d(c int) *BatchNorm2d {
	return &BatchNorm2d{
		Weight:            autograd.Param(tensor.Ones(c)),
		Bias:              autograd.Param(tensor.New(c)),
		RunningMean:       tensor.New(c),
		RunningVar:        tensor.Ones(c),
		NumBatchesTracked: tensor.Scalar(0),
		Momentum:          0.1,
		Eps:               1e-5,
		Training:          true,
	}
}

// Forward normalises x [N, C, H, W].
func (b *BatchNorm2d) Forward(x *autograd.Var) *autograd.Var {
	if b.Training && b.NumBatchesTracked != nil {
		d := b.NumBatchesTracked.Contiguous().Data()
		d[0]++
	}
	return autograd.BatchNorm2d(x, b.Weight, b.Bias, b.RunningMean, b.RunningVar, b.Training, b.Momentum, b.Eps)
}

// Register adds weight, bias, running_mean, running_var and the optional
// num_batches_tracked.
func (b *BatchNorm2d) Register(r *Registry, prefix string) {
	addOpt(r, prefix, "weight", b.Weight)
	addOpt(r, prefix, "bias", b.Bias)
	r.AddBuffer(Join(prefix, "running_mean"), b.RunningMean)
	r.AddBuffer(Join(prefix, "running_var"), b.RunningVar)
	if b.NumBatchesTracked != nil {
		r.AddOptionalBuffer(Join(prefix, "num_batches_tracked"), b.NumBatchesTracked)
	}
}

// Train switches between batch statistics (on) and running statistics.
func (b *BatchNorm2d) Train(on bool) { b.Training = on }

// LayerNorm is torch.nn.LayerNorm over the last axis. State-dict names:
// weight and bias, both [D].
type LayerNorm struct {
	// Weight (gamma) and Bias (beta) are [D]; either may be nil.
	Weight, Bias *autograd.Var
	// Eps is added to the variance (1e-5).
	Eps float32
}

// NewLayerNorm returns a LayerNorm over d features with weight 1, bias 0
// and eps 1e-5.
func NewLayerNorm(d int) *LayerNorm {
	return &LayerNorm{Weight: autograd.Param(tensor.Ones(d)), Bias: autograd.Param(tensor.New(d)), Eps: 1e-5}
}

// Forward normalises x [..., D].
func (l *LayerNorm) Forward(x *autograd.Var) *autograd.Var {
	return autograd.LayerNorm(x, l.Weight, l.Bias, l.Eps)
}

// Register adds weight and bias.
func (l *LayerNorm) Register(r *Registry, prefix string) {
	addOpt(r, prefix, "weight", l.Weight)
	addOpt(r, prefix, "bias", l.Bias)
}

// Train does nothing: LayerNorm has no mode.
func (l *LayerNorm) Train(bool) {}

// Embedding is torch.nn.Embedding. State-dict name: weight [V, D].
type Embedding struct {
	// Weight is [V, D].
	Weight *autograd.Var
}

// NewEmbedding returns an Embedding of n rows of dimension d drawn from
// N(0, 1), PyTorch's default.
func NewEmbedding(n, d int, rng *rand.Rand) *Embedding {
	return &Embedding{Weight: autograd.Param(tensor.RandN(rng, 0, 1, n, d))}
}

// Forward looks up ids; the result has shape [shape..., D] (shape
// defaults to [len(ids)]).
func (e *Embedding) Forward(ids []int, shape ...int) *autograd.Var {
	return autograd.Embedding(e.Weight, ids, shape...)
}

// Register adds weight.
func (e *Embedding) Register(r *Registry, prefix string) {
	r.AddParam(Join(prefix, "weight"), e.Weight)
}

// Train does nothing: Embedding has no mode.
func (e *Embedding) Train(bool) {}

// MultiheadAttention is torch.nn.MultiheadAttention (no dropout, no
// bias_k/bias_v) with batch-first inputs [B, T, E]. State-dict names:
// in_proj_weight [3E, E], in_proj_bias [3E], out_proj.weight [E, E],
// out_proj.bias [E].
type MultiheadAttention struct {
	// InProjWeight packs the q, k and v projections, [3E, E].
	InProjWeight *autograd.Var
	// InProjBias is [3E], or nil for none.
	InProjBias *autograd.Var
	// OutProj is the output projection.
	OutProj *Linear
	// Heads is the number of attention heads (divides E).
	Heads int
}

// NewMultiheadAttention returns attention over embedding size e with
// PyTorch's initialisation: in_proj_weight xavier-uniform (±√(6/(E+3E))),
// out_proj.weight kaiming-uniform (±1/√E), both biases 0.
func NewMultiheadAttention(e, heads int, rng *rand.Rand) *MultiheadAttention {
	if heads <= 0 || e%heads != 0 {
		panic(fmt.Sprintf("nn.NewMultiheadAttention: %d heads do not divide embedding size %d", heads, e))
	}
	xavier := float32(math.Sqrt(6 / float64(e+3*e)))
	return &MultiheadAttention{
		InProjWeight: uniformParam(rng, xavier, 3*e, e),
		InProjBias:   autograd.Param(tensor.New(3 * e)),
		OutProj:      &Linear{Weight: uniformParam(rng, kaimingBound(e), e, e), Bias: autograd.Param(tensor.New(e))},
		Heads:        heads,
	}
}

// Forward attends from queries xq [B, Tq, E] to keys/values xkv
// [B, Tk, E] (pass the same Var for self-attention). mask, if non-nil,
// is added to the scores and broadcasts to [B, Heads, Tq, Tk]; causal
// blocks future keys. The result is [B, Tq, E].
func (m *MultiheadAttention) Forward(xq, xkv *autograd.Var, mask *tensor.Tensor, causal bool) *autograd.Var {
	return autograd.MultiHeadAttention(xq, xkv, m.InProjWeight, m.InProjBias, m.OutProj.Weight, m.OutProj.Bias, m.Heads, mask, causal)
}

// Register adds in_proj_weight, in_proj_bias and out_proj.{weight,bias}.
func (m *MultiheadAttention) Register(r *Registry, prefix string) {
	r.AddParam(Join(prefix, "in_proj_weight"), m.InProjWeight)
	addOpt(r, prefix, "in_proj_bias", m.InProjBias)
	m.OutProj.Register(r, Join(prefix, "out_proj"))
}

// Train does nothing: attention here has no dropout.
func (m *MultiheadAttention) Train(bool) {}

// Dropout is torch.nn.Dropout: in training mode it zeroes elements with
// probability P and scales the rest by 1/(1−P); in eval mode it is the
// identity. It has no parameters.
type Dropout struct {
	// P is the drop probability.
	P float32
	// RNG draws the masks.
	RNG *rand.Rand
	// Training enables dropping (true after construction).
	Training bool
}

// NewDropout returns a Dropout in training mode.
func NewDropout(p float32, rng *rand.Rand) *Dropout { return &Dropout{P: p, RNG: rng, Training: true} }

// Forward applies dropout to x.
func (d *Dropout) Forward(x *autograd.Var) *autograd.Var {
	return autograd.Dropout(x, d.P, d.RNG, d.Training)
}

// Register does nothing: Dropout has no parameters.
func (d *Dropout) Register(*Registry, string) {}

// Train switches dropping on or off.
func (d *Dropout) Train(on bool) { d.Training = on }

// Func is a parameterless layer applying F (an activation such as
// autograd.Relu or autograd.QuickGelu).
type Func struct {
	// F is applied by Forward.
	F func(*autograd.Var) *autograd.Var
}

// Forward returns F(x).
func (f Func) Forward(x *autograd.Var) *autograd.Var { return f.F(x) }

// Register does nothing: Func has no parameters.
func (Func) Register(*Registry, string) {}

// Train does nothing.
func (Func) Train(bool) {}

// Sequential is torch.nn.Sequential: layers applied in order, child i
// registered under the prefix "i" (so "0.weight", "2.running_mean").
type Sequential []Layer

// Forward applies every layer in order.
func (s Sequential) Forward(x *autograd.Var) *autograd.Var {
	for _, l := range s {
		x = l.Forward(x)
	}
	return x
}

// Register registers child i under Join(prefix, "i").
func (s Sequential) Register(r *Registry, prefix string) {
	for i, l := range s {
		l.Register(r, Join(prefix, strconv.Itoa(i)))
	}
}

// Train propagates the mode to every child.
func (s Sequential) Train(on bool) {
	for _, l := range s {
		l.Train(on)
	}
}

// Compile-time checks of the interfaces each type implements.
var (
	_ Layer  = (*Linear)(nil)
	_ Layer  = (*Conv2d)(nil)
	_ Layer  = (*BatchNorm2d)(nil)
	_ Layer  = (*LayerNorm)(nil)
	_ Layer  = (*Dropout)(nil)
	_ Layer  = Func{}
	_ Layer  = Sequential(nil)
	_ Module = (*Embedding)(nil)
	_ Module = (*MultiheadAttention)(nil)
)
