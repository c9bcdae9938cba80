//go:build cuda

package cuda

import (
	"fmt"

	"github.com/pkg/errors"
	"gorgonia.org/cu"

	"github.com/softcpt/softcpt-go/cuda/kernels"
	"github.com/softcpt/softcpt-go/kernels/backend"
)

// The launches of the backward kernels of train.cu (references in package
// backend).

// Clear sets the first n elements of a to zero, on the current stream.
func (d *Device) Clear(a *Array, n int) error {
	need("Clear", "a", a, n)
	if n == 0 {
		return nil
	}
	return d.Do(func() error {
		return errors.Wrapf(cu.MemsetD32Async(a.Ptr, 0, int64(n), d.stream), "cuda: zeroing %d elements", n)
	})
}

// LayerNormBackward writes (accumulate: adds) to dx the input gradient of
// a row layer norm over rows × cols with weight gamma (nil: 1), given the
// output gradient dy, the input x and the forward's mean and rstd
// (backend.LayerNormBackward). dx may be dy.
func (d *Device) LayerNormBackward(dx, dy, x, gamma, mean, rstd *Array, rows, cols int, accumulate bool) error {
	for _, c := range []struct {
		name string
		a    *Array
		n    int
	}{{"dx", dx, rows * cols}, {"dy", dy, rows * cols}, {"x", x, rows * cols}, {"mean", mean, rows}, {"rstd", rstd, rows}} {
		need("LayerNormBackward", c.name, c.a, c.n)
	}
	if gamma != nil {
		need("LayerNormBackward", "gamma", gamma, cols)
	}
	return d.launch("layernorm_bwd_rows_f32", kernels.RowBlock(rows, cols), ptrArg(dx), ptrArg(dy), ptrArg(x), ptrArg(gamma),
		ptrArg(mean), ptrArg(rstd), intArg(rows), intArg(cols), boolArg(accumulate))
}

// QuickGeluBackward writes dx = dy·QuickGELU'(x) over n elements
// (backend.QuickGeluBackward). dx may be dy.
func (d *Device) QuickGeluBackward(dx, dy, x *Array, n int) error {
	need("QuickGeluBackward", "dx", dx, n)
	need("QuickGeluBackward", "dy", dy, n)
	need("QuickGeluBackward", "x", x, n)
	return d.launch("quickgelu_bwd_f32", kernels.Grid1D(n), ptrArg(dx), ptrArg(dy), ptrArg(x), intArg(n))
}

// L2NormRows writes y = x/|x| per row of rows × cols and inv = 1/|x| (rows
// elements; nil for none), backend.L2NormRows. y may be x.
func (d *Device) L2NormRows(y, inv, x *Array, rows, cols int) error {
	need("L2NormRows", "y", y, rows*cols)
	need("L2NormRows", "x", x, rows*cols)
	if inv != nil {
		need("L2NormRows", "inv", inv, rows)
	}
	return d.launch("l2norm_rows_f32", kernels.RowBlock(rows, cols), ptrArg(y), ptrArg(inv), ptrArg(x), intArg(rows), intArg(cols))
}

// L2NormRowsBackward writes dx = (dy - y (dy·y))·inv per row
// (backend.L2NormRowsBackward). dx may be dy.
func (d *Device) L2NormRowsBackward(dx, dy, y, inv *Array, rows, cols int) error {
	need("L2NormRowsBackward", "dx", dx, rows*cols)
	need("L2NormRowsBackward", "dy", dy, rows*cols)
	need("L2NormRowsBackward", "y", y, rows*cols)
	need("L2NormRowsBackward", "inv", inv, rows)
	return d.launch("l2norm_bwd_rows_f32", kernels.RowBlock(rows, cols), ptrArg(dx), ptrArg(dy), ptrArg(y), ptrArg(inv), intArg(rows), intArg(cols))
}

// indexBuffer runs launch with the device address of the int64 copy of
// lists concatenated (one address per list); the buffer is freed after the
// launch (stream-ordered reuse).
func (d *Device) indexBuffer(lists [][]int, launch func(ptrs []uint64) error) error {
	var all []int64
	for _, l := range lists {
		for _, v := range l {
			all = append(all, int64(v))
		}
	}
	if len(all) == 0 {
		return nil
	}
	return d.Do(func() error {
		p, err := d.int64Buffer(all)
		if err != nil {
			return err
		}
		ptrs := make([]uint64, len(lists))
		off := uint64(0)
		for i, l := range lists {
			ptrs[i] = uint64(p) + 8*off
			off += uint64(len(l))
		}
		err = launch(ptrs)
		if ferr := d.cache.Free(uint64(p)); err == nil {
			err = ferr
		}
		return err
	})
}

