package autograd

import (
	"math"
	"testing"

	"github.com/softcpt/softcpt-go/tensor"
)

// attnRef is naive float64 attention on [B, H, T, D] tensors with an
// optional mask broadcast to [B, H, Tq, Tk].
func attnRef(q, k, v, mask *tensor.Tensor, causal bool) []float64 {
	b, h, tq, d := q.Dim(0), q.Dim(1), q.Dim(2), q.Dim(3)
	tk := k.Dim(2)
	var m *tensor.Tensor
	if mask != nil {
		m = mask.Expand(b, h, tq, tk)
	}
	out := make([]float64, 0, b*h*tq*d)
	for ib := 0; ib < b; ib++ {
		for ih := 0; ih < h; ih++ {
			for i := 0; i < tq; i++ {
				s := make([]float64, tk)
				mx := math.Inf(-1)
				for j := 0; j < tk; j++ {
					for c := 0; c < d; c++ {
						s[j] += float64(q.At(ib, ih, i, c)) * float64(k.At(ib, ih, j, c))
					}
					s[j] /= math.Sqrt(float64(d))
					if m != nil {
						s[j] += float64(m.At(ib, ih, i, j))
					}
					if causal && j > i {
						s[j] = math.Inf(-1)
					}
					mx = math.Max(mx, s[j])
				}
				var z float64
				for j := range s {
					s[j] = math.Exp(s[j] - mx)
					z += s[j]
				}
				for c := 0; c < d; c++ {
					var o float64
					for j := 0; j < tk; j++ {
						o += s[j] / z * float64(v.At(ib, ih, j, c))
					}
					out = append(out, o)
				}
			}
		}
	}
	return out
}

type attnCase struct {
	name            string
	b, h, tq, tk, d int
	mask            []int // shape of an additive mask, nil for none
	causal          bool
}

var attnCases = []attnCase{
	{"plain", 2, 3, 5, 5, 4, nil, false},
	{"causal", 2, 2, 6, 6, 3, nil, true},
	{"mask2d", 1, 3, 4, 5, 4, []int{4, 5}, false},
	{"maskB1", 2, 2, 3, 4, 5, []int{2, 1, 3, 4}, false},
	{"mask+causal", 2, 1, 5, 5, 2, []int{5, 5}, true},
	{"pool_query", 3, 2, 1, 7, 4, nil, false},
	{"causal_tq<tk", 1, 2, 3, 5, 4, nil, true},
}

// attnMask returns a random additive mask with a few −∞ entries (never a
// whole row).
func attnMask(seed uint64, shape []int) *tensor.Tensor {
	if shape == nil {
		return nil
	}
	m := randT(seed, shape...)
	d := m.Data()
	last := shape[len(shape)-1]
	for i := range d {
		if i%3 == 1 && i%last != 0 {
			d[i] = float32(math.Inf(-1))
		}
	}
	return m
}

func TestAttentionForward(t *testing.T) {
	for i, c := range attnCases {
		q := randT(uint64(i), c.b, c.h, c.tq, c.d)
		k := randT(uint64(i+50), c.b, c.h, c.tk, c.d)
		v := randT(uint64(i+100), c.b, c.h, c.tk, c.d)
		mask := attnMask(uint64(i+150), c.mask)
		want := attnRef(q, k, v, mask, c.causal)
		// Without gradients (scratch probabilities) and with them (stored).
		got := Attention(Const(q), Const(k), Const(v), mask, c.causal).Value
		if j, ok := visClose(got.Data(), want, 1e-5, 1e-5); !ok {
			t.Errorf("%s: out[%d] = %v, want %v", c.name, j, got.Data()[j], want[j])
		}
		got = Attention(Param(q), Const(k), Const(v), mask, c.causal).Value
		if j, ok := visClose(got.Data(), want, 1e-5, 1e-5); !ok {
			t.Errorf("%s (grad): out[%d] = %v, want %v", c.name, j, got.Data()[j], want[j])
		}
	}
}

