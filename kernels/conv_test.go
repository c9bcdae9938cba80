package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// naiveConv computes conv2d(x, w) + bias directly in float64.
func naiveConv(s Conv2dShape, x, w, bias []float32) []float64 {
	oh, ow := s.OutH(), s.OutW()
	sh, sw, dh, dw := orOne(s.StrideH), orOne(s.StrideW), orOne(s.DilH), orOne(s.DilW)
	out := make([]float64, s.N*s.K*oh*ow)
	for n := 0; n < s.N; n++ {
		for k := 0; k < s.K; k++ {
			for y := 0; y < oh; y++ {
				for q := 0; q < ow; q++ {
					var sum float64
					if bias != nil {
						sum = float64(bias[k])
					}
					for c := 0; c < s.C; c++ {
						for i := 0; i < s.KH; i++ {
							for j := 0; j < s.KW; j++ {
								iy, ix := y*sh-s.PadH+i*dh, q*sw-s.PadW+j*dw
								if iy < 0 || iy >= s.H || ix < 0 || ix >= s.W {
									continue
								}
								sum += float64(x[((n*s.C+c)*s.H+iy)*s.W+ix]) * float64(w[((k*s.C+c)*s.KH+i)*s.KW+j])
							}
						}
					}
					out[((n*s.K+k)*oh+y)*ow+q] = sum
				}
			}
		}
	}
	return out
}

var convShapes = []Conv2dShape{
	{N: 1, C: 1, H: 1, W: 1, K: 1, KH: 1, KW: 1},
	{N: 2, C: 3, H: 7, W: 5, K: 4, KH: 3, KW: 3, PadH: 1, PadW: 1},
	{N: 3, C: 2, H: 9, W: 11, K: 5, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1},
	{N: 2, C: 5, H: 8, W: 6, K: 3, KH: 1, KW: 1},
	{N: 2, C: 4, H: 9, W: 7, K: 6, KH: 1, KW: 1, StrideH: 2, StrideW: 2},
	{N: 1, C: 3, H: 13, W: 10, K: 2, KH: 5, KW: 3, StrideH: 3, StrideW: 1, PadH: 2, PadW: 0},
	{N: 2, C: 2, H: 10, W: 9, K: 3, KH: 3, KW: 2, PadH: 2, PadW: 1, DilH: 2, DilW: 3},
	{N: 1, C: 3, H: 5, W: 5, K: 2, KH: 7, KW: 7, PadH: 3, PadW: 3, StrideH: 2, StrideW: 2},
	{N: 3, C: 16, H: 14, W: 14, K: 20, KH: 3, KW: 3, PadH: 1, PadW: 1},
	{N: 2, C: 3, H: 32, W: 33, K: 5, KH: 1, KW: 1}, // pointwise, one GEMM per image
	{N: 3, C: 7, H: 5, W: 5, K: 17, KH: 1, KW: 1},  // pointwise, images side by side
	// Segments of a 4-column (Generic) panel entirely in the padding.
	{N: 1, C: 2, H: 8, W: 7, K: 3, KH: 3, KW: 3, PadH: 2, PadW: 2, DilH: 2, DilW: 2},
	// GEMM n = 8192 > nc (several column blocks) and, at GOMAXPROCS > 1,
	// split over columns; then m = 700 split over rows.
	{N: 2, C: 3, H: 64, W: 64, K: 20, KH: 3, KW: 3, PadH: 1, PadW: 1},
	{N: 2, C: 2, H: 12, W: 12, K: 700, KH: 3, KW: 3, PadH: 1, PadW: 1},
}

// forEachIm2col runs f with the implicit im2col packing and with the
// materialised im2col matrix.
func forEachIm2col(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	prev := implicitIm2col
	defer func() { implicitIm2col = prev }()
	for _, on := range []bool{true, false} {
		implicitIm2col = on
		t.Run(fmt.Sprintf("implicit=%v", on), f)
	}
}

