package autograd

import (
	"testing"

	"github.com/softcpt/softcpt-go/tensor"
)

func randT(seed uint64, shape ...int) *tensor.Tensor {
	return tensor.RandU(tensor.NewRNG(seed), -1, 1, shape...)
}

func check(t *testing.T, name string, f func(xs []*Var) *Var, inputs ...*tensor.Tensor) {
	t.Helper()
	if err := CheckGradients(f, inputs, GradCheckOptions{}); err != nil {
		t.Errorf("%s: %v", name, err)
	}
}

func TestGradArithBroadcast(t *testing.T) {
	shapes := [][2][]int{
		{{3, 4}, {3, 4}}, {{2, 3, 4}, {4}}, {{2, 3, 4}, {3, 1}}, {{1, 4}, {3, 1}}, {{5}, {2, 1, 5}}, {{}, {2, 3}},
	}
	for i, s := range shapes {
		a, b := randT(uint64(i), s[0]...), randT(uint64(i+100), s[1]...)
		check(t, "Add", func(x []*Var) *Var { return Add(x[0], x[1]) }, a, b)
		check(t, "Sub", func(x []*Var) *Var { return Sub(x[0], x[1]) }, a, b)
		check(t, "Mul", func(x []*Var) *Var { return Mul(x[0], x[1]) }, a, b)
		bp := tensor.RandU(tensor.NewRNG(uint64(i+200)), 0.5, 2, s[1]...)
		check(t, "Div", func(x []*Var) *Var { return Div(x[0], x[1]) }, a, bp)
	}
	check(t, "Scale", func(x []*Var) *Var { return Scale(x[0], -2.5) }, randT(1, 3, 2))
	check(t, "AddScalar", func(x []*Var) *Var { return AddScalar(x[0], 3) }, randT(1, 3, 2))
}

func TestBroadcastForward(t *testing.T) {
	a := tensor.FromSlice([]float32{1, 2, 3}, 3, 1)
	b := tensor.FromSlice([]float32{10, 20}, 1, 2)
	got := Add(Const(a), Const(b)).Value
	want := []float32{11, 21, 12, 22, 13, 23}
	if !tensor.SameShape(got.Shape(), []int{3, 2}) {
		t.Fatalf("shape %v", got.Shape())
	}
	for i, w := range want {
		if got.Data()[i] != w {
			t.Fatalf("got %v want %v", got.Data(), want)
		}
	}
	defer func() {
		r := recover()
		if r == nil {
			t.Fatal("incompatible broadcast did not panic")
		}
	}()
	Add(Const(tensor.New(3)), Const(tensor.New(4)))
}

func TestGradShapeOps(t *testing.T) {
	x := randT(3, 2, 3, 4)
	check(t, "Reshape", func(v []*Var) *Var { return Reshape(v[0], 6, -1) }, x)
	check(t, "Permute", func(v []*Var) *Var { return Permute(v[0], 2, 0, 1) }, x)
	check(t, "Transpose", func(v []*Var) *Var { return Transpose(v[0], 0, -1) }, x)
	check(t, "Narrow", func(v []*Var) *Var { return Narrow(v[0], 1, 1, 2) }, x)
	check(t, "Expand", func(v []*Var) *Var { return Expand(v[0], 5, 2, 3, 4) }, x)
	check(t, "Sum0", func(v []*Var) *Var { return Sum(v[0], 0, false) }, x)
	check(t, "Sum1k", func(v []*Var) *Var { return Sum(v[0], 1, true) }, x)
	check(t, "Mean2", func(v []*Var) *Var { return Mean(v[0], -1, false) }, x)
	check(t, "SumAll", func(v []*Var) *Var { return SumAll(v[0]) }, x)
	check(t, "MeanAll", func(v []*Var) *Var { return MeanAll(v[0]) }, x)
}

