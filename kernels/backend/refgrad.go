package backend

import "math"

// This file holds the Go references of the backward operations (the
// kernels of cuda/kernels/train.cu: the backward pass of a frozen text
// tower). Element-wise kernels
// are followed operation by operation; the row kernels' block reductions
// are summed in order here (the device sums in a tree), so row results
// agree within float rounding.

// LayerNormBackward is the reference of layernorm_bwd_rows_f32: for each of
// rows rows of cols elements, with xh = (x - mean) rstd and g = dy gamma
// (gamma nil: 1), dx = rstd (g - Σg/n - xh Σ(g xh)/n), added to dx when
// accumulate. dx may be dy.
func LayerNormBackward(dx, dy, x, gamma, mean, rstd []float32, rows, cols int, accumulate bool) {
	n := float32(cols)
	for r := 0; r < rows; r++ {
		xr, dyr, dxr := x[r*cols:(r+1)*cols], dy[r*cols:(r+1)*cols], dx[r*cols:(r+1)*cols]
		mu, rs := mean[r], rstd[r]
		g := func(c int) float32 {
			if gamma != nil {
				return dyr[c] * gamma[c]
			}
			return dyr[c]
		}
		var s1, s2 float32
		for c := 0; c < cols; c++ {
			gc := g(c)
			s1 += gc
			s2 = fma32(gc, (xr[c]-mu)*rs, s2)
		}
		s1 /= n
		s2 /= n
		for c := 0; c < cols; c++ {
			v := rs * (g(c) - s1 - (xr[c]-mu)*rs*s2)
			if accumulate {
				v += dxr[c]
			}
			dxr[c] = v
		}
	}
}

// L2NormRows is the reference of l2norm_rows_f32: y = x/|x| per row and
// inv[r] = 1/|x_r| (inv may be nil). y may be x.
func L2NormRows(y, inv, x []float32, rows, cols int) {
	for r := 0; r < rows; r++ {
		xr, yr := x[r*cols:(r+1)*cols], y[r*cols:(r+1)*cols]
		var ss float32
		for _, v := range xr {
			ss = fma32(v, v, ss)
		}
		iv := 1 / float32(math.Sqrt(float64(ss)))
		if inv != nil {
			inv[r] = iv
		}
		for c, v := range xr {
			yr[c] = v * iv
		}
	}
}

// L2NormRowsBackward is the reference of l2norm_bwd_rows_f32: dx = (dy -
// y (dy·y)) inv per row. dx may be dy.
func L2NormRowsBackward(dx, dy, y, inv []float32, rows, cols int) {
	for r := 0; r < rows; r++ {
		dyr, yr, dxr := dy[r*cols:(r+1)*cols], y[r*cols:(r+1)*cols], dx[r*cols:(r+1)*cols]
		var dot float32
		for c := range dyr {
			dot = fma32(dyr[c], yr[c], dot)
		}
		for c := range dyr {
			dxr[c] = (dyr[c] - yr[c]*dot) * inv[r]
		}
	}
}

// QuickGeluBackward is the reference of quickgelu_bwd_f32 over n elements:
// dx = dy (s + 1.702 x s (1 - s)), s = sigmoid(1.702 x). dx may be dy.
func QuickGeluBackward(dx, dy, x []float32, n int) {
	for i := 0; i < n; i++ {
		xv := x[i]
		s := 1 / (1 + float32(math.Exp(float64(-1.702*xv))))
		dx[i] = dy[i] * fma32(1.702*xv*s, 1-s, s)
	}
}

// ScatterAddRows is the reference of scatter_add_rows_f32: dst[dstIdx[r]]
// += src[srcIdx[r]] for rows of cols elements.
func ScatterAddRows(dst, src []float32, dstIdx, srcIdx []int, cols int) {
	for r := range dstIdx {
		d, s := dst[dstIdx[r]*cols:(dstIdx[r]+1)*cols], src[srcIdx[r]*cols:(srcIdx[r]+1)*cols]
		for c := range d {
			d[c] += s[c]
		}
	}
}

// SegmentSumRows is the reference of segment_sum_rows_f32: dst[r] = Σ
// src[idx[k]] over k in [offsets[r], offsets[r+1]), in k order.
func SegmentSumRows(dst, src []float32, idx, offsets []int, cols int) {
	for r := 0; r+1 < len(offsets); r++ {
		d := dst[r*cols : (r+1)*cols]
		clear(d)
		for k := offsets[r]; k < offsets[r+1]; k++ {
			s := src[idx[k]*cols : (idx[k]+1)*cols]
			for c := range d {
				d[c] += s[c]
			}
		}
	}
}

// jmax returns the number of keys, [0, jmax), that query qi sees.
func (p AttnParams) jmax(qi int) int {
	if p.Causal {
		return min(qi+1+p.Tk-p.Tq, p.Tk)
	}
	return p.Tk
}

