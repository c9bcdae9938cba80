package backend

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/softcpt/softcpt-go/autograd"
	"github.com/softcpt/softcpt-go/tensor"
)

// The references of train.cu against package autograd's backward passes.

func randT(rng *rand.Rand, scale float64, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	for i := range t.Data() {
		t.Data()[i] = float32(rng.NormFloat64() * scale)
	}
	return t
}

// relClose fails unless max|got-want| <= tol·max|want|.
func relClose(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	var d, m float64
	for i := range want {
		d = math.Max(d, math.Abs(float64(got[i]-want[i])))
		m = math.Max(m, math.Abs(float64(want[i])))
	}
	if !(d <= tol*m) {
		t.Fatalf("%s: max error %.3g of max %.3g (rel %.3g > %g)", what, d, m, d/m, tol)
	}
}

// backwardOf runs f on a leaf holding x and back-propagates g; it returns
// the output and x's gradient.
func backwardOf(x, g *tensor.Tensor, f func(*autograd.Var) *autograd.Var) (*tensor.Tensor, *tensor.Tensor) {
	xv := autograd.Param(x)
	y := f(xv)
	y.BackwardWith(g)
	return y.Value, xv.Grad
}

func TestLayerNormBackwardRef(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, s := range [][2]int{{1, 1}, {3, 7}, {5, 512}} {
		rows, cols := s[0], s[1]
		x, g := randT(rng, 2, rows, cols), randT(rng, 1, rows, cols)
		gamma, beta := randT(rng, 1, cols), randT(rng, 1, cols)
		_, want := backwardOf(x, g, func(v *autograd.Var) *autograd.Var {
			return autograd.LayerNorm(v, autograd.Const(gamma), autograd.Const(beta), 1e-5)
		})
		mean, rstd := make([]float32, rows), make([]float32, rows)
		xd := x.Data()
		for r := 0; r < rows; r++ {
			var mu, v float64
			for _, e := range xd[r*cols : (r+1)*cols] {
				mu += float64(e)
			}
			mu /= float64(cols)
			for _, e := range xd[r*cols : (r+1)*cols] {
				v += (float64(e) - mu) * (float64(e) - mu)
			}
			mean[r], rstd[r] = float32(mu), float32(1/math.Sqrt(v/float64(cols)+1e-5))
		}
		got := make([]float32, rows*cols)
		LayerNormBackward(got, g.Data(), xd, gamma.Data(), mean, rstd, rows, cols, false)
		relClose(t, fmt.Sprintf("layer norm backward %dx%d", rows, cols), got, want.Data(), 1e-5)
		// accumulate adds to what dx holds; dx may alias dy.
		acc := append([]float32(nil), g.Data()...)
		LayerNormBackward(acc, acc, xd, gamma.Data(), mean, rstd, rows, cols, true)
		for i := range acc {
			acc[i] -= g.Data()[i]
		}
		relClose(t, "layer norm backward accumulate", acc, want.Data(), 1e-5)
	}
}

func TestL2NormRowsRef(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	rows, cols := 6, 37
	x, g := randT(rng, 3, rows, cols), randT(rng, 1, rows, cols)
	wantY, wantDx := backwardOf(x, g, func(v *autograd.Var) *autograd.Var { return autograd.L2Normalize(v, 1, 0) })
	y, inv := make([]float32, rows*cols), make([]float32, rows)
	L2NormRows(y, inv, x.Data(), rows, cols)
	relClose(t, "l2 normalise", y, wantY.Data(), 1e-6)
	dx := make([]float32, rows*cols)
	L2NormRowsBackward(dx, g.Data(), y, inv, rows, cols)
	relClose(t, "l2 normalise backward", dx, wantDx.Data(), 1e-5)
}

func TestQuickGeluBackwardRef(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	n := 1001
	x, g := randT(rng, 4, n), randT(rng, 1, n)
	_, want := backwardOf(x, g, autograd.QuickGelu)
	got := make([]float32, n)
	QuickGeluBackward(got, g.Data(), x.Data(), n)
	relClose(t, "quickgelu backward", got, want.Data(), 1e-5)
}

