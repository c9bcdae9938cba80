//go:build cuda

package cuda

// The backward kernels (train.cu) on the device against their Go
// references in package kernels/backend. The training step on the device against
// the CPU learner and its benchmarks are in softcpt/step
// (step_cuda_test.go).

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/softcpt/softcpt-go/kernels/backend"
)

func TestTrainKernels(t *testing.T) {
	rng := rand.New(rand.NewSource(31))
	// Row kernels on widths below, at and above one block.
	for _, s := range [][2]int{{3, 7}, {5, 512}, {2, 1500}} {
		rows, cols := s[0], s[1]
		n := rows * cols
		x, dy, gamma := randVec(rng, n, 2), randVec(rng, n, 1), randVec(rng, cols, 1)
		mean, rstd := make([]float32, rows), make([]float32, rows)
		for r := 0; r < rows; r++ {
			mean[r] = 0.1 * float32(r)
			rstd[r] = 0.5 + 0.1*float32(r)
		}
		prev := randVec(rng, n, 1)
		dx, ddy, dX, dg, dm, dr := upload(t, prev, n), upload(t, dy, n), upload(t, x, n), upload(t, gamma, cols), upload(t, mean, rows), upload(t, rstd, rows)
		for _, acc := range []bool{false, true} {
			if err := dx.CopyFromHost(prev); err != nil {
				t.Fatal(err)
			}
			if err := dev.LayerNormBackward(dx, ddy, dX, dg, dm, dr, rows, cols, acc); err != nil {
				t.Fatal(err)
			}
			want := append([]float32(nil), prev...)
			backend.LayerNormBackward(want, dy, x, gamma, mean, rstd, rows, cols, acc)
			rowRel(t, fmt.Sprintf("layer norm backward %dx%d accumulate=%v", rows, cols, acc), download(t, dx), want, len(want))
		}
		y, inv := make([]float32, n), make([]float32, rows)
		backend.L2NormRows(y, inv, x, rows, cols)
		dy2, _ := dev.Alloc(n)
		dinvA, _ := dev.Alloc(rows)
		if err := dev.L2NormRows(dy2, dinvA, dX, rows, cols); err != nil {
			t.Fatal(err)
		}
		rowRel(t, fmt.Sprintf("l2 normalise %dx%d", rows, cols), download(t, dy2), y, cols)
		elemRel(t, "l2 normalise inverse norms", download(t, dinvA), inv)
		dxl := make([]float32, n)
		backend.L2NormRowsBackward(dxl, dy, y, inv, rows, cols)
		if err := dev.L2NormRowsBackward(dx, ddy, dy2, dinvA, rows, cols); err != nil {
			t.Fatal(err)
		}
		rowRel(t, fmt.Sprintf("l2 normalise backward %dx%d", rows, cols), download(t, dx), dxl, cols)
		for _, a := range []*Array{dx, ddy, dX, dg, dm, dr, dy2, dinvA} {
			a.Free()
		}
	}

	n := 10007
	x, dy := randVec(rng, n, 3), randVec(rng, n, 1)
	dX, ddy := upload(t, x, n), upload(t, dy, n)
	if err := dev.QuickGeluBackward(ddy, ddy, dX, n); err != nil {
		t.Fatal(err)
	}
	want := make([]float32, n)
	backend.QuickGeluBackward(want, dy, x, n)
	elemRel(t, "quickgelu backward", download(t, ddy), want)
	dX.Free()
	ddy.Free()

	// Row scatter-add and segmented sums.
	cols := 37
	src, dst := randVec(rng, 9*cols, 1), randVec(rng, 12*cols, 1)
	dS, dD := upload(t, src, 9, cols), upload(t, dst, 12, cols)
	dstIdx, srcIdx := []int{11, 0, 5, 6}, []int{8, 8, 0, 3}
	if err := dev.ScatterAddRows(dD, dS, dstIdx, srcIdx, cols); err != nil {
		t.Fatal(err)
	}
	backend.ScatterAddRows(dst, src, dstIdx, srcIdx, cols)
	exact(t, "scatter add rows", download(t, dD), dst)
	idx, offsets := []int{3, 1, 1, 8, 0}, []int{0, 2, 2, 5, 5}
	if err := dev.SegmentSumRows(dD, dS, idx, offsets, cols); err != nil {
		t.Fatal(err)
	}
	seg := make([]float32, 4*cols)
	backend.SegmentSumRows(seg, src, idx, offsets, cols)
	exact(t, "segment sum rows", download(t, dD)[:4*cols], seg)
	if err := dev.Clear(dD, 12*cols); err != nil {
		t.Fatal(err)
	}
	exact(t, "clear", download(t, dD), make([]float32, 12*cols))
	dS.Free()
	dD.Free()

	// Attention backward with heads read in place from a packed q|k|v
	// [B, T, 3W] as in the text tower, d above one thread's group.
	for _, c := range []struct {
		b, h, tq, d int
		causal      bool
	}{{2, 3, 7, 40, true}, {3, 2, 20, 64, true}, {1, 2, 5, 16, false}} {
		w := c.h * c.d
		rows := c.b * c.tq
		p := backend.AttnParams{Batch: c.b, Heads: c.h, Tq: c.tq, Tk: c.tq, D: c.d, QRow: 3 * w, KRow: 3 * w, VRow: 3 * w, ORow: w,
			QBatch: c.tq * 3 * w, KBatch: c.tq * 3 * w, VBatch: c.tq * 3 * w, OBatch: c.tq * w, Causal: c.causal, Scale: 0.125}
		qkv, gout := randVec(rng, rows*3*w, 1), randVec(rng, rows*w, 1)
		out := make([]float32, rows*w)
		backend.Attention(out, qkv, qkv[w:], qkv[2*w:], p)
		dqkv := make([]float32, rows*3*w)
		lse, dsum := make([]float32, p.StatRows()), make([]float32, p.StatRows())
		backend.AttentionBackward(dqkv, dqkv[w:], dqkv[2*w:], qkv, qkv[w:], qkv[2*w:], out, gout, lse, dsum, p)
		dQKV, dOut, dG := upload(t, qkv, rows, 3*w), upload(t, out, rows, w), upload(t, gout, rows, w)
		dGrad, _ := dev.Alloc(rows, 3*w)
		dl, _ := dev.Alloc(p.StatRows())
		ds, _ := dev.Alloc(p.StatRows())
		n1, n2 := rows*3*w-w, rows*3*w-2*w
		if err := dev.AttentionBackward(dGrad, dGrad.View(w, n1), dGrad.View(2*w, n2), dQKV, dQKV.View(w, n1), dQKV.View(2*w, n2), dOut, dG, dl, ds, p); err != nil {
			t.Fatal(err)
		}
		rowRel(t, fmt.Sprintf("attention backward %+v", c), download(t, dGrad), dqkv, 3*w)
		for _, a := range []*Array{dQKV, dOut, dG, dGrad, dl, ds} {
			a.Free()
		}
	}
}
