package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// roundedBF16 returns a copy of x rounded to bf16.
func roundedBF16(x []float32) []float32 {
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = bf16Round(v)
	}
	return y
}

// TestConv2dForwardBF16 checks the bf16 convolution on the convolution
// test shapes (odd C·KH·KW, pointwise direct and side-by-side, strided,
// dilated, split over goroutines), with every epilogue, small blocking (so
// several k-blocks), one and two goroutines, NaN past the output:
// against a float64 convolution of the bf16-rounded inputs (so only fp32
// summation error is allowed: a wrong pairing or rounding fails), and the
// assembly against the Go twins bit for bit.
func TestConv2dForwardBF16(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	shapes := append(convShapes, Conv2dShape{N: 2, C: 37, H: 6, W: 5, K: 30, KH: 3, KW: 3, PadH: 1, PadW: 1})
	withSmallBlocks(func() {
		for _, procs := range []int{1, 2} {
			old := runtime.GOMAXPROCS(procs)
			for _, s := range shapes {
				x := randSlice(r, s.N*s.C*s.H*s.W)
				w := randSlice(r, s.K*s.ColRows())
				n := s.N * s.K * s.ColCols()
				ep := ConvEpilogue{Bias: randSlice(r, s.K), Residual: randSlice(r, n), ReLU: procs == 2}
				wb := NewBF16Rows(s.K, s.ColRows(), w, s.ColRows())
				name := fmt.Sprintf("procs=%d %+v", procs, s)
				out := make([]float32, n+3)
				for i := range out {
					out[i] = float32(math.NaN())
				}
				Conv2dForwardBF16(s, x, wb, ep, out[:n])
				for i := n; i < len(out); i++ {
					if !math.IsNaN(float64(out[i])) {
						t.Fatalf("%s: wrote past out", name)
					}
				}
				if !wb.IsBF16() {
					continue
				}
				naive := naiveConv(s, roundedBF16(x), roundedBF16(w), ep.Bias)
				abs := naiveConv(s, absSlice(roundedBF16(x)), absSlice(roundedBF16(w)), absSlice(ep.Bias))
				for i := 0; i < n; i++ {
					want := naive[i] + float64(ep.Residual[i])
					if ep.ReLU {
						want = max(want, 0)
					}
					tol := float64(s.ColRows()+8)/(1<<23)*(abs[i]+math.Abs(float64(ep.Residual[i]))) + 1e-30
					if math.Abs(float64(out[i])-want) > tol {
						t.Fatalf("%s: out[%d] = %v, want %v (tol %g)", name, i, out[i], want, tol)
					}
				}
				bf16UseAsm = false
				twin := make([]float32, n)
				Conv2dForwardBF16(s, x, NewBF16Rows(s.K, s.ColRows(), w, s.ColRows()), ep, twin)
				bf16UseAsm = haveAsm
				for i := range twin {
					if math.Float32bits(twin[i]) != math.Float32bits(out[i]) {
						t.Fatalf("%s: out[%d] = %v, Go twin %v", name, i, out[i], twin[i])
					}
				}
			}
			runtime.GOMAXPROCS(old)
		}
	})
}

func absSlice(x []float32) []float32 {
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = float32(math.Abs(float64(v)))
	}
	return y
}

// TestConv2dForwardBF16Fallback checks that at a level without bf16
// kernels the bf16 convolution is the fp32 fused one, bit for bit.
func TestConv2dForwardBF16Fallback(t *testing.T) {
	prev, err := SetLevel(Generic)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = SetLevel(prev) }()
	r := rand.New(rand.NewPCG(33, 34))
	s := convShapes[2]
	x, w := randSlice(r, s.N*s.C*s.H*s.W), randSlice(r, s.K*s.ColRows())
	n := s.N * s.K * s.ColCols()
	ep := ConvEpilogue{Bias: randSlice(r, s.K), ReLU: true}
	got, want := make([]float32, n), make([]float32, n)
	Conv2dForwardBF16(s, x, NewBF16Rows(s.K, s.ColRows(), w, s.ColRows()), ep, got)
	Conv2dForwardFused(s, x, w, ep, want)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("out[%d] = %v, fp32 %v", i, got[i], want[i])
		}
	}
}
