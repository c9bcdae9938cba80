package optim

import (
	"fmt"
	"testing"

	"github.com/softcpt/softcpt-go/autograd"
	"github.com/softcpt/softcpt-go/tensor"
)

// benchSizes are the parameter sets benchmarked: four tensors of rows×1024
// (16Ki elements in all stays in cache, like SoftCPT's prompt parameters;
// 4Mi elements does not).
var benchSizes = []int{4, 1024}

// benchParams returns 4 parameters of rows×1024 with gradients.
func benchParams(rows int) ([]*autograd.Var, int) {
	rng := tensor.NewRNG(1)
	ps := make([]*autograd.Var, 4)
	n := 0
	for i := range ps {
		ps[i] = autograd.Param(tensor.RandN(rng, 0, 1, rows, 1024))
		ps[i].Grad = tensor.RandN(rng, 0, 1e-3, rows, 1024)
		n += ps[i].Value.Numel()
	}
	return ps, n
}

func benchStep(b *testing.B, build func([]*autograd.Var) Optimizer) {
	for _, rows := range benchSizes {
		ps, n := benchParams(rows)
		opt := build(ps)
		b.Run(fmt.Sprintf("params=%d", n), func(b *testing.B) {
			opt.Step() // allocate the state outside the timed loop
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				opt.Step()
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mparams/s")
		})
	}
}

// BenchmarkSGDStep is momentum SGD with weight decay (SoftCPT's settings).
func BenchmarkSGDStep(b *testing.B) {
	benchStep(b, func(ps []*autograd.Var) Optimizer {
		return &SGD{Params: ps, LR: 0.002, Momentum: 0.9, WeightDecay: 5e-4}
	})
}

// BenchmarkAdamWStep is AdamW with PyTorch's defaults.
func BenchmarkAdamWStep(b *testing.B) {
	benchStep(b, func(ps []*autograd.Var) Optimizer { return NewAdamW(ps, 1e-3) })
}
