//go:build cuda

package cuda

import (
	"fmt"

	"gorgonia.org/cu"

	"github.com/softcpt/softcpt-go/cuda/kernels"
	"github.com/softcpt/softcpt-go/kernels/backend"
	"github.com/softcpt/softcpt-go/tensor"
)

// The launches of the forward kernels of clip.cu (references in package
// backend).

// View returns an array aliasing a's elements from off on with the given
// shape. It must not be freed (Free on a view would hand a's memory back).
// It panics when the view does not fit in a.
func (a *Array) View(off int, shape ...int) *Array {
	n := tensor.Numel(shape)
	if off < 0 || off+n > a.Numel() {
		panic(fmt.Sprintf("cuda.View: %d elements from %d of an array of shape %v", n, off, a.Shape))
	}
	return &Array{Ptr: a.Ptr + cu.DevicePtr(4*off), Shape: append([]int(nil), shape...), d: a.d}
}

// need panics unless a holds at least n elements.
func need(op, name string, a *Array, n int) {
	if a == nil || a.Numel() < n {
		var shape []int
		if a != nil {
			shape = a.Shape
		}
		panic(fmt.Sprintf("cuda.%s: %s of shape %v, need %d elements", op, name, shape, n))
	}
}

// Im2col writes col [C*KH*KW, N*OH*OW] from channel-major x [C, N, H, W]
// (backend.Im2colCNHW).
func (d *Device) Im2col(col, x *Array, g backend.ConvGeom) error {
	if err := g.Check(col.Numel(), x.Numel()); err != nil {
		panic("cuda.Im2col: " + err.Error())
	}
	return d.launch("im2col_cnhw_f32", kernels.Grid1D(g.Rows()*g.Cols()), ptrArg(col), ptrArg(x), intArg(g.C), intArg(g.N),
		intArg(g.H), intArg(g.W), intArg(g.KH), intArg(g.KW), intArg(g.Stride), intArg(g.Pad), intArg(g.OH()), intArg(g.OW()))
}

// BiasAct computes dst[i] = act(src[i] + bias[(i/inner)%nb]) for i < n
// (backend.BiasAct); bias nil adds nothing. dst may be src.
func (d *Device) BiasAct(dst, src, bias *Array, inner, nb, n int, act backend.Act) error {
	need("BiasAct", "dst", dst, n)
	need("BiasAct", "src", src, n)
	if inner <= 0 || nb <= 0 {
		panic(fmt.Sprintf("cuda.BiasAct: inner %d, nb %d", inner, nb))
	}
	if bias != nil {
		need("BiasAct", "bias", bias, nb)
	}
	return d.launch("bias_act_f32", kernels.Grid1D(n), ptrArg(dst), ptrArg(src), ptrArg(bias), intArg(inner), intArg(nb), intArg(n), intArg(int(act)))
}

// AvgPool averages the k x k windows (stride k) of src [planes, h, w] into
// dst [planes, h/k, w/k] (backend.AvgPool).
func (d *Device) AvgPool(dst, src *Array, planes, h, w, k int) error {
	if k <= 0 || h < k || w < k {
		panic(fmt.Sprintf("cuda.AvgPool: window %d for %dx%d", k, h, w))
	}
	need("AvgPool", "src", src, planes*h*w)
	need("AvgPool", "dst", dst, planes*(h/k)*(w/k))
	return d.launch("avgpool_f32", kernels.Grid1D(planes*(h/k)*(w/k)), ptrArg(dst), ptrArg(src), intArg(planes), intArg(h), intArg(w), intArg(k))
}

// Transpose01 writes dst [b, a, inner] from src [a, b, inner]
// (backend.Transpose01). dst must not overlap src.
func (d *Device) Transpose01(dst, src *Array, a, b, inner int) error {
	need("Transpose01", "src", src, a*b*inner)
	need("Transpose01", "dst", dst, a*b*inner)
	return d.launch("transpose01_f32", kernels.Grid1D(a*b*inner), ptrArg(dst), ptrArg(src), intArg(a), intArg(b), intArg(inner))
}

// PoolTokens writes the attention pool's sequence seq [N, HW+1, C] from
// channel-major x [C, N, HW] plus pos [HW+1, C] (backend.PoolTokens).
func (d *Device) PoolTokens(seq, x, pos *Array, c, n, hw int) error {
	need("PoolTokens", "seq", seq, n*(hw+1)*c)
	need("PoolTokens", "x", x, c*n*hw)
	need("PoolTokens", "pos", pos, (hw+1)*c)
	return d.launch("pool_tokens_f32", kernels.Grid1D(n*(hw+1)*c), ptrArg(seq), ptrArg(x), ptrArg(pos), intArg(c), intArg(n), intArg(hw))
}

// GatherRows writes dst[r] = src[idx[r]] for rows of cols elements; it
// panics on an index outside src's rows.
func (d *Device) GatherRows(dst, src *Array, idx []int, cols int) error {
	if cols <= 0 {
		panic(fmt.Sprintf("cuda.GatherRows: %d columns", cols))
	}
	rows := src.Numel() / cols
	need("GatherRows", "dst", dst, len(idx)*cols)
	t64 := make([]int64, len(idx))
	for i, j := range idx {
		if j < 0 || j >= rows {
			panic(fmt.Sprintf("cuda.GatherRows: index %d (at %d) outside the %d rows of src %v", j, i, rows, src.Shape))
		}
		t64[i] = int64(j)
	}
	return d.withTargets(t64, func(p uint64) error {
		return d.launchLocked("gather_rows_f32", kernels.Grid1D(len(idx)*cols), ptrArg(dst), ptrArg(src), p, intArg(len(idx)), intArg(cols))
	})
}

// Attention computes softmax(q kᵀ scale [+ causal mask]) v per batch, head
// and query with the layout of p (backend.AttnParams, backend.Attention).
func (d *Device) Attention(out, q, k, v *Array, p backend.AttnParams) error {
	if err := p.Check(q.Numel(), k.Numel(), v.Numel(), out.Numel()); err != nil {
		panic("cuda.Attention: " + err.Error())
	}
	return d.launch("attention_f32", kernels.Grid1D(kernels.AttentionThreads(p)), ptrArg(out), ptrArg(q), ptrArg(k), ptrArg(v),
		intArg(p.Batch), intArg(p.Heads), intArg(p.Tq), intArg(p.Tk), intArg(p.D),
		intArg(p.QRow), intArg(p.KRow), intArg(p.VRow), intArg(p.ORow),
		intArg(p.QBatch), intArg(p.KBatch), intArg(p.VBatch), intArg(p.OBatch), boolArg(p.Causal), floatArg(p.Scale))
}
