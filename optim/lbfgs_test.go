package optim

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// spdQuadratic returns f(x) = ½xᵀAx − bᵀx for a random symmetric positive
// definite A = QᵀDQ-like matrix (MᵀM + δI) with condition number about
// cond, its minimiser A⁻¹b solved by Gaussian elimination, and a lower
// bound of its smallest eigenvalue.
func spdQuadratic(rng *rand.Rand, n int, cond float64) (f func(x, g []float64) float64, xStar []float64, lamMin float64) {
	m := make([]float64, n*n)
	for i := range m {
		m[i] = rng.NormFloat64()
	}
	a := make([]float64, n*n)
	for i := range n {
		for j := range n {
			s := 0.0
			for k := range n {
				s += m[k*n+i] * m[k*n+j]
			}
			a[i*n+j] = s
		}
	}
	// Scale the spectrum: add δI so that (λmax+δ)/(λmin+δ) ≈ cond.
	tr := 0.0
	for i := range n {
		tr += a[i*n+i]
	}
	delta := tr / float64(n) / cond
	for i := range n {
		a[i*n+i] += delta
	}
	b := make([]float64, n)
	for i := range b {
		b[i] = rng.NormFloat64()
	}
	f = func(x, g []float64) float64 {
		v := 0.0
		for i := range n {
			ax := 0.0
			for j := range n {
				ax += a[i*n+j] * x[j]
			}
			g[i] = ax - b[i]
			v += 0.5*x[i]*ax - b[i]*x[i]
		}
		return v
	}
	return f, solve(a, b, n), delta
}

// solve returns A⁻¹b by Gaussian elimination with partial pivoting.
func solve(a, b []float64, n int) []float64 {
	m := append([]float64(nil), a...)
	x := append([]float64(nil), b...)
	for c := range n {
		p := c
		for r := c + 1; r < n; r++ {
			if math.Abs(m[r*n+c]) > math.Abs(m[p*n+c]) {
				p = r
			}
		}
		for j := range n {
			m[c*n+j], m[p*n+j] = m[p*n+j], m[c*n+j]
		}
		x[c], x[p] = x[p], x[c]
		for r := c + 1; r < n; r++ {
			q := m[r*n+c] / m[c*n+c]
			for j := c; j < n; j++ {
				m[r*n+j] -= q * m[c*n+j]
			}
			x[r] -= q * x[c]
		}
	}
	for c := n - 1; c >= 0; c-- {
		for j := c + 1; j < n; j++ {
			x[c] -= m[c*n+j] * x[j]
		}
		x[c] /= m[c*n+c]
	}
	return x
}

// rosenbrock is the extended Rosenbrock function Σ 100(x_{2i+1}−x_{2i}²)² +
// (1−x_{2i})², minimum 0 at all ones.
func rosenbrock(x, g []float64) float64 {
	f := 0.0
	for i := 0; i+1 < len(x); i += 2 {
		u, v := x[i], x[i+1]
		r := v - u*u
		f += 100*r*r + (1-u)*(1-u)
		g[i] = -400*r*u - 2*(1-u)
		g[i+1] = 200 * r
	}
	return f
}

func TestLBFGSQuadratic(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		n    int
		cond float64
	}{{5, 10}, {30, 1e3}, {60, 1e4}} {
		f, xStar, lamMin := spdQuadratic(rng, tc.n, tc.cond)
		x := make([]float64, tc.n)
		// Below about √(eps·|f|·λmax) ≈ 1e-7 the decrease of f is lost in
		// its round-off and the line search stops instead.
		const tol = 1e-6
		res, err := LBFGS(f, x, LBFGSOptions{GradTol: tol, FTol: -1})
		if err != nil {
			t.Fatal(err)
		}
		worst := 0.0
		for i := range x {
			worst = math.Max(worst, math.Abs(x[i]-xStar[i]))
		}
		// g = A(x − x*), so ‖x − x*‖ ≤ ‖g‖₂/λmin ≤ √n·GradTol/λmin.
		bound := math.Sqrt(float64(tc.n)) * tol / lamMin
		t.Logf("n=%d cond=%g: %d iters %d evals, stop %q, max|x−x*| = %.2e (bound %.2e)", tc.n, tc.cond, res.Iter, res.Evals, res.Stop, worst, bound)
		if !res.Converged || res.Stop != StopGradTol {
			t.Errorf("n=%d: stop %q converged %v, want the gradient tolerance", tc.n, res.Stop, res.Converged)
		}
		if worst > bound {
			t.Errorf("n=%d cond=%g: max|x−x*| = %.3g", tc.n, tc.cond, worst)
		}
		g := make([]float64, tc.n)
		if fx := f(x, g); fx != res.F {
			t.Errorf("result F %.17g, f at the returned x %.17g", res.F, fx)
		}
	}
}

