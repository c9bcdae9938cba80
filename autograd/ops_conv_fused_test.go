package autograd

import (
	"testing"

	"github.com/softcpt/softcpt-go/tensor"
)

// TestConv2dActMatchesUnfused compares Conv2dAct with Conv2d, Add and Relu
// bit for bit on every conv case (grouped ones included), with and without
// bias, residual and ReLU.
func TestConv2dActMatchesUnfused(t *testing.T) {
	for i, c := range convCases {
		x, w := Const(randT(uint64(30*i), c.x...)), Const(randT(uint64(30*i+1), c.w...))
		var b *Var
		if c.bias {
			b = Const(randT(uint64(30*i+2), c.w[0]))
		}
		ref := Conv2d(x, w, b, c.opt)
		res := Const(randT(uint64(30*i+3), ref.Shape()...))
		for _, withRes := range []bool{false, true} {
			for _, act := range []Activation{ActNone, ActRelu} {
				want, r := ref, (*Var)(nil)
				if withRes {
					want, r = Add(want, res), res
				}
				if act == ActRelu {
					want = Relu(want)
				}
				got := Conv2dAct(x, w, b, r, c.opt, act)
				if got.RequiresGrad() || !got.IsLeaf() {
					t.Fatalf("%s: Conv2dAct recorded a graph", c.name)
				}
				if !tensor.SameShape(got.Shape(), want.Shape()) {
					t.Fatalf("%s res=%v act=%v: shape %v, want %v", c.name, withRes, act, got.Shape(), want.Shape())
				}
				wd := want.Value.Contiguous().Data()
				for j, v := range got.Value.Data() {
					if v != wd[j] {
						t.Fatalf("%s res=%v act=%v: element %d = %v, unfused %v", c.name, withRes, act, j, v, wd[j])
					}
				}
			}
		}
	}
}

func TestConv2dActPanics(t *testing.T) {
	x := Const(tensor.New(1, 3, 5, 5))
	w := Const(tensor.New(2, 3, 3, 3))
	visPanics(t, "grad weight", func() { Conv2dAct(x, Param(tensor.New(2, 3, 3, 3)), nil, nil, Conv2dOptions{}, ActRelu) }, "Conv2dAct", "gradients")
	visPanics(t, "grad input", func() { Conv2dAct(Param(tensor.New(1, 3, 5, 5)), w, nil, nil, Conv2dOptions{}, ActRelu) }, "Conv2dAct", "gradients")
	visPanics(t, "grad residual", func() {
		Conv2dAct(x, w, nil, Param(tensor.New(1, 2, 3, 3)), Conv2dOptions{}, ActNone)
	}, "Conv2dAct", "gradients")
	visPanics(t, "residual shape", func() { Conv2dAct(x, w, nil, Const(tensor.New(1, 2, 5, 5)), Conv2dOptions{}, ActNone) }, "Conv2dAct", "residual [1 2 5 5]", "[1 2 3 3]")
	visPanics(t, "bias", func() { Conv2dAct(x, w, Const(tensor.New(3)), nil, Conv2dOptions{}, ActNone) }, "Conv2dAct", "bias [3]")
	visPanics(t, "activation", func() { Conv2dAct(x, w, nil, nil, Conv2dOptions{}, Activation(7)) }, "Conv2dAct", "Activation(7)")
	// Under NoGrad parameters are fine: nothing is recorded.
	NoGrad(func() {
		got := Conv2dAct(x, Param(tensor.Ones(2, 3, 3, 3)), nil, nil, Conv2dOptions{}, ActRelu)
		if got.RequiresGrad() || !tensor.SameShape(got.Shape(), []int{1, 2, 3, 3}) {
			t.Errorf("NoGrad: got requiresGrad=%v shape %v", got.RequiresGrad(), got.Shape())
		}
	})
}
