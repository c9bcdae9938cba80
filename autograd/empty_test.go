package autograd

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/softcpt/softcpt-go/tensor"
)

// TestOpsOverwriteEmptyBuffers runs forward and backward through every op
// that takes outputs or gradients from tensor.Empty (and the ones beside
// them that must not: MatMul's shared-operand gradient, PrefixAttention's
// prefix gradients with an empty group), inside an arena that scribbles
// NaN over every uncleared buffer, twice, and checks that the output and
// every gradient equal those of a run without an arena bit for bit. An op
// that accumulated into an Empty buffer would show NaN.
func TestOpsOverwriteEmptyBuffers(t *testing.T) {
	rng := tensor.NewRNG(11)
	param := func(shape ...int) *Var { return Param(tensor.RandN(rng, 0, 1, shape...)) }
	const rows, in, hid = 96, 64, 128 // activations ≥ tensor.ArenaMinElems
	x, w1, b1 := param(rows, in), param(hid, in), param(hid)
	gamma, beta := param(hid), param(hid)
	pf := NewPackedWeight(Const(tensor.RandN(rng, 0, 0.1, in, hid)))
	pb := NewPackedWeight(Const(tensor.RandN(rng, 0, 0.1, in, hid)))
	pb.SetPrecision(BF16)
	bp := param(in)
	b3 := param(3, in, 32) // batched b with a shared a: MatMul sums into a zeroed gradient
	const C, S, G, P, heads = 24, 8, 4, 16, 4
	q, ks, vs := param(C, S, in), param(C, S, in), param(C, S, in)
	kp, vp := param(G, P, in), param(G, P, in)
	group := make([]int, C) // groups 0, 2 and 3 of 4, 6 and 14 suffixes; group 1 empty
	for c := range group {
		switch {
		case c >= 10:
			group[c] = 3
		case c >= 4:
			group[c] = 2
		}
	}
	params := []*Var{x, w1, b1, gamma, beta, bp, b3, q, ks, vs, kp, vp}
	weights := map[int]*tensor.Tensor{}
	loss := func(i int, v *Var) *Var { // Σ v∘r with a fixed random r per term
		r := weights[i]
		if r == nil {
			r = tensor.RandN(rng, 0, 1, v.Shape()...)
			weights[i] = r
		}
		return SumAll(Mul(v, Const(r)))
	}
	run := func() []*tensor.Tensor {
		for _, p := range params {
			p.Grad = nil
		}
		h1, h1b := Linear(x, w1, b1), Linear(x, w1, nil)
		s := Add(Add(QuickGelu(h1), Gelu(h1b)), Mul(Sigmoid(h1), Tanh(h1b)))
		s = Add(Add(s, Relu(h1)), b1)
		s = Add(s, Log(Sqrt(AddScalar(Exp(Scale(h1b, 0.1)), 1))))
		s = Dropout(s, 0.25, rand.New(rand.NewPCG(1, 2)), true)
		l := LayerNorm(s, gamma, beta, 1e-5)
		lt := Reshape(Permute(Reshape(l, rows, 2, in), 1, 0, 2), 2*rows, in) // a Clone
		p1, p2 := LinearPacked(l, pf, bp), LinearPacked(l, pb, nil)
		terms := []*Var{MatMul(p1, p2, false, true), MatMul(p1, b3, false, false), lt}
		for _, prec := range []Precision{FP32, BF16} {
			terms = append(terms, PrefixAttention(QuickGelu(q), ks, vs, kp, vp, group, heads, prec))
		}
		total := loss(0, terms[0])
		for i, v := range terms[1:] {
			total = Add(total, loss(i+1, v))
		}
		total.Backward()
		out := []*tensor.Tensor{total.Value}
		for _, p := range params {
			out = append(out, p.Grad)
		}
		return out
	}
	var want []*tensor.Tensor
	for _, g := range run() {
		want = append(want, g.Clone())
	}
	a := tensor.NewArena()
	a.Scribble = true
	for rep := 0; rep < 2; rep++ {
		var got []*tensor.Tensor
		a.Do(func() { got = run() })
		for i, g := range got {
			gd, wd := g.Data(), want[i].Data()
			for j := range wd {
				if math.Float32bits(gd[j]) != math.Float32bits(wd[j]) {
					t.Fatalf("repetition %d, result %d (0: loss, then the gradients of %d params), element %d: %v in the arena, %v without", rep, i, len(params), j, gd[j], wd[j])
				}
			}
		}
		a.Reset()
	}
	if a.Reused == 0 {
		t.Fatal("the arena reused no buffer")
	}
}
