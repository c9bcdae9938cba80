package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// vecLens are the slice lengths every vector kernel is tested on: around
// the 8- and 16-lane widths and the 4x unrolled loops, plus long ones.
var vecLens = []int{0, 1, 3, 7, 8, 15, 16, 17, 31, 33, 63, 64, 65, 100, 1000, 1023}

// vecShapes are the rows×cols shapes of the row-wise kernels.
var vecShapes = [][2]int{{1, 1}, {3, 5}, {7, 129}, {2, 1000}, {4, 17}, {77, 77}, {0, 5}, {3, 0}}

// vecGuardLen is the number of guard elements before and after each slice.
const vecGuardLen = 37

// vecGuardBits is the NaN bit pattern of guard elements; it must survive.
const vecGuardBits = 0x7fc0dead

// vecBuf is a slice cut out of a larger buffer with NaN guard bands on both
// sides, so that out-of-bounds writes are detected and out-of-bounds reads
// poison results.
type vecBuf struct {
	all []float32
	s   []float32
}

func newVecBuf(n int) vecBuf {
	all := make([]float32, n+2*vecGuardLen)
	for i := range all {
		all[i] = math.Float32frombits(vecGuardBits)
	}
	return vecBuf{all: all, s: all[vecGuardLen : vecGuardLen+n : vecGuardLen+n]}
}

// vecBufOf returns a guarded copy of v.
func vecBufOf(v []float32) vecBuf {
	b := newVecBuf(len(v))
	copy(b.s, v)
	return b
}

func (b vecBuf) check(t *testing.T, what string) {
	t.Helper()
	n := len(b.s)
	for i, v := range b.all {
		if i >= vecGuardLen && i < vecGuardLen+n {
			continue
		}
		if math.Float32bits(v) != vecGuardBits {
			t.Fatalf("%s: guard element %d (slice len %d) overwritten with %v", what, i-vecGuardLen, n, v)
		}
	}
}

// vecRand returns n normal samples times scale plus shift.
func vecRand(rng *rand.Rand, n int, scale, shift float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = shift + scale*float32(rng.NormFloat64())
	}
	return v
}

// vecEachLevel runs f once per level this binary and CPU support, with
// that level selected, and restores the previous level.
func vecEachLevel(t *testing.T, f func(t *testing.T, l Level)) {
	t.Helper()
	for _, l := range Levels() {
		t.Run("level="+l.String(), func(t *testing.T) {
			prev, err := SetLevel(l)
			if err != nil {
				t.Fatal(err)
			}
			defer SetLevel(prev)
			f(t, l)
		})
	}
}

// vecULP returns the distance in units in the last place between two
// float32 values of the same sign (large for different signs).
func vecULP(a, b float32) int64 {
	ia, ib := int64(math.Float32bits(a)), int64(math.Float32bits(b))
	if (ia < 0x80000000) != (ib < 0x80000000) {
		if a == 0 && b == 0 {
			return 0
		}
		return 1 << 40
	}
	d := ia - ib
	if d < 0 {
		d = -d
	}
	return d
}

// vecSame reports whether a and b are equal or both NaN.
func vecSame(a, b float32) bool {
	return a == b || (a != a && b != b)
}

func TestVecLevels(t *testing.T) {
	ls := Levels()
	if len(ls) == 0 || ls[0] != Generic {
		t.Fatalf("Levels() = %v, want Generic first", ls)
	}
	t.Logf("levels under test: %v (current %v)", ls, Current())
}

func TestVecAxpy(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	vecEachLevel(t, func(t *testing.T, l Level) {
		for _, n := range vecLens {
			x := vecBufOf(vecRand(rng, n, 1, 0))
			y0 := vecRand(rng, n, 1, 0)
			y := vecBufOf(y0)
			alpha := float32(-1.375)
			Axpy(alpha, x.s, y.s)
			y.check(t, fmt.Sprintf("Axpy n=%d", n))
			x.check(t, "Axpy x")
			for i := range y0 {
				want := float64(alpha)*float64(x.s[i]) + float64(y0[i])
				tol := 1.2e-7 * (math.Abs(float64(alpha)*float64(x.s[i])) + math.Abs(float64(y0[i])))
				if d := math.Abs(float64(y.s[i]) - want); d > tol {
					t.Fatalf("Axpy n=%d i=%d: got %v want %v (diff %g > %g)", n, i, y.s[i], want, d, tol)
				}
			}
		}
	})
}

