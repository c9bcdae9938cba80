package autograd

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/softcpt/softcpt-go/tensor"
)

// visPanics runs f and fails unless it panics with a message containing
// every one of want.
func visPanics(t *testing.T, name string, f func(), want ...string) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Errorf("%s: did not panic", name)
			return
		}
		msg := fmt.Sprint(r)
		for _, w := range want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: panic %q does not mention %q", name, msg, w)
			}
		}
	}()
	f()
}

// visClose reports the first index where got differs from want by more than
// atol + rtol·|want|.
func visClose(got []float32, want []float64, atol, rtol float64) (int, bool) {
	if len(got) != len(want) {
		return -1, false
	}
	for i, w := range want {
		g := float64(got[i])
		if math.IsNaN(g) != math.IsNaN(w) || math.Abs(g-w) > atol+rtol*math.Abs(w) {
			return i, false
		}
	}
	return 0, true
}

// convRef is a naive float64 grouped, dilated conv2d.
func convRef(x, w, b *tensor.Tensor, o Conv2dOptions) ([]float64, []int) {
	n, cin, h, wd := x.Dim(0), x.Dim(1), x.Dim(2), x.Dim(3)
	cout, cinG, kh, kw := w.Dim(0), w.Dim(1), w.Dim(2), w.Dim(3)
	sh, sw := max(o.StrideH, 1), max(o.StrideW, 1)
	dh, dw := max(o.DilationH, 1), max(o.DilationW, 1)
	groups := max(o.Groups, 1)
	_ = cin
	oh := (h+2*o.PadH-dh*(kh-1)-1)/sh + 1
	ow := (wd+2*o.PadW-dw*(kw-1)-1)/sw + 1
	coutG := cout / groups
	out := make([]float64, n*cout*oh*ow)
	for in := 0; in < n; in++ {
		for co := 0; co < cout; co++ {
			gr := co / coutG
			for y := 0; y < oh; y++ {
				for xx := 0; xx < ow; xx++ {
					var s float64
					if b != nil {
						s = float64(b.At(co))
					}
					for ci := 0; ci < cinG; ci++ {
						for i := 0; i < kh; i++ {
							for j := 0; j < kw; j++ {
								ih, iw := y*sh-o.PadH+i*dh, xx*sw-o.PadW+j*dw
								if ih < 0 || ih >= h || iw < 0 || iw >= wd {
									continue
								}
								s += float64(x.At(in, gr*cinG+ci, ih, iw)) * float64(w.At(co, ci, i, j))
							}
						}
					}
					out[((in*cout+co)*oh+y)*ow+xx] = s
				}
			}
		}
	}
	return out, []int{n, cout, oh, ow}
}

type convCase struct {
	name string
	x, w []int
	bias bool
	opt  Conv2dOptions
}

var convCases = []convCase{
	{"3x3s1p1", []int{2, 3, 7, 5}, []int{4, 3, 3, 3}, true, Conv2dOptions{PadH: 1, PadW: 1}},
	{"3x3s2p0", []int{1, 2, 9, 6}, []int{3, 2, 3, 3}, false, Conv2dOptions{StrideH: 2, StrideW: 2}},
	{"3x3s2p1", []int{2, 3, 8, 9}, []int{2, 3, 3, 3}, true, Conv2dOptions{StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}},
	{"1x1direct", []int{2, 4, 5, 6}, []int{5, 4, 1, 1}, true, Conv2dOptions{}},
	{"1x1s2", []int{2, 3, 6, 7}, []int{4, 3, 1, 1}, false, Conv2dOptions{StrideH: 2, StrideW: 2}},
	{"7x7s2p3", []int{1, 3, 11, 10}, []int{2, 3, 7, 7}, true, Conv2dOptions{StrideH: 2, StrideW: 2, PadH: 3, PadW: 3}},
	{"rect", []int{1, 2, 6, 9}, []int{3, 2, 3, 5}, true, Conv2dOptions{StrideH: 1, StrideW: 2, PadH: 0, PadW: 2}},
	{"dilated", []int{1, 2, 8, 7}, []int{3, 2, 3, 3}, false, Conv2dOptions{PadH: 2, PadW: 2, DilationH: 2, DilationW: 2}},
	{"groups2", []int{2, 4, 6, 5}, []int{6, 2, 3, 3}, true, Conv2dOptions{PadH: 1, PadW: 1, Groups: 2}},
	{"groups2_1x1", []int{1, 4, 3, 3}, []int{4, 2, 1, 1}, false, Conv2dOptions{Groups: 2}},
	{"patchify", []int{2, 3, 8, 8}, []int{5, 3, 4, 4}, false, Conv2dOptions{StrideH: 4, StrideW: 4}},
	{"bigpad", []int{1, 1, 2, 3}, []int{2, 1, 5, 5}, true, Conv2dOptions{PadH: 2, PadW: 2}},
}

