package autograd

import (
	"math"
	"testing"

	"github.com/softcpt/softcpt-go/tensor"
)

// bnRef is a naive float64 batch norm; in train mode it also returns the
// batch mean and unbiased variance per channel.
func bnRef(x, gamma, beta, rm, rv *tensor.Tensor, train bool, eps float64) (y, mean, unbiased []float64) {
	n, c, h, w := x.Dim(0), x.Dim(1), x.Dim(2), x.Dim(3)
	m := float64(n * h * w)
	mean, unbiased = make([]float64, c), make([]float64, c)
	y = make([]float64, x.Numel())
	for ch := 0; ch < c; ch++ {
		var mu, v float64
		if train {
			for i := 0; i < n; i++ {
				for a := 0; a < h; a++ {
					for b := 0; b < w; b++ {
						mu += float64(x.At(i, ch, a, b))
					}
				}
			}
			mu /= m
			for i := 0; i < n; i++ {
				for a := 0; a < h; a++ {
					for b := 0; b < w; b++ {
						d := float64(x.At(i, ch, a, b)) - mu
						v += d * d
					}
				}
			}
			unbiased[ch] = v / (m - 1)
			v /= m
		} else {
			mu, v = float64(rm.At(ch)), float64(rv.At(ch))
		}
		mean[ch] = mu
		g, bb := 1.0, 0.0
		if gamma != nil {
			g, bb = float64(gamma.At(ch)), float64(beta.At(ch))
		}
		for i := 0; i < n; i++ {
			for a := 0; a < h; a++ {
				for b := 0; b < w; b++ {
					y[((i*c+ch)*h+a)*w+b] = (float64(x.At(i, ch, a, b))-mu)/math.Sqrt(v+eps)*g + bb
				}
			}
		}
	}
	return y, mean, unbiased
}

var bnShapes = [][]int{{2, 3, 4, 5}, {3, 2, 1, 1}, {1, 4, 3, 2}, {4, 1, 5, 3}}

func TestBatchNorm2dForward(t *testing.T) {
	for i, s := range bnShapes {
		c := s[1]
		x := tensor.RandN(tensor.NewRNG(uint64(i)), 0.7, 2, s...)
		gamma, beta := randT(uint64(i+10), c), randT(uint64(i+20), c)
		rm := randT(uint64(i+30), c)
		rv := tensor.RandU(tensor.NewRNG(uint64(i+40)), 0.5, 2, c)
		for _, train := range []bool{true, false} {
			for _, affine := range []bool{true, false} {
				var g, b *Var
				var gt, bt *tensor.Tensor
				if affine {
					g, b, gt, bt = Const(gamma), Const(beta), gamma, beta
				}
				rm2, rv2 := rm.Clone(), rv.Clone()
				got := BatchNorm2d(Const(x), g, b, rm2, rv2, train, 0.1, 1e-5).Value
				want, mean, unb := bnRef(x, gt, bt, rm, rv, train, 1e-5)
				if j, ok := visClose(got.Data(), want, 1e-5, 1e-5); !ok {
					t.Errorf("%v train=%v affine=%v: y[%d] = %v, want %v", s, train, affine, j, got.Data()[j], want[j])
				}
				for ch := 0; ch < c; ch++ {
					wm, wv := float64(rm.At(ch)), float64(rv.At(ch))
					if train {
						wm, wv = 0.9*wm+0.1*mean[ch], 0.9*wv+0.1*unb[ch]
					}
					if math.Abs(float64(rm2.At(ch))-wm) > 1e-6 || math.Abs(float64(rv2.At(ch))-wv) > 1e-5*math.Max(1, wv) {
						t.Errorf("%v train=%v: running stats [%d] = %v, %v, want %v, %v", s, train, ch, rm2.At(ch), rv2.At(ch), wm, wv)
					}
				}
			}
		}
	}
}

