//go:build cuda

package cuda

// Device tests: they need a GPU (gorgonia.org/cu exits the test binary at
// start-up without one). Each kernel is compared with the CPU kernels of
// package kernels on odd shapes, within 1e-5 relative error.

import (
	"fmt"
	"math"
	"math/rand"
	"os"
	"testing"

	cpu "github.com/softcpt/softcpt-go/kernels"
	"github.com/softcpt/softcpt-go/tensor"
)

var dev *Device

func TestMain(m *testing.M) {
	if err := Available(); err != nil {
		fmt.Println("cuda tests:", err)
		os.Exit(1)
	}
	var err error
	dev, err = Open(0)
	if err != nil {
		fmt.Println("cuda tests: open:", err)
		os.Exit(1)
	}
	fmt.Printf("cuda tests on %s\n", dev.Name)
	code := m.Run()
	if err := dev.Close(); err != nil {
		fmt.Println("cuda tests: close:", err)
		code = 1
	}
	os.Exit(code)
}

const tol = 1e-5

func randVec(rng *rand.Rand, n int, scale float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64() * scale)
	}
	return v
}

func upload(t testing.TB, v []float32, shape ...int) *Array {
	t.Helper()
	a, err := dev.ToDevice(tensor.FromSlice(append([]float32(nil), v...), shape...))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func download(t testing.TB, a *Array) []float32 {
	t.Helper()
	h, err := a.ToHost()
	if err != nil {
		t.Fatal(err)
	}
	return h.Data()
}

// elemRel checks |got-want| <= tol*|want| element by element (exact zeros
// must match exactly, up to 1e-30).
func elemRel(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if math.Abs(g-w) > tol*math.Abs(w)+1e-30 && !(math.IsNaN(g) && math.IsNaN(w)) {
			t.Fatalf("%s: [%d] = %g, want %g (rel %.3g)", what, i, g, w, math.Abs(g-w)/math.Abs(w))
		}
	}
}

// rowRel checks max|got-want| <= tol*max|want| over each row of cols
// elements (norm-wise: cancellation makes single elements ill-conditioned).
func rowRel(t *testing.T, what string, got, want []float32, cols int) {
	t.Helper()
	for r := 0; r*cols < len(want); r++ {
		var d, m float64
		for c := 0; c < cols; c++ {
			i := r*cols + c
			d = math.Max(d, math.Abs(float64(got[i]-want[i])))
			m = math.Max(m, math.Abs(float64(want[i])))
		}
		if d > tol*m || math.IsNaN(d) {
			t.Fatalf("%s: row %d max error %g, row max %g (rel %.3g)", what, r, d, m, d/m)
		}
	}
}

func TestRoundTripAndAllocator(t *testing.T) {
	x := tensor.RandN(tensor.NewRNG(1), 0, 1, 3, 5)
	xt := x.Transpose(0, 1) // non-contiguous view
	a, err := dev.ToDevice(xt)
	if err != nil {
		t.Fatal(err)
	}
	got := download(t, a)
	want := xt.Contiguous().Data()
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("round trip [%d] = %v, want %v", i, got[i], want[i])
		}
	}
	p := a.Ptr
	if err := a.Free(); err != nil {
		t.Fatal(err)
	}
	before := dev.AllocStats()
	b, err := dev.Zeros(15)
	if err != nil {
		t.Fatal(err)
	}
	if b.Ptr != p {
		t.Errorf("same-class allocation after free got %#x, want cached %#x", b.Ptr, p)
	}
	for i, v := range download(t, b) {
		if v != 0 {
			t.Fatalf("Zeros[%d] = %v", i, v)
		}
	}
	after := dev.AllocStats()
	if after.Hits != before.Hits+1 {
		t.Errorf("allocator hits %d -> %d, want one more", before.Hits, after.Hits)
	}
	b.Free()
	e, err := dev.Alloc(0, 4)
	if err != nil || e.Ptr != 0 {
		t.Errorf("empty Alloc = %v, %v", e, err)
	}
	if h := download(t, e); len(h) != 0 {
		t.Errorf("empty array downloaded %d elements", len(h))
	}
}

