package autograd

import (
	"math"
	"testing"

	"github.com/softcpt/softcpt-go/tensor"
)

// visDistinct returns a tensor of distinct values spaced 0.03 apart in
// random order, so that max-pool windows have no near-ties for the finite
// differences to cross.
func visDistinct(seed uint64, shape ...int) *tensor.Tensor {
	n := tensor.Numel(shape)
	perm := tensor.NewRNG(seed).Perm(n)
	d := make([]float32, n)
	for i, p := range perm {
		d[i] = float32(p-n/2) * 0.03
	}
	return tensor.FromSlice(d, shape...)
}

// poolRef is a naive float64 pool: max (padding −∞) or average
// (count_include_pad) over kernel×kernel windows.
func poolRef(x *tensor.Tensor, k, s, p int, isMax bool) ([]float64, []int) {
	if s == 0 {
		s = k
	}
	n, c, h, w := x.Dim(0), x.Dim(1), x.Dim(2), x.Dim(3)
	oh, ow := (h+2*p-k)/s+1, (w+2*p-k)/s+1
	out := make([]float64, 0, n*c*oh*ow)
	for in := 0; in < n; in++ {
		for ch := 0; ch < c; ch++ {
			for y := 0; y < oh; y++ {
				for xx := 0; xx < ow; xx++ {
					acc := math.Inf(-1)
					if !isMax {
						acc = 0
					}
					for i := 0; i < k; i++ {
						for j := 0; j < k; j++ {
							ih, iw := y*s-p+i, xx*s-p+j
							if ih < 0 || ih >= h || iw < 0 || iw >= w {
								continue
							}
							v := float64(x.At(in, ch, ih, iw))
							if isMax {
								acc = math.Max(acc, v)
							} else {
								acc += v
							}
						}
					}
					if !isMax {
						acc /= float64(k * k)
					}
					out = append(out, acc)
				}
			}
		}
	}
	return out, []int{n, c, oh, ow}
}

type poolCase struct {
	x       []int
	k, s, p int
}

var poolCases = []poolCase{
	{[]int{2, 3, 7, 5}, 3, 2, 1},
	{[]int{1, 2, 8, 8}, 2, 0, 0}, // CLIP's AvgPool2d(2)
	{[]int{2, 2, 9, 7}, 3, 1, 0},
	{[]int{1, 3, 5, 6}, 2, 2, 1},
	{[]int{1, 1, 11, 13}, 5, 3, 2},
	{[]int{3, 2, 3, 3}, 3, 3, 0},
	{[]int{1, 2, 6, 9}, 4, 4, 0},
}

func TestPoolForward(t *testing.T) {
	for i, c := range poolCases {
		x := randT(uint64(i), c.x...)
		for _, isMax := range []bool{true, false} {
			want, shape := poolRef(x, c.k, c.s, c.p, isMax)
			var got *tensor.Tensor
			if isMax {
				got = MaxPool2d(Const(x), c.k, c.s, c.p).Value
			} else {
				got = AvgPool2d(Const(x), c.k, c.s, c.p).Value
			}
			if !tensor.SameShape(got.Shape(), shape) {
				t.Fatalf("case %d max=%v: shape %v, want %v", i, isMax, got.Shape(), shape)
			}
			if j, ok := visClose(got.Data(), want, 1e-6, 1e-6); !ok {
				t.Errorf("case %d max=%v: element %d = %v, want %v", i, isMax, j, got.Data()[j], want[j])
			}
		}
	}
	x := randT(9, 2, 3, 5, 7)
	got := GlobalAvgPool2d(Const(x)).Value
	for n := 0; n < 2; n++ {
		for c := 0; c < 3; c++ {
			var s float64
			for i := 0; i < 5; i++ {
				for j := 0; j < 7; j++ {
					s += float64(x.At(n, c, i, j))
				}
			}
			if d := math.Abs(float64(got.At(n, c)) - s/35); d > 1e-6 {
				t.Fatalf("GlobalAvgPool2d[%d,%d] = %v, want %v", n, c, got.At(n, c), s/35)
			}
		}
	}
}

func TestGradPool(t *testing.T) {
	for i, c := range poolCases {
		c := c
		check(t, "MaxPool2d", func(v []*Var) *Var { return MaxPool2d(v[0], c.k, c.s, c.p) }, visDistinct(uint64(i), c.x...))
		check(t, "AvgPool2d", func(v []*Var) *Var { return AvgPool2d(v[0], c.k, c.s, c.p) }, randT(uint64(i), c.x...))
	}
	check(t, "GlobalAvgPool2d", func(v []*Var) *Var { return GlobalAvgPool2d(v[0]) }, randT(1, 2, 3, 5, 7))
}

// TestMaxPoolTiesAndNaN checks PyTorch's rules: the first maximum of a
// window takes the gradient, and NaN wins.
func TestMaxPoolTiesAndNaN(t *testing.T) {
	x := Param(tensor.FromSlice([]float32{1, 1, 1, 1}, 1, 1, 2, 2))
	MaxPool2d(x, 2, 2, 0).Backward()
	if g := x.Grad.Data(); g[0] != 1 || g[1] != 0 || g[2] != 0 || g[3] != 0 {
		t.Fatalf("tie gradient %v, want [1 0 0 0]", g)
	}
	nan := float32(math.NaN())
	y := MaxPool2d(Const(tensor.FromSlice([]float32{1, nan, 3, 2}, 1, 1, 2, 2)), 2, 2, 0).Value.Data()[0]
	if y == y {
		t.Fatalf("NaN in window gave %v", y)
	}
}

func TestPoolPanics(t *testing.T) {
	x := Const(tensor.New(1, 2, 4, 4))
	visPanics(t, "rank", func() { MaxPool2d(Const(tensor.New(2, 4, 4)), 2, 2, 0) }, "MaxPool2d", "[2 4 4]")
	visPanics(t, "pad", func() { AvgPool2d(x, 2, 2, 2) }, "AvgPool2d", "padding 2", "[1 2 4 4]")
	visPanics(t, "big", func() { MaxPool2d(x, 6, 1, 0) }, "MaxPool2d", "kernel 6", "[1 2 4 4]")
	visPanics(t, "global", func() { GlobalAvgPool2d(Const(tensor.New(2, 3))) }, "GlobalAvgPool2d", "[2 3]")
}
