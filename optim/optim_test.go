package optim

import (
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/softcpt/softcpt-go/autograd"
	"github.com/softcpt/softcpt-go/tensor"
)

// optimFixture mirrors testdata/optim.json (written by gen_optim.py).
type optimFixture struct {
	Torch     string         `json:"torch"`
	SGD       []optimCase    `json:"sgd"`
	AdamW     []optimCase    `json:"adamw"`
	Schedules []scheduleCase `json:"schedules"`
}

type optimCase struct {
	Name   string         `json:"name"`
	Hyper  map[string]any `json:"hyper"`
	Shapes [][]int        `json:"shapes"`
	Init   [][]float64    `json:"init"`
	Grads  [][]*[]float64 `json:"grads"`
	After  [][][]float64  `json:"after"`
}

type scheduleCase struct {
	Name     string    `json:"name"`
	Kind     string    `json:"kind"`
	Repeat   int       `json:"repeat"`
	BaseLR   float64   `json:"base_lr"`
	TMax     int       `json:"t_max"`
	EtaMin   float64   `json:"eta_min"`
	Warmup   int       `json:"warmup"`
	WarmupLR float64   `json:"warmup_lr"`
	LRs      []float64 `json:"lrs"`
}

func loadOptimFixture(t *testing.T) *optimFixture {
	t.Helper()
	b, err := os.ReadFile("testdata/optim.json")
	if err != nil {
		t.Fatalf("reading fixture: %v", err)
	}
	var f optimFixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("parsing fixture: %v", err)
	}
	if len(f.SGD) == 0 || len(f.AdamW) == 0 || len(f.Schedules) == 0 {
		t.Fatal("fixture has no cases")
	}
	return &f
}