func TestElementwise(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for _, n := range []int{1, 1001, 100003} {
		x := randVec(rng, n, 3)
		y := randVec(rng, n, 3)
		dx, dy := upload(t, x, n), upload(t, y, n)
		out, _ := dev.Alloc(n)
		want := make([]float32, n)
		check := func(name string, err error, ref func()) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s n=%d: %v", name, n, err)
			}
			ref()
			elemRel(t, fmt.Sprintf("%s n=%d", name, n), download(t, out), want)
		}
		check("Add", dev.Add(out, dx, dy), func() { cpu.AddGeneric(want, x, y) })
		check("Mul", dev.Mul(out, dx, dy), func() { cpu.MulGeneric(want, x, y) })
		check("Scale", dev.Scale(out, dx, -0.37), func() { copy(want, x); cpu.ScaleGeneric(-0.37, want) })
		check("Relu", dev.Relu(out, dx), func() { cpu.ReluGeneric(want, x) })
		check("QuickGelu", dev.QuickGelu(out, dx), func() { cpu.QuickGeluGeneric(want, x) })
		check("Exp", dev.Exp(out, dx), func() { cpu.ExpGeneric(want, x) })
		dx.Free()
		dy.Free()
		out.Free()
	}
	// exp over its whole range, subnormal results included.
	x := []float32{-104, -103.9, -100, -87.5, -20, -1e-3, 0, 1e-7, 0.5, 1, 10, 88, 88.7, 89, float32(math.Inf(-1))}
	dx := upload(t, x, len(x))
	out, _ := dev.Alloc(len(x))
	if err := dev.Exp(out, dx); err != nil {
		t.Fatal(err)
	}
	want := make([]float32, len(x))
	cpu.ExpGeneric(want, x)
	got := download(t, out)
	for i := range x {
		w := float64(want[i])
		tolI := tol * math.Abs(w)
		if w != 0 && math.Abs(w) < 1.2e-38 {
			tolI = 2 * 1.4e-45 // subnormal: a couple of units in the last place
		}
		if g := float64(got[i]); !(g == w || math.Abs(g-w) <= tolI) {
			t.Errorf("exp(%g) = %g, want %g", x[i], g, w)
		}
	}
}

func TestSoftmaxRows(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for _, s := range [][2]int{{3, 1}, {7, 77}, {5, 1000}, {2, 4099}, {70000, 3}} {
		rows, cols := s[0], s[1]
		x := randVec(rng, rows*cols, 4)
		dx := upload(t, x, rows, cols)
		out, _ := dev.Alloc(rows, cols)
		if err := dev.SoftmaxRows(out, dx); err != nil {
			t.Fatal(err)
		}
		want := make([]float32, rows*cols)
		cpu.SoftmaxRowsGeneric(want, x, rows, cols)
		elemRel(t, fmt.Sprintf("softmax %dx%d", rows, cols), download(t, out), want)
		dx.Free()
		out.Free()
	}
}

func TestLayerNormRows(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	for _, s := range [][2]int{{1, 1}, {3, 77}, {9, 768}, {2, 3001}} {
		rows, cols := s[0], s[1]
		x := randVec(rng, rows*cols, 2)
		for i := range x {
			x[i] += 5 // a mean far from 0 exercises the two-pass variance
		}
		g, b := randVec(rng, cols, 1), randVec(rng, cols, 1)
		dx, dg, db := upload(t, x, rows, cols), upload(t, g, cols), upload(t, b, cols)
		out, _ := dev.Alloc(rows, cols)
		mean, _ := dev.Alloc(rows)
		rstd, _ := dev.Alloc(rows)
		for _, affine := range []bool{false, true} {
			var gg, bb *Array
			var hg, hb []float32
			if affine {
				gg, bb, hg, hb = dg, db, g, b
			}
			if err := dev.LayerNormRows(out, mean, rstd, dx, gg, bb, 1e-5); err != nil {
				t.Fatal(err)
			}
			want := make([]float32, rows*cols)
			wm, wr := make([]float32, rows), make([]float32, rows)
			cpu.LayerNormRowsGeneric(want, wm, wr, x, hg, hb, rows, cols, 1e-5)
			name := fmt.Sprintf("layernorm %dx%d affine=%v", rows, cols, affine)
			rowRel(t, name, download(t, out), want, cols)
			elemRel(t, name+" mean", download(t, mean), wm)
			elemRel(t, name+" rstd", download(t, rstd), wr)
		}
		for _, a := range []*Array{dx, dg, db, out, mean, rstd} {
			a.Free()
		}
	}
}

