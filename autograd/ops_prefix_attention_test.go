package autograd

import (
	"math"
	"testing"

	"github.com/softcpt/softcpt-go/tensor"
)

// prefixReference computes PrefixAttention the slow way: it builds every
// full sequence prefix‖suffix and runs causal Attention over it.
func prefixReference(q, ks, vs, kp, vp *Var, group []int, heads int) *Var {
	C, S, W := q.Shape()[0], q.Shape()[1], q.Shape()[2]
	P := kp.Shape()[1]
	split := func(x *Var, t int) *Var { // [C,t,W] -> [C,H,t,D]
		return Permute(Reshape(x, C, t, heads, W/heads), 0, 2, 1, 3)
	}
	pad := func(x *Var) *Var { // queries at prefix positions are ignored: use zeros
		return Concat([]*Var{Const(tensor.New(C, P, W)), x}, 1)
	}
	kfull := Concat([]*Var{IndexSelect(kp, 0, group), ks}, 1)
	vfull := Concat([]*Var{IndexSelect(vp, 0, group), vs}, 1)
	o := Attention(split(pad(q), P+S), split(kfull, P+S), split(vfull, P+S), nil, true)
	o = Reshape(Permute(o, 0, 2, 1, 3), C, P+S, W)
	return Narrow(o, 1, P, S)
}

func TestPrefixAttentionMatchesFullCausal(t *testing.T) {
	for _, c := range []struct {
		C, S, G, P, heads, W int
		group                []int
	}{
		{3, 4, 2, 5, 2, 8, []int{0, 0, 1}},
		{5, 3, 3, 1, 1, 6, []int{0, 1, 1, 1, 2}},
		{4, 1, 1, 7, 4, 16, []int{0, 0, 0, 0}},
		{2, 6, 3, 2, 2, 4, []int{1, 1}}, // empty groups 0 and 2
	} {
		rng := tensor.NewRNG(uint64(c.C*100 + c.S))
		mk := func(n, t int) *Var { return Param(tensor.RandN(rng, 0, 1, n, t, c.W)) }
		q, ks, vs := mk(c.C, c.S), mk(c.C, c.S), mk(c.C, c.S)
		kp, vp := mk(c.G, c.P), mk(c.G, c.P)
		got := PrefixAttention(q, ks, vs, kp, vp, c.group, c.heads).Value.Data()
		want := prefixReference(q, ks, vs, kp, vp, c.group, c.heads).Value.Data()
		for i := range want {
			if math.Abs(float64(got[i]-want[i])) > 1e-5 {
				t.Fatalf("case %+v: element %d = %v, want %v", c, i, got[i], want[i])
			}
		}
		inputs := []*tensor.Tensor{q.Value, ks.Value, vs.Value, kp.Value, vp.Value}
		f := func(x []*Var) *Var { return PrefixAttention(x[0], x[1], x[2], x[3], x[4], c.group, c.heads) }
		if err := CheckGradients(f, inputs, GradCheckOptions{}); err != nil {
			t.Errorf("case %+v: %v", c, err)
		}
	}
}

func TestPrefixAttentionPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("unsorted groups did not panic")
		}
	}()
	x := Const(tensor.New(2, 3, 4))
	p := Const(tensor.New(2, 2, 4))
	PrefixAttention(x, x, x, p, p, []int{1, 0}, 2)
}