func TestGradAttention(t *testing.T) {
	for i, c := range attnCases {
		c := c
		mask := attnMask(uint64(i+150), c.mask)
		check(t, "Attention/"+c.name, func(v []*Var) *Var { return Attention(v[0], v[1], v[2], mask, c.causal) },
			randT(uint64(i), c.b, c.h, c.tq, c.d), randT(uint64(i+50), c.b, c.h, c.tk, c.d), randT(uint64(i+100), c.b, c.h, c.tk, c.d))
	}
	// The same Var as q, k and v (self-attention without projections).
	check(t, "Attention/shared", func(v []*Var) *Var { return Attention(v[0], v[0], v[0], nil, true) }, randT(7, 2, 2, 4, 3))
}

// mhaRef is naive float64 multi-head attention in the batch-first layout,
// composed from attnRef after explicit projections.
func mhaRef(xq, xkv, w, bi, ow, ob *tensor.Tensor, heads int, mask *tensor.Tensor, causal bool) []float64 {
	b, tq, e := xq.Dim(0), xq.Dim(1), xq.Dim(2)
	tk := xkv.Dim(1)
	d := e / heads
	proj := func(x *tensor.Tensor, part, t int) *tensor.Tensor {
		out := tensor.New(b, heads, t, d)
		for ib := 0; ib < b; ib++ {
			for it := 0; it < t; it++ {
				for o := 0; o < e; o++ {
					var s float64
					if bi != nil {
						s = float64(bi.At(part*e + o))
					}
					for c := 0; c < e; c++ {
						s += float64(x.At(ib, it, c)) * float64(w.At(part*e+o, c))
					}
					out.Set(float32(s), ib, o/d, it, o%d)
				}
			}
		}
		return out
	}
	a := attnRef(proj(xq, 0, tq), proj(xkv, 1, tk), proj(xkv, 2, tk), mask, causal)
	out := make([]float64, b*tq*e)
	for ib := 0; ib < b; ib++ {
		for it := 0; it < tq; it++ {
			for o := 0; o < e; o++ {
				var s float64
				if ob != nil {
					s = float64(ob.At(o))
				}
				for c := 0; c < e; c++ {
					s += a[((ib*heads+c/d)*tq+it)*d+c%d] * float64(ow.At(o, c))
				}
				out[(ib*tq+it)*e+o] = s
			}
		}
	}
	return out
}

type mhaCase struct {
	name             string
	b, tq, tk, e, hd int
	self, bias       bool
	mask             []int
	causal           bool
}

var mhaCases = []mhaCase{
	{"self", 2, 5, 5, 6, 2, true, true, nil, false},
	{"self_causal", 2, 4, 4, 8, 4, true, true, nil, true},
	{"self_mask_nobias", 1, 5, 5, 6, 3, true, false, []int{5, 5}, false},
	{"pool_query", 2, 1, 6, 8, 2, false, true, nil, false},
	{"cross", 2, 3, 5, 4, 1, false, true, []int{2, 1, 3, 5}, false},
}

func (c mhaCase) inputs(seed uint64) []*tensor.Tensor {
	ts := []*tensor.Tensor{randT(seed, c.b, c.tq, c.e)}
	if !c.self {
		ts = append(ts, randT(seed+1, c.b, c.tk, c.e))
	}
	ts = append(ts, randT(seed+2, 3*c.e, c.e), randT(seed+3, c.e, c.e))
	if c.bias {
		ts = append(ts, randT(seed+4, 3*c.e), randT(seed+5, c.e))
	}
	return ts
}

// call runs MultiHeadAttention on vars laid out as by inputs.
func (c mhaCase) call(v []*Var, mask *tensor.Tensor) *Var {
	xq, xkv := v[0], v[0]
	if !c.self {
		xkv, v = v[1], v[1:]
	}
	var bi, ob *Var
	if c.bias {
		bi, ob = v[3], v[4]
	}
	return MultiHeadAttention(xq, xkv, v[1], bi, v[2], ob, c.hd, mask, c.causal)
}

