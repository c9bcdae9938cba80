package optim

import (
	"math"

	"github.com/pkg/errors"
)

// LBFGSOptions configures LBFGS. A zero field takes its default, the value
// scipy.optimize.minimize(method='L-BFGS-B') uses.
type LBFGSOptions struct {
	// MaxIter bounds the number of iterations (default 15000).
	MaxIter int
	// GradTol stops the solver when max_j |∂f/∂x_j| ≤ GradTol, tested at
	// the start and after every iteration (default 1e-5, scipy's gtol).
	// Negative disables the test.
	GradTol float64
	// FTol stops the solver when an iteration reduces f by at most
	// FTol·max(|f_k|, |f_k+1|, 1) (default 2.220446049250313e-9, scipy's
	// ftol = factr·eps with factr 1e7). Negative disables the test.
	FTol float64
	// Memory is the number of stored correction pairs (default 10,
	// scipy's maxcor).
	Memory int
	// MaxLineSearch bounds the function evaluations of one line search
	// (default 20, scipy's maxls).
	MaxLineSearch int
	// MaxEval bounds the total number of function evaluations, the one at
	// the start included (default 15000, scipy's maxfun).
	MaxEval int
	// Interrupt, when set, is called before every iteration; a non-nil
	// error stops the solver, which returns it (wrapped) with the result
	// so far (e.g. context.Context.Err, to cancel a long fit). It does
	// not change the iterates.
	Interrupt func() error
}

// withDefaults checks o and fills its zero fields.
func (o LBFGSOptions) withDefaults() (LBFGSOptions, error) {
	for _, c := range []struct {
		name string
		v    int
	}{{"MaxIter", o.MaxIter}, {"Memory", o.Memory}, {"MaxLineSearch", o.MaxLineSearch}, {"MaxEval", o.MaxEval}} {
		if c.v < 0 {
			return o, errors.Errorf("optim.LBFGS: %s is %d, want ≥ 0 (0 for the default)", c.name, c.v)
		}
	}
	for _, c := range []struct {
		name string
		v    float64
	}{{"GradTol", o.GradTol}, {"FTol", o.FTol}} {
		if math.IsNaN(c.v) || math.IsInf(c.v, 0) {
			return o, errors.Errorf("optim.LBFGS: %s is %v, want a finite number", c.name, c.v)
		}
	}
	if o.MaxIter == 0 {
		o.MaxIter = 15000
	}
	if o.GradTol == 0 {
		o.GradTol = 1e-5
	}
	if o.FTol == 0 {
		o.FTol = 2.220446049250313e-9
	}
	if o.Memory == 0 {
		o.Memory = 10
	}
	if o.MaxLineSearch == 0 {
		o.MaxLineSearch = 20
	}
	if o.MaxEval == 0 {
		o.MaxEval = 15000
	}
	return o, nil
}

// LBFGSStop says why LBFGS stopped.
type LBFGSStop int

// The reasons LBFGS stops. Only StopGradTol and StopFTol count as
// converged.
const (
	// StopGradTol: the largest gradient entry is at most GradTol.
	StopGradTol LBFGSStop = iota
	// StopFTol: the last iteration's relative reduction is at most FTol.
	StopFTol
	// StopMaxIter: MaxIter iterations were run.
	StopMaxIter
	// StopMaxEval: MaxEval function evaluations were spent.
	StopMaxEval
	// StopNoDecrease: the line search found no point with a lower f.
	// This happens at the round-off floor of f, where the returned point
	// is as good as f's arithmetic can tell.
	StopNoDecrease
)

// String returns the reason in words.
func (s LBFGSStop) String() string {
	switch s {
	case StopGradTol:
		return "gradient tolerance"
	case StopFTol:
		return "relative reduction tolerance"
	case StopMaxIter:
		return "max iterations"
	case StopMaxEval:
		return "max evaluations"
	case StopNoDecrease:
		return "line search found no decrease"
	}
	return "unknown stop reason"
}

// LBFGSResult is the outcome of LBFGS.
type LBFGSResult struct {
	// F is f at the returned point.
	F float64
	// Iter counts the iterations (accepted steps).
	Iter int
	// Evals counts the calls of f.
	Evals int
	// Converged reports a stop on GradTol or FTol.
	Converged bool
	// Stop says why the solver stopped.
	Stop LBFGSStop
}