// TestBatchNorm2dRunningStats checks PyTorch's update rule on numbers
// worked out by hand.
func TestBatchNorm2dRunningStats(t *testing.T) {
	// [N=2, C=2, H=1, W=2]: channel 0 holds 1,2,3,4 (mean 2.5, biased
	// variance 1.25, unbiased 5/3); channel 1 holds 0,0,0,4 (mean 1,
	// biased 3, unbiased 4).
	x := tensor.FromSlice([]float32{1, 2, 0, 0, 3, 4, 0, 4}, 2, 2, 1, 2)
	rm := tensor.FromSlice([]float32{0, 1}, 2)
	rv := tensor.FromSlice([]float32{1, 2}, 2)
	y := BatchNorm2d(Const(x), nil, nil, rm, rv, true, 0.1, 0).Value.Data()
	wantRM := []float32{0.25, 1}
	wantRV := []float32{0.9 + 0.1*5.0/3, 2.2}
	for ch := 0; ch < 2; ch++ {
		if math.Abs(float64(rm.Data()[ch]-wantRM[ch])) > 1e-6 || math.Abs(float64(rv.Data()[ch]-wantRV[ch])) > 1e-6 {
			t.Fatalf("running mean %v var %v, want %v %v", rm.Data(), rv.Data(), wantRM, wantRV)
		}
	}
	// Normalised with the biased variance: (1 − 2.5)/√1.25.
	if d := float64(y[0]) + 1.5/math.Sqrt(1.25); math.Abs(d) > 1e-6 {
		t.Fatalf("y[0] = %v, want %v", y[0], -1.5/math.Sqrt(1.25))
	}
	// Eval mode uses and keeps the running statistics.
	y = BatchNorm2d(Const(x), nil, nil, rm, rv, false, 0.1, 0).Value.Data()
	if d := float64(y[0]) - (1-0.25)/math.Sqrt(float64(wantRV[0])); math.Abs(d) > 1e-6 || rm.Data()[0] != wantRM[0] {
		t.Fatalf("eval y[0] = %v, running mean %v", y[0], rm.Data())
	}
	// Running statistics are updated under NoGrad too (as in PyTorch).
	NoGrad(func() { BatchNorm2d(Const(x), nil, nil, rm, rv, true, 0.1, 0) })
	if math.Abs(float64(rm.Data()[0])-(0.9*0.25+0.25)) > 1e-6 {
		t.Fatalf("NoGrad train step did not update running mean: %v", rm.Data())
	}
}

func TestGradBatchNorm2d(t *testing.T) {
	for i, s := range bnShapes {
		c := s[1]
		x := tensor.RandN(tensor.NewRNG(uint64(i)), 0.3, 1.5, s...)
		gamma := tensor.RandU(tensor.NewRNG(uint64(i+1)), 0.5, 1.5, c)
		beta := randT(uint64(i+2), c)
		rm := randT(uint64(i+3), c)
		rv := tensor.RandU(tensor.NewRNG(uint64(i+4)), 0.5, 2, c)
		for _, train := range []bool{true, false} {
			train := train
			// Fresh running statistics per call keep eval mode deterministic.
			check(t, "BatchNorm2d", func(v []*Var) *Var {
				return BatchNorm2d(v[0], v[1], v[2], rm.Clone(), rv.Clone(), train, 0.1, 1e-5)
			}, x, gamma, beta)
			check(t, "BatchNorm2dNoAffine", func(v []*Var) *Var {
				return BatchNorm2d(v[0], nil, nil, rm.Clone(), rv.Clone(), train, 0.1, 1e-5)
			}, x)
		}
		check(t, "BatchNorm2dNoStats", func(v []*Var) *Var {
			return BatchNorm2d(v[0], v[1], v[2], nil, nil, true, 0.1, 1e-5)
		}, x, gamma, beta)
	}
}

func TestBatchNorm2dPanics(t *testing.T) {
	x := Const(tensor.New(2, 3, 2, 2))
	c3 := tensor.New(3)
	visPanics(t, "gamma", func() { BatchNorm2d(x, Const(tensor.New(4)), Const(c3), nil, nil, true, 0.1, 1e-5) }, "BatchNorm2d", "gamma [4]", "[2 3 2 2]")
	visPanics(t, "stats", func() { BatchNorm2d(x, nil, nil, tensor.New(2), tensor.New(2), true, 0.1, 1e-5) }, "BatchNorm2d", "runningMean [2]")
	visPanics(t, "eval", func() { BatchNorm2d(x, nil, nil, nil, nil, false, 0.1, 1e-5) }, "BatchNorm2d", "eval mode")
	visPanics(t, "one", func() { BatchNorm2d(Const(tensor.New(1, 3, 1, 1)), nil, nil, nil, nil, true, 0.1, 1e-5) }, "BatchNorm2d", "more than 1 value")
	visPanics(t, "rank", func() { BatchNorm2d(Const(tensor.New(2, 3)), nil, nil, c3, c3, false, 0.1, 1e-5) }, "BatchNorm2d", "[2 3]")
}