func TestScatterSegmentRef(t *testing.T) {
	src := []float32{1, 2, 3, 4, 5, 6} // 3 rows of 2
	dst := []float32{10, 10, 20, 20, 30, 30, 40, 40}
	ScatterAddRows(dst, src, []int{3, 0}, []int{2, 2}, 2)
	if want := []float32{15, 16, 20, 20, 30, 30, 45, 46}; fmt.Sprint(dst) != fmt.Sprint(want) {
		t.Fatalf("ScatterAddRows: %v, want %v", dst, want)
	}
	out := make([]float32, 6)
	SegmentSumRows(out, src, []int{0, 2, 1, 1}, []int{0, 2, 2, 4}, 2)
	if want := []float32{6, 8, 0, 0, 6, 8}; fmt.Sprint(out) != fmt.Sprint(want) {
		t.Fatalf("SegmentSumRows: %v, want %v", out, want)
	}
	if CheckRowIndices("x", []int{1, 1}, 3, true) == nil || CheckRowIndices("x", []int{1, 3}, 3, false) == nil || CheckRowIndices("x", []int{1, 1}, 3, false) != nil {
		t.Fatal("CheckRowIndices accepts a bad index list or rejects a good one")
	}
	if CheckSegments("x", []int{0, 1}, []int{0, 2, 1}, 2) == nil || CheckSegments("x", []int{0, 1}, []int{0, 1}, 2) == nil || CheckSegments("x", []int{0, 1}, []int{0, 0, 2}, 2) != nil {
		t.Fatal("CheckSegments accepts bad offsets or rejects good ones")
	}
}

// TestAttentionBackwardRef compares the attention backward with
// autograd.Attention's, with heads read in place from [B, T, H, D] arrays
// (and d > 32, the head dimensions of one thread of the CUDA kernels).
func TestAttentionBackwardRef(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	for _, c := range []struct {
		b, h, tq, tk, d int
		causal          bool
	}{{2, 3, 5, 5, 7, true}, {1, 2, 9, 9, 40, true}, {2, 2, 3, 6, 33, false}} {
		q, k, v := randT(rng, 1, c.b, c.tq, c.h, c.d), randT(rng, 1, c.b, c.tk, c.h, c.d), randT(rng, 1, c.b, c.tk, c.h, c.d)
		gOut := randT(rng, 1, c.b, c.tq, c.h, c.d)
		scale := float32(1 / math.Sqrt(float64(c.d)))
		qv, kv, vv := autograd.Param(q), autograd.Param(k), autograd.Param(v)
		perm := func(x *autograd.Var) *autograd.Var { return autograd.Permute(x, 0, 2, 1, 3) }
		// autograd.Attention scales by 1/sqrt(D) itself.
		o := perm(autograd.Attention(perm(qv), perm(kv), perm(vv), nil, c.causal)) // [B, Tq, H, D]
		o.BackwardWith(gOut)
		hd := c.h * c.d
		p := AttnParams{Batch: c.b, Heads: c.h, Tq: c.tq, Tk: c.tk, D: c.d, QRow: hd, KRow: hd, VRow: hd, ORow: hd,
			QBatch: c.tq * hd, KBatch: c.tk * hd, VBatch: c.tk * hd, OBatch: c.tq * hd, Causal: c.causal, Scale: scale}
		out := make([]float32, c.b*c.tq*hd)
		Attention(out, q.Data(), k.Data(), v.Data(), p)
		relClose(t, fmt.Sprintf("attention %+v", c), out, o.Value.Contiguous().Data(), 1e-5)
		dq, dk, dv := make([]float32, q.Numel()), make([]float32, k.Numel()), make([]float32, v.Numel())
		lse, dsum := make([]float32, p.StatRows()), make([]float32, p.StatRows())
		AttentionBackward(dq, dk, dv, q.Data(), k.Data(), v.Data(), out, gOut.Data(), lse, dsum, p)
		relClose(t, fmt.Sprintf("attention dq %+v", c), dq, qv.Grad.Contiguous().Data(), 1e-5)
		relClose(t, fmt.Sprintf("attention dk %+v", c), dk, kv.Grad.Contiguous().Data(), 1e-5)
		relClose(t, fmt.Sprintf("attention dv %+v", c), dv, vv.Grad.Contiguous().Data(), 1e-5)
	}
}