// LBFGS minimises f from x, in place: on return x holds the last accepted
// point. f returns the objective at x and writes its gradient into g
// (len(g) == len(x)); it must not keep x or g.
//
// The method is limited-memory BFGS (Nocedal & Wright, Alg. 7.4/7.5):
// the two-loop recursion over the last Memory correction pairs with the
// initial Hessian γI, γ = sᵀy/yᵀy of the newest pair, and a strong-Wolfe
// line search (c1 = 1e-4, c2 = 0.9) by bracketing and zoom with
// safeguarded cubic interpolation (Alg. 3.5/3.6). A pair is stored only
// when sᵀy > 2⁻⁵²·yᵀy. The first step, and any step after a restart, has
// length 1/‖g‖₂ as in scipy's L-BFGS-B; later trial steps start at 1. A
// direction that is not a descent direction (round-off) restarts the
// memory. Unlike L-BFGS-B there are no bounds.
//
// It stops on the tests of LBFGSOptions or when a line search finds no
// decrease (see LBFGSStop); hitting a limit is not an error, the result
// says so. Bad options, an empty x, a nil f or a non-finite f or gradient
// at the start return an error. A NaN f during a line search counts as
// +Inf (the step is shortened).
func LBFGS(f func(x, g []float64) float64, x []float64, opt LBFGSOptions) (LBFGSResult, error) {
	var res LBFGSResult
	o, err := opt.withDefaults()
	if err != nil {
		return res, err
	}
	if f == nil {
		return res, errors.New("optim.LBFGS: nil objective")
	}
	n := len(x)
	if n == 0 {
		return res, errors.New("optim.LBFGS: empty starting point")
	}
	g := make([]float64, n)
	fx := f(x, g)
	res.Evals, res.F = 1, fx
	if math.IsNaN(fx) || math.IsInf(fx, 0) {
		return res, errors.Errorf("optim.LBFGS: objective is %v at the starting point", fx)
	}
	gMax := maxAbs(g)
	if math.IsNaN(gMax) || math.IsInf(gMax, 0) {
		return res, errors.Errorf("optim.LBFGS: gradient has a non-finite entry at the starting point")
	}
	if gMax <= o.GradTol {
		res.Converged, res.Stop = true, StopGradTol
		return res, nil
	}
	m := o.Memory
	sHist := make([][]float64, m)
	yHist := make([][]float64, m)
	for i := range m {
		sHist[i] = make([]float64, n)
		yHist[i] = make([]float64, n)
	}
	rho := make([]float64, m)
	alpha := make([]float64, m)
	stored, head := 0, 0 // pairs held; index of the next slot
	gamma := 1.0
	d := make([]float64, n)
	xt := make([]float64, n)
	gt := make([]float64, n)

	for {
		if o.Interrupt != nil {
			if err := o.Interrupt(); err != nil {
				res.F = fx
				return res, errors.Wrapf(err, "optim.LBFGS: interrupted after %d iterations", res.Iter)
			}
		}
		if res.Iter >= o.MaxIter {
			res.Stop = StopMaxIter
			break
		}
		if res.Evals >= o.MaxEval {
			res.Stop = StopMaxEval
			break
		}
		// d = −H·g by the two-loop recursion.
		for j := range d {
			d[j] = -g[j]
		}
		for p := 0; p < stored; p++ {
			i := (head - 1 - p + 2*m) % m
			alpha[i] = rho[i] * dot(sHist[i], d)
			axpy(-alpha[i], yHist[i], d)
		}
		if stored > 0 {
			for j := range d {
				d[j] *= gamma
			}
		}
		for p := stored - 1; p >= 0; p-- {
			i := (head - 1 - p + 2*m) % m
			beta := rho[i] * dot(yHist[i], d)
			axpy(alpha[i]-beta, sHist[i], d)
		}
		gtd := dot(g, d)
		if !(gtd < 0) { // not a descent direction (round-off): restart
			stored, head = 0, 0
			for j := range d {
				d[j] = -g[j]
			}
			gtd = dot(g, d)
		}
		t := 1.0
		if stored == 0 {
			t = 1 / math.Sqrt(-gtd) // 1/‖g‖₂ for d = −g
		}
		ls := lineSearch{f: f, x: x, d: d, xt: xt, gt: gt, f0: fx, gtd0: gtd,
			maxEval: min(o.MaxLineSearch, o.MaxEval-res.Evals)}
		fNew, ok := ls.run(t)
		res.Evals += ls.evals
		if !ok {
			res.Stop = StopNoDecrease
			break
		}
		// Correction pair s = xt − x, y = gt − g, kept when sᵀy is safely positive.
		s, yv := sHist[head], yHist[head]
		for j := range s {
			s[j] = xt[j] - x[j]
			yv[j] = gt[j] - g[j]
		}
		sy, yy := dot(s, yv), dot(yv, yv)
		if sy > 0x1p-52*yy && yy > 0 {
			rho[head] = 1 / sy
			gamma = sy / yy
			head = (head + 1) % m
			stored = min(stored+1, m)
		}
		copy(x, xt)
		copy(g, gt)
		fOld := fx
		fx = fNew
		res.Iter++
		if maxAbs(g) <= o.GradTol {
			res.Converged, res.Stop = true, StopGradTol
			break
		}
		if o.FTol >= 0 && fOld-fx <= o.FTol*math.Max(math.Max(math.Abs(fOld), math.Abs(fx)), 1) {
			res.Converged, res.Stop = true, StopFTol
			break
		}
	}
	res.F = fx
	return res, nil
}

func dot(a, b []float64) float64 {
	b = b[:len(a)]
	s := 0.0
	for j, v := range a {
		s += v * b[j]
	}
	return s
}

func axpy(a float64, x, y []float64) {
	y = y[:len(x)]
	for j, v := range x {
		y[j] += a * v
	}
}