// vecSumTol is an error bound for a float32 sum of n terms whose absolute
// values add to abs, whatever the summation order.
func vecSumTol(n int, abs float64) float64 {
	return float64(n+1) * 6e-8 * abs
}

func TestVecDotSum(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	vecEachLevel(t, func(t *testing.T, l Level) {
		for _, n := range vecLens {
			x := vecBufOf(vecRand(rng, n, 1, 0.5))
			y := vecBufOf(vecRand(rng, n, 2, 0))
			var dot, dotAbs, sum, sumAbs float64
			for i := range x.s {
				p := float64(x.s[i]) * float64(y.s[i])
				dot += p
				dotAbs += math.Abs(p)
				sum += float64(x.s[i])
				sumAbs += math.Abs(float64(x.s[i]))
			}
			for _, c := range []struct {
				name           string
				got, ref, want float64
				abs            float64
			}{
				{"Dot", float64(Dot(x.s, y.s)), float64(DotGeneric(x.s, y.s)), dot, dotAbs},
				{"Sum", float64(Sum(x.s)), float64(SumGeneric(x.s)), sum, sumAbs},
			} {
				tol := vecSumTol(n, c.abs)
				if math.Abs(c.got-c.want) > tol || math.IsNaN(c.got) {
					t.Errorf("%s n=%d: got %v, float64 reference %v (tol %g)", c.name, n, c.got, c.want, tol)
				}
				if math.Abs(c.ref-c.want) > tol {
					t.Errorf("%sGeneric n=%d: got %v, float64 reference %v (tol %g)", c.name, n, c.ref, c.want, tol)
				}
			}
			if l == Generic && (Dot(x.s, y.s) != DotGeneric(x.s, y.s) || Sum(x.s) != SumGeneric(x.s)) {
				t.Errorf("n=%d: generic level does not run the reference", n)
			}
		}
	})
}

func TestVecMax(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	vecEachLevel(t, func(t *testing.T, l Level) {
		for _, n := range vecLens {
			x := vecBufOf(vecRand(rng, n, 10, -3))
			want := float32(math.Inf(-1))
			for _, v := range x.s {
				want = max(want, v)
			}
			if got := Max(x.s); got != want {
				t.Errorf("Max n=%d: got %v want %v", n, got, want)
			}
			if got := MaxGeneric(x.s); got != want {
				t.Errorf("MaxGeneric n=%d: got %v want %v", n, got, want)
			}
			// The maximum at every position, including the tail.
			for _, p := range []int{0, n / 2, n - 1} {
				if n == 0 {
					break
				}
				old := x.s[p]
				x.s[p] = 1e30
				if got := Max(x.s); got != 1e30 {
					t.Errorf("Max n=%d with max at %d: got %v", n, p, got)
				}
				x.s[p] = float32(math.NaN())
				if got := Max(x.s); got == got {
					t.Errorf("Max n=%d with NaN at %d: got %v, want NaN", n, p, got)
				}
				x.s[p] = old
			}
		}
		if all := []float32{float32(math.Inf(-1)), float32(math.Inf(-1))}; Max(all) != float32(math.Inf(-1)) {
			t.Errorf("Max of -Infs: got %v", Max(all))
		}
	})
}

// vecElementwise describes an element-wise kernel for the table test.
type vecElementwise struct {
	name  string
	fast  func(dst, src []float32)
	ref   func(dst, src []float32)
	f64   func(x float64) float64
	exact bool  // the vector result must equal the generic one bit for bit
	ulps  int64 // allowed distance from the float64 reference
}

