package autograd

import (
	"math"
	"testing"

	"github.com/softcpt/softcpt-go/tensor"
)

// refSoftmax is a float64 reference for (log-)softmax of x along axis.
func refSoftmax(x *tensor.Tensor, axis int, log bool) []float64 {
	outer, n, inner := reduceDims(x.Shape(), x.Axis("ref", axis))
	xd := x.Contiguous().Data()
	out := make([]float64, len(xd))
	for a := 0; a < outer; a++ {
		for i := 0; i < inner; i++ {
			at := func(j int) int { return (a*n+j)*inner + i }
			m := math.Inf(-1)
			for j := 0; j < n; j++ {
				m = math.Max(m, float64(xd[at(j)]))
			}
			var s float64
			for j := 0; j < n; j++ {
				s += math.Exp(float64(xd[at(j)]) - m)
			}
			for j := 0; j < n; j++ {
				v := float64(xd[at(j)]) - m
				if log {
					out[at(j)] = v - math.Log(s)
				} else {
					out[at(j)] = math.Exp(v) / s
				}
			}
		}
	}
	return out
}

type axisCase struct {
	shape []int
	axis  int
}

var softmaxCases = []axisCase{
	{[]int{5}, 0}, {[]int{3, 7}, -1}, {[]int{3, 7}, 0}, {[]int{2, 3, 4}, 1},
	{[]int{2, 3, 4}, 0}, {[]int{2, 3, 4}, 2}, {[]int{4, 1, 5}, 1}, {[]int{1, 9}, 1},
}

func TestGradSoftmax(t *testing.T) {
	for i, c := range softmaxCases {
		x := randRange(uint64(20+i), -3, 3, c.shape...)
		check(t, "Softmax", func(v []*Var) *Var { return Softmax(v[0], c.axis) }, x)
		check(t, "LogSoftmax", func(v []*Var) *Var { return LogSoftmax(v[0], c.axis) }, x)
	}
}

func TestSoftmaxForward(t *testing.T) {
	for i, c := range append(softmaxCases, axisCase{[]int{3, 1000}, 1}, axisCase{[]int{6, 77, 5}, 1}) {
		x := randRange(uint64(40+i), -20, 20, c.shape...)
		assertClose64(t, "Softmax", Softmax(Const(x), c.axis).Value.Data(), refSoftmax(x, c.axis, false), 1e-7, 1e-5)
		assertClose64(t, "LogSoftmax", LogSoftmax(Const(x), c.axis).Value.Data(), refSoftmax(x, c.axis, true), 1e-5, 1e-6)
	}
}

func TestSoftmaxKnownValues(t *testing.T) {
	// Slices along either axis sum to 1.
	x := randRange(1, -10, 10, 6, 11)
	for _, axis := range []int{0, 1} {
		y := Softmax(Const(x), axis).Value
		s := Sum(Const(y), axis, false).Value.Data()
		for i, v := range s {
			if math.Abs(float64(v)-1) > 1e-6 {
				t.Fatalf("axis %d: slice %d sums to %v", axis, i, v)
			}
		}
	}
	// Huge logits stay finite.
	big := Const(tensor.FromSlice([]float32{1000, -1000, 0, 1000, 1000, 999}, 2, 3))
	assertClose64(t, "LogSoftmax±1000", LogSoftmax(big, 1).Value.Data(),
		[]float64{0, -2000, -1000, -math.Log(2 + math.Exp(-1)), -math.Log(2 + math.Exp(-1)), -1 - math.Log(2+math.Exp(-1))}, 1e-4, 1e-6)
	assertClose64(t, "Softmax±1000", Softmax(big, 1).Value.Data(),
		[]float64{1, 0, 0, 1 / (2 + math.Exp(-1)), 1 / (2 + math.Exp(-1)), math.Exp(-1) / (2 + math.Exp(-1))}, 1e-7, 1e-6)
	// Gradients of huge logits are finite too.
	v := Param(big.Value.Clone())
	SumAll(Mul(LogSoftmax(v, -1), Const(tensor.FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)))).Backward()
	for _, g := range v.Grad.Data() {
		if math.IsNaN(float64(g)) || math.IsInf(float64(g), 0) {
			t.Fatalf("LogSoftmax gradient %v is not finite", v.Grad.Data())
		}
	}
	requirePanicContains(t, func() { Softmax(Const(tensor.New(2, 3)), 2) }, "Softmax", "[2 3]")
}