func TestLBFGSRosenbrock(t *testing.T) {
	for _, n := range []int{2, 10, 100} {
		x := make([]float64, n)
		for i := 0; i < n; i += 2 {
			x[i], x[i+1] = -1.2, 1 // the standard start
		}
		res, err := LBFGS(rosenbrock, x, LBFGSOptions{GradTol: 1e-9, FTol: -1})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("n=%d: f=%.3g, %d iters %d evals, stop %q", n, res.F, res.Iter, res.Evals, res.Stop)
		if !res.Converged {
			t.Errorf("n=%d: not converged (stop %q)", n, res.Stop)
		}
		for i, v := range x {
			if math.Abs(v-1) > 1e-8 {
				t.Errorf("n=%d: x[%d] = %.12g, want 1", n, i, v)
			}
		}
		// scipy's L-BFGS-B needs about 35 iterations in 2-D; a solver that
		// degrades to steepest descent needs thousands.
		if res.Iter > 60+n {
			t.Errorf("n=%d: %d iterations", n, res.Iter)
		}
	}
}

// TestLBFGSStopping checks every stop reason and the counts that go with it.
func TestLBFGSStopping(t *testing.T) {
	start := func() []float64 { return []float64{-1.2, 1, -1.2, 1} }
	calls := 0
	counted := func(x, g []float64) float64 { calls++; return rosenbrock(x, g) }

	x := start()
	calls = 0
	res, err := LBFGS(counted, x, LBFGSOptions{MaxIter: 3})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stop != StopMaxIter || res.Iter != 3 || res.Converged || res.Evals != calls {
		t.Errorf("MaxIter 3: %+v after %d calls", res, calls)
	}
	if g := make([]float64, 4); rosenbrock(x, g) != res.F || res.F >= 24.2*2 {
		t.Errorf("MaxIter 3: F %g does not describe x or did not decrease", res.F)
	}

	calls = 0
	res, err = LBFGS(counted, start(), LBFGSOptions{MaxEval: 7})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stop != StopMaxEval || res.Evals > 7 || res.Evals != calls || res.Converged {
		t.Errorf("MaxEval 7: %+v after %d calls", res, calls)
	}

	// A loose gradient tolerance stops early; with the gradient test off
	// the relative reduction test stops, having reduced f by ≤ FTol·|f|.
	res, err = LBFGS(rosenbrock, start(), LBFGSOptions{GradTol: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stop != StopGradTol || !res.Converged {
		t.Errorf("GradTol 1: %+v", res)
	}
	loose := res.Iter
	res, err = LBFGS(rosenbrock, start(), LBFGSOptions{GradTol: 1e-9})
	if err != nil {
		t.Fatal(err)
	}
	if res.Iter <= loose {
		t.Errorf("GradTol 1e-9 took %d iterations, GradTol 1 took %d", res.Iter, loose)
	}
	res, err = LBFGS(rosenbrock, start(), LBFGSOptions{GradTol: -1, FTol: 1e-3})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stop != StopFTol || !res.Converged || res.F < 1e-12 {
		t.Errorf("FTol 1e-3 without gradient test: %+v", res)
	}

	// Already at the minimum: no iteration, one evaluation.
	one := []float64{1, 1}
	res, err = LBFGS(rosenbrock, one, LBFGSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Iter != 0 || res.Evals != 1 || res.Stop != StopGradTol || one[0] != 1 || one[1] != 1 {
		t.Errorf("start at the minimum: %+v, x %v", res, one)
	}

	// f computed in float32: with both tolerances off the solver reaches
	// the round-off floor, where the line search finds no decrease, and
	// the point is still near the minimum.
	f32 := func(x, g []float64) float64 {
		s := float32(0)
		for j, v := range x {
			d := float32(v) - float32(j)
			s += d * d
			g[j] = 2 * float64(d)
		}
		return float64(s)
	}
	x = []float64{5, -3, 8}
	res, err = LBFGS(f32, x, LBFGSOptions{GradTol: -1, FTol: -1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stop != StopNoDecrease || res.Converged {
		t.Errorf("float32 objective without tolerances: %+v", res)
	}
	for j, v := range x {
		if math.Abs(v-float64(j)) > 1e-3 {
			t.Errorf("float32 objective: x[%d] = %g, want %d", j, v, j)
		}
	}
}

// TestLBFGSNaNStep: a first step into a region where f is NaN is
// shortened like one with a larger f.
func TestLBFGSNaNStep(t *testing.T) {
	f := func(x, g []float64) float64 {
		if x[0] >= 2 {
			g[0] = math.NaN()
			return math.NaN()
		}
		g[0] = 2 * (x[0] - 1.9)
		return (x[0] - 1.9) * (x[0] - 1.9)
	}
	x := []float64{1} // first trial step lands on x = 2
	res, err := LBFGS(f, x, LBFGSOptions{GradTol: 1e-10})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Converged || math.Abs(x[0]-1.9) > 1e-9 {
		t.Errorf("x = %.12g (%+v), want 1.9", x[0], res)
	}
}

func TestLBFGSBadInput(t *testing.T) {
	quad := func(x, g []float64) float64 { g[0] = 2 * x[0]; return x[0] * x[0] }
	for _, tc := range []struct {
		name string
		f    func(x, g []float64) float64
		x    []float64
		opt  LBFGSOptions
		want string
	}{
		{"negative MaxIter", quad, []float64{1}, LBFGSOptions{MaxIter: -1}, "MaxIter"},
		{"negative Memory", quad, []float64{1}, LBFGSOptions{Memory: -2}, "Memory"},
		{"negative MaxLineSearch", quad, []float64{1}, LBFGSOptions{MaxLineSearch: -1}, "MaxLineSearch"},
		{"negative MaxEval", quad, []float64{1}, LBFGSOptions{MaxEval: -5}, "MaxEval"},
		{"NaN GradTol", quad, []float64{1}, LBFGSOptions{GradTol: math.NaN()}, "GradTol"},
		{"Inf FTol", quad, []float64{1}, LBFGSOptions{FTol: math.Inf(1)}, "FTol"},
		{"nil objective", nil, []float64{1}, LBFGSOptions{}, "nil objective"},
		{"empty x", quad, nil, LBFGSOptions{}, "empty starting point"},
		{"NaN start", func(x, g []float64) float64 { return math.NaN() }, []float64{1}, LBFGSOptions{}, "objective is NaN"},
		{"Inf gradient", func(x, g []float64) float64 { g[0] = math.Inf(-1); return 0 }, []float64{1}, LBFGSOptions{}, "gradient"},
	} {
		_, err := LBFGS(tc.f, tc.x, tc.opt)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

func BenchmarkLBFGSRosenbrock(b *testing.B) {
	const n = 1000
	x := make([]float64, n)
	iters := 0
	for b.Loop() {
		for i := 0; i < n; i += 2 {
			x[i], x[i+1] = -1.2, 1
		}
		res, err := LBFGS(rosenbrock, x, LBFGSOptions{GradTol: 1e-8})
		if err != nil {
			b.Fatal(err)
		}
		iters += res.Iter
	}
	b.ReportMetric(float64(iters)/b.Elapsed().Seconds(), "iters/s")
}
