package kernels

import (
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

// TestFloat32ToBF16 checks the rounding rule on chosen values.
func TestFloat32ToBF16(t *testing.T) {
	cases := []struct {
		in   uint32
		want uint16
	}{
		{0x3f800000, 0x3f80}, // 1
		{0x3f808000, 0x3f80}, // tie, even stays
		{0x3f818000, 0x3f82}, // tie, odd rounds up
		{0x3f808001, 0x3f81}, // above the tie
		{0x3f807fff, 0x3f80}, // below the tie
		{0xbf80c000, 0xbf81}, // negative rounds away in magnitude
		{0x7f7fffff, 0x7f80}, // max float rounds to +inf
		{0x7f800000, 0x7f80}, // +inf
		{0xff800000, 0xff80}, // -inf
		{0x7fc00000, 0x7fc0}, // quiet NaN
		{0x7f800001, 0x7fc0}, // signalling NaN is quietened
		{0x00000001, 0x0000}, // denormal flushes
		{0x807fffff, 0x8000}, // negative denormal flushes to -0
		{0x00800000, 0x0080}, // smallest normal
		{0x80000000, 0x8000}, // -0
	}
	for _, c := range cases {
		if got := Float32ToBF16(math.Float32frombits(c.in)); got != c.want {
			t.Errorf("Float32ToBF16(%#08x) = %#04x, want %#04x", c.in, got, c.want)
		}
	}
}

// specialFloats returns n random values with special values mixed in.
func specialFloats(r *rand.Rand, n int) []float32 {
	sp := []uint32{0x3f808000, 0x3f818000, 0x7f7fffff, 0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001,
		0x00000001, 0x807fffff, 0x00800000, 0x80000000, 0x00000000, 0x3f807fff}
	x := randSlice(r, n)
	for i := range x {
		switch {
		case i%7 == 3:
			x[i] = math.Float32frombits(sp[(i/7)%len(sp)])
		case i%5 == 1:
			x[i] = math.Float32frombits(r.Uint32())
		}
	}
	return x
}

// TestCvtBF16 checks the assembly conversions against Float32ToBF16 bit
// for bit, special values included.
func TestCvtBF16(t *testing.T) {
	if !BF16Supported() {
		t.Skip("no AVX512-BF16 kernels here")
	}
	r := rand.New(rand.NewPCG(21, 22))
	for _, n := range []int{0, 1, 31, 32, 33, 64, 1000} {
		x := specialFloats(r, n)
		got := make([]uint16, n+8)
		for i := range got {
			got[i] = 0xdead
		}
		cvtBF16(x, got[4:4+n], true)
		for i, v := range x {
			if want := Float32ToBF16(v); got[4+i] != want {
				t.Fatalf("n=%d: cvt(%#08x) = %#04x, want %#04x", n, math.Float32bits(v), got[4+i], want)
			}
		}
		for _, i := range []int{0, 1, 2, 3, n + 4, n + 5, n + 6, n + 7} {
			if got[i] != 0xdead {
				t.Fatalf("n=%d: guard %d overwritten", n, i)
			}
		}
	}
	for _, rows := range []int{2, 6, 64} {
		x := specialFloats(r, rows*bf16Nr)
		got := make([]uint32, rows/2*bf16Nr+2)
		want := make([]uint32, rows/2*bf16Nr)
		got[len(got)-1], got[len(got)-2] = 0xdeadbeef, 0xdeadbeef
		pairsBF16(rows, x, got, true)
		pairsBF16(rows, x, want, false)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("rows=%d: pair %d = %#08x, want %#08x", rows, i, got[i], want[i])
			}
		}
		if got[len(got)-1] != 0xdeadbeef || got[len(got)-2] != 0xdeadbeef {
			t.Fatalf("rows=%d: guard overwritten", rows)
		}
	}
}

// bf16Shapes are m, n, k triples: odd shapes, partial tiles and panels,
// odd k, k = 1, several k-blocks (with the small blocking of the tests).
var bf16Shapes = [][3]int{
	{1, 1, 1}, {7, 17, 3}, {13, 33, 257}, {1, 300, 5}, {300, 1, 7}, {57, 129, 65},
	{14, 32, 64}, {28, 64, 1}, {29, 65, 2}, {45, 31, 100}, {200, 96, 33}, {3, 3, 0},
}

// bf16Case builds random operands with padded leading dimensions and a C
// with NaN guard bands.
type bf16Case struct {
	m, n, k int
	a, b    []float32
	lda     int
	cbuf    []float32
	ldc     int
	bias    []float32
}