func maxAbs(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		if math.IsNaN(x) {
			return x
		}
		m = math.Max(m, math.Abs(x))
	}
	return m
}

// lineSearch finds a step t along d from x satisfying the strong Wolfe
// conditions f(x+td) ≤ f0 + c1·t·gtd0 and |∇f(x+td)·d| ≤ c2·|gtd0|, by
// the bracketing and zoom phases of Nocedal & Wright (Alg. 3.5/3.6) with
// safeguarded cubic interpolation. On return xt and gt hold the point and
// gradient of the accepted step.
type lineSearch struct {
	f        func(x, g []float64) float64
	x, d     []float64
	xt, gt   []float64
	f0, gtd0 float64
	maxEval  int
	evals    int
	lastT    float64
}

type lsPoint struct{ t, f, gtd float64 }

func (ls *lineSearch) phi(t float64) lsPoint {
	for j := range ls.xt {
		ls.xt[j] = ls.x[j] + t*ls.d[j]
	}
	f := ls.f(ls.xt, ls.gt)
	ls.evals++
	ls.lastT = t
	if math.IsNaN(f) {
		f = math.Inf(1)
	}
	return lsPoint{t, f, dot(ls.gt, ls.d)}
}

// run searches from the trial step t and returns f at the accepted step,
// or false when no step with f < f0 was found.
func (ls *lineSearch) run(t float64) (float64, bool) {
	const c1, c2 = 1e-4, 0.9
	f0, gtd0 := ls.f0, ls.gtd0
	dMax := maxAbs(ls.d)
	prev := lsPoint{0, f0, gtd0}
	cur := ls.phi(t)
	var lo, hi lsPoint
	best, done, bracketed := cur, false, false
	for it := 0; ; it++ {
		if cur.f > f0+c1*cur.t*gtd0 || (it > 0 && cur.f >= prev.f) {
			lo, hi, bracketed = prev, cur, true
			break
		}
		if math.Abs(cur.gtd) <= -c2*gtd0 {
			best, done = cur, true
			break
		}
		if cur.gtd >= 0 {
			lo, hi, bracketed = cur, prev, true
			break
		}
		if ls.evals >= ls.maxEval {
			best = cur
			break
		}
		// Extrapolate: the cubic minimiser, kept within [t+0.01(t−t_prev), 10t].
		next := cubicMin(prev, cur, cur.t+0.01*(cur.t-prev.t), 10*cur.t)
		prev, cur = cur, ls.phi(next)
	}
	if bracketed {
		// lo has the lower f and satisfies sufficient decrease; hi is the
		// other end of an interval that holds a strong-Wolfe step.
		xTol := 1e-14 * math.Max(1, maxAbs(ls.x))
		insuf := false
		for !done && ls.evals < ls.maxEval {
			a, b := math.Min(lo.t, hi.t), math.Max(lo.t, hi.t)
			if (b-a)*dMax <= xTol {
				break
			}
			t := cubicMin(lo, hi, a, b)
			eps := 0.1 * (b - a)
			if math.Min(b-t, t-a) < eps {
				// Too close to an end: after two such steps, or at the
				// ends themselves, move eps inside.
				if insuf || t >= b || t <= a {
					if math.Abs(t-b) < math.Abs(t-a) {
						t = b - eps
					} else {
						t = a + eps
					}
					insuf = false
				} else {
					insuf = true
				}
			} else {
				insuf = false
			}
			p := ls.phi(t)
			if p.f > f0+c1*p.t*gtd0 || p.f >= lo.f {
				hi = p
				continue
			}
			if math.Abs(p.gtd) <= -c2*gtd0 {
				lo, done = p, true
				break
			}
			if p.gtd*(hi.t-lo.t) >= 0 {
				hi = lo
			}
			lo = p
		}
		best = lo
	}
	if !(best.f < f0) || best.t == 0 {
		return f0, false
	}
	if ls.lastT != best.t {
		best = ls.phi(best.t)
	}
	return best.f, true
}

// cubicMin returns the minimiser of the cubic interpolating f and its
// slope at p and q, clamped to [lo, hi]; the midpoint of [lo, hi] when
// the cubic has no minimiser or the data are not finite.
func cubicMin(p, q lsPoint, lo, hi float64) float64 {
	if lo > hi {
		lo, hi = hi, lo
	}
	mid := 0.5 * (lo + hi)
	if p.t == q.t || math.IsInf(p.f, 0) || math.IsInf(q.f, 0) {
		return mid
	}
	d1 := p.gtd + q.gtd - 3*(p.f-q.f)/(p.t-q.t)
	disc := d1*d1 - p.gtd*q.gtd
	if !(disc >= 0) {
		return mid
	}
	d2 := math.Sqrt(disc)
	var t float64
	if p.t <= q.t {
		t = q.t - (q.t-p.t)*((q.gtd+d2-d1)/(q.gtd-p.gtd+2*d2))
	} else {
		t = p.t - (p.t-q.t)*((p.gtd+d2-d1)/(p.gtd-q.gtd+2*d2))
	}
	if math.IsNaN(t) {
		return mid
	}
	return math.Min(math.Max(t, lo), hi)
}
