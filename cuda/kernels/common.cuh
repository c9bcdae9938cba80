// common.cuh: what the kernels need from CUDA's headers, written out so
// that clang can compile them with -nocudainc -nocudalib (no CUDA toolkit).
//
// Every kernel parameter is 8 bytes wide (pointers, long long, double):
// gorgonia.org/cu copies 8 bytes from every parameter address, so the Go
// side passes int64/uint64/float64 variables and device pointers only.
// Float scalars travel as double and are rounded to float on the device.
#pragma once

#define __global__ __attribute__((global))
#define __device__ __attribute__((device))
#define __shared__ __attribute__((shared))
#define __forceinline__ __attribute__((always_inline)) inline
#define extern_c extern "C"
#define __launch_bounds__(n) __attribute__((launch_bounds(n)))

typedef long long i64;
typedef float float4v __attribute__((ext_vector_type(4)));

static __device__ __forceinline__ i64 tid_x() { return __nvvm_read_ptx_sreg_tid_x(); }
static __device__ __forceinline__ i64 tid_y() { return __nvvm_read_ptx_sreg_tid_y(); }
static __device__ __forceinline__ i64 ntid_x() { return __nvvm_read_ptx_sreg_ntid_x(); }
static __device__ __forceinline__ i64 ctaid_x() { return __nvvm_read_ptx_sreg_ctaid_x(); }
static __device__ __forceinline__ i64 ctaid_y() { return __nvvm_read_ptx_sreg_ctaid_y(); }
static __device__ __forceinline__ i64 nctaid_x() { return __nvvm_read_ptx_sreg_nctaid_x(); }

static __device__ __forceinline__ float fmaf_(float a, float b, float c) { return __builtin_fmaf(a, b, c); }

static __device__ __forceinline__ float as_float(int i) { return __builtin_bit_cast(float, i); }
static __device__ __forceinline__ int as_int(float f) { return __builtin_bit_cast(int, f); }

// expf_ returns e^x within about 2 ulp over the whole float range: x = n ln2
// + r with |r| <= ln2/2 (Cody-Waite, two-part ln2), e^r by its Taylor
// series to degree 8 (truncation below 1e-9 relative), then scaling by 2^n
// in two steps so that subnormal results are right.
static __device__ __forceinline__ float expf_(float x) {
	if (x != x) return x;
	if (x > 88.7228394f) return __builtin_inff();
	if (x < -103.972084f) return 0.0f;
	float n = __builtin_rintf(x * 1.44269502f);
	float r = fmaf_(-n, 0.693145752f, x);
	r = fmaf_(-n, 1.42860677e-06f, r);
	float p = 2.48015873e-05f;
	p = fmaf_(p, r, 1.98412698e-04f);
	p = fmaf_(p, r, 1.38888889e-03f);
	p = fmaf_(p, r, 8.33333333e-03f);
	p = fmaf_(p, r, 4.16666667e-02f);
	p = fmaf_(p, r, 1.66666667e-01f);
	p = fmaf_(p, r, 0.5f);
	p = fmaf_(p, r, 1.0f);
	p = fmaf_(p, r, 1.0f);
	int ni = (int)n;
	int n1 = ni / 2;
	int n2 = ni - n1;
	return p * as_float((n1 + 127) << 23) * as_float((n2 + 127) << 23);
}

// logf_ returns ln x for finite x > 0 within a few ulp: x = m 2^e with m in
// [sqrt(1/2), sqrt 2), ln m = 2 atanh(u), u = (m-1)/(m+1), by its series to
// u^11 (|u| <= 0.1716, truncation below 1e-10). Subnormal x is scaled first.
static __device__ __forceinline__ float logf_(float x) {
	if (!(x > 0.0f)) return x == 0.0f ? -__builtin_inff() : __builtin_nanf("");
	if (x == __builtin_inff()) return x;
	int e = 0;
	if (x < 1.17549435e-38f) {
		x *= 16777216.0f;
		e = -24;
	}
	int bits = as_int(x);
	e += ((bits >> 23) & 0xff) - 127;
	float m = as_float((bits & 0x007fffff) | 0x3f800000);
	if (m > 1.41421356f) {
		m *= 0.5f;
		e += 1;
	}
	float u = (m - 1.0f) / (m + 1.0f);
	float u2 = u * u;
	float s = 1.0f / 11.0f;
	s = fmaf_(s, u2, 1.0f / 9.0f);
	s = fmaf_(s, u2, 1.0f / 7.0f);
	s = fmaf_(s, u2, 1.0f / 5.0f);
	s = fmaf_(s, u2, 1.0f / 3.0f);
	s = fmaf_(s, u2, 1.0f);
	float lm = 2.0f * u * s;
	float fe = (float)e;
	return fmaf_(fe, 0.693145752f, fmaf_(fe, 1.42860677e-06f, lm));
}

// Block-wide reductions over shared scratch of ntid_x() floats (blockDim.x
// must be a power of two). Every thread of the block must call them, and
// every thread gets the result.
static __device__ __forceinline__ float block_sum(float v, float* sh) {
	i64 t = tid_x(), nt = ntid_x();
	sh[t] = v;
	__syncthreads();
	for (i64 s = nt / 2; s > 0; s >>= 1) {
		if (t < s) sh[t] += sh[t + s];
		__syncthreads();
	}
	float r = sh[0];
	__syncthreads();
	return r;
}

static __device__ __forceinline__ float block_max(float v, float* sh) {
	i64 t = tid_x(), nt = ntid_x();
	sh[t] = v;
	__syncthreads();
	for (i64 s = nt / 2; s > 0; s >>= 1) {
		if (t < s && sh[t + s] > sh[t]) sh[t] = sh[t + s];
		__syncthreads();
	}
	float r = sh[0];
	__syncthreads();
	return r;
}
