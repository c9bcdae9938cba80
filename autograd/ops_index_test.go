package autograd

import (
	"math"
	"slices"
	"testing"

	"github.com/softcpt/softcpt-go/tensor"
)

// distinctT returns a tensor whose elements are a random permutation of
// -1, -1+0.05, ...: all distinct and 0.05 apart, so a finite-difference
// step never changes which element is the maximum.
func distinctT(seed uint64, shape ...int) *tensor.Tensor {
	n := tensor.Numel(shape)
	perm := tensor.NewRNG(seed).Perm(n)
	d := make([]float32, n)
	for i, p := range perm {
		d[i] = -1 + 0.05*float32(p)
	}
	return tensor.FromSlice(d, shape...)
}

// refMax is a naive reference: maximum values and first argmax along axis.
func refMax(x *tensor.Tensor, axis int) ([]float64, []int) {
	outer, n, inner := reduceDims(x.Shape(), axis)
	xd := x.Contiguous().Data()
	vals := make([]float64, outer*inner)
	args := make([]int, outer*inner)
	for a := 0; a < outer; a++ {
		for i := 0; i < inner; i++ {
			best := math.Inf(-1)
			for j := 0; j < n; j++ {
				if v := float64(xd[(a*n+j)*inner+i]); v > best {
					best, args[a*inner+i] = v, j
				}
			}
			vals[a*inner+i] = best
		}
	}
	return vals, args
}

func TestMax(t *testing.T) {
	cases := []axisCase{{[]int{7}, 0}, {[]int{3, 5}, 1}, {[]int{3, 5}, 0}, {[]int{2, 3, 4}, 1}, {[]int{2, 3, 4}, -1}, {[]int{4, 1, 3}, 1}}
	for i, c := range cases {
		x := distinctT(uint64(i), c.shape...)
		axis := x.Axis("test", c.axis)
		for _, keep := range []bool{false, true} {
			check(t, "Max", func(v []*Var) *Var { return Max(v[0], c.axis, keep) }, x)
			y := Max(Const(x), c.axis, keep)
			if want := reducedShape(c.shape, axis, keep); !tensor.SameShape(y.Shape(), want) {
				t.Fatalf("Max%v axis %d keepdim %v: shape %v, want %v", c.shape, c.axis, keep, y.Shape(), want)
			}
			vals, args := refMax(x, axis)
			assertClose64(t, "Max", y.Value.Data(), vals, 0, 0)
			if got := ArgMax(x, c.axis); !slices.Equal(got, args) {
				t.Fatalf("ArgMax%v axis %d = %v, want %v", c.shape, c.axis, got, args)
			}
		}
	}
	// Ties: the gradient goes to the first maximum only, as torch.max(dim).
	x := Param(tensor.FromSlice([]float32{1, 3, 3, 2, 5, 5, 5, 0}, 2, 4))
	SumAll(Max(x, 1, false)).Backward()
	assertClose64(t, "Max tie grad", x.Grad.Data(), []float64{0, 1, 0, 0, 1, 0, 0, 0}, 0, 0)
	if got := ArgMax(x.Value, -1); !slices.Equal(got, []int{1, 0}) {
		t.Fatalf("ArgMax with ties = %v, want [1 0]", got)
	}
	nan := float32(math.NaN())
	if got := ArgMax(tensor.FromSlice([]float32{1, nan, 5, nan}, 4), 0); !slices.Equal(got, []int{1}) {
		t.Fatalf("ArgMax with NaN = %v, want [1]", got)
	}
	requirePanicContains(t, func() { Max(Const(tensor.New(3, 0)), 1, false) }, "Max", "[3 0]")
	requirePanicContains(t, func() { ArgMax(tensor.New(3, 0), 1) }, "ArgMax", "[3 0]")
	requirePanicContains(t, func() { Max(Const(tensor.New(3, 2)), 2, false) }, "Max", "[3 2]")
}

