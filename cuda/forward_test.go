//go:build cuda

package cuda

// The forward kernels (clip.cu) on the device against their Go references
// in package kernels/backend. The towers on the device against the CPU clip.Model
// and their benchmarks are in clip/frozen (frozen_cuda_test.go).

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/softcpt/softcpt-go/kernels/backend"
)

// exact checks bit equality (data movement kernels).
func exact(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if got[i] != want[i] && !(math.IsNaN(float64(got[i])) && math.IsNaN(float64(want[i]))) {
			t.Fatalf("%s: [%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

func TestCLIPKernels(t *testing.T) {
	rng := rand.New(rand.NewSource(21))
	for _, g := range []backend.ConvGeom{
		{C: 3, N: 2, H: 9, W: 7, KH: 3, KW: 3, Stride: 2, Pad: 1},
		{C: 5, N: 3, H: 14, W: 14, KH: 3, KW: 3, Stride: 1, Pad: 1},
		{C: 2, N: 1, H: 8, W: 8, KH: 4, KW: 4, Stride: 4, Pad: 0},
	} {
		x := randVec(rng, g.C*g.N*g.H*g.W, 1)
		dx := upload(t, x, len(x))
		col, _ := dev.Alloc(g.Rows(), g.Cols())
		if err := dev.Im2col(col, dx, g); err != nil {
			t.Fatal(err)
		}
		want := make([]float32, g.Rows()*g.Cols())
		backend.Im2colCNHW(want, x, g)
		exact(t, fmt.Sprintf("im2col %+v", g), download(t, col), want)
		dx.Free()
		col.Free()
	}

	n := 3 * 5 * 1001
	x := randVec(rng, n, 2)
	bias := randVec(rng, 15, 1)
	dx, db := upload(t, x, n), upload(t, bias, 15)
	out, _ := dev.Alloc(n)
	for _, c := range []struct {
		inner, nb int
		act       backend.Act
		noBias    bool
	}{{1, 15, backend.ActNone, false}, {1001, 15, backend.ActRelu, false}, {7, 15, backend.ActQuickGelu, false}, {1, 1, backend.ActRelu, true}} {
		var bb *Array
		var hb []float32
		if !c.noBias {
			bb, hb = db, bias
		}
		if err := dev.BiasAct(out, dx, bb, c.inner, c.nb, n, c.act); err != nil {
			t.Fatal(err)
		}
		want := make([]float32, n)
		backend.BiasAct(want, x, hb, c.inner, c.nb, n, c.act)
		elemRel(t, fmt.Sprintf("bias act %+v", c), download(t, out), want)
	}
	dx.Free()
	db.Free()
	out.Free()

	// avgpool [6, 7, 9] k 2, transpose [4, 3, 10], pool tokens, gather.
	src := randVec(rng, 6*7*9, 1)
	ds := upload(t, src, len(src))
	dp, _ := dev.Alloc(6 * 3 * 4)
	if err := dev.AvgPool(dp, ds, 6, 7, 9, 2); err != nil {
		t.Fatal(err)
	}
	wantP := make([]float32, 6*3*4)
	backend.AvgPool(wantP, src, 6, 7, 9, 2)
	rowRel(t, "avgpool", download(t, dp), wantP, 4)
	dt, _ := dev.Alloc(120)
	if err := dev.Transpose01(dt, ds.View(0, 120), 4, 3, 10); err != nil {
		t.Fatal(err)
	}
	wantT := make([]float32, 120)
	backend.Transpose01(wantT, src, 4, 3, 10)
	exact(t, "transpose01", download(t, dt), wantT)
	c, nb, hw := 7, 3, 9
	pos := randVec(rng, (hw+1)*c, 1)
	dpos := upload(t, pos, len(pos))
	seq, _ := dev.Alloc(nb, hw+1, c)
	if err := dev.PoolTokens(seq, ds, dpos, c, nb, hw); err != nil {
		t.Fatal(err)
	}
	wantS := make([]float32, nb*(hw+1)*c)
	backend.PoolTokens(wantS, src, pos, c, nb, hw)
	rowRel(t, "pool tokens", download(t, seq), wantS, c)
	idx := []int{5, 0, 41, 5}
	dg, _ := dev.Alloc(len(idx), 9)
	if err := dev.GatherRows(dg, ds, idx, 9); err != nil {
		t.Fatal(err)
	}
	wantG := make([]float32, len(idx)*9)
	backend.GatherRows(wantG, src, idx, 9)
	exact(t, "gather rows", download(t, dg), wantG)
	for _, a := range []*Array{ds, dp, dt, dpos, seq, dg} {
		a.Free()
	}

	// Attention: packed causal (text), pool (Tq 1), head sizes around 32.
	for _, c := range []struct {
		b, h, tq, tk, d int
		causal          bool
	}{{3, 8, 77, 77, 64, true}, {2, 3, 7, 7, 33, true}, {5, 32, 1, 50, 64, false}, {2, 2, 1, 17, 5, false}} {
		w := c.h * c.d
		p := backend.AttnParams{Batch: c.b, Heads: c.h, Tq: c.tq, Tk: c.tk, D: c.d,
			QRow: 3 * w, KRow: 3 * w, VRow: 3 * w, ORow: w,
			QBatch: c.tk * 3 * w, KBatch: c.tk * 3 * w, VBatch: c.tk * 3 * w, OBatch: c.tq * w,
			Causal: c.causal, Scale: float32(1 / math.Sqrt(float64(c.d)))}
		if c.tq == 1 {
			p.QRow, p.QBatch = w, w
		}
		qkv := randVec(rng, c.b*c.tk*3*w, 2)
		dqkv := upload(t, qkv, len(qkv))
		o, _ := dev.Alloc(c.b * c.tq * w)
		if err := dev.Attention(o, dqkv, dqkv.View(w, len(qkv)-w), dqkv.View(2*w, len(qkv)-2*w), p); err != nil {
			t.Fatal(err)
		}
		want := make([]float32, c.b*c.tq*w)
		backend.Attention(want, qkv, qkv[w:], qkv[2*w:], p)
		rowRel(t, fmt.Sprintf("attention %+v", c), download(t, o), want, c.d)
		dqkv.Free()
		o.Free()
	}
}
