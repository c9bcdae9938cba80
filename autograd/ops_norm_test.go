package autograd

import (
	"math"
	"testing"

	"github.com/softcpt/softcpt-go/tensor"
)

// refNorms returns the float64 Euclidean norms of x along axis, [outer*inner].
func refNorms(x *tensor.Tensor, axis int) []float64 {
	outer, n, inner := reduceDims(x.Shape(), x.Axis("ref", axis))
	xd := x.Contiguous().Data()
	out := make([]float64, outer*inner)
	for a := 0; a < outer; a++ {
		for i := 0; i < inner; i++ {
			var s float64
			for j := 0; j < n; j++ {
				v := float64(xd[(a*n+j)*inner+i])
				s += v * v
			}
			out[a*inner+i] = math.Sqrt(s)
		}
	}
	return out
}

var normCases = []axisCase{{[]int{7}, 0}, {[]int{3, 5}, -1}, {[]int{3, 5}, 0}, {[]int{2, 3, 4}, 1}, {[]int{2, 3, 4}, 2}, {[]int{2, 1, 3}, 1}}

func TestNorm(t *testing.T) {
	for i, c := range normCases {
		x := randRange(uint64(i), -2, 2, c.shape...)
		for _, keep := range []bool{false, true} {
			check(t, "Norm", func(v []*Var) *Var { return Norm(v[0], c.axis, keep) }, x)
			y := Norm(Const(x), c.axis, keep)
			if want := reducedShape(c.shape, x.Axis("test", c.axis), keep); !tensor.SameShape(y.Shape(), want) {
				t.Fatalf("Norm shape %v, want %v", y.Shape(), want)
			}
			assertClose64(t, "Norm", y.Value.Data(), refNorms(x, c.axis), 1e-7, 1e-6)
		}
	}
	// A zero slice has norm 0 and gradient 0 (not NaN).
	x := Param(tensor.FromSlice([]float32{0, 0, 3, 4}, 2, 2))
	y := Norm(x, 1, false)
	assertClose64(t, "Norm values", y.Value.Data(), []float64{0, 5}, 0, 1e-7)
	SumAll(y).Backward()
	assertClose64(t, "Norm grad", x.Grad.Data(), []float64{0, 0, 0.6, 0.8}, 0, 1e-6)
	requirePanicContains(t, func() { Norm(x, 3, false) }, "Norm", "[2 2]")
}

func TestL2Normalize(t *testing.T) {
	for i, c := range normCases {
		x := randRange(uint64(10+i), -2, 2, c.shape...)
		check(t, "L2Normalize", func(v []*Var) *Var { return L2Normalize(v[0], c.axis, 1e-12) }, x)
		outer, n, inner := reduceDims(c.shape, x.Axis("test", c.axis))
		norms := refNorms(x, c.axis)
		want := make([]float64, x.Numel())
		for a := 0; a < outer; a++ {
			for j := 0; j < n; j++ {
				for k := 0; k < inner; k++ {
					p := (a*n+j)*inner + k
					want[p] = float64(x.Data()[p]) / norms[a*inner+k]
				}
			}
		}
		y := L2Normalize(Const(x), c.axis, 1e-12).Value
		assertClose64(t, "L2Normalize", y.Data(), want, 1e-7, 1e-6)
		for _, nv := range refNorms(y, c.axis) {
			if math.Abs(nv-1) > 1e-6 {
				t.Fatalf("normalised slice has norm %v", nv)
			}
		}
	}
	// Below eps the divisor is eps: y = x/eps with gradient g/eps.
	small := tensor.FromSlice([]float32{3e-3, 4e-3, 3, 4}, 2, 2)
	assertClose64(t, "L2Normalize eps", L2Normalize(Const(small), 1, 0.1).Value.Data(), []float64{0.03, 0.04, 0.6, 0.8}, 1e-7, 1e-5)
	x := Param(small.Clone())
	SumAll(L2Normalize(x, 1, 0.1)).Backward()
	// Row 2: d/dx Σ x/‖x‖ = (1 − y·Σy)/‖x‖ = (1 − 1.4·y)/5.
	assertClose64(t, "L2Normalize eps grad", x.Grad.Data(), []float64{10, 10, (1 - 1.4*0.6) / 5, (1 - 1.4*0.8) / 5}, 1e-6, 1e-5)
	check(t, "L2Normalize below eps", func(v []*Var) *Var { return L2Normalize(v[0], -1, 0.5) }, randRange(3, -0.1, 0.1, 3, 4))
	requirePanicContains(t, func() { L2Normalize(x, 0, -1) }, "L2Normalize", "-1")
}

// refLayerNorm is the float64 layer norm over the last axis.
func refLayerNorm(x, gamma, beta *tensor.Tensor, eps float64) []float64 {
	d := x.Dim(-1)
	xd := x.Contiguous().Data()
	out := make([]float64, len(xd))
	for r := 0; r < len(xd)/d; r++ {
		var m, v float64
		for _, e := range xd[r*d : (r+1)*d] {
			m += float64(e)
		}
		m /= float64(d)
		for _, e := range xd[r*d : (r+1)*d] {
			v += (float64(e) - m) * (float64(e) - m)
		}
		v /= float64(d)
		for i, e := range xd[r*d : (r+1)*d] {
			h := (float64(e) - m) / math.Sqrt(v+eps)
			if gamma != nil {
				h *= float64(gamma.Data()[i])
			}
			if beta != nil {
				h += float64(beta.Data()[i])
			}
			out[r*d+i] = h
		}
	}
	return out
}

