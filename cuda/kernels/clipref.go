package kernels

import (
	"fmt"
	"math"
)

// This file holds the geometry, argument checks and Go reference
// implementations of the kernels of clip.cu. The references follow the CUDA
// C operation by operation (same summation order, fused multiply-adds where
// the kernel has them), so the device tests can compare the GPU with them
// closely, and cuda/internal/clipnet's Host backend runs the CLIP forward
// pass on them without a GPU.

// Act selects the activation of bias_act_f32.
type Act int

// Activations of BiasAct.
const (
	ActNone      Act = 0
	ActRelu      Act = 1
	ActQuickGelu Act = 2
)

// ConvGeom is a convolution over channel-major activations x [C, N, H, W]
// with a KH x KW kernel, stride and zero padding.
type ConvGeom struct {
	C, N, H, W  int
	KH, KW      int
	Stride, Pad int
}

// OH returns the output height.
func (g ConvGeom) OH() int { return (g.H+2*g.Pad-g.KH)/g.Stride + 1 }

// OW returns the output width.
func (g ConvGeom) OW() int { return (g.W+2*g.Pad-g.KW)/g.Stride + 1 }

// Rows returns the rows of the im2col matrix, C*KH*KW.
func (g ConvGeom) Rows() int { return g.C * g.KH * g.KW }

// Cols returns the columns of the im2col matrix, N*OH*OW.
func (g ConvGeom) Cols() int { return g.N * g.OH() * g.OW() }

// Check reports a geometry with non-positive sizes or an empty output, or
// arrays (lengths in elements) too short for it.
func (g ConvGeom) Check(lenCol, lenX int) error {
	if g.C <= 0 || g.N <= 0 || g.H <= 0 || g.W <= 0 || g.KH <= 0 || g.KW <= 0 || g.Stride <= 0 || g.Pad < 0 || g.OH() <= 0 || g.OW() <= 0 {
		return fmt.Errorf("bad convolution geometry %+v", g)
	}
	if lenCol < g.Rows()*g.Cols() || lenX < g.C*g.N*g.H*g.W {
		return fmt.Errorf("convolution %+v: col has %d elements (need %d), x %d (need %d)", g, lenCol, g.Rows()*g.Cols(), lenX, g.C*g.N*g.H*g.W)
	}
	return nil
}

// Im2colCNHW is the reference of im2col_cnhw_f32: col [C*KH*KW, N*OH*OW]
// from x [C, N, H, W].
func Im2colCNHW(col, x []float32, g ConvGeom) {
	oh, ow := g.OH(), g.OW()
	cols := g.N * oh * ow
	for i := range col[:g.Rows()*cols] {
		r, q := i/cols, i%cols
		ci, kk := r/(g.KH*g.KW), r%(g.KH*g.KW)
		ki, kj := kk/g.KW, kk%g.KW
		ni, p := q/(oh*ow), q%(oh*ow)
		oy, ox := p/ow, p%ow
		iy, ix := oy*g.Stride-g.Pad+ki, ox*g.Stride-g.Pad+kj
		var v float32
		if iy >= 0 && iy < g.H && ix >= 0 && ix < g.W {
			v = x[((ci*g.N+ni)*g.H+iy)*g.W+ix]
		}
		col[i] = v
	}
}

// BiasAct is the reference of bias_act_f32 over the first n elements:
// dst[i] = act(src[i] + bias[(i/inner)%nb]); bias nil adds nothing.
func BiasAct(dst, src, bias []float32, inner, nb, n int, act Act) {
	for i := 0; i < n; i++ {
		v := src[i]
		if bias != nil {
			v += bias[(i/inner)%nb]
		}
		switch act {
		case ActRelu:
			if v < 0 {
				v = 0
			}
		case ActQuickGelu:
			v = v / (1 + float32(math.Exp(float64(-1.702*v))))
		}
		dst[i] = v
	}
}

// AvgPool is the reference of avgpool_f32: dst [planes, h/k, w/k] from src
// [planes, h, w], kernel = stride = k.
func AvgPool(dst, src []float32, planes, h, w, k int) {
	oh, ow := h/k, w/k
	inv := 1 / float32(k*k)
	for i := 0; i < planes*oh*ow; i++ {
		pl, p := i/(oh*ow), i%(oh*ow)
		oy, ox := p/ow, p%ow
		s := src[(pl*h+oy*k)*w+ox*k:]
		var sum float32
		for a := 0; a < k; a++ {
			for b := 0; b < k; b++ {
				sum += s[a*w+b]
			}
		}
		dst[i] = sum * inv
	}
}

// Transpose01 is the reference of transpose01_f32: dst [b, a, inner] from
// src [a, b, inner].
func Transpose01(dst, src []float32, a, b, inner int) {
	for i := 0; i < a*b*inner; i++ {
		e, r := i%inner, i/inner
		ai, bi := r%a, r/a
		dst[i] = src[(ai*b+bi)*inner+e]
	}
}

