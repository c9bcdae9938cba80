package autograd

import (
	"fmt"
	"math"

	"github.com/softcpt/softcpt-go/tensor"
)

// BatchNorm2d is PyTorch's batch_norm over NCHW input x [N, C, H, W] with
// per-channel affine parameters gamma (weight) and beta (bias), both [C]
// or both nil (affine=False).
//
// In train mode each channel is normalised with its batch mean and biased
// batch variance over N·H·W, and, when runningMean and runningVar ([C])
// are non-nil, they are updated in place with PyTorch's rule
// running = (1−momentum)·running + momentum·stat, using the unbiased batch
// variance for runningVar. The update happens whether or not gradients are
// recorded (as in PyTorch); cumulative averaging (momentum=None) is not
// supported. Train mode needs more than one value per channel.
//
// In eval mode runningMean and runningVar (required) normalise instead and
// are not modified.
//
// y = (x − mean)/sqrt(var + eps)·gamma + beta. Gradients flow to x, gamma
// and beta in both modes; in train mode the x gradient includes the paths
// through the batch statistics. Statistics are accumulated in float64.
func BatchNorm2d(x, gamma, beta *Var, runningMean, runningVar *tensor.Tensor, train bool, momentum, eps float32) *Var {
	xs := x.Shape()
	if len(xs) != 4 {
		panic(fmt.Sprintf("autograd.BatchNorm2d: input %v is not 4-D (NCHW)", xs))
	}
	n, c, plane := xs[0], xs[1], xs[2]*xs[3]
	chk := func(what string, s []int) {
		if len(s) != 1 || s[0] != c {
			panic(fmt.Sprintf("autograd.BatchNorm2d: %s %v does not fit input %v (want [%d])", what, s, xs, c))
		}
	}
	if (gamma == nil) != (beta == nil) {
		panic(fmt.Sprintf("autograd.BatchNorm2d: gamma and beta must both be set or both be nil (input %v)", xs))
	}
	if gamma != nil {
		chk("gamma", gamma.Shape())
		chk("beta", beta.Shape())
	}
	if (runningMean == nil) != (runningVar == nil) {
		panic(fmt.Sprintf("autograd.BatchNorm2d: runningMean and runningVar must both be set or both be nil (input %v)", xs))
	}
	if runningMean != nil {
		chk("runningMean", runningMean.Shape())
		chk("runningVar", runningVar.Shape())
		if !runningMean.IsContiguous() || !runningVar.IsContiguous() {
			panic("autograd.BatchNorm2d: running statistics must be contiguous (they are updated in place)")
		}
	} else if !train {
		panic(fmt.Sprintf("autograd.BatchNorm2d: eval mode needs running statistics (input %v)", xs))
	}
	m := n * plane
	if train && m <= 1 {
		panic(fmt.Sprintf("autograd.BatchNorm2d: expected more than 1 value per channel when training, got input %v", xs))
	}
	xd := x.Value.Contiguous().Data()
	mean := tensor.Buffer(c)
	invStd := tensor.Buffer(c)
	if train {
		for ch := 0; ch < c; ch++ {
			var s float64
			for i := 0; i < n; i++ {
				for _, v := range xd[(i*c+ch)*plane:][:plane] {
					s += float64(v)
				}
			}
			mu := s / float64(m)
			var ss float64
			for i := 0; i < n; i++ {
				for _, v := range xd[(i*c+ch)*plane:][:plane] {
					d := float64(v) - mu
					ss += d * d
				}
			}
			variance := ss / float64(m)
			mean[ch] = float32(mu)
			invStd[ch] = float32(1 / math.Sqrt(variance+float64(eps)))
			if runningMean != nil {
				rm, rv := runningMean.Data(), runningVar.Data()
				unbiased := ss / float64(m-1)
				rm[ch] = (1-momentum)*rm[ch] + momentum*float32(mu)
				rv[ch] = (1-momentum)*rv[ch] + momentum*float32(unbiased)
			}
		}
	} else {
		rm, rv := runningMean.Data(), runningVar.Data()
		for ch := 0; ch < c; ch++ {
			mean[ch] = rm[ch]
			invStd[ch] = float32(1 / math.Sqrt(float64(rv[ch])+float64(eps)))
		}
	}
	var gd, bd []float32
	if gamma != nil {
		gd, bd = gamma.Value.Contiguous().Data(), beta.Value.Contiguous().Data()
	}
	out := tensor.New(xs...)
	od := out.Data()
	for i := 0; i < n; i++ {
		for ch := 0; ch < c; ch++ {
			// y = x·a + o with a = invStd·gamma, o = beta − mean·a
			a, o := invStd[ch], -mean[ch]*invStd[ch]
			if gd != nil {
				a = invStd[ch] * gd[ch]
				o = bd[ch] - mean[ch]*a
			}
			src := xd[(i*c+ch)*plane:][:plane]
			dst := od[(i*c+ch)*plane:][:plane]
			for j, v := range src {
				dst[j] = v*a + o
			}
		}
	}
	parents := []*Var{x}
	if gamma != nil {
		parents = append(parents, gamma, beta)
	}
	return result(out, func(gt *tensor.Tensor) {
		g := gt.Contiguous().Data()
		// Per channel: Σg and Σg·x̂, with x̂ = (x − mean)·invStd.
		sumG := make([]float64, c)
		sumGX := make([]float64, c)
		for ch := 0; ch < c; ch++ {
			mu, is := mean[ch], invStd[ch]
			var sg, sgx float64
			for i := 0; i < n; i++ {
				off := (i*c + ch) * plane
				gs, src := g[off:][:plane], xd[off:][:plane]
				for j, v := range gs {
					sg += float64(v)
					sgx += float64(v * (src[j] - mu) * is)
				}
			}
			sumG[ch], sumGX[ch] = sg, sgx
		}
		if gamma != nil && gamma.requiresGrad {
			gg := tensor.New(c)
			for ch, v := range sumGX {
				gg.Data()[ch] = float32(v)
			}
			gamma.accumulate(gg)
		}
		if beta != nil && beta.requiresGrad {
			gb := tensor.New(c)
			for ch, v := range sumG {
				gb.Data()[ch] = float32(v)
			}
			beta.accumulate(gb)
		}
		if !x.requiresGrad {
			return
		}
		gx := tensor.New(xs...)
		gxd := gx.Data()
		for ch := 0; ch < c; ch++ {
			mu, is := mean[ch], invStd[ch]
			scale := is
			if gd != nil {
				scale *= gd[ch]
			}
			// eval: dx = g·gamma·invStd
			// train: dx = gamma·invStd·(g − Σg/M − x̂·Σ(g·x̂)/M)
			var mg, mgx float32
			if train {
				mg = float32(sumG[ch] / float64(m))
				mgx = float32(sumGX[ch] / float64(m))
			}
			for i := 0; i < n; i++ {
				off := (i*c + ch) * plane
				gs, src, dst := g[off:][:plane], xd[off:][:plane], gxd[off:][:plane]
				if !train {
					for j, v := range gs {
						dst[j] = v * scale
					}
					continue
				}
				for j, v := range gs {
					xh := (src[j] - mu) * is
					dst[j] = scale * (v - mg - xh*mgx)
				}
			}
		}
		x.accumulate(gx)
	}, parents...)
}
