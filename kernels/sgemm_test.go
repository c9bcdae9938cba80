package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

// forEachLevel runs f once per supported kernel level, restoring the level
// afterwards.
func forEachLevel(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	for _, l := range Levels() {
		prev, err := SetLevel(l)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(l.String(), f)
		if _, err := SetLevel(prev); err != nil {
			t.Fatal(err)
		}
	}
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// gemmCase is one Sgemm call on guarded buffers.
type gemmCase struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	padA, padB     int // extra leading-dimension columns
	padC           int
}

const guard = 37

// run executes Sgemm (through f) on fresh random operands and checks the
// result against a float64-accumulating reference, and that NaN guard bands
// before, after and between the rows of C are untouched.
func (tc gemmCase) run(t *testing.T, r *rand.Rand, f func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)) {
	t.Helper()
	ar, ac := tc.m, tc.k
	if tc.transA {
		ar, ac = tc.k, tc.m
	}
	br, bc := tc.k, tc.n
	if tc.transB {
		br, bc = tc.n, tc.k
	}
	lda, ldb, ldc := max(1, ac)+tc.padA, max(1, bc)+tc.padB, max(1, tc.n)+tc.padC
	a := randSlice(r, max(0, ar*lda))
	b := randSlice(r, max(0, br*ldb))
	cbuf := make([]float32, 2*guard+tc.m*ldc)
	nan := float32(math.NaN())
	for i := range cbuf {
		cbuf[i] = nan
	}
	c := cbuf[guard : guard+tc.m*ldc]
	c0 := make([]float32, len(c))
	for i := 0; i < tc.m; i++ {
		for j := 0; j < tc.n; j++ {
			if tc.beta != 0 {
				c[i*ldc+j] = float32(r.NormFloat64())
			}
			c0[i*ldc+j] = c[i*ldc+j]
		}
	}
	f(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)

	for i := range cbuf {
		inC := i >= guard && i < guard+tc.m*ldc && (i-guard)%ldc < tc.n
		if !inC && !math.IsNaN(float64(cbuf[i])) {
			t.Fatalf("%+v: guard element %d (C offset %d) overwritten with %v", tc, i, i-guard, cbuf[i])
		}
	}
	const eps = 1.0 / (1 << 23)
	for i := 0; i < tc.m; i++ {
		for j := 0; j < tc.n; j++ {
			var s, sabs float64
			for p := 0; p < tc.k; p++ {
				var av, bv float64
				if tc.transA {
					av = float64(a[p*lda+i])
				} else {
					av = float64(a[i*lda+p])
				}
				if tc.transB {
					bv = float64(b[j*ldb+p])
				} else {
					bv = float64(b[p*ldb+j])
				}
				s += av * bv
				sabs += math.Abs(av * bv)
			}
			want := float64(tc.alpha) * s
			scale := math.Abs(float64(tc.alpha)) * sabs
			if tc.beta != 0 {
				want += float64(tc.beta) * float64(c0[i*ldc+j])
				scale += math.Abs(float64(tc.beta) * float64(c0[i*ldc+j]))
			}
			got := float64(c[i*ldc+j])
			tol := 2*float64(tc.k+4)*eps*scale + 1e-30
			if math.IsNaN(got) || math.Abs(got-want) > tol {
				t.Fatalf("%+v: C[%d,%d] = %v, want %v (tol %g)", tc, i, j, got, want, tol)
			}
		}
	}
}

var sgemmShapes = [][3]int{
	{1, 1, 1}, {7, 17, 3}, {13, 33, 257}, {1, 300, 5}, {300, 1, 7}, {257, 129, 65},
	{2000, 3, 9}, {3, 1500, 11}, {15, 33, 600}, {700, 45, 20}, {5, 4200, 3},
	{14, 32, 256}, {28, 64, 1}, {6, 16, 8}, {250, 300, 70}, {2, 2, 0}, {9, 5, 0},
}

var alphaBetas = [][2]float32{{1, 0}, {1, 1}, {-0.5, 2}, {0.7, 0}, {0, 0.5}, {0, 0}}

func TestSgemmLevels(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		for _, sh := range sgemmShapes {
			for tr := 0; tr < 4; tr++ {
				for _, ab := range alphaBetas {
					tc := gemmCase{transA: tr&1 != 0, transB: tr&2 != 0, m: sh[0], n: sh[1], k: sh[2], alpha: ab[0], beta: ab[1],
						padA: tr, padB: 3 - tr, padC: (tr + 1) % 3}
					tc.run(t, r, Sgemm)
				}
			}
		}
	})
}

func TestSgemmGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, sh := range sgemmShapes[:10] {
		for tr := 0; tr < 4; tr++ {
			for _, ab := range alphaBetas {
				tc := gemmCase{transA: tr&1 != 0, transB: tr&2 != 0, m: sh[0], n: sh[1], k: sh[2], alpha: ab[0], beta: ab[1], padA: 1, padB: 2, padC: 3}
				tc.run(t, r, SgemmGeneric)
			}
		}
	}
}