func TestConcat(t *testing.T) {
	// Forward against hand-written values.
	a := Const(tensor.FromSlice([]float32{1, 2, 3, 4}, 2, 2))
	b := Const(tensor.FromSlice([]float32{5, 6}, 2, 1))
	c := Const(tensor.FromSlice([]float32{7, 8}, 1, 2))
	assertClose64(t, "Concat axis 1", Concat([]*Var{a, b}, 1).Value.Data(), []float64{1, 2, 5, 3, 4, 6}, 0, 0)
	assertClose64(t, "Concat axis 0", Concat([]*Var{a, c}, 0).Value.Data(), []float64{1, 2, 3, 4, 7, 8}, 0, 0)
	if s := Concat([]*Var{a, b, b}, -1).Shape(); !tensor.SameShape(s, []int{2, 4}) {
		t.Fatalf("shape %v", s)
	}
	for axis := 0; axis < 3; axis++ {
		s0, s1, s2 := []int{2, 3, 4}, []int{2, 3, 4}, []int{2, 3, 4}
		s1[axis], s2[axis] = 1, 5
		f := func(v []*Var) *Var { return Concat(v, axis) }
		check(t, "Concat", f, randT(1, s0...), randT(2, s1...), randT(3, s2...))
		check(t, "Concat-neg", func(v []*Var) *Var { return Concat(v, axis-3) }, randT(4, s2...), randT(5, s0...))
	}
	check(t, "Concat-one", func(v []*Var) *Var { return Concat(v, 0) }, randT(1, 5))
	// Only inputs that need gradients get them.
	p := Param(randT(1, 2, 2))
	SumAll(Concat([]*Var{a, p}, 0)).Backward()
	if a.Grad != nil || p.Grad == nil {
		t.Fatal("Concat gave gradients to the wrong inputs")
	}
	requirePanicContains(t, func() { Concat(nil, 0) }, "Concat", "no inputs")
	requirePanicContains(t, func() { Concat([]*Var{a, c}, 1) }, "Concat", "[2 2]", "[1 2]")
	requirePanicContains(t, func() { Concat([]*Var{a, Const(tensor.New(2))}, 0) }, "Concat", "[2]")
}

func TestStack(t *testing.T) {
	a := Const(tensor.FromSlice([]float32{1, 2, 3}, 3))
	b := Const(tensor.FromSlice([]float32{4, 5, 6}, 3))
	y := Stack([]*Var{a, b}, 0)
	assertClose64(t, "Stack 0", y.Value.Data(), []float64{1, 2, 3, 4, 5, 6}, 0, 0)
	y = Stack([]*Var{a, b}, -1)
	if !tensor.SameShape(y.Shape(), []int{3, 2}) {
		t.Fatalf("shape %v", y.Shape())
	}
	assertClose64(t, "Stack -1", y.Value.Data(), []float64{1, 4, 2, 5, 3, 6}, 0, 0)
	for axis := -4; axis <= 3; axis++ {
		f := func(v []*Var) *Var { return Stack(v, axis) }
		check(t, "Stack", f, randT(1, 2, 3, 5), randT(2, 2, 3, 5), randT(3, 2, 3, 5))
		want := slices.Insert([]int{2, 3, 5}, (axis+4)%4, 3)
		if s := Stack([]*Var{Const(randT(1, 2, 3, 5)), Const(randT(2, 2, 3, 5)), Const(randT(3, 2, 3, 5))}, axis).Shape(); !tensor.SameShape(s, want) {
			t.Fatalf("Stack axis %d: shape %v, want %v", axis, s, want)
		}
	}
	requirePanicContains(t, func() { Stack(nil, 0) }, "Stack", "no inputs")
	requirePanicContains(t, func() { Stack([]*Var{a, Const(tensor.New(4))}, 0) }, "Stack", "[3]", "[4]")
	requirePanicContains(t, func() { Stack([]*Var{a, b}, 2) }, "Stack", "[3]")
}