func TestConv2dForward(t *testing.T) {
	for i, c := range convCases {
		x, w := randT(uint64(10*i), c.x...), randT(uint64(10*i+1), c.w...)
		var b *tensor.Tensor
		var bv *Var
		if c.bias {
			b = randT(uint64(10*i+2), c.w[0])
			bv = Const(b)
		}
		want, shape := convRef(x, w, b, c.opt)
		got := Conv2d(Const(x), Const(w), bv, c.opt).Value
		if !tensor.SameShape(got.Shape(), shape) {
			t.Fatalf("%s: shape %v, want %v", c.name, got.Shape(), shape)
		}
		if j, ok := visClose(got.Data(), want, 1e-5, 1e-5); !ok {
			t.Errorf("%s: element %d = %v, want %v", c.name, j, got.Data()[j], want[j])
		}
	}
}

func TestGradConv2d(t *testing.T) {
	for i, c := range convCases {
		x, w := randT(uint64(10*i+3), c.x...), randT(uint64(10*i+4), c.w...)
		opt := c.opt
		if c.bias {
			check(t, "Conv2d/"+c.name, func(v []*Var) *Var { return Conv2d(v[0], v[1], v[2], opt) }, x, w, randT(uint64(i), c.w[0]))
		} else {
			check(t, "Conv2d/"+c.name, func(v []*Var) *Var { return Conv2d(v[0], v[1], nil, opt) }, x, w)
		}
	}
}

// TestConv2dGradOnlyWeight covers the backward with a constant input (no
// dX) and a constant weight (no dW).
func TestConv2dGradPartial(t *testing.T) {
	for _, c := range []convCase{convCases[0], convCases[8]} {
		x, w := randT(1, c.x...), randT(2, c.w...)
		xv, wv := Const(x), Param(w)
		SumAll(Conv2d(xv, wv, nil, c.opt)).Backward()
		xp, wc := Param(x), Const(w)
		SumAll(Conv2d(xp, wc, nil, c.opt)).Backward()
		xb, wb := Param(x), Param(w)
		SumAll(Conv2d(xb, wb, nil, c.opt)).Backward()
		for i, v := range wb.Grad.Data() {
			if wv.Grad.Data()[i] != v {
				t.Fatalf("%s: weight gradient differs without dX", c.name)
			}
		}
		for i, v := range xb.Grad.Data() {
			if xp.Grad.Data()[i] != v {
				t.Fatalf("%s: input gradient differs without dW", c.name)
			}
		}
	}
}

func TestConv2dPanics(t *testing.T) {
	x := Const(tensor.New(1, 3, 5, 5))
	visPanics(t, "channels", func() { Conv2d(x, Const(tensor.New(2, 4, 3, 3)), nil, Conv2dOptions{}) }, "Conv2d", "[1 3 5 5]", "[2 4 3 3]")
	visPanics(t, "rank", func() { Conv2d(Const(tensor.New(3, 5, 5)), Const(tensor.New(2, 3, 3, 3)), nil, Conv2dOptions{}) }, "Conv2d", "[3 5 5]")
	visPanics(t, "kernel too big", func() { Conv2d(x, Const(tensor.New(2, 3, 7, 7)), nil, Conv2dOptions{}) }, "Conv2d", "[2 3 7 7]")
	visPanics(t, "bias", func() { Conv2d(x, Const(tensor.New(2, 3, 3, 3)), Const(tensor.New(3)), Conv2dOptions{}) }, "Conv2d", "bias [3]")
	visPanics(t, "groups", func() { Conv2d(x, Const(tensor.New(2, 1, 3, 3)), nil, Conv2dOptions{Groups: 2}) }, "Conv2d", "2 groups")
}

// convBenchShape is ResNet-50 stage 3's 3×3 convolution at batch 8.
const convBenchName = "n8_c256_k256_14x14_3x3"

func convBenchInputs() (x, w *tensor.Tensor, opt Conv2dOptions, flops float64) {
	rng := tensor.NewRNG(1)
	x = tensor.RandN(rng, 0, 1, 8, 256, 14, 14)
	w = tensor.RandN(rng, 0, 0.05, 256, 256, 3, 3)
	opt = Conv2dOptions{PadH: 1, PadW: 1}
	flops = 2 * 8 * 256 * 256 * 9 * 14 * 14
	return
}

func BenchmarkConv2dForward(b *testing.B) {
	b.Run(convBenchName, func(b *testing.B) {
		x, w, opt, flops := convBenchInputs()
		xv, wv := Const(x), Const(w)
		Conv2d(xv, wv, nil, opt) // warm the buffer pools
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			Conv2d(xv, wv, nil, opt)
		}
		b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
}

// BenchmarkConv2dBackward times the backward pass alone (dX and dW, 2× the
// forward flops).
func BenchmarkConv2dBackward(b *testing.B) {
	b.Run(convBenchName, func(b *testing.B) {
		x, w, opt, flops := convBenchInputs()
		xv, wv := Param(x), Param(w)
		g := tensor.RandN(tensor.NewRNG(2), 0, 1, 8, 256, 14, 14)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			y := Conv2d(xv, wv, nil, opt)
			xv.ZeroGrad()
			wv.ZeroGrad()
			b.StartTimer()
			y.BackwardWith(g)
		}
		b.ReportMetric(2*flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
}
