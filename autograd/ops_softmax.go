package autograd

import (
	"fmt"
	"math"

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

// softmaxForward writes (log-)softmax of src, viewed as [outer, n, inner]
// and normalised over n, into dst.
func softmaxForward(dst, src []float32, outer, n, inner int, log bool) {
	if n == 0 {
		return
	}
	if inner == 1 {
		for r := 0; r < outer; r++ {
			softmaxRow(dst[r*n:(r+1)*n], src[r*n:(r+1)*n], log)
		}
		return
	}
	// Non-last axis: process one [n, inner] block at a time with per-column
	// accumulators, so every inner loop runs over contiguous memory.
	mx := make([]float32, inner)
	sum := make([]float64, inner)
	blk := n * inner
	for a := 0; a < outer; a++ {
		s := src[a*blk : (a+1)*blk]
		d := dst[a*blk : (a+1)*blk]
		copy(mx, s[:inner])
		for j := 1; j < n; j++ {
			for i, v := range s[j*inner : (j+1)*inner] {
				if v > mx[i] {
					mx[i] = v
				}
			}
		}
		clear(sum)
		for j := 0; j < n; j++ {
			row := d[j*inner : (j+1)*inner]
			for i, v := range s[j*inner : (j+1)*inner] {
				e := math.Exp(float64(v - mx[i]))
				sum[i] += e
				row[i] = float32(e)
			}
		}
		if log {
			for i := range sum {
				// mx becomes the log-sum-exp of the column.
				mx[i] += float32(math.Log(sum[i]))
			}
			for j := 0; j < n; j++ {
				row := d[j*inner : (j+1)*inner]
				for i, v := range s[j*inner : (j+1)*inner] {
					row[i] = v - mx[i]
				}
			}
			continue
		}
		for i := range sum {
			sum[i] = 1 / sum[i]
		}
		for j := 0; j < n; j++ {
			row := d[j*inner : (j+1)*inner]
			for i := range row {
				row[i] = float32(float64(row[i]) * sum[i])
			}
		}
	}
}

// softmaxRow writes the (log-)softmax of one contiguous row.
func softmaxRow(dst, src []float32, log bool) {
	m := src[0]
	for _, v := range src[1:] {
		if v > m {
			m = v
		}
	}
	var sum float64
	for i, v := range src {
		e := math.Exp(float64(v - m))
		sum += e
		dst[i] = float32(e)
	}
	if log {
		lse := m + float32(math.Log(sum))
		for i, v := range src {
			dst[i] = v - lse
		}
		return
	}
	inv := float32(1 / sum)
	for i := range dst {
		dst[i] *= inv
	}
}

// softmaxBackward writes into dx the gradient of (log-)softmax given the
// output y and its gradient g, all viewed as [outer, n, inner].
func softmaxBackward(dx, g, y []float32, outer, n, inner int, log bool) {
	if n == 0 {
		return
	}
	if inner == 1 {
		for r := 0; r < outer; r++ {
			lo, hi := r*n, (r+1)*n
			softmaxRowBackward(dx[lo:hi], g[lo:hi], y[lo:hi], log)
		}
		return
	}
	dot := make([]float32, inner)
	blk := n * inner
	for a := 0; a < outer; a++ {
		gb, yb, db := g[a*blk:(a+1)*blk], y[a*blk:(a+1)*blk], dx[a*blk:(a+1)*blk]
		clear(dot)
		for j := 0; j < n; j++ {
			gr, yr := gb[j*inner:(j+1)*inner], yb[j*inner:(j+1)*inner]
			if log {
				for i, v := range gr {
					dot[i] += v
				}
			} else {
				for i, v := range gr {
					dot[i] += v * yr[i]
				}
			}
		}
		for j := 0; j < n; j++ {
			gr, yr, dr := gb[j*inner:(j+1)*inner], yb[j*inner:(j+1)*inner], db[j*inner:(j+1)*inner]
			if log {
				for i, v := range gr {
					dr[i] = v - float32(math.Exp(float64(yr[i])))*dot[i]
				}
			} else {
				for i, v := range gr {
					dr[i] = yr[i] * (v - dot[i])
				}
			}
		}
	}
}

// softmaxRowBackward is softmaxBackward for one contiguous row.
func softmaxRowBackward(dx, g, y []float32, log bool) {
	var dot float32
	if log {
		for _, v := range g {
			dot += v
		}
		for i, v := range g {
			dx[i] = v - float32(math.Exp(float64(y[i])))*dot
		}
		return
	}
	for i, v := range g {
		dot += v * y[i]
	}
	for i, v := range g {
		dx[i] = y[i] * (v - dot)
	}
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
	// Keep the softmax probabilities for the backward only when it will run.
	var prob []float32
	if logits.requiresGrad && GradEnabled() {
		prob = make([]float32, nb*nc)
	}
	losses := make([]float64, nb)
	for r := 0; r < nb; r++ {
		row := xd[r*nc : (r+1)*nc]
		m := row[0]
		for _, v := range row[1:] {
			if v > m {
				m = v
			}
		}
		var sum float64
		if prob != nil {
			p := prob[r*nc : (r+1)*nc]
			for i, v := range row {
				e := math.Exp(float64(v - m))
				sum += e
				p[i] = float32(e)
			}
			inv := float32(1 / sum)
			for i := range p {
				p[i] *= inv
			}
		} else {
			for _, v := range row {
				sum += math.Exp(float64(v - m))
			}
		}
		losses[r] = float64(m) + math.Log(sum) - float64(row[targets[r]])
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
			row := d[r*nc : (r+1)*nc]
			for i := range row {
				row[i] *= scale
			}
		}
		logits.accumulate(gx)
	}, logits)
}
