package autograd

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/softcpt/softcpt-go/kernels"
	"github.com/softcpt/softcpt-go/tensor"
)

// Softmax returns exp(x)/Σexp(x) along axis, computed stably by
// subtracting the maximum of each slice first. The backward is
// y·(g − Σ g·y).
func Softmax(x *Var, axis int) *Var {
	return softmaxOp("Softmax", x, axis, false)
}

// LogSoftmax returns x − log Σexp(x) along axis, computed stably (finite
// for logits of any magnitude). The backward is g − softmax(x)·Σg.
func LogSoftmax(x *Var, axis int) *Var {
	return softmaxOp("LogSoftmax", x, axis, true)
}

func softmaxOp(op string, x *Var, axis int, log bool) *Var {
	axis = x.Value.Axis(op, axis)
	outer, n, inner := reduceDims(x.Shape(), axis)
	xd := x.Value.Contiguous().Data()
	out := tensor.New(x.Shape()...)
	y := out.Data()
	softmaxForward(y, xd, outer, n, inner, log)
	return result(out, func(g *tensor.Tensor) {
		gd := g.Contiguous().Data()
		gx := tensor.New(x.Shape()...)
		softmaxBackward(gx.Data(), gd, y, outer, n, inner, log)
		x.accumulate(gx)
	}, x)
}

// parallelMinElems is the least work (in elements) worth a goroutine in
// the row-parallel loops below.
const parallelMinElems = 1 << 15

// parallelChunks returns how many chunks parallelFor cuts n items of
// elemsPer elements each into: enough for GOMAXPROCS goroutines, none
// smaller than parallelMinElems elements (1 for small jobs).
func parallelChunks(n, elemsPer int) int {
	minItems := max(1, parallelMinElems/max(1, elemsPer))
	return max(1, min(runtime.GOMAXPROCS(0), n/minItems))
}

// parallelFor splits [0, n) into parallelChunks(n, elemsPer) contiguous
// chunks and runs f(chunk, lo, hi) on each, concurrently when there is
// more than one. The split depends only on n, elemsPer and GOMAXPROCS, so
// callers can reduce per-chunk partial results in a fixed order.
func parallelFor(n, elemsPer int, f func(chunk, lo, hi int)) {
	k := parallelChunks(n, elemsPer)
	if k == 1 {
		f(0, 0, n)
		return
	}
	var wg sync.WaitGroup
	for c := 0; c < k; c++ {
		lo, hi := n*c/k, n*(c+1)/k
		wg.Go(func() { f(c, lo, hi) })
	}
	wg.Wait()
}

// softmaxForward writes (log-)softmax of src, viewed as [outer, n, inner]
// and normalised over n, into dst. The last-axis case (inner == 1) runs
// on kernels.SoftmaxRows / LogSoftmaxRows; other axes work on one
// [n, inner] block at a time with per-column statistics, so every loop
// runs over contiguous memory, and exponentiate with kernels.Exp.
func softmaxForward(dst, src []float32, outer, n, inner int, log bool) {
	if n == 0 || outer*inner == 0 {
		return
	}
	if inner == 1 {
		parallelFor(outer, n, func(_, lo, hi int) {
			d, s := dst[lo*n:hi*n], src[lo*n:hi*n]
			if log {
				kernels.LogSoftmaxRows(d, s, hi-lo, n)
			} else {
				kernels.SoftmaxRows(d, s, hi-lo, n)
			}
		})
		return
	}
	blk := n * inner
	parallelFor(outer, blk, func(_, lo, hi int) {
		mx := tensor.Buffer(inner)
		sum := tensor.Buffer(inner)
		for a := lo; a < hi; a++ {
			s := src[a*blk : (a+1)*blk]
			d := dst[a*blk : (a+1)*blk]
			copy(mx, s[:inner])
			for j := 1; j < n; j++ {
				for i, v := range s[j*inner : (j+1)*inner] {
					if v > mx[i] || v != v {
						mx[i] = v
					}
				}
			}
			for j := 0; j < n; j++ {
				row := d[j*inner : (j+1)*inner]
				for i, v := range s[j*inner : (j+1)*inner] {
					row[i] = v - mx[i]
				}
			}
			kernels.Exp(d, d)
			clear(sum)
			for j := 0; j < n; j++ {
				kernels.Add(sum, sum, d[j*inner:(j+1)*inner])
			}
			if log {
				for i := range sum {
					// mx becomes the log-sum-exp of the column.
					mx[i] += float32(math.Log(float64(sum[i])))
				}
				for j := 0; j < n; j++ {
					row := d[j*inner : (j+1)*inner]
					for i, v := range s[j*inner : (j+1)*inner] {
						row[i] = v - mx[i]
					}
				}
				continue
			}
			for i, v := range sum {
				sum[i] = 1 / v
			}
			for j := 0; j < n; j++ {
				row := d[j*inner : (j+1)*inner]
				kernels.Mul(row, row, sum)
			}
		}
	})
}

