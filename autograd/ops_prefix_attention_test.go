package autograd

import (
	"math"
	"slices"
	"testing"

	"github.com/softcpt/softcpt-go/kernels"
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
		got := PrefixAttention(q, ks, vs, kp, vp, c.group, c.heads, FP32).Value.Data()
		want := prefixReference(q, ks, vs, kp, vp, c.group, c.heads).Value.Data()
		for i := range want {
			if math.Abs(float64(got[i]-want[i])) > 1e-5 {
				t.Fatalf("case %+v: element %d = %v, want %v", c, i, got[i], want[i])
			}
		}
		inputs := []*tensor.Tensor{q.Value, ks.Value, vs.Value, kp.Value, vp.Value}
		f := func(x []*Var) *Var { return PrefixAttention(x[0], x[1], x[2], x[3], x[4], c.group, c.heads, FP32) }
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
	PrefixAttention(x, x, x, p, p, []int{1, 0}, 2, FP32)
}

// TestPrefixAttentionBF16 compares PrefixAttention at BF16 with the fp32
// op, output and all five gradients, on odd shapes (odd head widths,
// groups of uneven sizes, an empty group, one-token suffixes and
// prefixes). bf16 operands carry a relative rounding error of at most
// 2⁻⁹ each; with fp32 sums and fp32 softmax the results stay within
// 2⁻⁶ of each tensor's largest magnitude here (the bound tested).
func TestPrefixAttentionBF16(t *testing.T) {
	for _, c := range []struct {
		C, S, G, P, heads, W int
		group                []int
	}{
		{7, 3, 4, 5, 3, 15, []int{0, 0, 2, 2, 2, 3, 3}}, // D = 5, group 1 empty
		{5, 1, 1, 9, 2, 12, []int{0, 0, 0, 0, 0}},
		{4, 6, 2, 1, 1, 7, []int{0, 1, 1, 1}},
		{40, 5, 3, 17, 4, 64, slices.Concat(make([]int, 3), slices.Repeat([]int{1}, 30), slices.Repeat([]int{2}, 7))},
	} {
		rng := tensor.NewRNG(uint64(c.C*100 + c.S))
		mk := func(n, t int) *tensor.Tensor { return tensor.RandN(rng, 0, 1, n, t, c.W) }
		inputs := []*tensor.Tensor{mk(c.C, c.S), mk(c.C, c.S), mk(c.C, c.S), mk(c.G, c.P), mk(c.G, c.P)}
		upstream := mk(c.C, c.S)
		run := func(prec Precision) []*tensor.Tensor {
			x := make([]*Var, len(inputs))
			for i, v := range inputs {
				x[i] = Param(v)
			}
			o := PrefixAttention(x[0], x[1], x[2], x[3], x[4], c.group, c.heads, prec)
			o.BackwardWith(upstream)
			res := []*tensor.Tensor{o.Value}
			for _, v := range x {
				res = append(res, v.Grad)
			}
			return res
		}
		want, got := run(FP32), run(BF16)
		differs := false
		for i, w := range want {
			wd, gd := w.Data(), got[i].Data()
			var big float64
			for _, v := range wd {
				big = max(big, math.Abs(float64(v)))
			}
			tol := big / 64
			for j := range wd {
				d := math.Abs(float64(gd[j] - wd[j]))
				if !(d <= tol) {
					t.Fatalf("case %+v, result %d (0: output, then dq dks dvs dkp dvp), element %d: bf16 %v, fp32 %v (tolerance %.3g)", c, i, j, gd[j], wd[j], tol)
				}
				differs = differs || d > 0
			}
		}
		if kernels.BF16Supported() && !differs {
			t.Errorf("case %+v: bf16 results equal the fp32 ones bit for bit: the bf16 products did not run", c)
		}
	}
}