var vecUnaryOps = []vecElementwise{
	{"Exp", Exp, ExpGeneric, math.Exp, false, 2},
	{"Sigmoid", Sigmoid, SigmoidGeneric, func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }, false, 4},
	{"QuickGelu", QuickGelu, QuickGeluGeneric, func(x float64) float64 { return x / (1 + math.Exp(-1.702*x)) }, false, 4},
	{"Relu", Relu, ReluGeneric, func(x float64) float64 {
		if x < 0 {
			return 0
		}
		return x
	}, true, 0},
	{"Gelu", Gelu, GeluGeneric, vecGelu64, false, vecGeluULPs},
	{"Tanh", Tanh, TanhGeneric, math.Tanh, false, vecTanhULPs},
	{"Scale", func(d, s []float32) { copy(d, s); Scale(-0.75, d) }, func(d, s []float32) { copy(d, s); ScaleGeneric(-0.75, d) },
		func(x float64) float64 { return -0.75 * x }, true, 0},
	{"AddScalar", func(d, s []float32) { AddScalar(d, s, 0.3) }, func(d, s []float32) { AddScalarGeneric(d, s, 0.3) },
		func(x float64) float64 { return x + float64(float32(0.3)) }, true, 0},
}

// vecCheckUnary compares op on src against the float64 reference and the
// generic reference; results below the smallest normal float32 may differ
// by that much in absolute terms.
func vecCheckUnary(t *testing.T, op vecElementwise, src []float32, what string) {
	t.Helper()
	s := vecBufOf(src)
	d := newVecBuf(len(src))
	op.fast(d.s, s.s)
	d.check(t, op.name+" "+what)
	s.check(t, op.name+" src "+what)
	ref := make([]float32, len(src))
	op.ref(ref, src)
	for i, x := range src {
		got := d.s[i]
		want := float32(op.f64(float64(x)))
		if op.exact && !vecSame(got, ref[i]) {
			t.Fatalf("%s %s: x=%v: got %v, generic %v", op.name, what, x, got, ref[i])
		}
		if want != want || got != got {
			if want == want || got == got {
				t.Fatalf("%s %s: x=%v: got %v, want %v", op.name, what, x, got, want)
			}
			continue
		}
		if math.IsInf(float64(want), 0) || math.IsInf(float64(got), 0) {
			if got != want {
				t.Fatalf("%s %s: x=%v: got %v, want %v", op.name, what, x, got, want)
			}
			continue
		}
		if u := vecULP(got, want); u > op.ulps && math.Abs(float64(got)-float64(want)) > 0x1p-126 {
			t.Fatalf("%s %s: x=%v: got %v, want %v (%d ulp > %d)", op.name, what, x, got, want, u, op.ulps)
		}
	}
}

// vecSpecials are inputs at the edges of the float32 range.
var vecSpecials = []float32{
	0, float32(math.Copysign(0, -1)), 1e-8, -1e-8, 1, -1, 0.5, -0.5,
	-100, -87.5, -87.33, -88, -103.9, -103.97, -104, -104.5, -150, -1e30,
	88.7, 88.72, 88.7228, 88.723, 89, 100, 1e30, 1e-40, -1e-40,
	float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)),
	math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32,
}

func TestVecUnary(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	vecEachLevel(t, func(t *testing.T, l Level) {
		for _, op := range vecUnaryOps {
			for _, n := range vecLens {
				vecCheckUnary(t, op, vecRand(rng, n, 4, 0), fmt.Sprintf("n=%d", n))
			}
			// specials at every lane position
			sp := append(append([]float32{}, vecSpecials...), vecSpecials...)
			for k := 0; k < 17; k++ {
				vecCheckUnary(t, op, sp[k:], fmt.Sprintf("specials+%d", k))
			}
		}
	})
}

