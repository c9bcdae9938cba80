package autograd

import (
	"fmt"
	"math"
	"testing"

	"github.com/softcpt/softcpt-go/kernels"
	"github.com/softcpt/softcpt-go/tensor"
)

// closeRel fails unless |got−want| ≤ tol·max|want| elementwise, and returns
// the largest such relative difference.
func closeRel(t *testing.T, what string, got, want *tensor.Tensor, tol float64) float64 {
	t.Helper()
	if !tensor.SameShape(got.Shape(), want.Shape()) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape(), want.Shape())
	}
	g, w := got.Contiguous().Data(), want.Contiguous().Data()
	var scale, worst float64
	for _, v := range w {
		scale = max(scale, math.Abs(float64(v)))
	}
	for i := range w {
		d := math.Abs(float64(g[i]) - float64(w[i]))
		if math.IsNaN(d) || d > tol*scale {
			t.Fatalf("%s: element %d = %v, want %v (scale %g, tol %g)", what, i, g[i], w[i], scale, tol)
		}
		worst = max(worst, d/max(scale, 1e-30))
	}
	return worst
}

// TestLinearPackedBF16 checks LinearPacked at precision BF16 against the
// fp32 Linear: outputs and input gradients within bf16's error (relative
// to the largest value, 2⁻⁶ allows for the rounding of both operands), the
// bias gradient bit-identical (it stays fp32), on shapes that run serially
// and split over goroutines. Where AVX512-BF16 runs it also checks that
// the result differs from fp32 (the bf16 path is really taken) and equals
// kernels.GemmBF16Generic bit for bit.
func TestLinearPackedBF16(t *testing.T) {
	for i, sh := range [][4]int{{2, 3, 5, 4}, {1, 7, 33, 17}, {4, 75, 70, 530}, {2, 150, 257, 300}} {
		name := fmt.Sprintf("%v", sh)
		xt, bt, g := randT(uint64(10+i), sh[0], sh[1], sh[2]), randT(uint64(30+i), sh[3]), randT(uint64(40+i), sh[0], sh[1], sh[3])
		wt := randT(uint64(20+i), sh[3], sh[2])
		pw := NewPackedWeight(Const(wt))
		pw.SetPrecision(BF16)
		x, b := Param(xt), Param(bt)
		y := LinearPacked(x, pw, b)
		y.BackwardWith(g)
		x0, b0 := Param(xt), Param(bt)
		y0 := Linear(x0, Const(wt), b0)
		y0.BackwardWith(g)
		e1 := closeRel(t, name+" output", y.Value, y0.Value, 1.0/64)
		e2 := closeRel(t, name+" dx", x.Grad, x0.Grad, 1.0/64)
		sameBits(t, name+" db", b.Grad, b0.Grad)
		if !kernels.BF16Supported() {
			continue
		}
		if e1 == 0 || e2 == 0 {
			t.Errorf("%s: bf16 output/gradient equal to fp32's (errors %g, %g): bf16 path not taken?", name, e1, e2)
		}
		rows, in, out := sh[0]*sh[1], sh[2], sh[3]
		want := tensor.New(rows, out)
		kernels.GemmBF16Generic(rows, xt.Data(), in, kernels.PackBF16(true, in, out, wt.Data(), in), want.Data(), out, kernels.BF16Epilogue{Bias: bt.Data()})
		sameBits(t, name+" output vs GemmBF16Generic", tensor.FromSlice(y.Value.Data(), rows, out), want)
	}
}

// TestPrecisionParse checks ParsePrecision and String.
func TestPrecisionParse(t *testing.T) {
	for _, p := range []Precision{FP32, BF16} {
		q, err := ParsePrecision(p.String())
		if err != nil || q != p {
			t.Errorf("ParsePrecision(%q) = %v, %v", p.String(), q, err)
		}
	}
	if _, err := ParsePrecision("fp16"); err == nil {
		t.Error("ParsePrecision(fp16) gave no error")
	}
}

// TestConv2dActBF16 checks the bf16 convolution against Conv2dAct (fp32)
// within bf16's error, with bias, residual and ReLU, and that it follows a
// replaced weight.
func TestConv2dActBF16(t *testing.T) {
	opt := Conv2dOptions{StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}
	x, w, b := Const(randT(1, 2, 9, 11, 10)), Const(randT(2, 13, 9, 3, 3)), Const(randT(3, 13))
	pc := NewPackedConv(w)
	var res *Var
	NoGrad(func() { res = Const(randT(4, Conv2d(x, w, nil, opt).Shape()...)) })
	for round := 0; round < 2; round++ {
		var got, want *Var
		NoGrad(func() {
			got = Conv2dActBF16(x, pc, b, res, opt, ActRelu)
			want = Conv2dAct(x, w, b, res, opt, ActRelu)
		})
		e := closeRel(t, fmt.Sprintf("round %d", round), got.Value, want.Value, 1.0/64)
		if kernels.BF16Supported() && e == 0 {
			t.Errorf("round %d: bf16 convolution equal to fp32 (bf16 path not taken?)", round)
		}
		w.Value = randT(5, 13, 9, 3, 3) // a replaced weight is noticed
	}
}
