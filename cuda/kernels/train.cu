// train.cu: the backward kernels of a frozen text tower for prompt tuning
// (package cuda, TrainStep): layer norm backward, QuickGELU backward, L2
// row normalisation forward and backward, row scatter-add and segmented
// row sums (splicing learned context vectors into prompts and summing
// their gradients back), and the three kernels of a causal multi-head
// attention backward that recomputes the probabilities from q and k.
//
// Row kernels (layernorm_bwd_rows_f32, l2norm_rows_f32,
// l2norm_bwd_rows_f32): one block per row as in rows.cu (RowBlock in
// kernels.go). The other kernels are element-wise over their outputs with a
// grid-stride loop (Grid1D) and no block cooperation. The Go references
// are in package kernels/backend (refgrad.go).
#include "common.cuh"

#define GRID_STRIDE(i, n) for (i64 i = ctaid_x() * ntid_x() + tid_x(); i < (n); i += nctaid_x() * ntid_x())
#define ROW_LOOP(r, rows) for (i64 r = ctaid_x(); r < (rows); r += nctaid_x())
#define COL_LOOP(c, cols) for (i64 c = tid_x(); c < (cols); c += ntid_x())

// layernorm_bwd_rows_f32: the input gradient of y = (x - mean) rstd gamma
// + beta per row, given dy and the forward's mean and rstd:
//   xh = (x - mean) rstd, g = dy gamma (gamma null: 1),
//   dx = rstd (g - sum(g)/n - xh sum(g xh)/n),
// added to dx when accumulate != 0, written otherwise. dx may be dy.
extern_c __global__ void layernorm_bwd_rows_f32(float* dx, const float* dy, const float* x, const float* gamma,
                                                const float* mean, const float* rstd, i64 rows, i64 cols,
                                                i64 accumulate) {
	__shared__ float sh[1024];
	const float n = (float)cols;
	ROW_LOOP(r, rows) {
		const float* xr = x + r * cols;
		const float* dyr = dy + r * cols;
		float* dxr = dx + r * cols;
		const float mu = mean[r], rs = rstd[r];
		float s1 = 0.0f, s2 = 0.0f;
		COL_LOOP(c, cols) {
			float g = gamma ? dyr[c] * gamma[c] : dyr[c];
			float xh = (xr[c] - mu) * rs;
			s1 += g;
			s2 = fmaf_(g, xh, s2);
		}
		s1 = block_sum(s1, sh) / n;
		s2 = block_sum(s2, sh) / n;
		COL_LOOP(c, cols) {
			float g = gamma ? dyr[c] * gamma[c] : dyr[c];
			float xh = (xr[c] - mu) * rs;
			float v = rs * (g - s1 - xh * s2);
			dxr[c] = accumulate ? dxr[c] + v : v;
		}
	}
}

// l2norm_rows_f32: y = x / |x| per row (no epsilon: a zero row gives
// NaN/Inf, as torch's x / x.norm()), inv[r] = 1/|x_r|. y may be x.
extern_c __global__ void l2norm_rows_f32(float* y, float* inv, const float* x, i64 rows, i64 cols) {
	__shared__ float sh[1024];
	ROW_LOOP(r, rows) {
		const float* xr = x + r * cols;
		float* yr = y + r * cols;
		float ss = 0.0f;
		COL_LOOP(c, cols) ss = fmaf_(xr[c], xr[c], ss);
		ss = block_sum(ss, sh);
		const float iv = 1.0f / __builtin_sqrtf(ss);
		if (tid_x() == 0 && inv) inv[r] = iv;
		COL_LOOP(c, cols) yr[c] = xr[c] * iv;
	}
}

// l2norm_bwd_rows_f32: dx = (dy - y (dy . y)) inv per row, for y = x/|x|
// and inv = 1/|x| from l2norm_rows_f32. dx may be dy.
extern_c __global__ void l2norm_bwd_rows_f32(float* dx, const float* dy, const float* y, const float* inv, i64 rows,
                                             i64 cols) {
	__shared__ float sh[1024];
	ROW_LOOP(r, rows) {
		const float* dyr = dy + r * cols;
		const float* yr = y + r * cols;
		float* dxr = dx + r * cols;
		float dot = 0.0f;
		COL_LOOP(c, cols) dot = fmaf_(dyr[c], yr[c], dot);
		dot = block_sum(dot, sh);
		const float iv = inv[r];
		COL_LOOP(c, cols) dxr[c] = (dyr[c] - yr[c] * dot) * iv;
	}
}

// quickgelu_bwd_f32: dx = dy * d/dx [x sigmoid(1.702 x)]
//   = dy (s + 1.702 x s (1 - s)), s = 1 / (1 + exp(-1.702 x)).
// dx may be dy.
extern_c __global__ void quickgelu_bwd_f32(float* dx, const float* dy, const float* x, i64 n) {
	GRID_STRIDE(i, n) {
		float xv = x[i];
		float s = 1.0f / (1.0f + expf_(-1.702f * xv));
		dx[i] = dy[i] * fmaf_(1.702f * xv * s, 1.0f - s, s);
	}
}

