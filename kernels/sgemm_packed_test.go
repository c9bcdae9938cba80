package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

// packedSgemm is Sgemm through PackB and SgemmPacked, with the source B
// overwritten by NaN after packing (the packed copy must not read it).
func packedSgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	pb := PackB(transB, k, n, b, ldb)
	saved := append([]float32(nil), b...)
	for i := range b {
		b[i] = float32(math.NaN())
	}
	SgemmPacked(transA, m, alpha, a, lda, pb, beta, c, ldc)
	copy(b, saved)
}

// TestSgemmPackedLevels checks SgemmPacked at every level on odd shapes,
// all transposes, alpha/beta combinations and padded leading dimensions,
// against the float64 reference with NaN guard bands around C.
func TestSgemmPackedLevels(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(11, 12))
		for _, sh := range sgemmShapes {
			for tr := 0; tr < 4; tr++ {
				for _, ab := range alphaBetas {
					tc := gemmCase{transA: tr&1 != 0, transB: tr&2 != 0, m: sh[0], n: sh[1], k: sh[2], alpha: ab[0], beta: ab[1],
						padA: tr, padB: 3 - tr, padC: (tr + 1) % 3}
					tc.run(t, r, packedSgemm)
				}
			}
		}
	})
}

// TestSgemmPackedMatchesSgemm checks that SgemmPacked gives Sgemm's result
// bit for bit (same blocking and kernels), with one and two goroutines, on
// shapes that take the row-split, column-split and serial paths and cross
// several k-blocks and n-blocks.
func TestSgemmPackedMatchesSgemm(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(13, 14))
		shapes := [][3]int{{300, 200, 300}, {20, 3000, 100}, {517, 70, 260}, {77, 4500, 513}, {3, 33, 1000}, {1000, 17, 9}}
		for _, procs := range []int{1, 2} {
			old := runtime.GOMAXPROCS(procs)
			for _, sh := range shapes {
				m, n, k := sh[0], sh[1], sh[2]
				for tr := 0; tr < 4; tr++ {
					transA, transB := tr&1 != 0, tr&2 != 0
					lda, ldb := k, n
					if transA {
						lda = m
					}
					if transB {
						ldb = k
					}
					a, b := randSlice(r, m*k), randSlice(r, k*n)
					want, got := randSlice(r, m*n), make([]float32, m*n)
					copy(got, want)
					Sgemm(transA, transB, m, n, k, 0.5, a, lda, b, ldb, 1.5, want, n)
					pb := PackB(transB, k, n, b, ldb)
					if kk, nn := pb.Dims(); kk != k || nn != n || pb.Level() != Current() {
						t.Fatalf("Dims() = %d, %d, Level() = %v; want %d, %d, %v", kk, nn, pb.Level(), k, n, Current())
					}
					SgemmPacked(transA, m, 0.5, a, lda, pb, 1.5, got, n)
					for i := range want {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("procs=%d %v transA=%v transB=%v: C[%d] = %v, Sgemm gives %v", procs, sh, transA, transB, i, got[i], want[i])
						}
					}
				}
			}
			runtime.GOMAXPROCS(old)
		}
	})
}

func TestSgemmPackedPanics(t *testing.T) {
	pb := PackB(false, 3, 4, make([]float32, 12), 4)
	cases := []struct {
		name string
		f    func()
		want string
	}{
		{"PackB short b", func() { PackB(true, 3, 4, make([]float32, 11), 3) }, "PackB: len(b)=11"},
		{"PackB small ldb", func() { PackB(false, 3, 4, make([]float32, 12), 3) }, "PackB: ldb=3"},
		{"PackB negative", func() { PackB(false, -1, 4, nil, 4) }, "k=-1"},
		{"nil", func() { SgemmPacked(false, 2, 1, make([]float32, 6), 3, nil, 0, make([]float32, 8), 4) }, "nil PackedMatrix"},
		{"short a", func() { SgemmPacked(false, 2, 1, make([]float32, 5), 3, pb, 0, make([]float32, 8), 4) }, "len(a)=5"},
		{"small lda", func() { SgemmPacked(true, 2, 1, make([]float32, 6), 1, pb, 0, make([]float32, 8), 4) }, "lda=1"},
		{"short c", func() { SgemmPacked(false, 2, 1, make([]float32, 6), 3, pb, 0, make([]float32, 7), 4) }, "len(c)=7"},
		{"small ldc", func() { SgemmPacked(false, 2, 1, make([]float32, 6), 3, pb, 0, make([]float32, 8), 3) }, "ldc=3"},
		{"negative m", func() { SgemmPacked(false, -2, 1, nil, 3, pb, 0, nil, 4) }, "m=-2"},
	}
	if ls := Levels(); len(ls) > 1 {
		other := ls[0]
		if other == Current() {
			other = ls[len(ls)-1]
		}
		cases = append(cases, struct {
			name string
			f    func()
			want string
		}{"other level", func() {
			prev, _ := SetLevel(other)
			defer SetLevel(prev)
			SgemmPacked(false, 2, 1, make([]float32, 6), 3, pb, 0, make([]float32, 8), 4)
		}, "packed at level " + Current().String()})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				r := recover()
				msg := fmt.Sprint(r)
				if r == nil || !strings.Contains(msg, "kernels.") || !strings.Contains(msg, tc.want) {
					t.Fatalf("panic = %v, want a message naming the function and %q", r, tc.want)
				}
			}()
			tc.f()
		})
	}
}

// TestSgemmPackedNoLargeAllocs checks that SgemmPacked allocates no B
// buffer and reuses the pooled A buffers.
func TestSgemmPackedNoLargeAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop buffers at random; allocation counts mean nothing")
	}
	const n = 300
	r := rand.New(rand.NewPCG(15, 16))
	a, b, c := randSlice(r, n*n), randSlice(r, n*n), make([]float32, n*n)
	pb := PackB(true, n, n, b, n)
	for i := 0; i < 10; i++ {
		SgemmPacked(false, n, 1, a, n, pb, 0, c, n)
	}
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	const calls = 20
	for i := 0; i < calls; i++ {
		SgemmPacked(false, n, 1, a, n, pb, 0, c, n)
	}
	runtime.ReadMemStats(&ms1)
	if per := (ms1.TotalAlloc - ms0.TotalAlloc) / calls; per > 32<<10 {
		t.Fatalf("SgemmPacked allocated %d bytes per warm call", per)
	}
}
