package autograd

import (
	"fmt"
	"math"

	"github.com/softcpt/softcpt-go/tensor"
)

// GradCheckOptions tunes CheckGradients. Zero fields take defaults.
type GradCheckOptions struct {
	Eps      float64 // finite-difference step (default 5e-3)
	ATol     float64 // absolute tolerance (default 2e-3)
	RTol     float64 // relative tolerance (default 2e-2)
	MaxElems int     // elements checked per input, spread evenly (default 64)
	Seed     uint64  // seed of the random output weighting
}

// CheckGradients compares the analytic gradients of f with respect to
// every input against central finite differences.
//
// The scalar under test is L = Σ w·f(x) with a fixed random weighting w,
// so every output element contributes with a distinct weight. L and the
// difference quotients are accumulated in float64; the op itself runs in
// float32, so tolerances reflect float32 rounding divided by Eps. Inputs
// are perturbed in place and restored. It returns an error naming the
// input, the element and both values on the first mismatch.
func CheckGradients(f func(xs []*Var) *Var, inputs []*tensor.Tensor, opt GradCheckOptions) error {
	if opt.Eps == 0 {
		opt.Eps = 5e-3
	}
	if opt.ATol == 0 {
		opt.ATol = 2e-3
	}
	if opt.RTol == 0 {
		opt.RTol = 2e-2
	}
	if opt.MaxElems == 0 {
		opt.MaxElems = 64
	}
	vars := make([]*Var, len(inputs))
	for i, x := range inputs {
		vars[i] = Param(x)
	}
	out := f(vars)
	w := tensor.RandU(tensor.NewRNG(opt.Seed+1), -1, 1, out.Shape()...)
	wd := w.Data()
	loss := func() float64 {
		var o *Var
		NoGrad(func() { o = f(constants(inputs)) })
		var s float64
		for i, v := range o.Value.Contiguous().Data() {
			s += float64(v) * float64(wd[i])
		}
		return s
	}
	out.BackwardWith(w)
	for i, x := range inputs {
		g := vars[i].Grad
		if g == nil {
			g = tensor.New(x.Shape()...)
		}
		gd := g.Data()
		xd := x.Data()
		step := max(1, len(xd)/opt.MaxElems)
		for j := 0; j < len(xd); j += step {
			orig := xd[j]
			xd[j] = orig + float32(opt.Eps)
			lp := loss()
			xd[j] = orig - float32(opt.Eps)
			lm := loss()
			xd[j] = orig
			// Use the step actually taken in float32.
			h := float64(orig+float32(opt.Eps)) - float64(orig-float32(opt.Eps))
			num := (lp - lm) / h
			an := float64(gd[j])
			if math.IsNaN(an) || math.Abs(an-num) > opt.ATol+opt.RTol*math.Abs(num) {
				return fmt.Errorf("gradient of input %d (shape %v) element %d: analytic %.6g, numeric %.6g", i, x.Shape(), j, an, num)
			}
		}
	}
	return nil
}

func constants(ts []*tensor.Tensor) []*Var {
	vs := make([]*Var, len(ts))
	for i, t := range ts {
		vs[i] = Const(t)
	}
	return vs
}