func TestGradMatMul(t *testing.T) {
	for _, ta := range []bool{false, true} {
		for _, tb := range []bool{false, true} {
			as := []int{3, 5}
			if ta {
				as = []int{5, 3}
			}
			bs := []int{5, 4}
			if tb {
				bs = []int{4, 5}
			}
			f := func(v []*Var) *Var { return MatMul(v[0], v[1], ta, tb) }
			check(t, "MatMul2D", f, randT(1, as...), randT(2, bs...))
			check(t, "MatMulBatched", f, randT(3, append([]int{2}, as...)...), randT(4, append([]int{2}, bs...)...))
			check(t, "MatMulSharedB", f, randT(5, append([]int{3}, as...)...), randT(6, bs...))
			check(t, "MatMulSharedA", f, randT(7, as...), randT(8, append([]int{2}, bs...)...))
		}
	}
}

func TestMatMulForward(t *testing.T) {
	a := tensor.FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	b := tensor.FromSlice([]float32{1, 0, 0, 1, 1, 1}, 3, 2)
	got := MatMul(Const(a), Const(b), false, false).Value.Data()
	want := []float32{4, 5, 10, 11}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v want %v", got, want)
		}
	}
}

func TestGradLinear(t *testing.T) {
	f := func(v []*Var) *Var { return Linear(v[0], v[1], v[2]) }
	check(t, "Linear", f, randT(1, 2, 3, 5), randT(2, 4, 5), randT(3, 4))
	check(t, "LinearNoBias", func(v []*Var) *Var { return Linear(v[0], v[1], nil) }, randT(1, 7, 5), randT(2, 4, 5))
}

func TestNoGradAndFrozen(t *testing.T) {
	w := Param(randT(1, 3, 3))
	x := Const(randT(2, 2, 3))
	var y *Var
	NoGrad(func() { y = Linear(x, w, nil) })
	if y.RequiresGrad() || y.backward != nil {
		t.Fatal("op under NoGrad recorded a graph")
	}
	frozen := Const(randT(3, 3, 3))
	z := Linear(x, frozen, nil)
	if z.RequiresGrad() || z.parents != nil {
		t.Fatal("op on constants recorded a graph")
	}
	// Gradients only reach leaves that ask for them, and accumulate.
	loss := SumAll(Linear(z, w, nil))
	loss.Backward()
	if w.Grad == nil || frozen.Grad != nil || x.Grad != nil {
		t.Fatal("gradients reached the wrong leaves")
	}
	g1 := w.Grad.Clone()
	SumAll(Linear(z, w, nil)).Backward()
	for i, v := range w.Grad.Data() {
		if d := v - 2*g1.Data()[i]; d > 1e-5 || d < -1e-5 {
			t.Fatal("gradients did not accumulate")
		}
	}
	w.ZeroGrad()
	if w.Grad != nil {
		t.Fatal("ZeroGrad did not clear")
	}
}

func TestDiamondGraph(t *testing.T) {
	// y = x*x + x uses x on two paths: dy/dx = 2x + 1.
	x := Param(tensor.FromSlice([]float32{3}, 1))
	y := Add(Mul(x, x), x)
	SumAll(y).Backward()
	if x.Grad.Data()[0] != 7 {
		t.Fatalf("dy/dx = %v, want 7", x.Grad.Data()[0])
	}
}

// TestGradCheckCatchesWrongBackward makes sure the checker can fail.
func TestGradCheckCatchesWrongBackward(t *testing.T) {
	wrong := func(v []*Var) *Var {
		x := v[0]
		val := x.Value.Clone()
		for i, e := range val.Data() {
			val.Data()[i] = e * e
		}
		return result(val, func(g *tensor.Tensor) { x.accumulate(g.Clone()) }, x) // should be 2x·g
	}
	if err := CheckGradients(wrong, []*tensor.Tensor{randT(1, 4)}, GradCheckOptions{}); err == nil {
		t.Fatal("CheckGradients accepted a wrong backward")
	}
}