func newBF16Case(r *rand.Rand, m, n, k int) *bf16Case {
	tc := &bf16Case{m: m, n: n, k: k, lda: k + 3, ldc: n + 2}
	tc.a = randSlice(r, max(1, m*tc.lda))
	tc.b = randSlice(r, max(1, k*n))
	tc.bias = randSlice(r, n)
	tc.cbuf = make([]float32, 2*guard+m*tc.ldc)
	return tc
}

// c returns C inside the guard bands, reset: NaN everywhere, and random
// values in the m×n part when init.
func (tc *bf16Case) c(r *rand.Rand, init bool) []float32 {
	for i := range tc.cbuf {
		tc.cbuf[i] = float32(math.NaN())
	}
	c := tc.cbuf[guard : guard+tc.m*tc.ldc]
	if init {
		rr := rand.New(rand.NewPCG(uint64(tc.m), uint64(tc.n)))
		for i := 0; i < tc.m; i++ {
			for j := 0; j < tc.n; j++ {
				c[i*tc.ldc+j] = float32(rr.NormFloat64())
			}
		}
	}
	return c
}

// checkGuards fails if a NaN guard element of C was written.
func (tc *bf16Case) checkGuards(t *testing.T, what string) {
	t.Helper()
	for i, v := range tc.cbuf {
		inC := i >= guard && i < guard+tc.m*tc.ldc && (i-guard)%tc.ldc < tc.n
		if !inC && !math.IsNaN(float64(v)) {
			t.Fatalf("%s m=%d n=%d k=%d: guard element %d overwritten with %v", what, tc.m, tc.n, tc.k, i, v)
		}
	}
}

// withSmallBlocks runs f with a blocking small enough that the test shapes
// cross several k-blocks and row chunks, and with every product split over
// GOMAXPROCS goroutines (so that the small shapes reach the row-chunk and
// column-chunk paths of the drivers).
func withSmallBlocks(f func()) {
	saved, savedFlops := bf16Block, bf16ParallelFlops
	bf16Block, bf16ParallelFlops = bf16Blocking{kcp: 16, mc: 28}, 0
	defer func() { bf16Block, bf16ParallelFlops = saved, savedFlops }()
	f()
}

var bf16Epilogues = []BF16Epilogue{{}, {Accumulate: true}, {ReLU: true}, {Bias: []float32{}, Accumulate: true, ReLU: true}, {Bias: []float32{}}}