// TestVecExpSweep checks Exp over a dense sweep of its whole finite-result
// range and the values named in the brief.
func TestVecExpSweep(t *testing.T) {
	const n = 1 << 18
	src := make([]float32, 0, n+64)
	for i := 0; i < n; i++ {
		src = append(src, float32(-105+194*float64(i)/n))
	}
	src = append(src, -100, -87.5, 0, 1e-8, 88.7, 89, float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)))
	rng := rand.New(rand.NewPCG(9, 10))
	for i := 0; i < 4096; i++ {
		src = append(src, float32(rng.Float64()*2-1)*1e-3)
	}
	exp := vecUnaryOps[0]
	vecEachLevel(t, func(t *testing.T, l Level) {
		vecCheckUnary(t, exp, src, "sweep")
		dst := make([]float32, len(src))
		Exp(dst, src)
		var worst int64
		for i, x := range src {
			want := float32(math.Exp(float64(x)))
			if x == x && !math.IsInf(float64(want), 0) {
				worst = max(worst, vecULP(dst[i], want))
			}
		}
		t.Logf("worst Exp error over the sweep: %d ulp", worst)
		checks := map[float32]func(float32) bool{
			89:                        func(v float32) bool { return math.IsInf(float64(v), 1) },
			float32(math.Inf(1)):      func(v float32) bool { return math.IsInf(float64(v), 1) },
			float32(math.Inf(-1)):     func(v float32) bool { return v == 0 },
			-150:                      func(v float32) bool { return v == 0 },
			0:                         func(v float32) bool { return v == 1 },
			-100:                      func(v float32) bool { return v > 0 && v < 0x1p-126 },
			float32(math.MaxFloat32):  func(v float32) bool { return math.IsInf(float64(v), 1) },
			float32(-math.MaxFloat32): func(v float32) bool { return v == 0 },
		}
		for x, ok := range checks {
			d := []float32{0}
			Exp(d, []float32{x})
			if !ok(d[0]) {
				t.Errorf("Exp(%v) = %v", x, d[0])
			}
		}
		d := []float32{0}
		if Exp(d, []float32{float32(math.NaN())}); d[0] == d[0] {
			t.Errorf("Exp(NaN) = %v", d[0])
		}
	})
}

func TestVecBinary(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	ops := []struct {
		name string
		fast func(d, a, b []float32)
		ref  func(d, a, b []float32)
		f64  func(a, b float64) float64
	}{
		{"Add", Add, AddGeneric, func(a, b float64) float64 { return a + b }},
		{"Mul", Mul, MulGeneric, func(a, b float64) float64 { return a * b }},
		{"ReluBackward", ReluBackward, ReluBackwardGeneric, func(g, x float64) float64 {
			if x > 0 {
				return g
			}
			return 0
		}},
	}
	vecEachLevel(t, func(t *testing.T, l Level) {
		for _, op := range ops {
			for _, n := range vecLens {
				a, b := vecBufOf(vecRand(rng, n, 3, 0)), vecBufOf(vecRand(rng, n, 3, 0))
				if n > 2 {
					b.s[1] = float32(math.NaN())
					a.s[2] = float32(math.Inf(1))
				}
				d := newVecBuf(n)
				op.fast(d.s, a.s, b.s)
				d.check(t, fmt.Sprintf("%s n=%d", op.name, n))
				ref := make([]float32, n)
				op.ref(ref, a.s, b.s)
				for i := range ref {
					want := float32(op.f64(float64(a.s[i]), float64(b.s[i])))
					if !vecSame(d.s[i], ref[i]) || !vecSame(ref[i], want) {
						t.Fatalf("%s n=%d i=%d: a=%v b=%v: got %v, generic %v, float64 %v", op.name, n, i, a.s[i], b.s[i], d.s[i], ref[i], want)
					}
				}
				// in place: dst is a
				c := append([]float32(nil), a.s...)
				op.fast(c, c, b.s)
				for i := range c {
					if !vecSame(c[i], ref[i]) {
						t.Fatalf("%s n=%d in place i=%d: got %v want %v", op.name, n, i, c[i], ref[i])
					}
				}
			}
		}
	})
}

// vecSoftmax64 is the float64 softmax of one row.
func vecSoftmax64(x []float32) (y, logy []float64) {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, float64(v))
	}
	var s float64
	y = make([]float64, len(x))
	for i, v := range x {
		y[i] = math.Exp(float64(v) - m)
		s += y[i]
	}
	logy = make([]float64, len(x))
	for i, v := range x {
		y[i] /= s
		logy[i] = float64(v) - m - math.Log(s)
	}
	return y, logy
}

func TestVecSoftmaxRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	vecEachLevel(t, func(t *testing.T, l Level) {
		for _, sh := range vecShapes {
			rows, cols := sh[0], sh[1]
			name := fmt.Sprintf("%dx%d", rows, cols)
			src := vecBufOf(vecRand(rng, rows*cols, 5, 20))
			if rows*cols > 3 {
				src.s[2] = -200 // exp underflows to 0 relative to the max
			}
			dst, logd := newVecBuf(rows*cols), newVecBuf(rows*cols)
			SoftmaxRows(dst.s, src.s, rows, cols)
			LogSoftmaxRows(logd.s, src.s, rows, cols)
			dst.check(t, "SoftmaxRows "+name)
			logd.check(t, "LogSoftmaxRows "+name)
			src.check(t, "SoftmaxRows src "+name)
			ref, logRef := make([]float32, rows*cols), make([]float32, rows*cols)
			SoftmaxRowsGeneric(ref, src.s, rows, cols)
			LogSoftmaxRowsGeneric(logRef, src.s, rows, cols)
			for r := 0; r < rows; r++ {
				x := src.s[r*cols : (r+1)*cols]
				y64, logy64 := vecSoftmax64(x)
				m := MaxGeneric(x)
				for i := range x {
					k := r*cols + i
					// float32 rounding of x-max, the exp, the sum and the scaling
					tol := 4e-7 + float64(cols)*1.2e-7 + math.Abs(float64(x[i]-m))*6e-8
					for _, c := range []struct {
						what      string
						got, want float64
						tol       float64
					}{
						{"SoftmaxRows", float64(dst.s[k]), y64[i], tol*y64[i] + 0x1p-126},
						{"SoftmaxRowsGeneric", float64(ref[k]), y64[i], tol*y64[i] + 0x1p-126},
						{"LogSoftmaxRows", float64(logd.s[k]), logy64[i], 2e-6*(1+math.Abs(logy64[i])) + float64(cols)*6e-8},
						{"LogSoftmaxRowsGeneric", float64(logRef[k]), logy64[i], 2e-6*(1+math.Abs(logy64[i])) + float64(cols)*6e-8},
					} {
						if math.Abs(c.got-c.want) > c.tol || math.IsNaN(c.got) {
							t.Fatalf("%s %s row %d col %d: got %v want %v (tol %g)", c.what, name, r, i, c.got, c.want, c.tol)
						}
					}
				}
			}
			// in place
			inp := append([]float32(nil), src.s...)
			SoftmaxRows(inp, inp, rows, cols)
			for i := range inp {
				if inp[i] != dst.s[i] {
					t.Fatalf("SoftmaxRows %s in place differs at %d: %v vs %v", name, i, inp[i], dst.s[i])
				}
			}
			inp = append(inp[:0], src.s...)
			LogSoftmaxRows(inp, inp, rows, cols)
			for i := range inp {
				if inp[i] != logd.s[i] {
					t.Fatalf("LogSoftmaxRows %s in place differs at %d: %v vs %v", name, i, inp[i], logd.s[i])
				}
			}
		}
	})
}

func TestVecSoftmaxRowsBackward(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	vecEachLevel(t, func(t *testing.T, l Level) {
		for _, sh := range vecShapes {
			rows, cols := sh[0], sh[1]
			name := fmt.Sprintf("%dx%d", rows, cols)
			y := make([]float32, rows*cols)
			SoftmaxRowsGeneric(y, vecRand(rng, rows*cols, 2, 0), rows, cols)
			yb, dy := vecBufOf(y), vecBufOf(vecRand(rng, rows*cols, 1, 0))
			dx := newVecBuf(rows * cols)
			SoftmaxRowsBackward(dx.s, dy.s, yb.s, rows, cols)
			dx.check(t, "SoftmaxRowsBackward "+name)
			ref := make([]float32, rows*cols)
			SoftmaxRowsBackwardGeneric(ref, dy.s, yb.s, rows, cols)
			for r := 0; r < rows; r++ {
				var d, dAbs float64
				for i := r * cols; i < (r+1)*cols; i++ {
					d += float64(dy.s[i]) * float64(y[i])
					dAbs += math.Abs(float64(dy.s[i]) * float64(y[i]))
				}
				for i := r * cols; i < (r+1)*cols; i++ {
					want := float64(y[i]) * (float64(dy.s[i]) - d)
					tol := float64(y[i]) * (3e-7*math.Abs(float64(dy.s[i])) + vecSumTol(cols, dAbs) + 3e-7*math.Abs(d))
					for _, got := range []float32{dx.s[i], ref[i]} {
						if math.Abs(float64(got)-want) > tol {
							t.Fatalf("SoftmaxRowsBackward %s at %d: got %v want %v (tol %g)", name, i, got, want, tol)
						}
					}
				}
			}
			// dx may be dy
			inp := append([]float32(nil), dy.s...)
			SoftmaxRowsBackward(inp, inp, yb.s, rows, cols)
			for i := range inp {
				if inp[i] != dx.s[i] {
					t.Fatalf("SoftmaxRowsBackward %s with dx=dy differs at %d", name, i)
				}
			}
		}
	})
}

