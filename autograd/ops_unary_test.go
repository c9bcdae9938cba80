package autograd

import (
	"math"
	"strings"
	"testing"

	"github.com/softcpt/softcpt-go/tensor"
)

// Helpers shared by the ops_{unary,softmax,index,norm} tests.

// requirePanicContains fails unless f panics with a message containing
// every one of want.
func requirePanicContains(t *testing.T, f func(), want ...string) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Errorf("no panic; want one mentioning %q", want)
			return
		}
		msg, _ := r.(string)
		if err, ok := r.(error); ok {
			msg = err.Error()
		}
		for _, w := range want {
			if !strings.Contains(msg, w) {
				t.Errorf("panic %q does not mention %q", msg, w)
			}
		}
	}()
	f()
}

// assertClose64 compares float32 results with a float64 reference within
// atol + rtol·|want|.
func assertClose64(t *testing.T, name string, got []float32, want []float64, atol, rtol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
	}
	for i, w := range want {
		g := float64(got[i])
		if math.IsNaN(g) != math.IsNaN(w) || (!math.IsNaN(w) && math.Abs(g-w) > atol+rtol*math.Abs(w)) {
			t.Fatalf("%s: element %d = %v, want %v", name, i, g, w)
		}
	}
}

// randRange returns uniform values in [lo, hi).
func randRange(seed uint64, lo, hi float32, shape ...int) *tensor.Tensor {
	return tensor.RandU(tensor.NewRNG(seed), lo, hi, shape...)
}

// awayFrom moves every element within margin of one of the kinks to
// kink ± margin, so finite differences never straddle a kink.
func awayFrom(x *tensor.Tensor, margin float32, kinks ...float32) *tensor.Tensor {
	d := x.Data()
	for i, v := range d {
		for _, k := range kinks {
			if v > k-margin && v < k+margin {
				if v >= k {
					v = k + margin
				} else {
					v = k - margin
				}
			}
		}
		d[i] = v
	}
	return x
}

// gradShapes are the shapes every pointwise op is checked over.
var gradShapes = [][]int{{7}, {3, 5}, {2, 3, 4}, {1, 1, 9}}

func TestGradPointwise(t *testing.T) {
	type tc struct {
		name   string
		f      func(*Var) *Var
		lo, hi float32   // input range
		kinks  []float32 // points to stay away from
	}
	cases := []tc{
		{"Exp", Exp, -2, 2, nil},
		{"Log", Log, 0.3, 3, nil},
		{"Sqrt", Sqrt, 0.3, 3, nil},
		{"Pow2", func(x *Var) *Var { return Pow(x, 2) }, -2, 2, nil},
		{"Pow3", func(x *Var) *Var { return Pow(x, 3) }, -2, 2, nil},
		{"Pow1", func(x *Var) *Var { return Pow(x, 1) }, -2, 2, nil},
		{"Pow0", func(x *Var) *Var { return Pow(x, 0) }, -2, 2, nil},
		{"Pow-1.5", func(x *Var) *Var { return Pow(x, -1.5) }, 0.5, 2, nil},
		{"Pow0.5", func(x *Var) *Var { return Pow(x, 0.5) }, 0.3, 2, nil},
		{"Clamp", func(x *Var) *Var { return Clamp(x, -0.4, 0.6) }, -1, 1, []float32{-0.4, 0.6}},
		{"Relu", Relu, -1, 1, []float32{0}},
		{"Abs", Abs, -1, 1, []float32{0}},
		{"Sigmoid", Sigmoid, -4, 4, nil},
		{"Tanh", Tanh, -3, 3, nil},
		{"Gelu", Gelu, -4, 4, nil},
		{"QuickGelu", QuickGelu, -4, 4, nil},
	}
	for _, c := range cases {
		for i, s := range gradShapes {
			x := randRange(uint64(10+i), c.lo, c.hi, s...)
			awayFrom(x, 0.02, c.kinks...)
			check(t, c.name, func(v []*Var) *Var { return c.f(v[0]) }, x)
		}
	}
}