// softmaxBackward writes into dx the gradient of (log-)softmax given the
// output y and its gradient g, all viewed as [outer, n, inner]:
// y·(g − Σ g·y) for softmax, g − exp(y)·Σg for log-softmax.
func softmaxBackward(dx, g, y []float32, outer, n, inner int, log bool) {
	if n == 0 || outer*inner == 0 {
		return
	}
	if inner == 1 {
		parallelFor(outer, n, func(_, lo, hi int) {
			if !log {
				kernels.SoftmaxRowsBackward(dx[lo*n:hi*n], g[lo*n:hi*n], y[lo*n:hi*n], hi-lo, n)
				return
			}
			for r := lo; r < hi; r++ {
				d, gr := dx[r*n:(r+1)*n], g[r*n:(r+1)*n]
				kernels.Exp(d, y[r*n:(r+1)*n])
				kernels.Scale(-kernels.Sum(gr), d)
				kernels.Add(d, d, gr)
			}
		})
		return
	}
	blk := n * inner
	parallelFor(outer, blk, func(_, lo, hi int) {
		dot := tensor.Buffer(inner)
		for a := lo; a < hi; a++ {
			gb, yb, db := g[a*blk:(a+1)*blk], y[a*blk:(a+1)*blk], dx[a*blk:(a+1)*blk]
			clear(dot)
			for j := 0; j < n; j++ {
				gr, yr := gb[j*inner:(j+1)*inner], yb[j*inner:(j+1)*inner]
				if log {
					kernels.Add(dot, dot, gr)
				} else {
					for i, v := range gr {
						dot[i] += v * yr[i]
					}
				}
			}
			if log {
				kernels.Exp(db, yb)
			}
			for j := 0; j < n; j++ {
				gr, yr, dr := gb[j*inner:(j+1)*inner], yb[j*inner:(j+1)*inner], db[j*inner:(j+1)*inner]
				if log {
					for i, v := range gr {
						dr[i] = v - dr[i]*dot[i]
					}
				} else {
					for i, v := range gr {
						dr[i] = yr[i] * (v - dot[i])
					}
				}
			}
		}
	})
}

// Reduction says how CrossEntropy combines per-sample losses.
type Reduction int

const (
	// ReduceMean averages the per-sample losses (PyTorch's default).
	ReduceMean Reduction = iota
	// ReduceSum adds the per-sample losses.
	ReduceSum
	// ReduceNone returns the per-sample losses, shape [N].
	ReduceNone
)

// String returns "mean", "sum" or "none".
func (r Reduction) String() string {
	switch r {
	case ReduceMean:
		return "mean"
	case ReduceSum:
		return "sum"
	case ReduceNone:
		return "none"
	}
	return fmt.Sprintf("Reduction(%d)", int(r))
}

// CrossEntropy returns the softmax cross-entropy of logits [N, C] against
// class indices targets (length N): loss_i = logsumexp(x_i) − x_i[t_i],
// fused and numerically stable, as torch.nn.functional.cross_entropy.
// ReduceMean and ReduceSum return a scalar (shape []), ReduceNone the
// losses of shape [N]. The backward is (softmax(x_i) − onehot(t_i))
// times the incoming gradient (divided by N for ReduceMean). It panics on
// a non-2-D logits tensor, a length mismatch, a target outside [0, C), or
// ReduceMean over an empty batch.
func CrossEntropy(logits *Var, targets []int, reduction Reduction) *Var {
	s := logits.Shape()
	if len(s) != 2 {
		panic(fmt.Sprintf("autograd.CrossEntropy: logits of shape %v are not [N, C]", s))
	}
	nb, nc := s[0], s[1]
	if len(targets) != nb {
		panic(fmt.Sprintf("autograd.CrossEntropy: %d targets for logits of shape %v", len(targets), s))
	}
	for i, t := range targets {
		if t < 0 || t >= nc {
			panic(fmt.Sprintf("autograd.CrossEntropy: target %d of sample %d out of range [0, %d)", t, i, nc))
		}
	}
	switch reduction {
	case ReduceMean:
		if nb == 0 {
			panic("autograd.CrossEntropy: mean over an empty batch")
		}
	case ReduceSum, ReduceNone:
	default:
		panic(fmt.Sprintf("autograd.CrossEntropy: unknown reduction %v", reduction))
	}
	targets = append([]int(nil), targets...) // the backward must not see later edits
	xd := logits.Value.Contiguous().Data()
	// ls holds the log-probabilities; when the backward will run they are
	// turned into the probabilities it needs.
	ls := tensor.Buffer(nb * nc)
	kernels.LogSoftmaxRows(ls, xd, nb, nc)
	losses := make([]float64, nb)
	for r, t := range targets {
		losses[r] = -float64(ls[r*nc+t])
	}
	var prob []float32
	if logits.requiresGrad && GradEnabled() {
		prob = ls
		kernels.Exp(prob, prob)
	}
	var out *tensor.Tensor
	switch reduction {
	case ReduceNone:
		out = tensor.New(nb)
		for i, l := range losses {
			out.Data()[i] = float32(l)
		}
	default:
		var tot float64
		for _, l := range losses {
			tot += l
		}
		if reduction == ReduceMean {
			tot /= float64(nb)
		}
		out = tensor.Scalar(float32(tot))
	}
	return result(out, func(g *tensor.Tensor) {
		gd := g.Contiguous().Data()
		gx := tensor.New(s...)
		d := gx.Data()
		copy(d, prob)
		for r := 0; r < nb; r++ {
			d[r*nc+targets[r]]--
			var scale float32
			switch reduction {
			case ReduceNone:
				scale = gd[r]
			case ReduceSum:
				scale = gd[0]
			default:
				scale = gd[0] / float32(nb)
			}
			kernels.Scale(scale, d[r*nc:(r+1)*nc])
		}
		logits.accumulate(gx)
	}, logits)
}
