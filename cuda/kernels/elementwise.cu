// elementwise.cu: element-wise float32 kernels over n elements.
// Launch: 1-D, any grid (grid-stride loops); see Grid1D in kernels.go.
// dst may alias a source.
#include "common.cuh"

#define GRID_STRIDE(i, n) for (i64 i = ctaid_x() * ntid_x() + tid_x(); i < (n); i += nctaid_x() * ntid_x())

// add_f32: dst = a + b.
extern_c __global__ void add_f32(float* dst, const float* a, const float* b, i64 n) {
	GRID_STRIDE(i, n) dst[i] = a[i] + b[i];
}

// mul_f32: dst = a * b.
extern_c __global__ void mul_f32(float* dst, const float* a, const float* b, i64 n) {
	GRID_STRIDE(i, n) dst[i] = a[i] * b[i];
}

// scale_f32: dst = alpha * src.
extern_c __global__ void scale_f32(float* dst, const float* src, double alpha, i64 n) {
	float al = (float)alpha;
	GRID_STRIDE(i, n) dst[i] = al * src[i];
}

// relu_f32: dst = max(src, 0) (NaN stays NaN, as kernels.Relu).
extern_c __global__ void relu_f32(float* dst, const float* src, i64 n) {
	GRID_STRIDE(i, n) {
		float v = src[i];
		dst[i] = v < 0.0f ? 0.0f : v;
	}
}

// quickgelu_f32: dst = x / (1 + exp(-1.702 x)), CLIP's activation.
extern_c __global__ void quickgelu_f32(float* dst, const float* src, i64 n) {
	GRID_STRIDE(i, n) {
		float x = src[i];
		dst[i] = x / (1.0f + expf_(-1.702f * x));
	}
}

// exp_f32: dst = exp(src).
extern_c __global__ void exp_f32(float* dst, const float* src, i64 n) {
	GRID_STRIDE(i, n) dst[i] = expf_(src[i]);
}

// sgd_f32: one step of torch.optim.SGD on n parameters p with gradient g
// and momentum buffer buf (unused when momentum == 0):
//   d = g + wd p
//   buf = d (first != 0) or buf = momentum buf + (1 - dampening) d
//   d = nesterov ? d + momentum buf : buf      (momentum != 0)
//   p = p - lr d
extern_c __global__ void sgd_f32(float* p, const float* g, float* buf, i64 n, double lr, double wd,
                                 double momentum, double dampening, i64 first, i64 nesterov) {
	float flr = (float)lr, fwd = (float)wd, fm = (float)momentum, fdamp = (float)(1.0 - dampening);
	GRID_STRIDE(i, n) {
		float pv = p[i];
		float d = fmaf_(fwd, pv, g[i]);
		if (fm != 0.0f) {
			float b = first ? d : fmaf_(fm, buf[i], fdamp * d);
			buf[i] = b;
			d = nesterov ? fmaf_(fm, b, d) : b;
		}
		p[i] = fmaf_(-flr, d, pv);
	}
}
