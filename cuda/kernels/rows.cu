// rows.cu: row-wise float32 kernels over a row-major [rows, cols] matrix.
// Launch: one block per row (grid.x = rows, or a grid-stride over rows),
// blockDim.x a power of two (RowBlock in kernels.go), shared memory
// blockDim.x floats (static, 1024 at most).
#include "common.cuh"

#define ROW_LOOP(r, rows) for (i64 r = ctaid_x(); r < (rows); r += nctaid_x())
#define COL_LOOP(c, cols) for (i64 c = tid_x(); c < (cols); c += ntid_x())

// softmax_rows_f32: dst = exp(x - max) / sum over each row. dst may be src.
extern_c __global__ void softmax_rows_f32(float* dst, const float* src, i64 rows, i64 cols) {
	__shared__ float sh[1024];
	ROW_LOOP(r, rows) {
		const float* x = src + r * cols;
		float* y = dst + r * cols;
		float m = -__builtin_inff();
		COL_LOOP(c, cols) m = x[c] > m ? x[c] : m;
		m = block_max(m, sh);
		float s = 0.0f;
		COL_LOOP(c, cols) {
			float e = expf_(x[c] - m);
			y[c] = e;
			s += e;
		}
		s = block_sum(s, sh);
		float inv = 1.0f / s;
		COL_LOOP(c, cols) y[c] *= inv;
	}
}

// layernorm_rows_f32: dst = (x - mean) rstd gamma + beta per row, rstd =
// 1/sqrt(var + eps), biased variance in two passes (as
// kernels.LayerNormRows). gamma or beta 0 (null) means 1 or 0; mean and rstd
// (length rows) are written when not null. dst may be src.
extern_c __global__ void layernorm_rows_f32(float* dst, float* mean, float* rstd, const float* src,
                                            const float* gamma, const float* beta, i64 rows, i64 cols,
                                            double eps) {
	__shared__ float sh[1024];
	float feps = (float)eps;
	float n = (float)cols;
	ROW_LOOP(r, rows) {
		const float* x = src + r * cols;
		float* y = dst + r * cols;
		float s = 0.0f;
		COL_LOOP(c, cols) s += x[c];
		float mu = block_sum(s, sh) / n;
		float ss = 0.0f;
		COL_LOOP(c, cols) {
			float d = x[c] - mu;
			ss = fmaf_(d, d, ss);
		}
		float var = block_sum(ss, sh) / n;
		float rs = 1.0f / __builtin_sqrtf(var + feps);
		if (tid_x() == 0) {
			if (mean) mean[r] = mu;
			if (rstd) rstd[r] = rs;
		}
		COL_LOOP(c, cols) {
			float o = (x[c] - mu) * rs;
			if (gamma) o *= gamma[c];
			if (beta) o += beta[c];
			y[c] = o;
		}
	}
}

// cross_entropy_fwd_f32: loss[r] = logsumexp(x_r) - x_r[t_r] for logits x
// [rows, cols] and class indices targets (int64, in [0, cols)).
extern_c __global__ void cross_entropy_fwd_f32(float* loss, const float* logits, const i64* targets,
                                               i64 rows, i64 cols) {
	__shared__ float sh[1024];
	ROW_LOOP(r, rows) {
		const float* x = logits + r * cols;
		float m = -__builtin_inff();
		COL_LOOP(c, cols) m = x[c] > m ? x[c] : m;
		m = block_max(m, sh);
		float s = 0.0f;
		COL_LOOP(c, cols) s += expf_(x[c] - m);
		s = block_sum(s, sh);
		if (tid_x() == 0) loss[r] = logf_(s) - (x[targets[r]] - m);
	}
}

// cross_entropy_bwd_f32: dx[r] = (softmax(x_r) - onehot(t_r)) * g_r *
// scale, with g_r = grad[r] when grad is not null (reduction "none") and 1
// otherwise (scale then carries the upstream gradient, divided by rows for
// a mean). dx must not overlap logits.
extern_c __global__ void cross_entropy_bwd_f32(float* dx, const float* logits, const i64* targets,
                                               const float* grad, i64 rows, i64 cols, double scale) {
	__shared__ float sh[1024];
	float fscale = (float)scale;
	ROW_LOOP(r, rows) {
		const float* x = logits + r * cols;
		float* d = dx + r * cols;
		float m = -__builtin_inff();
		COL_LOOP(c, cols) m = x[c] > m ? x[c] : m;
		m = block_max(m, sh);
		float s = 0.0f;
		COL_LOOP(c, cols) s += expf_(x[c] - m);
		s = block_sum(s, sh);
		float g = grad ? grad[r] * fscale : fscale;
		float inv = 1.0f / s;
		i64 t = targets[r];
		COL_LOOP(c, cols) {
			float p = expf_(x[c] - m) * inv;
			if (c == t) p -= 1.0f;
			d[c] = p * g;
		}
	}
}
