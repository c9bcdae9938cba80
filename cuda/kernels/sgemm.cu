// sgemm.cu: C = alpha op(A) op(B) + beta C, row-major, float32, as
// kernels.Sgemm: op(A) is m x k (A stored m x k with leading dimension lda,
// or k x m when transA), op(B) is k x n (B stored k x n, or n x k when
// transB), C is m x n with leading dimension ldc. beta == 0 overwrites C
// without reading it.
//
// Launch (SgemmGeometry in kernels.go): grid (ceil(n/128), ceil(m/128)),
// block 256, no dynamic shared memory. Each block computes a 128 x 128 tile
// of C from shared-memory tiles of op(A) (128 x 8) and op(B) (8 x 128),
// double-buffered, with the next tiles' global loads held in registers
// while the current ones are used. Each thread owns an 8 x 8 register block
// made of four 4 x 4 quarters at rows {ty*4, 64+ty*4} and columns {tx*4,
// 64+tx*4}, so that the shared-memory reads of a warp are 16-byte vector
// loads without bank conflicts. Tiles that cross the matrix edges are
// zero-filled on load and masked on store.
#include "common.cuh"

#define BM 128
#define BN 128
#define BK 8

#define LDS4(x, y, z, w, addr) \
	asm volatile("ld.shared.v4.f32 {%0, %1, %2, %3}, [%4];" : "=f"(x), "=f"(y), "=f"(z), "=f"(w) : "r"(addr))

extern_c __global__ void __launch_bounds__(256) sgemm_f32(i64 transA, i64 transB, i64 m, i64 n, i64 k, double alpha,
                                         const float* A, i64 lda, const float* B, i64 ldb, double beta,
                                         float* C, i64 ldc) {
	__shared__ __attribute__((aligned(16))) float As[2][BK][BM];
	__shared__ __attribute__((aligned(16))) float Bs[2][BK][BN];

	const i64 t = (unsigned)__nvvm_read_ptx_sreg_tid_x();
	const i64 tx = t % 16, ty = t / 16;
	const i64 i0 = ctaid_y() * BM, j0 = ctaid_x() * BN;

	// Load coordinates of this thread's four elements of each tile.
	// Not transposed A (m x k): row t/2, columns (t%2)*4 + 0..3.
	// Transposed A (k x m): k-row t/32, m-columns (t%32)*4 + 0..3.
	// B mirrors A: not transposed (k x n) is k-row t/32, n-columns
	// (t%32)*4 + 0..3; transposed (n x k) is n-row t/2, k (t%2)*4 + 0..3.
	const i64 aRow = transA ? t / 32 : t / 2;       // k index (trans) or i index
	const i64 aCol = transA ? (t % 32) * 4 : (t % 2) * 4;
	const i64 bRow = transB ? t / 2 : t / 32;
	const i64 bCol = transB ? (t % 2) * 4 : (t % 32) * 4;

	float ra[4], rb[4];

	// loadA reads the four op(A) elements of the tile starting at k0.
#define LOAD_A(k0)                                                              \
	for (int q = 0; q < 4; q++) {                                               \
		i64 ii, kk;                                                             \
		if (transA) { kk = (k0) + aRow; ii = i0 + aCol + q; }                   \
		else { ii = i0 + aRow; kk = (k0) + aCol + q; }                          \
		float v = 0.0f;                                                         \
		if (ii < m && kk < k) v = transA ? A[kk * lda + ii] : A[ii * lda + kk]; \
		ra[q] = v;                                                              \
	}
#define LOAD_B(k0)                                                              \
	for (int q = 0; q < 4; q++) {                                               \
		i64 jj, kk;                                                             \
		if (transB) { jj = j0 + bRow; kk = (k0) + bCol + q; }                   \
		else { kk = (k0) + bRow; jj = j0 + bCol + q; }                          \
		float v = 0.0f;                                                         \
		if (jj < n && kk < k) v = transB ? B[jj * ldb + kk] : B[kk * ldb + jj]; \
		rb[q] = v;                                                              \
	}
#define STORE_TILES(buf)                                                        \
	for (int q = 0; q < 4; q++) {                                               \
		if (transA) As[buf][aRow][aCol + q] = ra[q];                            \
		else As[buf][aCol + q][aRow] = ra[q];                                   \
		if (transB) Bs[buf][bCol + q][bRow] = rb[q];                            \
		else Bs[buf][bRow][bCol + q] = rb[q];                                   \
	}

	// 32-bit shared-window addresses of the tiles, for the vector loads.
	unsigned sA, sB;
	asm("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }" : "=r"(sA) : "l"(&As[0][0][0]));
	asm("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }" : "=r"(sB) : "l"(&Bs[0][0][0]));
	const unsigned offA = (unsigned)(ty * 4 * 4), offB = (unsigned)(tx * 4 * 4);

	float acc[8][8];
	for (int i = 0; i < 8; i++)
		for (int j = 0; j < 8; j++) acc[i][j] = 0.0f;

	LOAD_A(0)
	LOAD_B(0)
	STORE_TILES(0)
	__syncthreads();

	int buf = 0;
	for (i64 k0 = 0; k0 < k; k0 += BK) {
		const bool more = k0 + BK < k;
		if (more) {
			LOAD_A(k0 + BK)
			LOAD_B(k0 + BK)
		}
#pragma unroll
		for (int kk = 0; kk < BK; kk++) {
			float a[8], b[8];
			// LLVM would split float4 loads whose lanes are only
			// extracted into scalar loads; the volatile asm keeps them
			// 16-byte ld.shared.v4 and ordered with the barriers.
			const unsigned rowA = sA + (unsigned)((buf * BK + kk) * BM * 4) + offA;
			const unsigned rowB = sB + (unsigned)((buf * BK + kk) * BN * 4) + offB;
			LDS4(a[0], a[1], a[2], a[3], rowA);
			LDS4(a[4], a[5], a[6], a[7], rowA + 64 * 4);
			LDS4(b[0], b[1], b[2], b[3], rowB);
			LDS4(b[4], b[5], b[6], b[7], rowB + 64 * 4);
#pragma unroll
			for (int i = 0; i < 8; i++)
#pragma unroll
				for (int j = 0; j < 8; j++) acc[i][j] = fmaf_(a[i], b[j], acc[i][j]);
		}
		if (more) {
			// The other buffer was last read before the previous barrier.
			STORE_TILES(buf ^ 1)
			__syncthreads();
			buf ^= 1;
		}
	}

	const float fa = (float)alpha, fb = (float)beta;
#pragma unroll
	for (int i = 0; i < 8; i++) {
		i64 ii = i0 + (i < 4 ? ty * 4 + i : 64 + ty * 4 + (i - 4));
		if (ii >= m) continue;
#pragma unroll
		for (int j = 0; j < 8; j++) {
			i64 jj = j0 + (j < 4 ? tx * 4 + j : 64 + tx * 4 + (j - 4));
			if (jj >= n) continue;
			float* c = C + ii * ldc + jj;
			float v = fa * acc[i][j];
			if (fb != 0.0f) v = fmaf_(fb, *c, v);
			*c = v;
		}
	}
}