// TestSgemmThreads checks that GOMAXPROCS 1 and 2 give the same results
// within fp tolerance, on shapes large enough to be split.
func TestSgemmThreads(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, 6))
		// The shapes take the column split (narrow m, or n ≥ m/2) and the
		// row split with a shared B block (m > 2·mc, partial last panel).
		for _, sh := range [][3]int{{300, 200, 300}, {20, 3000, 100}, {517, 70, 260}, {1500, 100, 64}, {1100, 700, 530}} {
			m, n, k := sh[0], sh[1], sh[2]
			a, b := randSlice(r, m*k), randSlice(r, k*n)
			for _, transB := range []bool{false, true} {
				ldb := n
				if transB {
					ldb = k
				}
				var res [2][]float32
				for i, procs := range []int{1, 2} {
					old := runtime.GOMAXPROCS(procs)
					res[i] = make([]float32, m*n)
					Sgemm(false, transB, m, n, k, 1, a, k, b, ldb, 0, res[i], n)
					runtime.GOMAXPROCS(old)
				}
				for i := range res[0] {
					if d := math.Abs(float64(res[0][i] - res[1][i])); d > 1e-3 || math.IsNaN(d) {
						t.Fatalf("%v transB=%v: GOMAXPROCS 1 vs 2 differ at %d: %v vs %v", sh, transB, i, res[0][i], res[1][i])
					}
				}
			}
		}
	})
}

func TestSgemmPanics(t *testing.T) {
	cases := []struct {
		name string
		f    func()
		want string
	}{
		{"short a", func() {
			Sgemm(false, false, 2, 2, 2, 1, make([]float32, 3), 2, make([]float32, 4), 2, 0, make([]float32, 4), 2)
		}, "len(a)=3"},
		{"short b", func() {
			Sgemm(false, true, 2, 3, 2, 1, make([]float32, 4), 2, make([]float32, 5), 2, 0, make([]float32, 6), 3)
		}, "len(b)=5"},
		{"short c", func() {
			Sgemm(false, false, 2, 2, 2, 1, make([]float32, 4), 2, make([]float32, 4), 2, 0, make([]float32, 3), 2)
		}, "len(c)=3"},
		{"small lda", func() {
			Sgemm(true, false, 2, 3, 2, 1, make([]float32, 9), 1, make([]float32, 9), 3, 0, make([]float32, 9), 3)
		}, "lda=1"},
		{"small ldc", func() {
			Sgemm(false, false, 2, 3, 2, 1, make([]float32, 9), 2, make([]float32, 9), 3, 0, make([]float32, 9), 2)
		}, "ldc=2"},
		{"negative", func() { Sgemm(false, false, -1, 3, 2, 1, nil, 2, nil, 3, 0, nil, 3) }, "m=-1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				r := recover()
				msg := fmt.Sprint(r)
				if r == nil || !strings.Contains(msg, "Sgemm") || !strings.Contains(msg, tc.want) {
					t.Fatalf("panic = %v, want a message naming Sgemm and %q", r, tc.want)
				}
			}()
			tc.f()
		})
	}
}

// TestSgemmNoLargeAllocs checks that warm calls reuse pooled packing buffers.
func TestSgemmNoLargeAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop buffers at random; allocation counts mean nothing")
	}
	const n = 300
	r := rand.New(rand.NewPCG(7, 8))
	a, b, c := randSlice(r, n*n), randSlice(r, n*n), make([]float32, n*n)
	for i := 0; i < 10; i++ {
		Sgemm(false, false, n, n, n, 1, a, n, b, n, 0, c, n)
	}
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	const calls = 20
	for i := 0; i < calls; i++ {
		Sgemm(false, false, n, n, n, 1, a, n, b, n, 0, c, n)
	}
	runtime.ReadMemStats(&ms1)
	// sync.Pool may drop an object now and then (a GC, a goroutine moving
	// between Ps), so allow an average well below one packing buffer.
	if per := (ms1.TotalAlloc - ms0.TotalAlloc) / calls; per > 32<<10 {
		t.Fatalf("Sgemm allocated %d bytes per warm call; packing buffers should be pooled", per)
	}
}

