package kernels

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// TestGemmBF16Act checks GemmBF16Act (both layouts of B, padded leading
// dimensions, NaN guard bands around C, one and two goroutines, small
// blocks so that the shapes cross k-blocks and row chunks) bit for bit
// against GemmBF16Generic on a PackBF16 of the same B, with the assembly
// kernel where it runs and the Go twins everywhere; and its fp32 fallback
// against Sgemm.
func TestGemmBF16Act(t *testing.T) {
	asms := []bool{false}
	if BF16Supported() {
		asms = append(asms, true)
	}
	withSmallBlocks(func() {
		r := rand.New(rand.NewPCG(41, 42))
		for _, procs := range []int{1, 2} {
			old := runtime.GOMAXPROCS(procs)
			for _, sh := range append(bf16Shapes, [3]int{300, 17, 64}, [3]int{17, 64, 300}) {
				tc := newBF16Case(r, sh[0], sh[1], sh[2])
				for _, transB := range []bool{false, true} {
					ldb := tc.n + 5
					if transB {
						ldb = tc.k + 5
					}
					b := randSlice(r, max(1, max(tc.k, tc.n)*ldb))
					want := append([]float32(nil), tc.c(r, false)...)
					GemmBF16Generic(tc.m, tc.a, tc.lda, packBF16(transB, tc.k, tc.n, b, ldb, true, false), want, tc.ldc, BF16Epilogue{})
					fp32 := append([]float32(nil), tc.c(r, false)...)
					Sgemm(false, transB, tc.m, tc.n, tc.k, 1, tc.a, tc.lda, b, ldb, 0, fp32, tc.ldc)
					for _, v := range []struct {
						bf16, asm bool
						want      []float32
					}{{true, false, want}, {true, true, want}, {false, false, fp32}} {
						if v.asm && len(asms) == 1 {
							continue
						}
						c := tc.c(r, false)
						gemmBF16Act(tc.m, tc.n, tc.k, tc.a, tc.lda, transB, b, ldb, c, tc.ldc, v.bf16, v.asm)
						tc.checkGuards(t, "GemmBF16Act")
						for i := 0; i < tc.m; i++ {
							for j := 0; j < tc.n; j++ {
								g, w := c[i*tc.ldc+j], v.want[i*tc.ldc+j]
								if math.Float32bits(g) != math.Float32bits(w) {
									t.Fatalf("procs=%d bf16=%v asm=%v transB=%v m=%d n=%d k=%d: C[%d,%d] = %v, want %v",
										procs, v.bf16, v.asm, transB, tc.m, tc.n, tc.k, i, j, g, w)
								}
							}
						}
					}
				}
			}
			runtime.GOMAXPROCS(old)
		}
	})
}
