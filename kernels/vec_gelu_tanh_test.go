package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// Error bounds of the vector Gelu and Tanh, in ulps of the correctly
// rounded float32 result (results below 2^-126 are compared in absolute
// terms instead, see vecCheckUnary). TestVecGeluTanhSweep logs the worst
// errors actually seen.
const (
	vecGeluULPs = 6
	vecTanhULPs = 2
)

// vecGelu64 is x*Phi(x) in float64 through erfc, accurate in the negative
// tail.
func vecGelu64(x float64) float64 { return 0.5 * x * math.Erfc(-x/math.Sqrt2) }

// vecSweep returns n evenly spaced points of [lo, hi] followed by the
// special values and 4096 tiny random values.
func vecSweep(n int, lo, hi float64) []float32 {
	src := make([]float32, 0, n+len(vecSpecials)+4096)
	for i := 0; i < n; i++ {
		src = append(src, float32(lo+(hi-lo)*float64(i)/float64(n-1)))
	}
	src = append(src, vecSpecials...)
	rng := rand.New(rand.NewPCG(31, 32))
	for i := 0; i < 4096; i++ {
		src = append(src, float32(rng.NormFloat64()*math.Pow(10, -1-7*rng.Float64())))
	}
	return src
}

// vecErrStats is the worst error of a kernel over a sweep.
type vecErrStats struct {
	ulp       int64   // vs the rounded float64 result
	ulpAt     float32 // where
	abs, rel  float64 // vs the float64 result (rel: where |ref| >= 2^-126)
	absAt     float32
	relAt     float32
	subnormal float64 // worst absolute error where |ref| < 2^-126
	ulpCore   int64   // worst ulp error for |x| <= 4
}

func (s vecErrStats) String() string {
	return fmt.Sprintf("max %d ulp (x=%v; %d ulp for |x|<=4), max abs %.3g (x=%v), max rel %.3g (x=%v), max abs where |y|<2^-126: %.3g",
		s.ulp, s.ulpAt, s.ulpCore, s.abs, s.absAt, s.rel, s.relAt, s.subnormal)
}

func vecMeasure(got []float32, src []float32, f64 func(float64) float64) vecErrStats {
	var s vecErrStats
	for i, x := range src {
		ref := f64(float64(x))
		if math.IsNaN(ref) || math.IsInf(ref, 0) {
			continue
		}
		g := float64(got[i])
		d := math.Abs(g - ref)
		if d > s.abs {
			s.abs, s.absAt = d, x
		}
		if math.Abs(ref) >= 0x1p-126 {
			if r := d / math.Abs(ref); r > s.rel {
				s.rel, s.relAt = r, x
			}
			u := vecULP(got[i], float32(ref))
			if u > s.ulp {
				s.ulp, s.ulpAt = u, x
			}
			if math.Abs(float64(x)) <= 4 {
				s.ulpCore = max(s.ulpCore, u)
			}
		} else {
			s.subnormal = max(s.subnormal, d)
		}
	}
	return s
}

// TestVecGeluTanhSweep checks Gelu and Tanh over a dense sweep (2^20
// points, plus specials and tiny values) against float64 math and logs the
// worst errors; Gelu's sweep spans [-15, 10] (its result underflows below
// -14.33), Tanh's [-12, 12].
func TestVecGeluTanhSweep(t *testing.T) {
	cases := []struct {
		op     vecElementwise
		lo, hi float64
	}{
		{vecUnaryOps[vecOpIndex("Gelu")], -15, 10},
		{vecUnaryOps[vecOpIndex("Tanh")], -12, 12},
	}
	for _, c := range cases {
		src := vecSweep(1<<20, c.lo, c.hi)
		vecEachLevel(t, func(t *testing.T, l Level) {
			vecCheckUnary(t, c.op, src, "sweep")
			dst := make([]float32, len(src))
			c.op.fast(dst, src)
			t.Logf("%s: %v", c.op.name, vecMeasure(dst, src, c.op.f64))
		})
	}
}

func vecOpIndex(name string) int {
	for i, op := range vecUnaryOps {
		if op.name == name {
			return i
		}
	}
	panic("no op " + name)
}