// TestPackB checks packB against element-wise packing for every panel
// range of blocks with full and partial panels, both orientations.
func TestPackB(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const ldb, p0, kb, j0 = 150, 3, 21, 5
	b := randSlice(r, ldb*ldb)
	for _, nr := range []int{32, 16, 4} {
		for _, nb := range []int{nr, 3 * nr, 3*nr + 7, 1} {
			nPanels := (nb + nr - 1) / nr
			for _, transB := range []bool{false, true} {
				for jp0 := 0; jp0 < nPanels; jp0++ {
					for jp1 := jp0 + 1; jp1 <= nPanels; jp1++ {
						dst := make([]float32, nPanels*nr*kb)
						for i := range dst {
							dst[i] = float32(math.NaN())
						}
						packB(transB, b, ldb, p0, kb, j0, nb, nr, dst, jp0, jp1)
						for jp := 0; jp < nPanels; jp++ {
							for p := 0; p < kb; p++ {
								for q := 0; q < nr; q++ {
									got := dst[jp*nr*kb+p*nr+q]
									want := float32(math.NaN())
									if jp >= jp0 && jp < jp1 {
										want = 0
										if j := jp*nr + q; j < nb {
											want = b[(p0+p)*ldb+j0+j]
											if transB {
												want = b[(j0+j)*ldb+p0+p]
											}
										}
									}
									if got != want && !(math.IsNaN(float64(got)) && math.IsNaN(float64(want))) {
										t.Fatalf("nr=%d nb=%d transB=%v panels [%d,%d): dst[panel %d][%d][%d] = %v, want %v", nr, nb, transB, jp0, jp1, jp, p, q, got, want)
									}
								}
							}
						}
					}
				}
			}
		}
	}
}

// TestSgemmBlockingFor checks the fp32 blocking derived from cache sizes
// on both CPU families' figures, unknown sizes and small caches (values
// worked out by hand from the rules in sgemmBlockingFor's comment).
func TestSgemmBlockingFor(t *testing.T) {
	for _, c := range []struct {
		name          string
		mr, nr, kcMax int
		l1d, l2, l3   int
		want          sgemmBlocking
	}{
		{"Zen 5, AVX-512", 14, 32, 512, 48 << 10, 1 << 20, 32 << 20, sgemmBlocking{kc: 512, mc: 336, nc: 4096}},
		{"Emerald Rapids, AVX-512", 14, 32, 512, 48 << 10, 2 << 20, 320 << 20, sgemmBlocking{kc: 512, mc: 672, nc: 4096}},
		{"unknown sizes", 14, 32, 512, -1, 0, -1, sgemmBlocking{kc: 320, mc: 546, nc: 4096}},
		{"small caches", 14, 32, 512, 32 << 10, 256 << 10, 8 << 20, sgemmBlocking{kc: 320, mc: 126, nc: 3264}},
		{"tiny caches", 14, 32, 512, 4 << 10, 16 << 10, 64 << 10, sgemmBlocking{kc: 128, mc: 14, nc: 256}},
		{"Zen 5, 6×16 kernel of depth ≤ 256", 6, 16, 256, 48 << 10, 1 << 20, 32 << 20, sgemmBlocking{kc: 256, mc: 678, nc: 4096}},
	} {
		got := sgemmBlockingFor(c.mr, c.nr, c.kcMax, c.l1d, c.l2, c.l3)
		if got != c.want || got.mc%c.mr != 0 || got.nc%c.nr != 0 {
			t.Errorf("%s: sgemmBlockingFor(%d, %d, %d, %d, %d, %d) = %+v, want %+v", c.name, c.mr, c.nr, c.kcMax, c.l1d, c.l2, c.l3, got, c.want)
		}
	}
}

// TestSgemmDerivedBlockings runs the AVX-512 driver (where it runs) with
// the blockings derived for small and unusual caches, which cut the test
// shapes into several k-, row and column blocks, against the float64
// reference with guard bands, on one and two goroutines.
func TestSgemmDerivedBlockings(t *testing.T) {
	if !haveAsm || current != AVX512 {
		t.Skip("no AVX-512 kernels here")
	}
	kc, mc, nc := gemmAVX512.kc, gemmAVX512.mc, gemmAVX512.nc
	defer func() { gemmAVX512.kc, gemmAVX512.mc, gemmAVX512.nc = kc, mc, nc }()
	r := rand.New(rand.NewPCG(5, 6))
	for _, caches := range [][3]int{{4 << 10, 16 << 10, 64 << 10}, {32 << 10, 256 << 10, 8 << 20}, {48 << 10, 2 << 20, 320 << 20}} {
		bl := sgemmBlockingFor(14, 32, 512, caches[0], caches[1], caches[2])
		gemmAVX512.kc, gemmAVX512.mc, gemmAVX512.nc = bl.kc, bl.mc, bl.nc
		for _, procs := range []int{1, 2} {
			old := runtime.GOMAXPROCS(procs)
			for _, sh := range [][3]int{{13, 33, 257}, {257, 129, 300}, {700, 300, 140}, {5, 4200, 3}, {30, 600, 1000}} {
				for _, tr := range [][2]bool{{false, false}, {true, true}} {
					gemmCase{transA: tr[0], transB: tr[1], m: sh[0], n: sh[1], k: sh[2], alpha: 1, beta: 0.5, padA: 1, padB: 2, padC: 3}.run(t, r, Sgemm)
				}
			}
			runtime.GOMAXPROCS(old)
		}
	}
}