// ScatterAddRows adds row srcIdx[r] of src to row dstIdx[r] of dst, for
// rows of cols elements (backend.ScatterAddRows). It panics on indices
// outside the arrays or a repeated destination row.
func (d *Device) ScatterAddRows(dst, src *Array, dstIdx, srcIdx []int, cols int) error {
	if cols <= 0 || len(dstIdx) != len(srcIdx) {
		panic(fmt.Sprintf("cuda.ScatterAddRows: %d columns, %d destination and %d source rows", cols, len(dstIdx), len(srcIdx)))
	}
	if err := backend.CheckRowIndices("cuda.ScatterAddRows dst", dstIdx, dst.Numel()/cols, true); err != nil {
		panic(err.Error())
	}
	if err := backend.CheckRowIndices("cuda.ScatterAddRows src", srcIdx, src.Numel()/cols, false); err != nil {
		panic(err.Error())
	}
	n := len(dstIdx)
	return d.indexBuffer([][]int{dstIdx, srcIdx}, func(p []uint64) error {
		return d.launchLocked("scatter_add_rows_f32", kernels.Grid1D(n*cols), ptrArg(dst), ptrArg(src), p[0], p[1], intArg(n), intArg(cols))
	})
}

// SegmentSumRows writes dst[r] = Σ src[idx[k]] over k in [offsets[r],
// offsets[r+1]) for rows of cols elements (backend.SegmentSumRows; empty
// segments give zero rows). It panics on bad offsets or indices.
func (d *Device) SegmentSumRows(dst, src *Array, idx, offsets []int, cols int) error {
	rows := len(offsets) - 1
	if cols <= 0 || rows < 0 {
		panic(fmt.Sprintf("cuda.SegmentSumRows: %d columns, %d offsets", cols, len(offsets)))
	}
	if err := backend.CheckSegments("cuda.SegmentSumRows", idx, offsets, rows); err != nil {
		panic(err.Error())
	}
	if err := backend.CheckRowIndices("cuda.SegmentSumRows", idx, src.Numel()/cols, false); err != nil {
		panic(err.Error())
	}
	need("SegmentSumRows", "dst", dst, rows*cols)
	if rows == 0 {
		return nil
	}
	// idx may be empty (all segments empty): pass a dummy entry so the
	// buffer exists; it is never read.
	list := idx
	if len(list) == 0 {
		list = []int{0}
	}
	return d.indexBuffer([][]int{list, offsets}, func(p []uint64) error {
		return d.launchLocked("segment_sum_rows_f32", kernels.Grid1D(rows*cols), ptrArg(dst), ptrArg(src), p[0], p[1], intArg(rows), intArg(cols))
	})
}

// AttentionBackward writes dq, dk, dv (the layouts of q, k, v in p) for
// out = Attention(q, k, v, p) and its gradient dout (layout of out); lse
// and dsum (p.StatRows() elements) are scratch (backend.AttentionBackward).
func (d *Device) AttentionBackward(dq, dk, dv, q, k, v, out, dout, lse, dsum *Array, p backend.AttnParams) error {
	if err := p.Check(q.Numel(), k.Numel(), v.Numel(), out.Numel()); err != nil {
		panic("cuda.AttentionBackward: " + err.Error())
	}
	if err := p.Check(dq.Numel(), dk.Numel(), dv.Numel(), dout.Numel()); err != nil {
		panic("cuda.AttentionBackward: gradients: " + err.Error())
	}
	need("AttentionBackward", "lse", lse, p.StatRows())
	need("AttentionBackward", "dsum", dsum, p.StatRows())
	layout := []uint64{intArg(p.Batch), intArg(p.Heads), intArg(p.Tq), intArg(p.Tk), intArg(p.D),
		intArg(p.QRow), intArg(p.KRow), intArg(p.VRow), intArg(p.ORow),
		intArg(p.QBatch), intArg(p.KBatch), intArg(p.VBatch), intArg(p.OBatch), boolArg(p.Causal), floatArg(p.Scale)}
	args := func(head ...uint64) []uint64 { return append(head, layout...) }
	return d.Do(func() error {
		if err := d.launchLocked("attn_bwd_stats_f32", kernels.Grid1D(p.StatRows()),
			args(ptrArg(lse), ptrArg(dsum), ptrArg(q), ptrArg(k), ptrArg(out), ptrArg(dout))...); err != nil {
			return err
		}
		if err := d.launchLocked("attn_bwd_dq_f32", kernels.Grid1D(kernels.AttentionThreads(p)),
			args(ptrArg(dq), ptrArg(q), ptrArg(k), ptrArg(v), ptrArg(dout), ptrArg(lse), ptrArg(dsum))...); err != nil {
			return err
		}
		return d.launchLocked("attn_bwd_dkv_f32", kernels.Grid1D(kernels.AttentionKeyThreads(p)),
			args(ptrArg(dk), ptrArg(dv), ptrArg(q), ptrArg(k), ptrArg(v), ptrArg(dout), ptrArg(lse), ptrArg(dsum))...)
	})
}