// TestImplicitIm2colExact checks that packing B straight from the images
// gives bit for bit the result of materialising the im2col matrix (the
// packed panels, hence the GEMM's arithmetic, are identical).
func TestImplicitIm2colExact(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(21, 22))
		prev := implicitIm2col
		defer func() { implicitIm2col = prev }()
		for _, s := range convShapes {
			x := randSlice(r, s.N*s.C*s.H*s.W)
			w := randSlice(r, s.K*s.ColRows())
			n := s.N * s.K * s.ColCols()
			want, got := make([]float32, n), make([]float32, n)
			implicitIm2col = false
			Conv2dForward(s, x, w, nil, want)
			implicitIm2col = true
			Conv2dForward(s, x, w, nil, got)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("%+v: implicit out[%d] = %v, explicit %v", s, i, got[i], want[i])
				}
			}
		}
	})
}

func convTol(got float32, want, scale float64) bool {
	return !math.IsNaN(float64(got)) && math.Abs(float64(got)-want) <= 1e-5*scale+1e-6
}

func TestIm2colMatchesNaiveConv(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, s := range convShapes {
		x := randSlice(r, s.N*s.C*s.H*s.W)
		w := randSlice(r, s.K*s.ColRows())
		want := naiveConv(s, x, w, nil)
		p := s.ColCols()
		col := make([]float32, s.ColRows()*p)
		for n := 0; n < s.N; n++ {
			for i := range col {
				col[i] = float32(math.NaN()) // Im2col must write every entry
			}
			Im2col(s, x[n*s.C*s.H*s.W:], col)
			for k := 0; k < s.K; k++ {
				for q := 0; q < p; q++ {
					var sum float64
					for rr := 0; rr < s.ColRows(); rr++ {
						sum += float64(w[k*s.ColRows()+rr]) * float64(col[rr*p+q])
					}
					if w := want[(n*s.K+k)*p+q]; math.IsNaN(sum) || math.Abs(sum-w) > 1e-4 {
						t.Fatalf("%+v: w·im2col[%d,%d] of image %d = %v, want %v", s, k, q, n, sum, w)
					}
				}
			}
		}
	}
}

func TestCol2imAdjoint(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, s := range convShapes {
		x := randSlice(r, s.C*s.H*s.W)
		y := randSlice(r, s.ColRows()*s.ColCols())
		col := make([]float32, len(y))
		Im2col(s, x, col)
		xt := randSlice(r, len(x)) // garbage: Col2im must overwrite
		Col2im(s, y, xt)
		var lhs, rhs, scale float64
		for i := range y {
			lhs += float64(col[i]) * float64(y[i])
			scale += math.Abs(float64(col[i]) * float64(y[i]))
		}
		for i := range x {
			rhs += float64(x[i]) * float64(xt[i])
		}
		if math.Abs(lhs-rhs) > 1e-5*scale+1e-6 {
			t.Fatalf("%+v: <im2col(x),y> = %v but <x,col2im(y)> = %v", s, lhs, rhs)
		}
	}
}

func TestConv2dForward(t *testing.T) {
	forEachLevel(t, func(t *testing.T) { forEachIm2col(t, testConv2dForward) })
}

func testConv2dForward(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for _, s := range convShapes {
		for _, withBias := range []bool{false, true} {
			x := randSlice(r, s.N*s.C*s.H*s.W)
			w := randSlice(r, s.K*s.ColRows())
			var bias []float32
			if withBias {
				bias = randSlice(r, s.K)
			}
			want := naiveConv(s, x, w, bias)
			out := make([]float32, len(want)+5)
			for i := range out {
				out[i] = float32(math.NaN())
			}
			Conv2dForward(s, x, w, bias, out[:len(want)])
			for i, v := range want {
				if !convTol(out[i], v, float64(s.ColRows())*4) {
					t.Fatalf("%+v bias=%v: out[%d] = %v, want %v", s, withBias, i, out[i], v)
				}
			}
			for i := len(want); i < len(out); i++ {
				if !math.IsNaN(float64(out[i])) {
					t.Fatalf("%+v: wrote past out", s)
				}
			}
		}
	}
}