// vecLN64 is the float64 layer norm of one row; it returns the output, the
// mean and 1/std.
func vecLN64(x, gamma, beta []float32, eps float32) (y []float64, mean, rstd float64) {
	n := float64(len(x))
	for _, v := range x {
		mean += float64(v)
	}
	mean /= n
	var ss float64
	for _, v := range x {
		ss += (float64(v) - mean) * (float64(v) - mean)
	}
	rstd = 1 / math.Sqrt(ss/n+float64(eps))
	y = make([]float64, len(x))
	for i, v := range x {
		y[i] = (float64(v) - mean) * rstd
		if gamma != nil {
			y[i] *= float64(gamma[i])
		}
		if beta != nil {
			y[i] += float64(beta[i])
		}
	}
	return y, mean, rstd
}

func TestVecLayerNormRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	const eps = 1e-5
	vecEachLevel(t, func(t *testing.T, l Level) {
		for _, sh := range vecShapes {
			rows, cols := sh[0], sh[1]
			for _, aff := range []string{"gamma+beta", "none", "gamma", "beta"} {
				name := fmt.Sprintf("%dx%d/%s", rows, cols, aff)
				var gamma, beta []float32
				if strings.Contains(aff, "gamma") {
					gamma = vecBufOf(vecRand(rng, cols, 0.5, 1)).s
				}
				if strings.Contains(aff, "beta") {
					beta = vecBufOf(vecRand(rng, cols, 0.5, 0)).s
				}
				src := vecBufOf(vecRand(rng, rows*cols, 2, 3))
				dst, mean, rstd := newVecBuf(rows*cols), newVecBuf(rows), newVecBuf(rows)
				LayerNormRows(dst.s, mean.s, rstd.s, src.s, gamma, beta, rows, cols, eps)
				dst.check(t, "LayerNormRows "+name)
				mean.check(t, "LayerNormRows mean "+name)
				rstd.check(t, "LayerNormRows rstd "+name)
				ref, refMean, refRstd := make([]float32, rows*cols), make([]float32, rows), make([]float32, rows)
				LayerNormRowsGeneric(ref, refMean, refRstd, src.s, gamma, beta, rows, cols, eps)
				if cols == 0 {
					continue
				}
				for r := 0; r < rows; r++ {
					y64, m64, rs64 := vecLN64(src.s[r*cols:(r+1)*cols], gamma, beta, eps)
					for _, c := range []struct {
						what       string
						mean, rstd float32
						y          []float32
					}{{"LayerNormRows", mean.s[r], rstd.s[r], dst.s[r*cols:]}, {"LayerNormRowsGeneric", refMean[r], refRstd[r], ref[r*cols:]}} {
						if math.Abs(float64(c.mean)-m64) > 1e-6*(1+math.Abs(m64))+vecSumTol(cols, 5*float64(cols))/float64(cols) {
							t.Fatalf("%s %s row %d: mean %v want %v", c.what, name, r, c.mean, m64)
						}
						if math.Abs(float64(c.rstd)-rs64) > 2e-6*rs64+float64(cols)*1e-7*rs64 {
							t.Fatalf("%s %s row %d: rstd %v want %v", c.what, name, r, c.rstd, rs64)
						}
						for i, want := range y64 {
							tol := 2e-6*(1+math.Abs(want)) + float64(cols)*1e-7
							if got := float64(c.y[i]); math.Abs(got-want) > tol {
								t.Fatalf("%s %s row %d col %d: got %v want %v (tol %g)", c.what, name, r, i, got, want, tol)
							}
						}
					}
				}
				// nil mean/rstd and in place
				inp := append([]float32(nil), src.s...)
				LayerNormRows(inp, nil, nil, inp, gamma, beta, rows, cols, eps)
				for i := range inp {
					if inp[i] != dst.s[i] {
						t.Fatalf("LayerNormRows %s in place differs at %d", name, i)
					}
				}
			}
		}
	})
}