func TestSplit(t *testing.T) {
	x := Const(tensor.Arange(10).Reshape(2, 5))
	parts := Split(x, []int{2, 0, 3}, 1)
	if len(parts) != 3 || !tensor.SameShape(parts[1].Shape(), []int{2, 0}) {
		t.Fatalf("parts %d, middle shape %v", len(parts), parts[1].Shape())
	}
	assertClose64(t, "Split 0", parts[0].Value.Data(), []float64{0, 1, 5, 6}, 0, 0)
	assertClose64(t, "Split 2", parts[2].Value.Data(), []float64{2, 3, 4, 7, 8, 9}, 0, 0)
	// Reassembling the pieces out of order exercises every piece's backward.
	for axis := 0; axis < 3; axis++ {
		shape := []int{3, 4, 5}
		sizes := []int{1, shape[axis] - 3, 2}
		f := func(v []*Var) *Var {
			p := Split(v[0], sizes, axis)
			return Concat([]*Var{Scale(p[2], 2), p[0], Scale(p[1], -1)}, axis)
		}
		check(t, "Split", f, randT(uint64(axis), shape...))
	}
	requirePanicContains(t, func() { Split(x, []int{2, 2}, 1) }, "Split", "[2 2]", "[2 5]")
	requirePanicContains(t, func() { Split(x, []int{6, -1}, 1) }, "Split", "negative")
}

func TestIndexSelect(t *testing.T) {
	x := Const(tensor.Arange(12).Reshape(3, 4))
	assertClose64(t, "IndexSelect 0", IndexSelect(x, 0, []int{2, 0, 2}).Value.Data(), []float64{8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11}, 0, 0)
	assertClose64(t, "IndexSelect 1", IndexSelect(x, -1, []int{3, 1}).Value.Data(), []float64{3, 1, 7, 5, 11, 9}, 0, 0)
	if s := IndexSelect(x, 0, nil).Shape(); !tensor.SameShape(s, []int{0, 4}) {
		t.Fatalf("empty selection shape %v", s)
	}
	for axis := 0; axis < 3; axis++ {
		idx := []int{1, 0, 1, 1}
		check(t, "IndexSelect", func(v []*Var) *Var { return IndexSelect(v[0], axis, idx) }, randT(uint64(axis), 2, 3, 4))
	}
	// Repeated indices accumulate.
	p := Param(tensor.New(3, 2))
	SumAll(IndexSelect(p, 0, []int{2, 2, 0, 2})).Backward()
	assertClose64(t, "IndexSelect grad", p.Grad.Data(), []float64{1, 1, 0, 0, 3, 3}, 0, 0)
	requirePanicContains(t, func() { IndexSelect(x, 1, []int{0, 4}) }, "IndexSelect", "index 4", "[0, 4)")
	requirePanicContains(t, func() { IndexSelect(x, 0, []int{-1}) }, "IndexSelect", "index -1")
}

func TestEmbedding(t *testing.T) {
	w := Param(tensor.Arange(8).Reshape(4, 2))
	ids := []int{3, 1, 3, 0, 3, 2}
	y := Embedding(w, ids, 2, 3)
	if !tensor.SameShape(y.Shape(), []int{2, 3, 2}) {
		t.Fatalf("shape %v", y.Shape())
	}
	assertClose64(t, "Embedding", y.Value.Data(), []float64{6, 7, 2, 3, 6, 7, 0, 1, 6, 7, 4, 5}, 0, 0)
	if s := Embedding(w, ids).Shape(); !tensor.SameShape(s, []int{6, 2}) {
		t.Fatalf("default shape %v", s)
	}
	SumAll(y).Backward()
	assertClose64(t, "Embedding grad", w.Grad.Data(), []float64{1, 1, 1, 1, 1, 1, 3, 3}, 0, 0)
	check(t, "Embedding", func(v []*Var) *Var { return Embedding(v[0], []int{4, 0, 4, 2, 1, 4}, 3, 2) }, randT(1, 5, 3))
	check(t, "Embedding1", func(v []*Var) *Var { return Embedding(v[0], []int{0, 0}) }, randT(2, 1, 7))
	requirePanicContains(t, func() { Embedding(w, []int{0, 4}) }, "Embedding", "index 4", "[0, 4)")
	requirePanicContains(t, func() { Embedding(w, []int{0, 1, 2}, 2, 2) }, "Embedding", "3 ids", "[2 2]")
	requirePanicContains(t, func() { Embedding(Const(tensor.New(8)), []int{0}) }, "Embedding", "[8]")
}