func dot32(a, b []float32, n int) float32 {
	var s float32
	for e := 0; e < n; e++ {
		s = fma32(a[e], b[e], s)
	}
	return s
}

// AttentionBackward is the reference of the three attention backward
// kernels (attn_bwd_stats_f32, attn_bwd_dq_f32, attn_bwd_dkv_f32) for
// out = Attention(q, k, v, p) and its gradient dout (layout of out): it
// writes dq, dk, dv (layouts of q, k, v) and uses lse, dsum (StatRows
// elements each) as scratch. It runs per query (or key) and head; the
// kernels' split of a head's dimensions among threads does not change
// any element's arithmetic.
func AttentionBackward(dq, dk, dv, q, k, v, out, dout, lse, dsum []float32, p AttnParams) {
	d := p.D
	// Statistics.
	for i := 0; i < p.StatRows(); i++ {
		qi, bh := i%p.Tq, i/p.Tq
		h, b := bh%p.Heads, bh/p.Heads
		qp := q[b*p.QBatch+qi*p.QRow+h*d:]
		m, l := float32(math.Inf(-1)), float32(0)
		for j := 0; j < p.jmax(qi); j++ {
			s := dot32(qp, k[b*p.KBatch+j*p.KRow+h*d:], d) * p.Scale
			if s > m {
				l *= float32(math.Exp(float64(m - s)))
				m = s
			}
			l += float32(math.Exp(float64(s - m)))
		}
		lse[i] = m + float32(math.Log(float64(l)))
		o := b*p.OBatch + qi*p.ORow + h*d
		dsum[i] = dot32(dout[o:], out[o:], d)
	}
	// dq.
	acc := make([]float32, d)
	for r := 0; r < p.StatRows(); r++ {
		qi, bh := r%p.Tq, r/p.Tq
		h, b := bh%p.Heads, bh/p.Heads
		qp := q[b*p.QBatch+qi*p.QRow+h*d:]
		gp := dout[b*p.OBatch+qi*p.ORow+h*d:]
		clear(acc)
		for j := 0; j < p.jmax(qi); j++ {
			kj := k[b*p.KBatch+j*p.KRow+h*d:]
			vj := v[b*p.VBatch+j*p.VRow+h*d:]
			pr := float32(math.Exp(float64(dot32(qp, kj, d)*p.Scale - lse[r])))
			ds := pr * (dot32(gp, vj, d) - dsum[r])
			for e := 0; e < d; e++ {
				acc[e] = fma32(ds, kj[e], acc[e])
			}
		}
		o := dq[b*p.QBatch+qi*p.QRow+h*d:]
		for e := 0; e < d; e++ {
			o[e] = acc[e] * p.Scale
		}
	}
	// dk, dv.
	ak, av := make([]float32, d), make([]float32, d)
	for r := 0; r < p.Batch*p.Heads*p.Tk; r++ {
		kj, bh := r%p.Tk, r/p.Tk
		h, b := bh%p.Heads, bh/p.Heads
		kp := k[b*p.KBatch+kj*p.KRow+h*d:]
		vp := v[b*p.VBatch+kj*p.VRow+h*d:]
		i0 := 0
		if p.Causal {
			i0 = max(kj-(p.Tk-p.Tq), 0)
		}
		clear(ak)
		clear(av)
		for qi := i0; qi < p.Tq; qi++ {
			qp := q[b*p.QBatch+qi*p.QRow+h*d:]
			gp := dout[b*p.OBatch+qi*p.ORow+h*d:]
			si := bh*p.Tq + qi
			pr := float32(math.Exp(float64(dot32(qp, kp, d)*p.Scale - lse[si])))
			ds := pr * (dot32(gp, vp, d) - dsum[si])
			for e := 0; e < d; e++ {
				av[e] = fma32(pr, gp[e], av[e])
				ak[e] = fma32(ds, qp[e], ak[e])
			}
		}
		dkp := dk[b*p.KBatch+kj*p.KRow+h*d:]
		dvp := dv[b*p.VBatch+kj*p.VRow+h*d:]
		for e := 0; e < d; e++ {
			dkp[e] = ak[e] * p.Scale
			dvp[e] = av[e]
		}
	}
}

// SGD is the reference of sgd_f32 without dampening and Nesterov (one
// torch.optim.SGD step over p with gradient g): d = g + wd·p; with
// momentum, buf = d on the first step and momentum·buf + d later, then d
// = buf; p -= lr·d. buf is unused (may be nil) without momentum.
func SGD(p, g, buf []float32, lr, wd, momentum float32, first bool) {
	for i := range p {
		pv := p[i]
		d := fma32(wd, pv, g[i])
		if momentum != 0 {
			b := d
			if !first {
				b = fma32(momentum, buf[i], d)
			}
			buf[i] = b
			d = b
		}
		p[i] = fma32(-lr, d, pv)
	}
}