// vecLNLoss is sum(w * layernorm(x)) in float64, the scalar whose gradient
// the backward test checks by central differences.
func vecLNLoss(x, gamma, beta, w []float64, rows, cols int, eps float64) float64 {
	var loss float64
	for r := 0; r < rows; r++ {
		row := x[r*cols : (r+1)*cols]
		var m, ss float64
		for _, v := range row {
			m += v
		}
		m /= float64(cols)
		for _, v := range row {
			ss += (v - m) * (v - m)
		}
		rs := 1 / math.Sqrt(ss/float64(cols)+eps)
		for i, v := range row {
			g, b := 1.0, 0.0
			if gamma != nil {
				g = gamma[i]
			}
			if beta != nil {
				b = beta[i]
			}
			loss += w[r*cols+i] * ((v-m)*rs*g + b)
		}
	}
	return loss
}

func vecF64(v []float32) []float64 {
	if v == nil {
		return nil
	}
	o := make([]float64, len(v))
	for i, x := range v {
		o[i] = float64(x)
	}
	return o
}

func TestVecLayerNormRowsBackward(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	const eps = 1e-5
	vecEachLevel(t, func(t *testing.T, l Level) {
		for _, sh := range vecShapes {
			rows, cols := sh[0], sh[1]
			for _, withGamma := range []bool{true, false} {
				name := fmt.Sprintf("%dx%d/gamma=%v", rows, cols, withGamma)
				var gamma []float32
				if withGamma {
					gamma = vecRand(rng, cols, 0.5, 1)
				}
				beta := vecRand(rng, cols, 0.5, 0)
				x := vecRand(rng, rows*cols, 1.5, -1)
				dy := vecBufOf(vecRand(rng, rows*cols, 1, 0))
				mean, rstd := make([]float32, rows), make([]float32, rows)
				y := make([]float32, rows*cols)
				LayerNormRowsGeneric(y, mean, rstd, x, gamma, beta, rows, cols, eps)
				dx := newVecBuf(rows * cols)
				dg0, db0 := vecRand(rng, cols, 1, 0), vecRand(rng, cols, 1, 0)
				dgamma, dbeta := vecBufOf(dg0), vecBufOf(db0)
				LayerNormRowsBackward(dx.s, dgamma.s, dbeta.s, dy.s, x, mean, rstd, gamma, rows, cols)
				dx.check(t, "LayerNormRowsBackward dx "+name)
				dgamma.check(t, "LayerNormRowsBackward dgamma "+name)
				dbeta.check(t, "LayerNormRowsBackward dbeta "+name)
				rdx, rdg, rdb := make([]float32, rows*cols), append([]float32(nil), dg0...), append([]float32(nil), db0...)
				LayerNormRowsBackwardGeneric(rdx, rdg, rdb, dy.s, x, mean, rstd, gamma, rows, cols)
				// float64 gradients by central differences of sum(dy*y).
				x64, g64, b64, w := vecF64(x), vecF64(gamma), vecF64(beta), vecF64(dy.s)
				loss := func() float64 { return vecLNLoss(x64, g64, b64, w, rows, cols, eps) }
				num := func(p []float64, i int) float64 {
					const h = 1e-4
					old := p[i]
					p[i] = old + h
					up := loss()
					p[i] = old - h
					dn := loss()
					p[i] = old
					return (up - dn) / (2 * h)
				}
				for i := 0; i < rows*cols; i += 1 + rows*cols/97 {
					want := num(x64, i)
					for _, got := range []float32{dx.s[i], rdx[i]} {
						if math.Abs(float64(got)-want) > 1e-4*(1+math.Abs(want)) {
							t.Fatalf("%s: dx[%d] = %v, numeric %v", name, i, got, want)
						}
					}
				}
				for i := 0; i < cols; i += 1 + cols/31 {
					if b64 != nil {
						want := float64(db0[i]) + num(b64, i)
						for _, got := range []float32{dbeta.s[i], rdb[i]} {
							if math.Abs(float64(got)-want) > 1e-4*(1+math.Abs(want)) {
								t.Fatalf("%s: dbeta[%d] = %v, numeric %v", name, i, got, want)
							}
						}
					}
					if g64 != nil {
						want := float64(dg0[i]) + num(g64, i)
						for _, got := range []float32{dgamma.s[i], rdg[i]} {
							if math.Abs(float64(got)-want) > 1e-4*(1+math.Abs(want)) {
								t.Fatalf("%s: dgamma[%d] = %v, numeric %v", name, i, got, want)
							}
						}
					}
				}
				// nil dgamma/dbeta still gives dx
				dx2 := make([]float32, rows*cols)
				LayerNormRowsBackward(dx2, nil, nil, dy.s, x, mean, rstd, gamma, rows, cols)
				for i := range dx2 {
					if dx2[i] != dx.s[i] {
						t.Fatalf("%s: dx with nil dgamma/dbeta differs at %d", name, i)
					}
				}
			}
		}
	})
}