func TestCrossEntropy(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	for _, s := range [][2]int{{1, 2}, {5, 10}, {33, 1000}, {3, 5003}} {
		rows, cols := s[0], s[1]
		x := randVec(rng, rows*cols, 3)
		targets := make([]int, rows)
		for i := range targets {
			targets[i] = rng.Intn(cols)
		}
		dx := upload(t, x, rows, cols)
		loss, _ := dev.Alloc(rows)
		if err := dev.CrossEntropy(loss, dx, targets); err != nil {
			t.Fatal(err)
		}
		ls := make([]float32, rows*cols)
		cpu.LogSoftmaxRowsGeneric(ls, x, rows, cols)
		wantLoss := make([]float32, rows)
		for r, tg := range targets {
			wantLoss[r] = -ls[r*cols+tg]
		}
		elemRel(t, fmt.Sprintf("cross-entropy %dx%d", rows, cols), download(t, loss), wantLoss)

		// Backward with per-row upstream gradients (reduction "none") and
		// with a scalar scale (mean).
		g := randVec(rng, rows, 1)
		dg := upload(t, g, rows)
		grad, _ := dev.Alloc(rows, cols)
		for _, perRow := range []bool{true, false} {
			var ga *Array
			scale := float32(1) / float32(rows)
			if perRow {
				ga, scale = dg, 1
			}
			if err := dev.CrossEntropyBackward(grad, dx, targets, ga, scale); err != nil {
				t.Fatal(err)
			}
			want := make([]float32, rows*cols)
			cpu.SoftmaxRowsGeneric(want, x, rows, cols)
			for r, tg := range targets {
				want[r*cols+tg]--
				s := scale
				if perRow {
					s = g[r]
				}
				for c := 0; c < cols; c++ {
					want[r*cols+c] *= s
				}
			}
			rowRel(t, fmt.Sprintf("cross-entropy backward %dx%d perRow=%v", rows, cols, perRow), download(t, grad), want, cols)
		}
		for _, a := range []*Array{dx, loss, dg, grad} {
			a.Free()
		}
	}
}

func TestSGD(t *testing.T) {
	rng := rand.New(rand.NewSource(6))
	n := 10007
	for _, c := range []struct {
		mom, damp, wd float32
		nesterov      bool
	}{{0, 0, 0, false}, {0, 0, 1e-3, false}, {0.9, 0, 5e-4, false}, {0.9, 0.1, 0, false}, {0.9, 0, 1e-4, true}} {
		p, g := randVec(rng, n, 1), randVec(rng, n, 1)
		dp, dg := upload(t, p, n), upload(t, g, n)
		buf, _ := dev.Zeros(n)
		hbuf := make([]float64, n)
		hp := make([]float64, n)
		for i := range p {
			hp[i] = float64(p[i])
		}
		lr := float32(0.01)
		for step := 0; step < 3; step++ {
			if err := dev.SGD(dp, dg, buf, lr, c.wd, c.mom, c.damp, step == 0, c.nesterov); err != nil {
				t.Fatal(err)
			}
			for i := range hp {
				d := float64(g[i]) + float64(c.wd)*hp[i]
				if c.mom != 0 {
					if step == 0 {
						hbuf[i] = d
					} else {
						hbuf[i] = float64(c.mom)*hbuf[i] + (1-float64(c.damp))*d
					}
					if c.nesterov {
						d += float64(c.mom) * hbuf[i]
					} else {
						d = hbuf[i]
					}
				}
				hp[i] -= float64(lr) * d
			}
		}
		want := make([]float32, n)
		for i := range hp {
			want[i] = float32(hp[i])
		}
		// Norm-wise: p - lr d cancels where p ~ lr d, so single elements
		// are ill-conditioned.
		rowRel(t, fmt.Sprintf("SGD %+v", c), download(t, dp), want, n)
		for _, a := range []*Array{dp, dg, buf} {
			a.Free()
		}
	}
}

