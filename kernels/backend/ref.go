package backend

import "math"

// This file holds the Go references of the forward operations (the
// kernels of cuda/kernels/clip.cu). The references follow the CUDA
// C operation by operation (same summation order, fused multiply-adds where
// the kernel has them), so the device tests can compare the GPU with them
// closely, and Host runs the CLIP forward pass (clip/frozen) on them
// without a GPU.

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

func fma32(a, b, c float32) float32 { return float32(math.FMA(float64(a), float64(b), float64(c))) }

// Attention is the reference of attention_f32 (online softmax, see
// cuda/kernels/clip.cu), computed per query and head. The kernel splits a
// head's dimensions among threads, each recomputing the scores; every
// output element gets the same operations in the same order either way.
func Attention(out, q, k, v []float32, p AttnParams) {
	acc := make([]float32, p.D)
	for r := 0; r < p.StatRows(); r++ {
		qi, bh := r%p.Tq, r/p.Tq
		h, b := bh%p.Heads, bh/p.Heads
		qp := q[b*p.QBatch+qi*p.QRow+h*p.D:]
		kp := k[b*p.KBatch+h*p.D:]
		vp := v[b*p.VBatch+h*p.D:]
		jmax := p.jmax(qi)
		ne := p.D
		clear(acc)
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
		op := out[b*p.OBatch+qi*p.ORow+h*p.D:]
		inv := 1 / l
		for e := 0; e < ne; e++ {
			op[e] = acc[e] * inv
		}
	}
}