// refCrossEntropy is the float64 per-sample loss.
func refCrossEntropy(x *tensor.Tensor, targets []int) []float64 {
	ls := refSoftmax(x, 1, true)
	nc := x.Dim(1)
	out := make([]float64, len(targets))
	for i, c := range targets {
		out[i] = -ls[i*nc+c]
	}
	return out
}

func TestCrossEntropyForward(t *testing.T) {
	for i, s := range [][2]int{{1, 1}, {1, 5}, {4, 3}, {7, 10}, {3, 1000}} {
		nb, nc := s[0], s[1]
		x := randRange(uint64(60+i), -8, 8, nb, nc)
		targets := make([]int, nb)
		for j := range targets {
			targets[j] = (j*7 + i) % nc
		}
		want := refCrossEntropy(x, targets)
		assertClose64(t, "CE none", CrossEntropy(Const(x), targets, ReduceNone).Value.Data(), want, 1e-5, 1e-5)
		var sum float64
		for _, l := range want {
			sum += l
		}
		assertClose64(t, "CE sum", CrossEntropy(Const(x), targets, ReduceSum).Value.Data(), []float64{sum}, 1e-5, 1e-5)
		assertClose64(t, "CE mean", CrossEntropy(Const(x), targets, ReduceMean).Value.Data(), []float64{sum / float64(nb)}, 1e-5, 1e-5)
		if sh := CrossEntropy(Const(x), targets, ReduceMean).Shape(); len(sh) != 0 {
			t.Fatalf("mean loss has shape %v, want []", sh)
		}
	}
	// Uniform logits: loss log C for every target.
	for _, c := range []int{2, 10, 1000} {
		x := tensor.Full(0.25, 3, c)
		got := CrossEntropy(Const(x), []int{0, c / 2, c - 1}, ReduceMean).Value.Item()
		if math.Abs(float64(got)-math.Log(float64(c))) > 1e-5 {
			t.Fatalf("uniform CE over %d classes = %v, want log C = %v", c, got, math.Log(float64(c)))
		}
	}
	// Stable at ±1000: a confident right answer costs 0, a wrong one 2000.
	x := tensor.FromSlice([]float32{1000, -1000, 1000, -1000}, 2, 2)
	assertClose64(t, "CE ±1000", CrossEntropy(Const(x), []int{0, 1}, ReduceNone).Value.Data(), []float64{0, 2000}, 1e-3, 1e-6)
}

func TestGradCrossEntropy(t *testing.T) {
	for i, s := range [][2]int{{1, 1}, {1, 4}, {3, 5}, {6, 9}} {
		nb, nc := s[0], s[1]
		targets := make([]int, nb)
		for j := range targets {
			targets[j] = (j*5 + 2*i) % nc
		}
		x := randRange(uint64(80+i), -3, 3, nb, nc)
		for _, r := range []Reduction{ReduceMean, ReduceSum, ReduceNone} {
			check(t, "CrossEntropy/"+r.String(), func(v []*Var) *Var { return CrossEntropy(v[0], targets, r) }, x)
		}
	}
	// The backward is (softmax − onehot)/N for the mean.
	x := Param(tensor.FromSlice([]float32{0, 0, 0, 0, 1, 2}, 2, 3))
	CrossEntropy(x, []int{1, 2}, ReduceMean).Backward()
	p := refSoftmax(x.Value, 1, false)
	p[1]--
	p[5]--
	for i := range p {
		p[i] /= 2
	}
	assertClose64(t, "CE grad", x.Grad.Data(), p, 1e-7, 1e-6)
	// Changing the caller's targets after the forward does not change the backward.
	targets := []int{0, 1}
	y := Param(tensor.New(2, 3))
	loss := CrossEntropy(y, targets, ReduceSum)
	targets[0] = 2
	loss.Backward()
	if g := y.Grad.At(0, 0); math.Abs(float64(g)+2.0/3) > 1e-6 {
		t.Fatalf("grad at the original target = %v, want -2/3", g)
	}
}