func TestSgemm(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	for _, s := range [][3]int{{1, 1, 1}, {3, 5, 7}, {129, 131, 17}, {257, 130, 300}, {77, 512, 768}, {64, 200, 0}} {
		m, n, k := s[0], s[1], s[2]
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			for _, beta := range []float32{0, 0.5} {
				ta, tb := tr[0], tr[1]
				ar, ac := m, k
				if ta {
					ar, ac = k, m
				}
				br, bc := k, n
				if tb {
					br, bc = n, k
				}
				lda, ldb, ldc := ac+3, bc+1, n+2
				A := randVec(rng, max(ar*lda, 1), 1)
				B := randVec(rng, max(br*ldb, 1), 1)
				C := randVec(rng, m*ldc, 1)
				da, db, dc := upload(t, A, len(A)), upload(t, B, len(B)), upload(t, C, len(C))
				if err := dev.Sgemm(ta, tb, m, n, k, 1.5, da, lda, db, ldb, beta, dc, ldc); err != nil {
					t.Fatal(err)
				}
				want := append([]float32(nil), C...)
				cpu.SgemmGeneric(ta, tb, m, n, k, 1.5, A, lda, B, ldb, beta, want, ldc)
				got := download(t, dc)
				// Norm-wise over the matrix, the padding columns exact.
				var dmax, wmax float64
				for i := 0; i < m; i++ {
					for j := 0; j < ldc; j++ {
						x := i*ldc + j
						if j >= n {
							if got[x] != C[x] {
								t.Fatalf("sgemm %v trans=%v wrote padding C[%d,%d]", s, tr, i, j)
							}
							continue
						}
						dmax = math.Max(dmax, math.Abs(float64(got[x]-want[x])))
						wmax = math.Max(wmax, math.Abs(float64(want[x])))
					}
				}
				if dmax > tol*wmax || math.IsNaN(dmax) {
					t.Fatalf("sgemm m=%d n=%d k=%d trans=%v beta=%v: max error %g of max %g", m, n, k, tr, beta, dmax, wmax)
				}
				for _, a := range []*Array{da, db, dc} {
					a.Free()
				}
			}
		}
	}
}

// BenchmarkSgemm reports the SGEMM rate on square fp32 problems.
func BenchmarkSgemm(b *testing.B) {
	for _, n := range []int{1024, 4096} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			rng := rand.New(rand.NewSource(8))
			A := upload(b, randVec(rng, n*n, 1), n, n)
			B := upload(b, randVec(rng, n*n, 1), n, n)
			C, _ := dev.Alloc(n, n)
			defer func() { A.Free(); B.Free(); C.Free() }()
			run := func() {
				if err := dev.Sgemm(false, false, n, n, n, 1, A, n, B, n, 0, C, n); err != nil {
					b.Fatal(err)
				}
			}
			run() // warm-up (and the PTX JIT's first use)
			if err := dev.Synchronize(); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				run()
			}
			if err := dev.Synchronize(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(2*float64(n)*float64(n)*float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e12, "TFLOP/s")
		})
	}
}

// BenchmarkSoftmaxRows reports the bandwidth of the row softmax (bytes read
// and written once).
func BenchmarkSoftmaxRows(b *testing.B) {
	rows, cols := 8192, 1024
	rng := rand.New(rand.NewSource(9))
	x := upload(b, randVec(rng, rows*cols, 1), rows, cols)
	y, _ := dev.Alloc(rows, cols)
	defer func() { x.Free(); y.Free() }()
	dev.SoftmaxRows(y, x)
	dev.Synchronize()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := dev.SoftmaxRows(y, x); err != nil {
			b.Fatal(err)
		}
	}
	if err := dev.Synchronize(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(8*float64(rows*cols)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
}