// PoolTokens is the reference of pool_tokens_f32: seq [N, HW+1, C] from x
// [C, N, HW] (token 0 the spatial mean) plus pos [HW+1, C].
func PoolTokens(seq, x, pos []float32, c, n, hw int) {
	l := hw + 1
	inv := 1 / float32(hw)
	for i := 0; i < n*l*c; i++ {
		ci, r := i%c, i/c
		t, ni := r%l, r/l
		xp := x[(ci*n+ni)*hw:]
		var v float32
		if t == 0 {
			var s float32
			for p := 0; p < hw; p++ {
				s += xp[p]
			}
			v = s * inv
		} else {
			v = xp[t-1]
		}
		seq[i] = v + pos[t*c+ci]
	}
}

// GatherRows is the reference of gather_rows_f32: dst[r] = src[idx[r]] for
// rows of cols elements.
func GatherRows(dst, src []float32, idx []int, cols int) {
	for r, j := range idx {
		copy(dst[r*cols:(r+1)*cols], src[j*cols:(j+1)*cols])
	}
}

// AttnParams describes one attention_f32 call: Batch x Heads heads of
// dimension D, Tq queries and Tk keys, read in place from row-major
// projections. Element e of head h of query i of batch b is
// q[b*QBatch + i*QRow + h*D + e]; k and v likewise with key j, out with
// query i. Causal lets query i see keys j <= i + Tk - Tq. Scale multiplies
// the scores (1/sqrt(D) in CLIP).
type AttnParams struct {
	Batch, Heads, Tq, Tk, D        int
	QRow, KRow, VRow, ORow         int
	QBatch, KBatch, VBatch, OBatch int
	Causal                         bool
	Scale                          float32
}

// Threads returns the number of attention_f32 threads,
// Batch*Heads*Tq*ceil(D/AttentionDG).
func (p AttnParams) Threads() int {
	return p.Batch * p.Heads * p.Tq * ((p.D + AttentionDG - 1) / AttentionDG)
}

// Check reports non-positive sizes, or arrays (lengths in elements) too
// short for the largest index read or written.
func (p AttnParams) Check(lenQ, lenK, lenV, lenO int) error {
	if p.Batch <= 0 || p.Heads <= 0 || p.Tq <= 0 || p.Tk <= 0 || p.D <= 0 || p.Causal && p.Tq > p.Tk {
		return fmt.Errorf("bad attention sizes %+v", p)
	}
	hd := p.Heads * p.D
	last := func(batch, row, t int) int { return (p.Batch-1)*batch + (t-1)*row + hd }
	if lenQ < last(p.QBatch, p.QRow, p.Tq) || lenK < last(p.KBatch, p.KRow, p.Tk) || lenV < last(p.VBatch, p.VRow, p.Tk) || lenO < last(p.OBatch, p.ORow, p.Tq) {
		return fmt.Errorf("attention %+v: arrays too short: q %d (need %d), k %d (need %d), v %d (need %d), out %d (need %d)", p,
			lenQ, last(p.QBatch, p.QRow, p.Tq), lenK, last(p.KBatch, p.KRow, p.Tk), lenV, last(p.VBatch, p.VRow, p.Tk), lenO, last(p.OBatch, p.ORow, p.Tq))
	}
	return nil
}

func fma32(a, b, c float32) float32 { return float32(math.FMA(float64(a), float64(b), float64(c))) }

// Attention is the reference of attention_f32 (online softmax, see
// clip.cu), computed per query with the kernel's per-thread split of the
// head dimensions into groups of AttentionDG.
func Attention(out, q, k, v []float32, p AttnParams) {
	ng := (p.D + AttentionDG - 1) / AttentionDG
	var acc [AttentionDG]float32
	for i := 0; i < p.Threads(); i++ {
		g, r := i%ng, i/ng
		qi, bh := r%p.Tq, r/p.Tq
		h, b := bh%p.Heads, bh/p.Heads
		qp := q[b*p.QBatch+qi*p.QRow+h*p.D:]
		kp := k[b*p.KBatch+h*p.D:]
		vp := v[b*p.VBatch+h*p.D+g*AttentionDG:]
		jmax := p.Tk
		if p.Causal {
			jmax = min(qi+1+p.Tk-p.Tq, p.Tk)
		}
		e0 := g * AttentionDG
		ne := min(p.D-e0, AttentionDG)
		acc = [AttentionDG]float32{}
		m, l := float32(math.Inf(-1)), float32(0)
		for j := 0; j < jmax; j++ {
			kj := kp[j*p.KRow:]
			var dot float32
			for e := 0; e < p.D; e++ {
				dot = fma32(qp[e], kj[e], dot)
			}
			s := dot * p.Scale
			if s > m {
				corr := float32(math.Exp(float64(m - s)))
				l *= corr
				for e := range acc {
					acc[e] *= corr
				}
				m = s
			}
			pr := float32(math.Exp(float64(s - m)))
			l += pr
			vj := vp[j*p.VRow:]
			for e := 0; e < ne; e++ {
				acc[e] = fma32(pr, vj[e], acc[e])
			}
		}
		op := out[b*p.OBatch+qi*p.ORow+h*p.D+e0:]
		inv := 1 / l
		for e := 0; e < ne; e++ {
			op[e] = acc[e] * inv
		}
	}
}