func TestCrossEntropyPanics(t *testing.T) {
	x := Const(tensor.New(2, 3))
	requirePanicContains(t, func() { CrossEntropy(x, []int{0, 3}, ReduceMean) }, "CrossEntropy", "target 3", "[0, 3)")
	requirePanicContains(t, func() { CrossEntropy(x, []int{-1, 0}, ReduceMean) }, "CrossEntropy", "target -1")
	requirePanicContains(t, func() { CrossEntropy(x, []int{0}, ReduceMean) }, "CrossEntropy", "1 targets", "[2 3]")
	requirePanicContains(t, func() { CrossEntropy(Const(tensor.New(2, 3, 4)), []int{0, 1}, ReduceMean) }, "CrossEntropy", "[2 3 4]")
	requirePanicContains(t, func() { CrossEntropy(Const(tensor.New(0, 3)), nil, ReduceMean) }, "CrossEntropy", "empty")
	requirePanicContains(t, func() { CrossEntropy(x, []int{0, 1}, Reduction(9)) }, "CrossEntropy", "Reduction(9)")
	if got := CrossEntropy(Const(tensor.New(0, 3)), nil, ReduceSum).Value.Item(); got != 0 {
		t.Fatalf("sum over an empty batch = %v", got)
	}
}

// BenchmarkSoftmax runs the forward and backward of a softmax over the
// last axis of [800, 77, 77] (a CLIP text-encoder attention map for 100
// prompts × 8 heads). GB/s counts the bytes read and written: x and y in
// the forward, g, y and dx in the backward.
func BenchmarkSoftmax(b *testing.B) {
	x := Param(randRange(1, -4, 4, 800, 77, 77))
	g := randRange(2, -1, 1, 800, 77, 77)
	n := x.Value.Numel()
	b.Run("forward", func(b *testing.B) {
		for b.Loop() {
			NoGrad(func() { Softmax(x, -1) })
		}
		b.ReportMetric(float64(n)*8*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		b.ReportMetric(float64(n/77)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("forward+backward", func(b *testing.B) {
		for b.Loop() {
			Softmax(x, -1).BackwardWith(g)
			x.ZeroGrad()
		}
		b.ReportMetric(float64(n)*20*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		b.ReportMetric(float64(n/77)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})
}

// BenchmarkCrossEntropy runs forward+backward of a mean cross-entropy
// over [32, 1000] logits and reports samples/s.
func BenchmarkCrossEntropy(b *testing.B) {
	x := Param(randRange(1, -4, 4, 32, 1000))
	targets := make([]int, 32)
	for i := range targets {
		targets[i] = i * 31 % 1000
	}
	for b.Loop() {
		CrossEntropy(x, targets, ReduceMean).Backward()
		x.ZeroGrad()
	}
	b.ReportMetric(32*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
}

// TestSoftmaxLarge covers inputs big enough to be split across goroutines
// (see parallelFor), forward and backward, against float64 references.
func TestSoftmaxLarge(t *testing.T) {
	for i, c := range []axisCase{{[]int{70, 1001}, -1}, {[]int{4, 50, 700}, 1}, {[]int{3, 40, 9}, 0}} {
		x := randRange(uint64(90+i), -6, 6, c.shape...)
		g := randRange(uint64(95+i), -1, 1, c.shape...)
		axis := x.Axis("test", c.axis)
		outer, n, inner := reduceDims(c.shape, axis)
		for _, log := range []bool{false, true} {
			f := Softmax
			if log {
				f = LogSoftmax
			}
			v := Param(x)
			y := f(v, c.axis)
			ref := refSoftmax(x, c.axis, log)
			assertClose64(t, "forward", y.Value.Data(), ref, 1e-5, 1e-5)
			y.BackwardWith(g)
			// Reference gradient in float64.
			want := make([]float64, len(ref))
			gd := g.Data()
			for a := 0; a < outer; a++ {
				for k := 0; k < inner; k++ {
					at := func(j int) int { return (a*n+j)*inner + k }
					var s float64
					for j := 0; j < n; j++ {
						if log {
							s += float64(gd[at(j)])
						} else {
							s += float64(gd[at(j)]) * ref[at(j)]
						}
					}
					for j := 0; j < n; j++ {
						if log {
							want[at(j)] = float64(gd[at(j)]) - math.Exp(ref[at(j)])*s
						} else {
							want[at(j)] = ref[at(j)] * (float64(gd[at(j)]) - s)
						}
					}
				}
			}
			assertClose64(t, "backward", v.Grad.Data(), want, 1e-5, 1e-4)
		}
	}
}