func TestVecPanics(t *testing.T) {
	a, b := make([]float32, 3), make([]float32, 4)
	cases := map[string]func(){
		"Axpy":                  func() { Axpy(1, a, b) },
		"Dot":                   func() { Dot(a, b) },
		"Add":                   func() { Add(a, a, b) },
		"Mul":                   func() { Mul(b, a, a) },
		"AddScalar":             func() { AddScalar(a, b, 1) },
		"Exp":                   func() { Exp(a, b) },
		"Relu":                  func() { Relu(a, b) },
		"ReluBackward":          func() { ReluBackward(a, a, b) },
		"Gelu":                  func() { Gelu(a, b) },
		"QuickGelu":             func() { QuickGelu(a, b) },
		"Sigmoid":               func() { Sigmoid(a, b) },
		"Tanh":                  func() { Tanh(a, b) },
		"GeluBackward":          func() { GeluBackward(a, b, b) },
		"QuickGeluBackward":     func() { QuickGeluBackward(b, a, b) },
		"TanhBackward":          func() { TanhBackward(b, b, a) },
		"SoftmaxRows":           func() { SoftmaxRows(a, b, 1, 4) },
		"LogSoftmaxRows":        func() { LogSoftmaxRows(b, b, 2, 3) },
		"SoftmaxRowsBackward":   func() { SoftmaxRowsBackward(b, b, a, 1, 4) },
		"LayerNormRows":         func() { LayerNormRows(b, nil, nil, b, a, nil, 1, 4, 1e-5) },
		"LayerNormRowsBackward": func() { LayerNormRowsBackward(b, nil, nil, b, b, a, a, nil, 1, 4) },
	}
	for name, f := range cases {
		func() {
			defer func() {
				r := recover()
				if r == nil {
					t.Errorf("%s: no panic on mismatched lengths", name)
					return
				}
				if msg := fmt.Sprint(r); !strings.Contains(msg, "kernels."+name+":") {
					t.Errorf("%s: panic message %q does not name the function", name, msg)
				}
			}()
			f()
		}()
	}
}

// TestVecSoftmaxRowsSpecials: a NaN or +Inf in a row makes the whole row
// NaN at every level (as in the reference), and rows without them are
// unaffected.
func TestVecSoftmaxRowsSpecials(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	const rows, cols = 3, 37
	vecEachLevel(t, func(t *testing.T, l Level) {
		for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1))} {
			for _, pos := range []int{0, 17, 36} {
				src := vecRand(rng, rows*cols, 3, 0)
				src[cols+pos] = bad
				dst := make([]float32, rows*cols)
				SoftmaxRows(dst, src, rows, cols)
				for i, v := range dst {
					if row := i / cols; (row == 1) != (v != v) {
						t.Fatalf("SoftmaxRows with %v at row 1 col %d: dst[%d] = %v", bad, pos, i, v)
					}
				}
			}
		}
		// -Inf entries get probability 0.
		src := []float32{float32(math.Inf(-1)), 0, float32(math.Inf(-1))}
		dst := make([]float32, 3)
		SoftmaxRows(dst, src, 1, 3)
		if dst[0] != 0 || dst[1] != 1 || dst[2] != 0 {
			t.Fatalf("SoftmaxRows with -Inf: got %v", dst)
		}
	})
}