func TestPointwiseForward(t *testing.T) {
	sig := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	cases := []struct {
		name   string
		f      func(*Var) *Var
		ref    func(float64) float64
		lo, hi float32
	}{
		{"Exp", Exp, math.Exp, -20, 20},
		{"Log", Log, math.Log, 1e-3, 100},
		{"Sqrt", Sqrt, math.Sqrt, 0, 100},
		{"Pow-2.5", func(x *Var) *Var { return Pow(x, -2.5) }, func(x float64) float64 { return math.Pow(x, -2.5) }, 0.1, 5},
		{"Pow2", func(x *Var) *Var { return Pow(x, 2) }, func(x float64) float64 { return x * x }, -5, 5},
		{"Clamp", func(x *Var) *Var { return Clamp(x, -1, 2) }, func(x float64) float64 { return math.Min(math.Max(x, -1), 2) }, -5, 5},
		{"Relu", Relu, func(x float64) float64 { return math.Max(x, 0) }, -5, 5},
		{"Abs", Abs, math.Abs, -5, 5},
		{"Sigmoid", Sigmoid, sig, -30, 30},
		{"Tanh", Tanh, math.Tanh, -10, 10},
		{"Gelu", Gelu, func(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }, -8, 8},
		{"QuickGelu", QuickGelu, func(x float64) float64 { return x * sig(1.702*x) }, -8, 8},
	}
	for _, c := range cases {
		x := randRange(3, c.lo, c.hi, 4, 251)
		want := make([]float64, x.Numel())
		for i, v := range x.Data() {
			want[i] = c.ref(float64(v))
		}
		assertClose64(t, c.name, c.f(Const(x)).Value.Data(), want, 1e-7, 2e-6)
	}
}

func TestPointwiseKnownValues(t *testing.T) {
	x := Const(tensor.FromSlice([]float32{-1000, -1, 0, 1, 1000}, 5))
	assertClose64(t, "Sigmoid", Sigmoid(x).Value.Data(), []float64{0, 0.2689414213699951, 0.5, 0.7310585786300049, 1}, 1e-7, 1e-6)
	// PyTorch: F.gelu(torch.tensor([-1., 0., 1.])) = [-0.1587, 0.0000, 0.8413].
	assertClose64(t, "Gelu", Gelu(x).Value.Data(), []float64{0, -0.15865525393145707, 0, 0.8413447460685429, 1000}, 1e-7, 1e-6)
	assertClose64(t, "QuickGelu", QuickGelu(x).Value.Data(), []float64{0, -0.1542042340671787, 0, 0.8457957659328212, 1000}, 1e-7, 1e-6)
	assertClose64(t, "Tanh", Tanh(x).Value.Data(), []float64{-1, -0.7615941559557649, 0, 0.7615941559557649, 1}, 1e-7, 1e-6)
}

// gradOf returns the gradient of SumAll(f(x)) with respect to x.
func gradOf(f func(*Var) *Var, x []float32) []float32 {
	v := Param(tensor.FromSlice(append([]float32(nil), x...), len(x)))
	SumAll(f(v)).Backward()
	return v.Grad.Data()
}

func TestPointwiseKinkGradients(t *testing.T) {
	// Clamp passes the gradient on its boundaries (PyTorch convention).
	g := gradOf(func(v *Var) *Var { return Clamp(v, -1, 2) }, []float32{-1.5, -1, 0, 2, 2.5})
	assertClose64(t, "Clamp grad", g, []float64{0, 1, 1, 1, 0}, 0, 0)
	g = gradOf(Relu, []float32{-1, 0, 1})
	assertClose64(t, "Relu grad", g, []float64{0, 0, 1}, 0, 0)
	g = gradOf(Abs, []float32{-3, 0, 2})
	assertClose64(t, "Abs grad", g, []float64{-1, 0, 1}, 0, 0)
	g = gradOf(func(v *Var) *Var { return Pow(v, 0) }, []float32{0, 3})
	assertClose64(t, "Pow0 grad", g, []float64{0, 0}, 0, 0)
	// Sigmoid and Tanh saturate without NaN.
	g = gradOf(Sigmoid, []float32{-1000, 1000})
	assertClose64(t, "Sigmoid grad", g, []float64{0, 0}, 0, 0)
	requirePanicContains(t, func() { Clamp(Const(tensor.New(2)), 1, 0) }, "Clamp", "1", "0")
}