func toF32(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

func (c *optimCase) params() []*autograd.Var {
	ps := make([]*autograd.Var, len(c.Shapes))
	for i, s := range c.Shapes {
		ps[i] = autograd.Param(tensor.FromSlice(toF32(c.Init[i]), s...))
	}
	return ps
}

// setGrads installs the gradients of step k (nil where PyTorch had None).
func (c *optimCase) setGrads(ps []*autograd.Var, k int) {
	for i, p := range ps {
		if g := c.Grads[k][i]; g != nil {
			p.Grad = tensor.FromSlice(toF32(*g), c.Shapes[i]...)
		} else {
			p.Grad = nil
		}
	}
}

func (c *optimCase) hyper(key string) float64 {
	switch v := c.Hyper[key].(type) {
	case float64:
		return v
	case bool:
		if v {
			return 1
		}
	}
	return 0
}

// relClose reports |a−b| ≤ rel·max(|a|,|b|) + abs. Optimiser comparisons use
// rel 1e-6 and abs 1e-7 (one float32 ulp at 1, the parameters' scale): an
// element that cancels to near 0 keeps the absolute rounding of its terms.
func relClose(a, b, rel, abs float64) bool {
	return math.Abs(a-b) <= rel*math.Max(math.Abs(a), math.Abs(b))+abs
}

func (c *optimCase) compare(t *testing.T, ps []*autograd.Var, k int) {
	t.Helper()
	for i, p := range ps {
		got := p.Value.Data()
		for j, want := range c.After[k][i] {
			if !relClose(float64(got[j]), want, 1e-6, 1e-7) {
				t.Fatalf("%s: step %d param %d elem %d: got %.9g, PyTorch %.9g", c.Name, k+1, i, j, got[j], want)
			}
		}
	}
}

func (c *optimCase) newSGD(ps []*autograd.Var) *SGD {
	o := NewSGD(ps, c.hyper("lr"))
	o.Momentum, o.Dampening = c.hyper("momentum"), c.hyper("dampening")
	o.WeightDecay, o.Nesterov = c.hyper("weight_decay"), c.hyper("nesterov") == 1
	return o
}

func (c *optimCase) newAdamW(ps []*autograd.Var) *AdamW {
	o := NewAdamW(ps, c.hyper("lr"))
	o.Beta1, o.Beta2 = c.hyper("beta1"), c.hyper("beta2")
	o.Eps, o.WeightDecay = c.hyper("eps"), c.hyper("weight_decay")
	return o
}

// runAgainstTorch steps opt through the case, comparing after each step.
// When resumeAt > 0 the optimiser is rebuilt from State after that many
// steps (checkpoint resume).
func runAgainstTorch(t *testing.T, c *optimCase, build func([]*autograd.Var) Optimizer, resumeAt int) {
	ps := c.params()
	opt := build(ps)
	for k := range c.Grads {
		if k == resumeAt && resumeAt > 0 {
			st := opt.State()
			// Drop the parameter values' identity: a fresh model with
			// the saved values and a fresh optimiser.
			fresh := make([]*autograd.Var, len(ps))
			for i, p := range ps {
				fresh[i] = autograd.Param(p.Value.Clone())
			}
			ps = fresh
			opt = build(ps)
			if err := opt.LoadState(st); err != nil {
				t.Fatalf("%s: LoadState: %v", c.Name, err)
			}
		}
		c.setGrads(ps, k)
		opt.Step()
		c.compare(t, ps, k)
	}
}

func TestSGDMatchesPyTorch(t *testing.T) {
	f := loadOptimFixture(t)
	for i := range f.SGD {
		c := &f.SGD[i]
		t.Run(c.Name, func(t *testing.T) {
			runAgainstTorch(t, c, func(ps []*autograd.Var) Optimizer { return c.newSGD(ps) }, 0)
			runAgainstTorch(t, c, func(ps []*autograd.Var) Optimizer { return c.newSGD(ps) }, 3)
		})
	}
}

func TestAdamWMatchesPyTorch(t *testing.T) {
	f := loadOptimFixture(t)
	for i := range f.AdamW {
		c := &f.AdamW[i]
		t.Run(c.Name, func(t *testing.T) {
			runAgainstTorch(t, c, func(ps []*autograd.Var) Optimizer { return c.newAdamW(ps) }, 0)
			runAgainstTorch(t, c, func(ps []*autograd.Var) Optimizer { return c.newAdamW(ps) }, 3)
		})
	}
}

// TestResumeWithoutStateDiffers shows the resume test can fail: dropping
// the momentum state changes the trajectory.
func TestResumeWithoutStateDiffers(t *testing.T) {
	f := loadOptimFixture(t)
	var c *optimCase
	for i := range f.SGD {
		if f.SGD[i].Name == "momentum" {
			c = &f.SGD[i]
		}
	}
	if c == nil {
		t.Fatal("no momentum case")
	}
	ps := c.params()
	opt := c.newSGD(ps)
	for k := 0; k < 3; k++ {
		c.setGrads(ps, k)
		opt.Step()
	}
	opt = c.newSGD(ps) // state lost
	c.setGrads(ps, 3)
	opt.Step()
	got, want := ps[0].Value.Data()[0], c.After[3][0][0]
	if relClose(float64(got), want, 1e-6, 1e-7) {
		t.Fatalf("without momentum state step 4 still matched PyTorch (%g); the comparison is too weak", got)
	}
}

func TestSGDSkipsNilGradAndRepeatedSteps(t *testing.T) {
	p := autograd.Param(tensor.FromSlice([]float32{1, 2}, 2))
	q := autograd.Param(tensor.FromSlice([]float32{3}, 1))
	o := &SGD{Params: []*autograd.Var{p, q}, LR: 0.5, Momentum: 0.5}
	p.Grad = tensor.FromSlice([]float32{1, -1}, 2)
	o.Step() // buf = g; p = p − 0.5·g
	o.Step() // buf = 0.5·g + g = 1.5·g; p −= 0.75·g
	want := []float32{1 - 0.5 - 0.75, 2 + 0.5 + 0.75}
	for i, w := range want {
		if p.Value.Data()[i] != w {
			t.Fatalf("p[%d] = %v, want %v", i, p.Value.Data()[i], w)
		}
	}
	if q.Value.Data()[0] != 3 {
		t.Fatalf("parameter with nil grad changed to %v", q.Value.Data()[0])
	}
	if g := p.Grad.Data(); g[0] != 1 || g[1] != -1 {
		t.Fatalf("Step modified the gradient: %v", g)
	}
	if _, ok := o.State()["momentum_buffer.1"]; ok {
		t.Fatal("momentum buffer created for a parameter that never had a gradient")
	}
	o.ZeroGrad()
	if p.Grad != nil {
		t.Fatal("ZeroGrad kept the gradient")
	}
}

func TestOptimizerValidation(t *testing.T) {
	bad := []*SGD{
		{LR: -1},
		{LR: 0.1, Momentum: -0.1},
		{LR: 0.1, WeightDecay: -1},
		{LR: 0.1, Nesterov: true},
		{LR: 0.1, Momentum: 0.9, Dampening: 0.1, Nesterov: true},
	}
	for i, o := range bad {
		if o.Validate() == nil {
			t.Errorf("SGD case %d: invalid config accepted", i)
		}
	}
	a := NewAdamW(nil, 1e-3)
	if err := a.Validate(); err != nil {
		t.Fatalf("defaults rejected: %v", err)
	}
	a.Beta2 = 1
	if a.Validate() == nil {
		t.Error("AdamW beta2=1 accepted")
	}
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(r.(string), "Nesterov") {
			t.Fatalf("Step with invalid config: recovered %v", r)
		}
	}()
	(&SGD{LR: 0.1, Nesterov: true}).Step()
}