func TestLayerNorm(t *testing.T) {
	for i, s := range [][]int{{9}, {3, 5}, {2, 3, 7}, {4, 1}, {1, 2, 16}} {
		d := s[len(s)-1]
		x := randRange(uint64(30+i), -2, 3, s...)
		gm := randRange(uint64(40+i), 0.5, 1.5, d)
		bt := randRange(uint64(50+i), -1, 1, d)
		if d > 1 { // with D = 1 the output is beta whatever x is
			check(t, "LayerNorm", func(v []*Var) *Var { return LayerNorm(v[0], v[1], v[2], 1e-5) }, x, gm, bt)
			check(t, "LayerNorm no affine", func(v []*Var) *Var { return LayerNorm(v[0], nil, nil, 1e-5) }, x)
			check(t, "LayerNorm gamma only", func(v []*Var) *Var { return LayerNorm(v[0], v[1], nil, 1e-5) }, x, gm)
			check(t, "LayerNorm beta only", func(v []*Var) *Var { return LayerNorm(v[0], nil, v[1], 1e-5) }, x, bt)
		}
		check(t, "LayerNorm big eps", func(v []*Var) *Var { return LayerNorm(v[0], v[1], v[2], 0.5) }, x, gm, bt)
		assertClose64(t, "LayerNorm", LayerNorm(Const(x), Const(gm), Const(bt), 1e-5).Value.Data(), refLayerNorm(x, gm, bt, 1e-5), 1e-5, 1e-5)
		assertClose64(t, "LayerNorm plain", LayerNorm(Const(x), nil, nil, 1e-5).Value.Data(), refLayerNorm(x, nil, nil, 1e-5), 1e-5, 1e-5)
	}
	// A large offset does not hurt the variance (two-pass, float64).
	x := randRange(7, -1, 1, 4, 512)
	for i, v := range x.Data() {
		x.Data()[i] = v + 1000
	}
	assertClose64(t, "LayerNorm offset", LayerNorm(Const(x), nil, nil, 1e-5).Value.Data(), refLayerNorm(x, nil, nil, 1e-5), 2e-3, 0)
	// Only parameters that need gradients get them.
	xp, gc := Param(randT(1, 2, 3)), Const(tensor.Ones(3))
	bp := Param(tensor.New(3))
	SumAll(LayerNorm(xp, gc, bp, 1e-5)).Backward()
	if xp.Grad == nil || bp.Grad == nil || gc.Grad != nil {
		t.Fatal("LayerNorm gave gradients to the wrong inputs")
	}
	// d/dx Σ LayerNorm(x) is 0 (the output always sums to Σbeta); dbeta = rows.
	assertClose64(t, "LayerNorm sum grad", xp.Grad.Data(), make([]float64, 6), 1e-6, 0)
	assertClose64(t, "LayerNorm dbeta", bp.Grad.Data(), []float64{2, 2, 2}, 0, 0)
	requirePanicContains(t, func() { LayerNorm(xp, Const(tensor.New(4)), nil, 1e-5) }, "LayerNorm", "gamma", "[4]", "[2 3]")
	requirePanicContains(t, func() { LayerNorm(xp, nil, Const(tensor.New(3, 1)), 1e-5) }, "LayerNorm", "beta", "[3 1]")
	requirePanicContains(t, func() { LayerNorm(Const(tensor.New(2, 0)), nil, nil, 1e-5) }, "LayerNorm", "[2 0]")
	requirePanicContains(t, func() { LayerNorm(Const(tensor.Scalar(1)), nil, nil, 1e-5) }, "LayerNorm", "[]")
}

// TestLayerNormLarge covers inputs split across goroutines (rows ×
// columns above parallelMinElems), including the chunked gamma/beta
// gradient reduction, against float64 references.
func TestLayerNormLarge(t *testing.T) {
	const rows, d = 203, 640
	x := randRange(1, -2, 2, rows, d)
	gm := randRange(2, 0.5, 1.5, d)
	bt := randRange(3, -1, 1, d)
	g := randRange(4, -1, 1, rows, d)
	xv, gv, bv := Param(x), Param(gm), Param(bt)
	y := LayerNorm(xv, gv, bv, 1e-5)
	assertClose64(t, "LayerNorm large", y.Value.Data(), refLayerNorm(x, gm, bt, 1e-5), 1e-5, 1e-5)
	y.BackwardWith(g)
	// float64 reference gradients.
	wantX := make([]float64, rows*d)
	wantG := make([]float64, d)
	wantB := make([]float64, d)
	xhat := refLayerNorm(x, nil, nil, 1e-5)
	xd, gd, gmd := x.Data(), g.Data(), gm.Data()
	for r := 0; r < rows; r++ {
		var m, v float64
		for i := 0; i < d; i++ {
			m += float64(xd[r*d+i])
		}
		m /= d
		for i := 0; i < d; i++ {
			v += (float64(xd[r*d+i]) - m) * (float64(xd[r*d+i]) - m)
		}
		rs := 1 / math.Sqrt(v/d+1e-5)
		var s1, s2 float64
		for i := 0; i < d; i++ {
			p := r*d + i
			dh := float64(gd[p]) * float64(gmd[i])
			s1 += dh
			s2 += dh * xhat[p]
			wantG[i] += float64(gd[p]) * xhat[p]
			wantB[i] += float64(gd[p])
		}
		for i := 0; i < d; i++ {
			p := r*d + i
			wantX[p] = rs * (float64(gd[p])*float64(gmd[i]) - s1/d - xhat[p]*s2/d)
		}
	}
	assertClose64(t, "LayerNorm large dx", xv.Grad.Data(), wantX, 1e-4, 1e-4)
	assertClose64(t, "LayerNorm large dgamma", gv.Grad.Data(), wantG, 1e-3, 1e-4)
	assertClose64(t, "LayerNorm large dbeta", bv.Grad.Data(), wantB, 1e-4, 1e-5)
}
