// clip.cu: the kernels of frozen CLIP inference (package cuda, CLIP):
// im2col for convolutions over channel-major [C, N, H, W] activations,
// broadcast bias + activation, average pooling, a [A, B, X] -> [B, A, X]
// transpose, the token sequence of the attention pool, row gathers
// (embedding lookup, EOT pooling) and a fused multi-head attention for
// short sequences.
//
// Every kernel is element-wise over its output with a grid-stride loop
// (launch: Grid1D in kernels.go) and no block cooperation, so each thread's
// work is independent of the launch geometry. Package backend holds the
// same arithmetic in Go (same operation order; backend.Host runs it), and
// the device tests compare the two.
#include "common.cuh"

#define GRID_STRIDE(i, n) for (i64 i = ctaid_x() * ntid_x() + tid_x(); i < (n); i += nctaid_x() * ntid_x())

// im2col_cnhw_f32: col [C*KH*KW, N*OH*OW] from x [C, N, H, W]:
// col[(c*KH + ki)*KW + kj][(n*OH + oy)*OW + ox] = x[c][n][oy*stride - pad + ki][ox*stride - pad + kj],
// zero outside the image. The rows follow the (c, ki, kj) order of a
// PyTorch conv weight [O, C, KH, KW], so W[O, C*KH*KW] @ col is the
// convolution's output [O, N, OH, OW].
extern_c __global__ void im2col_cnhw_f32(float* col, const float* x, i64 c, i64 n, i64 h, i64 w, i64 kh, i64 kw,
                                         i64 stride, i64 pad, i64 oh, i64 ow) {
	const i64 cols = n * oh * ow;
	const i64 total = c * kh * kw * cols;
	GRID_STRIDE(i, total) {
		i64 r = i / cols, q = i - r * cols;
		i64 ci = r / (kh * kw), kk = r - ci * (kh * kw);
		i64 ki = kk / kw, kj = kk - ki * kw;
		i64 ni = q / (oh * ow), p = q - ni * (oh * ow);
		i64 oy = p / ow, ox = p - oy * ow;
		i64 iy = oy * stride - pad + ki, ix = ox * stride - pad + kj;
		float v = 0.0f;
		if (iy >= 0 && iy < h && ix >= 0 && ix < w) v = x[((ci * n + ni) * h + iy) * w + ix];
		col[i] = v;
	}
}

// bias_act_f32: dst[i] = act(src[i] + bias[(i / inner) % nb]) for i < n;
// bias 0 (null) adds nothing. act: 0 identity, 1 ReLU, 2 QuickGELU
// (x / (1 + exp(-1.702 x))). Per-column bias of a [rows, cols] matrix:
// inner 1, nb cols; per-channel bias of [O, N*H*W]: inner N*H*W, nb O; a
// positional embedding [T, W] added to [B, T, W]: inner 1, nb T*W. dst may
// be src.
extern_c __global__ void bias_act_f32(float* dst, const float* src, const float* bias, i64 inner, i64 nb, i64 n,
                                      i64 act) {
	GRID_STRIDE(i, n) {
		float v = src[i];
		if (bias) v += bias[(i / inner) % nb];
		if (act == 1) v = v < 0.0f ? 0.0f : v;
		else if (act == 2) v = v / (1.0f + expf_(-1.702f * v));
		dst[i] = v;
	}
}

// avgpool_f32: dst [planes, h/k, w/k] = mean of the k x k windows of src
// [planes, h, w] (kernel = stride = k, no padding, floor): the window is
// summed row by row and multiplied by 1/(k*k), as autograd.AvgPool2d.
extern_c __global__ void avgpool_f32(float* dst, const float* src, i64 planes, i64 h, i64 w, i64 k) {
	const i64 oh = h / k, ow = w / k;
	const float inv = 1.0f / (float)(k * k);
	GRID_STRIDE(i, planes * oh * ow) {
		i64 pl = i / (oh * ow), p = i - pl * (oh * ow);
		i64 oy = p / ow, ox = p - oy * ow;
		const float* s = src + (pl * h + oy * k) * w + ox * k;
		float sum = 0.0f;
		for (i64 a = 0; a < k; a++)
			for (i64 b = 0; b < k; b++) sum += s[a * w + b];
		dst[i] = sum * inv;
	}
}

// transpose01_f32: dst [b, a, inner] from src [a, b, inner]
// (NCHW <-> CNHW with inner = H*W). dst must not overlap src.
extern_c __global__ void transpose01_f32(float* dst, const float* src, i64 a, i64 b, i64 inner) {
	GRID_STRIDE(i, a * b * inner) {
		i64 e = i % inner, r = i / inner;
		i64 ai = r % a, bi = r / a;
		dst[i] = src[(ai * b + bi) * inner + e];
	}
}

