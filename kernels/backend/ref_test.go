package backend

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// naiveSgemm is C = A B for row-major A [m, k], B [k, n] in float64.
func naiveSgemm(m, n, k int, a, b []float32) []float64 {
	c := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				s += float64(a[i*k+p]) * float64(b[p*n+j])
			}
			c[i*n+j] = s
		}
	}
	return c
}

func closeTo(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if d := math.Abs(float64(got[i]) - want[i]); d > tol*(1+math.Abs(want[i])) || math.IsNaN(float64(got[i])) {
			t.Fatalf("%s: [%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

// TestIm2colConv checks that W [O, C*KH*KW] @ Im2colCNHW(x) is the direct
// convolution of channel-major x [C, N, H, W], on strided, padded and odd
// shapes.
func TestIm2colConv(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	for _, g := range []ConvGeom{
		{C: 3, N: 2, H: 9, W: 7, KH: 3, KW: 3, Stride: 2, Pad: 1},
		{C: 2, N: 3, H: 5, W: 5, KH: 3, KW: 3, Stride: 1, Pad: 1},
		{C: 4, N: 1, H: 8, W: 8, KH: 4, KW: 4, Stride: 4, Pad: 0},
		{C: 5, N: 2, H: 3, W: 4, KH: 1, KW: 1, Stride: 1, Pad: 0},
		{C: 1, N: 1, H: 2, W: 3, KH: 2, KW: 3, Stride: 1, Pad: 2},
	} {
		const o = 3
		x := randSlice(rng, g.C*g.N*g.H*g.W)
		w := randSlice(rng, o*g.Rows())
		col := make([]float32, g.Rows()*g.Cols())
		if err := g.Check(len(col), len(x)); err != nil {
			t.Fatal(err)
		}
		Im2colCNHW(col, x, g)
		y := naiveSgemm(o, g.Cols(), g.Rows(), w, col)
		oh, ow := g.OH(), g.OW()
		want := make([]float64, o*g.N*oh*ow)
		for oc := 0; oc < o; oc++ {
			for n := 0; n < g.N; n++ {
				for oy := 0; oy < oh; oy++ {
					for ox := 0; ox < ow; ox++ {
						var s float64
						for c := 0; c < g.C; c++ {
							for ki := 0; ki < g.KH; ki++ {
								for kj := 0; kj < g.KW; kj++ {
									iy, ix := oy*g.Stride-g.Pad+ki, ox*g.Stride-g.Pad+kj
									if iy < 0 || iy >= g.H || ix < 0 || ix >= g.W {
										continue
									}
									s += float64(w[((oc*g.C+c)*g.KH+ki)*g.KW+kj]) * float64(x[((c*g.N+n)*g.H+iy)*g.W+ix])
								}
							}
						}
						want[((oc*g.N+n)*oh+oy)*ow+ox] = s
					}
				}
			}
		}
		got := make([]float32, len(y))
		for i := range y {
			got[i] = float32(y[i])
		}
		closeTo(t, fmt.Sprintf("conv %+v", g), got, want, 1e-5)
	}
	if err := (ConvGeom{C: 1, N: 1, H: 2, W: 2, KH: 3, KW: 3, Stride: 1}).Check(100, 100); err == nil {
		t.Error("kernel larger than the image accepted")
	}
	g := ConvGeom{C: 1, N: 1, H: 4, W: 4, KH: 3, KW: 3, Stride: 1, Pad: 1}
	if err := g.Check(g.Rows()*g.Cols()-1, 16); err == nil {
		t.Error("short col accepted")
	}
}

// naiveAttention is the two-pass softmax attention in float64 with the
// strides of p.
func naiveAttention(q, k, v []float32, p AttnParams, lenOut int) []float64 {
	out := make([]float64, lenOut)
	for b := 0; b < p.Batch; b++ {
		for h := 0; h < p.Heads; h++ {
			for i := 0; i < p.Tq; i++ {
				s := make([]float64, p.Tk)
				m := math.Inf(-1)
				for j := 0; j < p.Tk; j++ {
					if p.Causal && j > i+p.Tk-p.Tq {
						s[j] = math.Inf(-1)
						continue
					}
					var d float64
					for e := 0; e < p.D; e++ {
						d += float64(q[b*p.QBatch+i*p.QRow+h*p.D+e]) * float64(k[b*p.KBatch+j*p.KRow+h*p.D+e])
					}
					s[j] = d * float64(p.Scale)
					m = math.Max(m, s[j])
				}
				var l float64
				for j := range s {
					s[j] = math.Exp(s[j] - m)
					l += s[j]
				}
				for e := 0; e < p.D; e++ {
					var o float64
					for j := range s {
						o += s[j] / l * float64(v[b*p.VBatch+j*p.VRow+h*p.D+e])
					}
					out[b*p.OBatch+i*p.ORow+h*p.D+e] = o
				}
			}
		}
	}
	return out
}

// TestAttentionReference checks the online-softmax attention against the
// two-pass softmax on packed (qkv) and separate layouts, causal and not,
// with head sizes below, at and above the 32 head dimensions of one
// thread of the CUDA kernel (AttentionDG in cuda/kernels).
func TestAttentionReference(t *testing.T) {
	rng := rand.New(rand.NewSource(12))
	for _, c := range []struct {
		b, h, tq, tk, d int
		causal          bool
	}{
		{2, 3, 5, 5, 4, true}, {3, 2, 7, 7, 33, true}, {2, 4, 1, 10, 64, false}, {1, 1, 3, 6, 2, true}, {2, 2, 9, 9, 70, false},
	} {
		w := c.h * c.d
		// q, k, v packed in one [B, T, 3W] buffer (text tower); out [B, Tq, W].
		qkv := randSlice(rng, c.b*c.tk*3*w+2*w)
		for i := range qkv {
			qkv[i] *= 2
		}
		p := AttnParams{Batch: c.b, Heads: c.h, Tq: c.tq, Tk: c.tk, D: c.d,
			QRow: 3 * w, KRow: 3 * w, VRow: 3 * w, ORow: w,
			QBatch: c.tk * 3 * w, KBatch: c.tk * 3 * w, VBatch: c.tk * 3 * w, OBatch: c.tq * w,
			Causal: c.causal, Scale: float32(1 / math.Sqrt(float64(c.d)))}
		if !c.causal && c.tq == 1 { // attention pool: q [B, W], k, v [B, Tk, W]
			p.QRow, p.QBatch = w, w
		}
		q, k, v := qkv, qkv[w:], qkv[2*w:]
		out := make([]float32, c.b*c.tq*w)
		if err := p.Check(len(q), len(k), len(v), len(out)); err != nil {
			t.Fatal(err)
		}
		Attention(out, q, k, v, p)
		closeTo(t, fmt.Sprintf("attention %+v", c), out, naiveAttention(q, k, v, p, len(out)), 1e-5)
		if err := p.Check(len(q), len(k), len(v), len(out)-1); err == nil {
			t.Errorf("%+v: short output accepted", c)
		}
	}
}

func TestPoolAndShapeReferences(t *testing.T) {
	rng := rand.New(rand.NewSource(13))
	// AvgPool: planes 3 of 5x7, k 2 -> 2x3 (floor).
	src := randSlice(rng, 3*5*7)
	dst := make([]float32, 3*2*3)
	AvgPool(dst, src, 3, 5, 7, 2)
	want := make([]float64, len(dst))
	for pl := 0; pl < 3; pl++ {
		for oy := 0; oy < 2; oy++ {
			for ox := 0; ox < 3; ox++ {
				var s float64
				for a := 0; a < 2; a++ {
					for b := 0; b < 2; b++ {
						s += float64(src[(pl*5+oy*2+a)*7+ox*2+b])
					}
				}
				want[(pl*2+oy)*3+ox] = s / 4
			}
		}
	}
	closeTo(t, "avgpool", dst, want, 1e-6)

	// Transpose01 of [2, 3, 4] and back.
	x := randSlice(rng, 24)
	y := make([]float32, 24)
	Transpose01(y, x, 2, 3, 4)
	if y[(2*2+1)*4+3] != x[(1*3+2)*4+3] {
		t.Errorf("transpose01: dst[2,1,3] = %v, want src[1,2,3] = %v", y[(2*2+1)*4+3], x[(1*3+2)*4+3])
	}
	z := make([]float32, 24)
	Transpose01(z, y, 3, 2, 4)
	for i := range x {
		if z[i] != x[i] {
			t.Fatalf("transpose01 round trip [%d] = %v, want %v", i, z[i], x[i])
		}
	}

	// PoolTokens: x [C=3, N=2, HW=4].
	c, n, hw := 3, 2, 4
	xs := randSlice(rng, c*n*hw)
	pos := randSlice(rng, (hw+1)*c)
	seq := make([]float32, n*(hw+1)*c)
	PoolTokens(seq, xs, pos, c, n, hw)
	wantSeq := make([]float64, len(seq))
	for ni := 0; ni < n; ni++ {
		for ci := 0; ci < c; ci++ {
			var s float64
			for p := 0; p < hw; p++ {
				v := float64(xs[(ci*n+ni)*hw+p])
				s += v
				wantSeq[(ni*(hw+1)+p+1)*c+ci] = v + float64(pos[(p+1)*c+ci])
			}
			wantSeq[(ni*(hw+1))*c+ci] = s/float64(hw) + float64(pos[ci])
		}
	}
	closeTo(t, "pool tokens", seq, wantSeq, 1e-6)

	// GatherRows and BiasAct.
	g := make([]float32, 2*3)
	GatherRows(g, xs, []int{5, 0}, 3)
	if g[0] != xs[15] || g[5] != xs[2] {
		t.Errorf("gather rows: %v from %v", g, xs)
	}
	bias := []float32{1, -2}
	in := []float32{-3, 0.5, 1, 4, -1, 3}
	out := make([]float32, 6)
	BiasAct(out, in, bias, 3, 2, 6, ActRelu) // channels of 3 elements
	if fmt.Sprint(out) != "[0 1.5 2 2 0 1]" {
		t.Errorf("bias+relu per channel = %v", out)
	}
	BiasAct(out, in, bias, 1, 2, 6, ActQuickGelu) // per column
	for i, v := range in {
		x := float64(v + bias[i%2])
		if w := x / (1 + math.Exp(-1.702*x)); math.Abs(float64(out[i])-w) > 1e-6 {
			t.Errorf("bias+quickgelu [%d] = %v, want %v", i, out[i], w)
		}
	}
}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}