func TestLoadStateErrors(t *testing.T) {
	ps := []*autograd.Var{autograd.Param(tensor.New(2, 3)), autograd.Param(tensor.New(4))}
	sgd := &SGD{Params: ps, LR: 0.1, Momentum: 0.9}
	adam := NewAdamW(ps, 0.1)
	cases := []struct {
		name string
		opt  Optimizer
		st   map[string]*tensor.Tensor
		want string
	}{
		{"no steps", sgd, map[string]*tensor.Tensor{}, `"steps"`},
		{"bad shape", sgd, map[string]*tensor.Tensor{"steps": tensor.Scalar(1), "momentum_buffer.0": tensor.New(3, 2)}, "momentum_buffer.0\": expected shape [2 3]"},
		{"bad index", sgd, map[string]*tensor.Tensor{"steps": tensor.Scalar(1), "momentum_buffer.2": tensor.New(4)}, "momentum_buffer.2"},
		{"unknown kind", sgd, map[string]*tensor.Tensor{"steps": tensor.Scalar(1), "exp_avg.0": tensor.New(2, 3)}, "unknown kind"},
		{"partial adam", adam, map[string]*tensor.Tensor{"steps": tensor.Scalar(1), "exp_avg.1": tensor.New(4)}, "parameter 1 has 1 of the 3"},
		{"bad step", adam, map[string]*tensor.Tensor{"steps": tensor.Scalar(1), "step.1": tensor.Scalar(0.5), "exp_avg.1": tensor.New(4), "exp_avg_sq.1": tensor.New(4)}, "step.1"},
	}
	for _, c := range cases {
		err := c.opt.LoadState(c.st)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to mention %q", c.name, err, c.want)
		}
	}
}

func buildSchedule(c *scheduleCase) Schedule {
	cos := CosineAnnealing{BaseLR: c.BaseLR, TMax: c.TMax, EtaMin: c.EtaMin}
	var s Schedule
	switch c.Kind {
	case "cosine":
		s = cos
	case "constant_warmup":
		s = ConstantWarmup{WarmupEpochs: c.Warmup, WarmupLR: c.WarmupLR, After: cos}
	case "linear_warmup":
		s = LinearWarmup{WarmupSteps: c.Warmup, StartLR: c.WarmupLR, After: cos}
	default:
		return nil
	}
	if c.Repeat > 0 {
		s = Repeated{Times: c.Repeat, Inner: s}
	}
	return s
}

func TestSchedulesMatchPyTorch(t *testing.T) {
	f := loadOptimFixture(t)
	for i := range f.Schedules {
		c := &f.Schedules[i]
		s := buildSchedule(c)
		if s == nil {
			t.Fatalf("%s: unknown kind %q", c.Name, c.Kind)
		}
		for e, want := range c.LRs {
			// 1e-12 absolute covers cosine troughs where PyTorch's
			// recursive form leaves ~1e-19 instead of 0.
			if got := s.LR(e); !relClose(got, want, 1e-6, 1e-12) {
				t.Errorf("%s: epoch %d: lr %.12g, PyTorch %.12g", c.Name, e, got, want)
			}
		}
	}
}

func TestScheduleFormulas(t *testing.T) {
	cos := CosineAnnealing{BaseLR: 0.002, TMax: 50}
	w := ConstantWarmup{WarmupEpochs: 1, WarmupLR: 1e-5, After: cos}
	if w.LR(0) != 1e-5 || w.LR(1) != 0.002 || w.LR(51) != 0 {
		t.Fatalf("warm-up cosine: %g %g %g", w.LR(0), w.LR(1), w.LR(51))
	}
	if got := (Repeated{Times: 4, Inner: w}).LR(49); math.Abs(got-1.951056516e-3) > 1e-12 {
		t.Fatalf("MTCoOp k=4 epoch 50 lr %g, want 1.95e-3 (softcpt.md §3.2)", got)
	}
	if ConstantLR(0.1).LR(7) != 0.1 {
		t.Fatal("ConstantLR")
	}
}
