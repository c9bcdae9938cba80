package autograd

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/softcpt/softcpt-go/kernels"
	"github.com/softcpt/softcpt-go/tensor"
)

// forEachKernelLevel runs f at every supported kernel level.
func forEachKernelLevel(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	for _, l := range kernels.Levels() {
		prev, err := kernels.SetLevel(l)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(l.String(), f)
		if _, err := kernels.SetLevel(prev); err != nil {
			t.Fatal(err)
		}
	}
}

// sameBits fails unless got and want hold bit-identical values.
func sameBits(t *testing.T, what string, got, want *tensor.Tensor) {
	t.Helper()
	if !tensor.SameShape(got.Shape(), want.Shape()) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape(), want.Shape())
	}
	g, w := got.Contiguous().Data(), want.Contiguous().Data()
	for i := range w {
		if math.Float32bits(g[i]) != math.Float32bits(w[i]) {
			t.Fatalf("%s: element %d = %v, want %v", what, i, g[i], w[i])
		}
	}
}

// linearBoth runs Linear and LinearPacked on the same x, w, b and upstream
// gradient and checks that outputs and input/bias gradients agree bit for
// bit.
func linearBoth(t *testing.T, name string, pw *PackedWeight, xt, bt *tensor.Tensor) {
	t.Helper()
	run := func(packed bool) (out, gx, gb *tensor.Tensor) {
		x := Param(xt)
		var b *Var
		if bt != nil {
			b = Param(bt)
		}
		var y *Var
		if packed {
			y = LinearPacked(x, pw, b)
		} else {
			y = Linear(x, Const(pw.Weight().Value), b)
		}
		y.BackwardWith(randT(99, y.Shape()...))
		if b != nil {
			gb = b.Grad
		}
		return y.Value, x.Grad, gb
	}
	o0, gx0, gb0 := run(false)
	o1, gx1, gb1 := run(true)
	sameBits(t, name+" output", o1, o0)
	sameBits(t, name+" dx", gx1, gx0)
	if bt != nil {
		sameBits(t, name+" db", gb1, gb0)
	}
}

// TestLinearPackedMatchesLinear checks LinearPacked against Linear at every
// level, on shapes that run serially and split over goroutines, with and
// without bias, forward and backward.
func TestLinearPackedMatchesLinear(t *testing.T) {
	forEachKernelLevel(t, func(t *testing.T) {
		for i, sh := range [][4]int{{2, 3, 5, 4}, {1, 7, 33, 17}, {4, 75, 70, 530}, {1, 3, 1000, 33}, {2, 150, 257, 300}, {1, 0, 5, 4}} {
			xt := randT(uint64(10+i), sh[0], sh[1], sh[2])
			pw := NewPackedWeight(Const(randT(uint64(20+i), sh[3], sh[2])))
			linearBoth(t, fmt.Sprintf("%v bias", sh), pw, xt, randT(uint64(30+i), sh[3]))
			linearBoth(t, fmt.Sprintf("%v no bias", sh), pw, xt, nil)
		}
	})
}

// TestGradLinearPacked checks LinearPacked's gradients with respect to the
// input and the bias against finite differences.
func TestGradLinearPacked(t *testing.T) {
	pw := NewPackedWeight(Const(randT(2, 4, 5)))
	check(t, "LinearPacked", func(v []*Var) *Var { return LinearPacked(v[0], pw, v[1]) }, randT(1, 2, 3, 5), randT(3, 4))
	check(t, "LinearPackedNoBias", func(v []*Var) *Var { return LinearPacked(v[0], pw, nil) }, randT(1, 7, 5))
	pw = NewPackedWeight(Const(randT(4, 40, 300)))
	check(t, "LinearPackedLarge", func(v []*Var) *Var { return LinearPacked(v[0], pw, v[1]) }, randT(5, 20, 300), randT(6, 40))
}

// TestLinearPackedInvalidation checks that the packed forms follow the
// weight: after Invalidate (in-place writes), when w.Value is replaced,
// when the kernel level changes, and that a weight requiring gradients
// gets Linear's gradient.
func TestLinearPackedInvalidation(t *testing.T) {
	w := Const(randT(1, 40, 30))
	pw := NewPackedWeight(w)
	xt, bt := randT(2, 50, 30), randT(3, 40)
	linearBoth(t, "initial", pw, xt, bt)

	// In place, then Invalidate.
	wd := w.Value.Data()
	for i := range wd {
		wd[i] = -2 * wd[i]
	}
	pw.Invalidate()
	linearBoth(t, "after in-place write and Invalidate", pw, xt, bt)

	// A new tensor is noticed without Invalidate.
	w.Value = randT(4, 40, 30)
	linearBoth(t, "after replacing w.Value", pw, xt, bt)

	// A level change repacks.
	for _, l := range kernels.Levels() {
		prev, _ := kernels.SetLevel(l)
		linearBoth(t, "at level "+l.String(), pw, xt, bt)
		_, _ = kernels.SetLevel(prev)
	}

	// A trainable weight falls back to Linear, gradient included.
	w.SetRequiresGrad(true)
	x := Const(xt)
	y := LinearPacked(x, pw, nil)
	g := randT(5, y.Shape()...)
	y.BackwardWith(g)
	w2 := Param(w.Value)
	y2 := Linear(x, w2, nil)
	y2.BackwardWith(g)
	sameBits(t, "trainable output", y.Value, y2.Value)
	if w.Grad == nil {
		t.Fatal("trainable weight got no gradient through LinearPacked")
	}
	sameBits(t, "trainable dw", w.Grad, w2.Grad)
	if pw.fwd != nil || pw.bwd != nil {
		t.Fatal("packed forms kept while the weight requires gradients")
	}
}

// TestLinearPackedConcurrent runs a fresh PackedWeight from several
// goroutines at once (the lazy packing must happen safely).
func TestLinearPackedConcurrent(t *testing.T) {
	pw := NewPackedWeight(Const(randT(1, 64, 48)))
	xt := randT(2, 30, 48)
	want := Linear(Const(xt), pw.Weight(), nil).Value
	var wg sync.WaitGroup
	outs := make([]*tensor.Tensor, 8)
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i] = LinearPacked(Const(xt), pw, nil).Value
		}()
	}
	wg.Wait()
	for i, o := range outs {
		sameBits(t, fmt.Sprintf("goroutine %d", i), o, want)
	}
}

func TestLinearPackedPanics(t *testing.T) {
	pw := NewPackedWeight(Const(randT(1, 4, 5)))
	cases := []struct {
		name, want string
		f          func()
	}{
		{"not a matrix", "NewPackedWeight: weight of shape [4 5 1]", func() { NewPackedWeight(Const(randT(1, 4, 5, 1))) }},
		{"input", "LinearPacked: input [2 6]", func() { LinearPacked(Const(randT(1, 2, 6)), pw, nil) }},
		{"bias", "LinearPacked: bias [5]", func() { LinearPacked(Const(randT(1, 2, 5)), pw, Const(randT(1, 5))) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), tc.want) {
					t.Fatalf("panic = %v, want %q", r, tc.want)
				}
			}()
			tc.f()
		})
	}
}