// TestGemmBF16MatchesGeneric checks the blocked driver (with the assembly
// kernel where it runs, and with the Go twin kernel everywhere) against
// GemmBF16Generic bit for bit, with one and two goroutines, every epilogue,
// guard bands around C.
func TestGemmBF16MatchesGeneric(t *testing.T) {
	asms := []bool{false}
	if BF16Supported() {
		asms = append(asms, true)
	}
	withSmallBlocks(func() {
		r := rand.New(rand.NewPCG(23, 24))
		for _, procs := range []int{1, 2} {
			old := runtime.GOMAXPROCS(procs)
			for _, sh := range append(bf16Shapes, [3]int{300, 200, 300}, [3]int{20, 1000, 100}) {
				tc := newBF16Case(r, sh[0], sh[1], sh[2])
				pb := packBF16(false, tc.k, tc.n, tc.b, tc.n, true, false)
				for _, ep := range bf16Epilogues {
					if ep.Bias != nil {
						ep.Bias = tc.bias
					}
					want := append([]float32(nil), tc.c(r, ep.Accumulate)...)
					GemmBF16Generic(tc.m, tc.a, tc.lda, pb, want, tc.ldc, ep)
					if tc.k == 0 && !ep.Accumulate && ep.Bias == nil {
						for i := 0; i < tc.m; i++ {
							for j := 0; j < tc.n; j++ {
								if want[i*tc.ldc+j] != 0 {
									t.Fatalf("k=0: GemmBF16Generic C[%d,%d] = %v, want 0", i, j, want[i*tc.ldc+j])
								}
							}
						}
					}
					for _, asm := range asms {
						c := tc.c(r, ep.Accumulate)
						if tc.k == 0 {
							GemmBF16(tc.m, tc.a, tc.lda, pb, c, tc.ldc, ep) // the driver needs k ≥ 1
						} else {
							gemmBF16Blocked(tc.m, tc.a, tc.lda, pb, c, tc.ldc, ep, asm)
						}
						tc.checkGuards(t, "GemmBF16")
						for i := 0; i < tc.m; i++ {
							for j := 0; j < tc.n; j++ {
								g, w := c[i*tc.ldc+j], want[i*tc.ldc+j]
								if math.Float32bits(g) != math.Float32bits(w) {
									t.Fatalf("procs=%d asm=%v m=%d n=%d k=%d ep={acc %v relu %v bias %v}: C[%d,%d] = %v, want %v",
										procs, asm, tc.m, tc.n, tc.k, ep.Accumulate, ep.ReLU, ep.Bias != nil, i, j, g, w)
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

// TestPackBF16Asm checks that the assembly packing (conversion to pairs)
// equals the Go packing, for both layouts of B.
func TestPackBF16Asm(t *testing.T) {
	if !BF16Supported() {
		t.Skip("no AVX512-BF16 kernels here")
	}
	r := rand.New(rand.NewPCG(25, 26))
	for _, sh := range [][2]int{{1, 1}, {3, 40}, {257, 70}, {64, 32}, {1001, 300}} {
		k, n := sh[0], sh[1]
		b := specialFloats(r, k*n)
		for _, transB := range []bool{false, true} {
			ldb := n
			if transB {
				ldb = k
			}
			got := packBF16(transB, k, n, b, ldb, true, true)
			want := packBF16(transB, k, n, b, ldb, true, false)
			if len(got.data) != len(want.data) {
				t.Fatalf("k=%d n=%d: %d packed values, want %d", k, n, len(got.data), len(want.data))
			}
			for i := range want.data {
				if got.data[i] != want.data[i] {
					t.Fatalf("k=%d n=%d transB=%v: packed[%d] = %#08x, want %#08x", k, n, transB, i, got.data[i], want.data[i])
				}
			}
		}
	}
}

// TestGemmBF16VsFloat64 checks GemmBF16 (at the current level: bf16 where
// supported, else the fp32 fallback) against a float64 product of the
// fp32 inputs, within bf16's error bound: each input rounded to bf16 (8
// significant bits) has a relative error of at most u = 2⁻⁸, so each
// product at most 2u + u², plus fp32 summation; the bound is
// (2⁻⁷·1.01 + (k+4)·2⁻²³)·Σ|a·b|. It also
// checks that the error is not far below bf16's (that bf16 is really
// used) where supported, and that transposed B gives the same result.
func TestGemmBF16VsFloat64(t *testing.T) {
	r := rand.New(rand.NewPCG(27, 28))
	var worst float64
	for _, sh := range append(bf16Shapes, [3]int{130, 300, 1100}) {
		tc := newBF16Case(r, sh[0], sh[1], sh[2])
		pb := PackBF16(false, tc.k, tc.n, tc.b, tc.n)
		bt := make([]float32, max(1, tc.k*tc.n))
		for p := 0; p < tc.k; p++ {
			for j := 0; j < tc.n; j++ {
				bt[j*tc.k+p] = tc.b[p*tc.n+j]
			}
		}
		pbt := PackBF16(true, tc.k, tc.n, bt, max(1, tc.k))
		ep := BF16Epilogue{Bias: tc.bias, Accumulate: true}
		c0 := append([]float32(nil), tc.c(r, true)...)
		ct := append([]float32(nil), c0...)
		GemmBF16(tc.m, tc.a, tc.lda, pbt, ct, tc.ldc, ep)
		c := tc.c(r, true)
		GemmBF16(tc.m, tc.a, tc.lda, pb, c, tc.ldc, ep)
		tc.checkGuards(t, "GemmBF16")
		for i := 0; i < tc.m; i++ {
			for j := 0; j < tc.n; j++ {
				s := float64(c0[i*tc.ldc+j]) + float64(tc.bias[j])
				sabs := math.Abs(float64(c0[i*tc.ldc+j])) + math.Abs(float64(tc.bias[j]))
				for p := 0; p < tc.k; p++ {
					v := float64(tc.a[i*tc.lda+p]) * float64(tc.b[p*tc.n+j])
					s += v
					sabs += math.Abs(v)
				}
				got := float64(c[i*tc.ldc+j])
				tol := (1.01/128 + float64(tc.k+4)/(1<<23)) * sabs
				if math.IsNaN(got) || math.Abs(got-s) > tol {
					t.Fatalf("m=%d n=%d k=%d: C[%d,%d] = %v, want %v (tol %g)", tc.m, tc.n, tc.k, i, j, got, s, tol)
				}
				if sabs > 0 {
					worst = max(worst, math.Abs(got-s)/sabs)
				}
				if ct[i*tc.ldc+j] != c[i*tc.ldc+j] {
					t.Fatalf("m=%d n=%d k=%d: transposed B gives C[%d,%d] = %v, plain %v", tc.m, tc.n, tc.k, i, j, ct[i*tc.ldc+j], c[i*tc.ldc+j])
				}
			}
		}
	}
	t.Logf("worst |error|/Σ|a·b| = %.3g (bf16 kernels: %v)", worst, BF16Supported())
	if BF16Supported() && worst < 1.0/(1<<14) {
		t.Errorf("worst relative error %.3g is below bf16's rounding: bf16 not in use?", worst)
	}
}

// TestGemmBF16Fallback checks that at a level without bf16 kernels the
// packed matrix is the fp32 fallback and GemmBF16 equals SgemmPacked.
func TestGemmBF16Fallback(t *testing.T) {
	prev, err := SetLevel(Generic)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = SetLevel(prev) }()
	r := rand.New(rand.NewPCG(29, 30))
	tc := newBF16Case(r, 37, 45, 29)
	pb := PackBF16(false, tc.k, tc.n, tc.b, tc.n)
	if pb.IsBF16() {
		t.Fatal("PackBF16 at the generic level made a bf16 matrix")
	}
	c := tc.c(r, false)
	GemmBF16(tc.m, tc.a, tc.lda, pb, c, tc.ldc, BF16Epilogue{Bias: tc.bias, ReLU: true})
	want := make([]float32, len(c))
	for i := 0; i < tc.m; i++ {
		copy(want[i*tc.ldc:i*tc.ldc+tc.n], tc.bias)
	}
	SgemmPacked(false, tc.m, 1, tc.a, tc.lda, PackB(false, tc.k, tc.n, tc.b, tc.n), 1, want, tc.ldc)
	for i := 0; i < tc.m; i++ {
		for j := 0; j < tc.n; j++ {
			if w := max(want[i*tc.ldc+j], 0); c[i*tc.ldc+j] != w {
				t.Fatalf("C[%d,%d] = %v, want %v", i, j, c[i*tc.ldc+j], w)
			}
		}
	}
	tc.checkGuards(t, "fallback")
}

// TestGemmBF16Panics checks that bad sizes and a stale level panic with a
// message naming the problem.
func TestGemmBF16Panics(t *testing.T) {
	b := make([]float32, 12)
	pb := PackBF16(false, 3, 4, b, 4)
	cases := []struct {
		name, want string
		f          func()
	}{
		{"short b", "len(b)", func() { PackBF16(false, 4, 4, b, 4) }},
		{"small ldb", "ldb", func() { PackBF16(false, 3, 4, b, 3) }},
		{"short a", "len(a)", func() { GemmBF16(2, make([]float32, 5), 3, pb, make([]float32, 8), 4, BF16Epilogue{}) }},
		{"small lda", "lda", func() { GemmBF16(2, make([]float32, 6), 2, pb, make([]float32, 8), 4, BF16Epilogue{}) }},
		{"short c", "len(c)", func() { GemmBF16(2, make([]float32, 6), 3, pb, make([]float32, 7), 4, BF16Epilogue{}) }},
		{"short bias", "bias", func() {
			GemmBF16(2, make([]float32, 6), 3, pb, make([]float32, 8), 4, BF16Epilogue{Bias: make([]float32, 3)})
		}},
		{"nil", "nil", func() { GemmBF16(2, make([]float32, 6), 3, nil, make([]float32, 8), 4, BF16Epilogue{}) }},
	}
	if Current() != Generic {
		cases = append(cases, struct {
			name, want string
			f          func()
		}{"stale level", "pack it again", func() {
			prev, _ := SetLevel(Generic)
			defer func() { _, _ = SetLevel(prev) }()
			GemmBF16(2, make([]float32, 6), 3, pb, make([]float32, 8), 4, BF16Epilogue{})
		}})
	}
	for _, c := range cases {
		func() {
			defer func() {
				msg, _ := recover().(string)
				if !strings.Contains(msg, c.want) {
					t.Errorf("%s: panic %q, want one containing %q", c.name, msg, c.want)
				}
			}()
			c.f()
		}()
	}
}

// TestBF16BlockingFor checks the blocking derived from cache sizes.
func TestBF16BlockingFor(t *testing.T) {
	for _, c := range []struct{ l1, l2, kcp, mc int }{
		{48 << 10, 1 << 20, 256, 504}, // Zen 5
		{48 << 10, 2 << 20, 256, 1022},
		{32 << 10, 256 << 10, 160, 196},
		{-1, -1, 160, 812},
	} {
		got := bf16BlockingFor(c.l1, c.l2)
		if got.kcp != c.kcp || got.mc != c.mc || got.mc%bf16Mr != 0 {
			t.Errorf("bf16BlockingFor(%d, %d) = %+v, want kcp %d mc %d", c.l1, c.l2, got, c.kcp, c.mc)
		}
	}
}