func TestPointwiseNonContiguous(t *testing.T) {
	// A transposed view goes through Contiguous and back.
	base := randRange(5, -2, 2, 3, 4)
	x := Param(base.Transpose(0, 1))
	y := Tanh(x)
	want := base.Transpose(0, 1).Clone().Data()
	for i, v := range y.Value.Data() {
		if math.Abs(float64(v)-math.Tanh(float64(want[i]))) > 1e-6 {
			t.Fatalf("element %d: %v, want tanh(%v)", i, v, want[i])
		}
	}
	SumAll(y).Backward()
	if !tensor.SameShape(x.Grad.Shape(), []int{4, 3}) {
		t.Fatalf("grad shape %v", x.Grad.Shape())
	}
}

func TestDropout(t *testing.T) {
	x := Param(randRange(1, 0.5, 1.5, 100, 100))
	if Dropout(x, 0.5, nil, false) != x || Dropout(x, 0, nil, true) != x {
		t.Fatal("Dropout is not the identity in eval mode or with p = 0")
	}
	const p = 0.3
	y := Dropout(x, p, tensor.NewRNG(42), true)
	zeros := 0
	xd, yd := x.Value.Data(), y.Value.Data()
	for i, v := range yd {
		switch {
		case v == 0:
			zeros++
		case math.Abs(float64(v)-float64(xd[i])/(1-p)) > 1e-6:
			t.Fatalf("survivor %d = %v, want %v/(1-p)", i, v, xd[i])
		}
	}
	if frac := float64(zeros) / float64(len(yd)); math.Abs(frac-p) > 0.02 {
		t.Fatalf("dropped fraction %.4f, want about %v", frac, p)
	}
	// The backward reuses the forward mask.
	SumAll(y).Backward()
	for i, gv := range x.Grad.Data() {
		want := float32(0)
		if yd[i] != 0 {
			want = 1 / (1 - p)
		}
		if math.Abs(float64(gv-want)) > 1e-6 {
			t.Fatalf("grad %d = %v, want %v", i, gv, want)
		}
	}
	// Same seed, same mask.
	y2 := Dropout(Const(x.Value), p, tensor.NewRNG(42), true)
	for i, v := range y2.Value.Data() {
		if v != yd[i] {
			t.Fatal("Dropout with the same seed drew a different mask")
		}
	}
	for _, v := range Dropout(x, 1, tensor.NewRNG(1), true).Value.Data() {
		if v != 0 {
			t.Fatal("Dropout with p = 1 kept an element")
		}
	}
	for i, s := range gradShapes {
		check(t, "Dropout", func(v []*Var) *Var { return Dropout(v[0], 0.4, tensor.NewRNG(7), true) }, randT(uint64(i), s...))
	}
	requirePanicContains(t, func() { Dropout(x, 1.5, tensor.NewRNG(1), true) }, "Dropout", "1.5")
	requirePanicContains(t, func() { Dropout(x, 0.5, nil, true) }, "Dropout", "rng")
}

func TestPointwiseNoGraphOnConstants(t *testing.T) {
	x := Const(randT(1, 3))
	for _, f := range []func(*Var) *Var{Exp, Tanh, Gelu, QuickGelu, Relu, Sigmoid} {
		if y := f(x); y.RequiresGrad() || y.backward != nil {
			t.Fatal("pointwise op on a constant recorded a graph")
		}
	}
}

// TestQuickGeluBackwardParallel checks QuickGelu's input gradient against
// the float64 derivative on a length that parallelFor splits (unevenly).
func TestQuickGeluBackwardParallel(t *testing.T) {
	n := 2*parallelMinElems + 37
	x := Param(randRange(5, -9, 9, n))
	g := randRange(6, -2, 2, n)
	QuickGelu(x).BackwardWith(g)
	want := make([]float64, n)
	for i, v := range x.Value.Data() {
		v := float64(v)
		s := 1 / (1 + math.Exp(-1.702*v))
		want[i] = float64(g.Data()[i]) * s * (1 + 1.702*v*(1-s))
	}
	assertClose64(t, "QuickGelu backward", x.Grad.Data(), want, 1e-6, 1e-5)
}