// TestVecGeluTanhBackward checks GeluBackward, QuickGeluBackward and
// TanhBackward on odd lengths inside NaN guard bands, in place (dst =
// gradOut) and on the special values, against float64 math: the error
// must stay within ulps*2^-24 of the magnitude of the terms (for Gelu,
// |g|*(Phi(x) + |x|*phi(x)), for QuickGelu |g|*(s + 1.702|x|s(1-s)),
// since these derivatives cross 0), plus 2^-140 absolute.
func TestVecGeluTanhBackward(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	phi := func(x float64) float64 { return math.Exp(-x*x/2) / math.Sqrt(2*math.Pi) }
	ops := []struct {
		name string
		fast func(d, g, x []float32)
		ref  func(d, g, x []float32)
		// f64 returns the exact result and the magnitude its error is
		// measured against.
		f64  func(g, x float64) (float64, float64)
		in   func(n int) []float32
		ulps float64
	}{
		{"GeluBackward", GeluBackward, GeluBackwardGeneric, func(g, x float64) (float64, float64) {
			cdf := 0.5 * math.Erfc(-x/math.Sqrt2)
			if math.IsInf(x, 0) {
				return g * cdf, math.Abs(g * cdf)
			}
			return g * (cdf + x*phi(x)), math.Abs(g) * (cdf + math.Abs(x)*phi(x))
		}, func(n int) []float32 { return vecRand(rng, n, 4, 0) }, 8},
		{"QuickGeluBackward", QuickGeluBackward, QuickGeluBackwardGeneric, func(g, x float64) (float64, float64) {
			if math.IsInf(x, 0) {
				d := g * quickGeluDeriv64(x)
				return d, math.Abs(d)
			}
			s := 1 / (1 + math.Exp(-1.702*x))
			return g * (s + 1.702*x*s*(1-s)), math.Abs(g) * (s + 1.702*math.Abs(x)*s*(1-s))
		}, func(n int) []float32 { return vecRand(rng, n, 4, 0) }, 8},
		{"TanhBackward", TanhBackward, TanhBackwardGeneric, func(g, y float64) (float64, float64) {
			d := g * (1 - y*y)
			return d, math.Abs(d)
		}, func(n int) []float32 {
			y := vecRand(rng, n, 2, 0)
			TanhGeneric(y, y)
			return y
		}, 3},
	}
	// worst[name] is the largest error seen, in units of 2^-24*magnitude.
	worst := map[string]float64{}
	check := func(t *testing.T, name string, got, ref, g, x []float32, f64 func(g, x float64) (float64, float64), ulps float64) {
		t.Helper()
		for i := range got {
			want, mag := f64(float64(g[i]), float64(x[i]))
			if math.IsNaN(want) {
				if got[i] == got[i] || ref[i] == ref[i] {
					t.Fatalf("%s i=%d: g=%v x=%v: got %v, generic %v, want NaN", name, i, g[i], x[i], got[i], ref[i])
				}
				continue
			}
			tol := ulps*0x1p-24*mag + 0x1p-140
			for _, v := range []struct {
				what string
				v    float32
			}{{"got", got[i]}, {"generic", ref[i]}} {
				d := math.Abs(float64(v.v) - want)
				if !(d <= tol) {
					t.Fatalf("%s i=%d: g=%v x=%v: %s %v, want %v (error %g > %g)", name, i, g[i], x[i], v.what, v.v, want, d, tol)
				}
				if v.what == "got" && mag > 0x1p-100 {
					k := name[:strings.IndexByte(name, ' ')]
					worst[k] = max(worst[k], d/(0x1p-24*mag))
				}
			}
		}
	}
	vecEachLevel(t, func(t *testing.T, l Level) {
		for _, op := range ops {
			for _, n := range vecLens {
				g, x := vecBufOf(vecRand(rng, n, 1, 0)), vecBufOf(op.in(n))
				d := newVecBuf(n)
				op.fast(d.s, g.s, x.s)
				what := fmt.Sprintf("%s n=%d", op.name, n)
				d.check(t, what)
				g.check(t, what+" gradOut")
				x.check(t, what+" x")
				ref := make([]float32, n)
				op.ref(ref, g.s, x.s)
				check(t, what, d.s, ref, g.s, x.s, op.f64, op.ulps)
				// in place: dst is gradOut
				c := append([]float32(nil), g.s...)
				op.fast(c, c, x.s)
				for i := range c {
					if !vecSame(c[i], d.s[i]) {
						t.Fatalf("%s in place i=%d: got %v want %v", what, i, c[i], d.s[i])
					}
				}
			}
			// specials (and a dense sweep for Gelu; for Tanh the outputs
			// of Tanh on them) at every lane position
			x := append(append([]float32{}, vecSpecials...), vecSpecials...)
			if op.name != "TanhBackward" {
				x = append(x, vecSweep(1<<16, -15, 10)...)
			} else {
				x = append(x, 0.99999994, -0.99999994, 1e-20)
				TanhGeneric(x, x)
			}
			for k := 0; k < 17; k++ {
				xs := x[k:]
				gs := vecRand(rng, len(xs), 1, 0)
				got, ref := make([]float32, len(xs)), make([]float32, len(xs))
				op.fast(got, gs, xs)
				op.ref(ref, gs, xs)
				check(t, fmt.Sprintf("%s specials+%d", op.name, k), got, ref, gs, xs, op.f64, op.ulps)
			}
		}
		for _, op := range ops {
			t.Logf("%s: worst error %.2f x 2^-24 x magnitude", op.name, worst[op.name])
			worst[op.name] = 0
		}
		// Limits of the Gelu and QuickGelu derivatives: 1 at +Inf, 0 at -Inf.
		for _, f := range []func(d, g, x []float32){GeluBackward, QuickGeluBackward} {
			d := make([]float32, 2)
			f(d, []float32{1, 1}, []float32{float32(math.Inf(1)), float32(math.Inf(-1))})
			if d[0] != 1 || d[1] != 0 {
				t.Errorf("GeluBackward/QuickGeluBackward at +-Inf: got %v, want [1 0]", d)
			}
		}
	})
}