// scatter_add_rows_f32: dst[dstIdx[r]] += src[srcIdx[r]] for rows of cols
// elements (int64 indices; the host checks that they are in range and that
// dstIdx has no repeats, so no two threads write one element).
extern_c __global__ void scatter_add_rows_f32(float* dst, const float* src, const i64* dstIdx, const i64* srcIdx,
                                              i64 rows, i64 cols) {
	GRID_STRIDE(i, rows * cols) {
		i64 r = i / cols, c = i - r * cols;
		dst[dstIdx[r] * cols + c] += src[srcIdx[r] * cols + c];
	}
}

// segment_sum_rows_f32: dst[r] = sum over k in [offsets[r], offsets[r+1])
// of src[idx[k]] (in k order), for rows of cols elements; an empty segment
// gives zeros. offsets has rows+1 entries.
extern_c __global__ void segment_sum_rows_f32(float* dst, const float* src, const i64* idx, const i64* offsets,
                                              i64 rows, i64 cols) {
	GRID_STRIDE(i, rows * cols) {
		i64 r = i / cols, c = i - r * cols;
		float s = 0.0f;
		for (i64 k = offsets[r]; k < offsets[r + 1]; k++) s += src[idx[k] * cols + c];
		dst[i] = s;
	}
}

// The attention backward kernels take the layout of attention_f32 (see
// clip.cu): element e of head h of query i of batch b is q[b*qBatch +
// i*qRow + h*d + e]; k, v with key j; out and dout with query i (oRow,
// oBatch). The gradients dq, dk, dv have the layouts of q, k, v. causal
// lets query i see keys j <= i + tk - tq. Row statistics (lse, dsum) are
// indexed ((b*heads + h)*tq + i).

// attn_bwd_stats_f32: per query, lse = log sum_j exp(s_ij) over the keys it
// sees (s = scale q.k, online maximum as attention_f32) and dsum = dout .
// out. Threads: batch*heads*tq.
extern_c __global__ void attn_bwd_stats_f32(float* lse, float* dsum, const float* q, const float* k, const float* out,
                                            const float* dout, i64 batch, i64 heads, i64 tq, i64 tk, i64 d,
                                            i64 qRow, i64 kRow, i64 vRow, i64 oRow, i64 qBatch, i64 kBatch,
                                            i64 vBatch, i64 oBatch, i64 causal, double scale) {
	const float fs = (float)scale;
	GRID_STRIDE(i, batch * heads * tq) {
		i64 qi = i % tq, bh = i / tq;
		i64 h = bh % heads, b = bh / heads;
		const float* qp = q + b * qBatch + qi * qRow + h * d;
		const float* kp = k + b * kBatch + h * d;
		i64 jmax = tk;
		if (causal) {
			jmax = qi + 1 + tk - tq;
			if (jmax > tk) jmax = tk;
		}
		float m = -__builtin_inff(), l = 0.0f;
		for (i64 j = 0; j < jmax; j++) {
			const float* kj = kp + j * kRow;
			float dot = 0.0f;
			for (i64 e = 0; e < d; e++) dot = fmaf_(qp[e], kj[e], dot);
			float s = dot * fs;
			if (s > m) {
				l *= expf_(m - s);
				m = s;
			}
			l += expf_(s - m);
		}
		lse[i] = m + logf_(l);
		const float* op = out + b * oBatch + qi * oRow + h * d;
		const float* gp = dout + b * oBatch + qi * oRow + h * d;
		float ds = 0.0f;
		for (i64 e = 0; e < d; e++) ds = fmaf_(gp[e], op[e], ds);
		dsum[i] = ds;
	}
}