// pool_tokens_f32: the input sequence of CLIP's AttentionPool2d. x is the
// last ResNet stage [C, N, HW] (channel-major); seq [N, HW+1, C] gets at
// token 0 the spatial mean (sum times 1/HW) and at token t >= 1 the pixel
// t-1, plus pos [HW+1, C].
extern_c __global__ void pool_tokens_f32(float* seq, const float* x, const float* pos, i64 c, i64 n, i64 hw) {
	const i64 L = hw + 1;
	const float inv = 1.0f / (float)hw;
	GRID_STRIDE(i, n * L * c) {
		i64 ci = i % c, r = i / c;
		i64 t = r % L, ni = r / L;
		const float* xp = x + (ci * n + ni) * hw;
		float v;
		if (t == 0) {
			float s = 0.0f;
			for (i64 p = 0; p < hw; p++) s += xp[p];
			v = s * inv;
		} else {
			v = xp[t - 1];
		}
		seq[i] = v + pos[t * c + ci];
	}
}

// gather_rows_f32: dst[r] = src[idx[r]] for rows of cols elements (idx
// int64, in range: the host checks).
extern_c __global__ void gather_rows_f32(float* dst, const float* src, const i64* idx, i64 rows, i64 cols) {
	GRID_STRIDE(i, rows * cols) {
		i64 r = i / cols, c = i - r * cols;
		dst[i] = src[idx[r] * cols + c];
	}
}

// ATT_DG is the number of head dimensions one attention thread produces.
#define ATT_DG 32

// attention_f32: softmax(q kᵀ scale [+ causal mask]) v for every batch b,
// head h and query i, with heads read in place from row-major projections:
// element e of head h of query i of batch b is q[b*qBatch + i*qRow + h*d +
// e] (k, v with row j; out likewise). causal lets query i see keys j <= i +
// tk - tq. One thread computes ATT_DG consecutive output dimensions of one
// query (threads: batch*heads*tq*ceil(d/ATT_DG)) with an online softmax:
// for each key, s = scale (q·k_j); when s raises the running maximum m the
// running sum l and the accumulator are multiplied by exp(m_old - s);
// then p = exp(s - m), l += p, acc += p v_j; out = acc / l.
extern_c __global__ void attention_f32(float* out, const float* q, const float* k, const float* v, i64 batch,
                                       i64 heads, i64 tq, i64 tk, i64 d, i64 qRow, i64 kRow, i64 vRow, i64 oRow,
                                       i64 qBatch, i64 kBatch, i64 vBatch, i64 oBatch, i64 causal, double scale) {
	const float fs = (float)scale;
	const i64 ng = (d + ATT_DG - 1) / ATT_DG;
	GRID_STRIDE(i, batch * heads * tq * ng) {
		i64 g = i % ng, r = i / ng;
		i64 qi = r % tq, bh = r / tq;
		i64 h = bh % heads, b = bh / heads;
		const float* qp = q + b * qBatch + qi * qRow + h * d;
		const float* kp = k + b * kBatch + h * d;
		const float* vp = v + b * vBatch + h * d + g * ATT_DG;
		i64 jmax = tk;
		if (causal) {
			jmax = qi + 1 + tk - tq;
			if (jmax > tk) jmax = tk;
		}
		const i64 e0 = g * ATT_DG;
		const i64 ne = d - e0 < ATT_DG ? d - e0 : ATT_DG;
		float acc[ATT_DG];
#pragma unroll
		for (int e = 0; e < ATT_DG; e++) acc[e] = 0.0f;
		float m = -__builtin_inff(), l = 0.0f;
		for (i64 j = 0; j < jmax; j++) {
			const float* kj = kp + j * kRow;
			float dot = 0.0f;
			for (i64 e = 0; e < d; e++) dot = fmaf_(qp[e], kj[e], dot);
			float s = dot * fs;
			if (s > m) {
				float corr = expf_(m - s);
				l *= corr;
#pragma unroll
				for (int e = 0; e < ATT_DG; e++) acc[e] *= corr;
				m = s;
			}
			float p = expf_(s - m);
			l += p;
			const float* vj = vp + j * vRow;
#pragma unroll
			for (int e = 0; e < ATT_DG; e++)
				if (e < ne) acc[e] = fmaf_(p, vj[e], acc[e]);
		}
		float* op = out + b * oBatch + qi * oRow + h * d + e0;
		const float inv = 1.0f / l;
#pragma unroll
		for (int e = 0; e < ATT_DG; e++)
			if (e < ne) op[e] = acc[e] * inv;
	}
}