func TestMultiHeadAttentionForward(t *testing.T) {
	for i, c := range mhaCases {
		ts := c.inputs(uint64(10 * i))
		mask := attnMask(uint64(i), c.mask)
		got := c.call(constants(ts), mask).Value
		xq, rest := ts[0], ts[1:]
		xkv := xq
		if !c.self {
			xkv, rest = ts[1], ts[2:]
		}
		var bi, ob *tensor.Tensor
		if c.bias {
			bi, ob = rest[2], rest[3]
		}
		want := mhaRef(xq, xkv, rest[0], bi, rest[1], ob, c.hd, mask, c.causal)
		if !tensor.SameShape(got.Shape(), []int{c.b, c.tq, c.e}) {
			t.Fatalf("%s: shape %v", c.name, got.Shape())
		}
		if j, ok := visClose(got.Data(), want, 1e-5, 1e-5); !ok {
			t.Errorf("%s: out[%d] = %v, want %v", c.name, j, got.Data()[j], want[j])
		}
	}
}

func TestGradMultiHeadAttention(t *testing.T) {
	for i, c := range mhaCases {
		c := c
		mask := attnMask(uint64(i), c.mask)
		check(t, "MultiHeadAttention/"+c.name, func(v []*Var) *Var { return c.call(v, mask) }, c.inputs(uint64(10*i))...)
	}
}

func TestAttentionPanics(t *testing.T) {
	q := Const(tensor.New(2, 3, 4, 5))
	visPanics(t, "rank", func() { Attention(Const(tensor.New(3, 4, 5)), q, q, nil, false) }, "Attention", "[3 4 5]")
	visPanics(t, "d", func() { Attention(q, Const(tensor.New(2, 3, 4, 6)), Const(tensor.New(2, 3, 4, 6)), nil, false) }, "Attention", "[2 3 4 6]")
	visPanics(t, "mask", func() { Attention(q, q, q, tensor.New(3, 4), false) }, "Attention", "mask [3 4]", "[2 3 4 4]")
	x := Const(tensor.New(2, 4, 6))
	w, ow := Const(tensor.New(18, 6)), Const(tensor.New(6, 6))
	visPanics(t, "heads", func() { MultiHeadAttention(x, x, w, nil, ow, nil, 4, nil, false) }, "MultiHeadAttention", "4 heads", "6")
	visPanics(t, "in_proj", func() { MultiHeadAttention(x, x, ow, nil, ow, nil, 2, nil, false) }, "MultiHeadAttention", "in_proj_weight [6 6]")
	visPanics(t, "kv", func() { MultiHeadAttention(x, Const(tensor.New(3, 4, 6)), w, nil, ow, nil, 2, nil, false) }, "MultiHeadAttention", "[2 4 6]", "[3 4 6]")
}

// BenchmarkAttention runs CLIP's text-tower attention core (B=100, H=8,
// T=77, D=64, causal): forward alone without a graph, and forward plus
// backward. Flops count the four GEMMs of the forward (4·B·H·T²·D) and
// the four extra GEMMs of the backward.
func BenchmarkAttention(b *testing.B) {
	const bs, h, tt, d = 100, 8, 77, 64
	rng := tensor.NewRNG(1)
	q := tensor.RandN(rng, 0, 1, bs, h, tt, d)
	k := tensor.RandN(rng, 0, 1, bs, h, tt, d)
	v := tensor.RandN(rng, 0, 1, bs, h, tt, d)
	fwd := 4.0 * bs * h * tt * tt * d
	b.Run("forward", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			Attention(Const(q), Const(k), Const(v), nil, true)
		}
		b.ReportMetric(fwd*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
	b.Run("forward_backward", func(b *testing.B) {
		g := tensor.RandN(rng, 0, 1, bs, h, tt, d)
		for i := 0; i < b.N; i++ {
			qv, kv, vv := Param(q), Param(k), Param(v)
			Attention(qv, kv, vv, nil, true).BackwardWith(g)
		}
		b.ReportMetric(3*fwd*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
}