// attn_bwd_dq_f32: dq_i = scale sum_j p_ij (dout_i . v_j - dsum_i) k_j with
// p_ij = exp(s_ij - lse_i). One thread computes ATT_DG consecutive
// dimensions of one query (threads: batch*heads*tq*ceil(d/ATT_DG)).
#define ATT_DG 32
extern_c __global__ void attn_bwd_dq_f32(float* dq, const float* q, const float* k, const float* v, const float* dout,
                                         const float* lse, const float* dsum, i64 batch, i64 heads, i64 tq, i64 tk,
                                         i64 d, i64 qRow, i64 kRow, i64 vRow, i64 oRow, i64 qBatch, i64 kBatch,
                                         i64 vBatch, i64 oBatch, i64 causal, double scale) {
	const float fs = (float)scale;
	const i64 ng = (d + ATT_DG - 1) / ATT_DG;
	GRID_STRIDE(i, batch * heads * tq * ng) {
		i64 g = i % ng, r = i / ng;
		i64 qi = r % tq, bh = r / tq;
		i64 h = bh % heads, b = bh / heads;
		const float* qp = q + b * qBatch + qi * qRow + h * d;
		const float* gp = dout + b * oBatch + qi * oRow + h * d;
		const float* kp = k + b * kBatch + h * d;
		const float* vp = v + b * vBatch + h * d;
		i64 jmax = tk;
		if (causal) {
			jmax = qi + 1 + tk - tq;
			if (jmax > tk) jmax = tk;
		}
		const i64 e0 = g * ATT_DG;
		const i64 ne = d - e0 < ATT_DG ? d - e0 : ATT_DG;
		const float L = lse[r], D = dsum[r];
		float acc[ATT_DG];
#pragma unroll
		for (int e = 0; e < ATT_DG; e++) acc[e] = 0.0f;
		for (i64 j = 0; j < jmax; j++) {
			const float* kj = kp + j * kRow;
			const float* vj = vp + j * vRow;
			float dot = 0.0f, dp = 0.0f;
			for (i64 e = 0; e < d; e++) {
				dot = fmaf_(qp[e], kj[e], dot);
				dp = fmaf_(gp[e], vj[e], dp);
			}
			float p = expf_(dot * fs - L);
			float ds = p * (dp - D);
#pragma unroll
			for (int e = 0; e < ATT_DG; e++)
				if (e < ne) acc[e] = fmaf_(ds, kj[e0 + e], acc[e]);
		}
		float* op = dq + b * qBatch + qi * qRow + h * d + e0;
#pragma unroll
		for (int e = 0; e < ATT_DG; e++)
			if (e < ne) op[e] = acc[e] * fs;
	}
}

// attn_bwd_dkv_f32: for key j, dv_j = sum_i p_ij dout_i and dk_j = scale
// sum_i p_ij (dout_i . v_j - dsum_i) q_i over the queries i that see j.
// One thread computes ATT_DG consecutive dimensions of dk_j and dv_j
// (threads: batch*heads*tk*ceil(d/ATT_DG)).
extern_c __global__ void attn_bwd_dkv_f32(float* dk, float* dv, const float* q, const float* k, const float* v,
                                          const float* dout, const float* lse, const float* dsum, i64 batch,
                                          i64 heads, i64 tq, i64 tk, i64 d, i64 qRow, i64 kRow, i64 vRow, i64 oRow,
                                          i64 qBatch, i64 kBatch, i64 vBatch, i64 oBatch, i64 causal,
                                          double scale) {
	const float fs = (float)scale;
	const i64 ng = (d + ATT_DG - 1) / ATT_DG;
	GRID_STRIDE(i, batch * heads * tk * ng) {
		i64 g = i % ng, r = i / ng;
		i64 kj = r % tk, bh = r / tk;
		i64 h = bh % heads, b = bh / heads;
		const float* kp = k + b * kBatch + kj * kRow + h * d;
		const float* vp = v + b * vBatch + kj * vRow + h * d;
		const float* qb = q + b * qBatch + h * d;
		const float* gb = dout + b * oBatch + h * d;
		// Query i sees key j when j <= i + tk - tq, i.e. i >= j - (tk - tq).
		i64 i0 = 0;
		if (causal) {
			i0 = kj - (tk - tq);
			if (i0 < 0) i0 = 0;
		}
		const i64 e0 = g * ATT_DG;
		const i64 ne = d - e0 < ATT_DG ? d - e0 : ATT_DG;
		float ak[ATT_DG], av[ATT_DG];
#pragma unroll
		for (int e = 0; e < ATT_DG; e++) {
			ak[e] = 0.0f;
			av[e] = 0.0f;
		}
		for (i64 qi = i0; qi < tq; qi++) {
			const float* qp = qb + qi * qRow;
			const float* gp = gb + qi * oRow;
			float dot = 0.0f, dp = 0.0f;
			for (i64 e = 0; e < d; e++) {
				dot = fmaf_(qp[e], kp[e], dot);
				dp = fmaf_(gp[e], vp[e], dp);
			}
			const i64 si = bh * tq + qi;
			float p = expf_(dot * fs - lse[si]);
			float ds = p * (dp - dsum[si]);
#pragma unroll
			for (int e = 0; e < ATT_DG; e++)
				if (e < ne) {
					av[e] = fmaf_(p, gp[e0 + e], av[e]);
					ak[e] = fmaf_(ds, qp[e0 + e], ak[e]);
				}
		}
		float* dkp = dk + b * kBatch + kj * kRow + h * d + e0;
		float* dvp = dv + b * vBatch + kj * vRow + h * d + e0;
#pragma unroll
		for (int e = 0; e < ATT_DG; e++)
			if (e < ne) {
				dkp[e] = ak[e] * fs;
				dvp[e] = av[e];
			}
	}
}