// TestConv2dForwardFused checks every epilogue against the naive
// convolution and, bit for bit, against Conv2dForward followed by the
// separate residual add and ReLU passes it replaces.
func TestConv2dForwardFused(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(19, 20))
		for _, s := range convShapes {
			x := randSlice(r, s.N*s.C*s.H*s.W)
			w := randSlice(r, s.K*s.ColRows())
			n := s.N * s.K * s.ColCols()
			for _, withBias := range []bool{false, true} {
				for _, withRes := range []bool{false, true} {
					for _, relu := range []bool{false, true} {
						var ep ConvEpilogue
						if withBias {
							ep.Bias = randSlice(r, s.K)
						}
						if withRes {
							ep.Residual = randSlice(r, n)
						}
						ep.ReLU = relu
						name := fmt.Sprintf("%+v bias=%v res=%v relu=%v", s, withBias, withRes, relu)
						naive := naiveConv(s, x, w, ep.Bias)
						want := make([]float32, n)
						Conv2dForward(s, x, w, ep.Bias, want)
						for i := range want {
							if withRes {
								want[i] += ep.Residual[i]
								naive[i] += float64(ep.Residual[i])
							}
							if relu {
								want[i] = max(want[i], 0)
								naive[i] = max(naive[i], 0)
							}
						}
						out := make([]float32, n+3)
						for i := range out {
							out[i] = float32(math.NaN())
						}
						Conv2dForwardFused(s, x, w, ep, out[:n])
						for i := range want {
							if out[i] != want[i] {
								t.Fatalf("%s: out[%d] = %v, unfused %v", name, i, out[i], want[i])
							}
							if !convTol(out[i], naive[i], float64(s.ColRows())*4+4) {
								t.Fatalf("%s: out[%d] = %v, naive %v", name, i, out[i], naive[i])
							}
						}
						for i := n; i < len(out); i++ {
							if !math.IsNaN(float64(out[i])) {
								t.Fatalf("%s: wrote past out", name)
							}
						}
					}
				}
			}
		}
	})
}

// TestConv2dBackward checks the gradients of L = Σ out·g against the
// adjoint identities built from the naive convolution.
func TestConv2dBackward(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	for _, s := range convShapes {
		x := randSlice(r, s.N*s.C*s.H*s.W)
		w := randSlice(r, s.K*s.ColRows())
		g := randSlice(r, s.N*s.K*s.ColCols())
		dx := randSlice(r, len(x))
		dw := randSlice(r, len(w))
		db := randSlice(r, s.K)
		Conv2dBackward(s, x, w, g, dx, dw, db)
		dot := func(o []float64) float64 {
			var sum float64
			for i, v := range o {
				sum += v * float64(g[i])
			}
			return sum
		}
		// The conv is linear in x, w and bias separately, so for a random
		// direction v: <dL/dx, v> = L(x=v), and likewise for w and bias.
		vx, vw, vb := randSlice(r, len(x)), randSlice(r, len(w)), randSlice(r, s.K)
		check := func(name string, grad, v []float32, want float64) {
			var got, scale float64
			for i := range grad {
				got += float64(grad[i]) * float64(v[i])
				scale += math.Abs(float64(grad[i]) * float64(v[i]))
			}
			if math.IsNaN(got) || math.Abs(got-want) > 1e-4*scale+1e-4 {
				t.Fatalf("%+v: <d%s, v> = %v, want %v", s, name, got, want)
			}
		}
		check("x", dx, vx, dot(naiveConv(s, vx, w, nil)))
		check("w", dw, vw, dot(naiveConv(s, x, vw, nil)))
		zero := make([]float32, len(x))
		zw := make([]float32, len(w))
		check("bias", db, vb, dot(naiveConv(s, zero, zw, vb)))
	}
}

func TestConvPanics(t *testing.T) {
	s := Conv2dShape{N: 1, C: 2, H: 4, W: 4, K: 3, KH: 3, KW: 3}
	for name, f := range map[string]func(){
		"short x": func() { Conv2dForward(s, make([]float32, 10), make([]float32, 54), nil, make([]float32, 12)) },
		"short residual": func() {
			Conv2dForwardFused(s, make([]float32, 32), make([]float32, 54), ConvEpilogue{Residual: make([]float32, 11)}, make([]float32, 12))
		},
		"too large": func() { Im2col(Conv2dShape{C: 1, H: 2, W: 2, KH: 3, KW: 3}, make([]float32, 4), make([]float32, 9)) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if r := recover(); r == nil {
					t.Fatal("no panic")
				} else if msg := fmt.Sprint(r); len(msg) < 10 {
					t.Fatalf("uninformative panic %q", msg)
				}
			}()
			f()
		})
	}
}
