package clipnet

import (
	"fmt"
	"math"

	cpu "github.com/softcpt/softcpt-go/kernels"

	"github.com/softcpt/softcpt-go/cuda/kernels"
)

// HostArray is a Host backend array: a float32 slice (a view of another
// array's slice for views) and its shape.
type HostArray struct {
	Data  []float32
	Shape []int
}

// Host is the Backend that runs on the CPU with the Go references of the
// CUDA kernels (cuda/kernels) and the CPU SGEMM and layer norm. It exists
// to test the forward pass and the references without a GPU; it is not
// fast.
type Host struct{}

func numel(shape []int) int {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return n
}

func need(op string, a *HostArray, n int) []float32 {
	if a == nil || len(a.Data) < n {
		var l int
		if a != nil {
			l = len(a.Data)
		}
		panic(fmt.Sprintf("clipnet.Host.%s: array of %d elements, need %d", op, l, n))
	}
	return a.Data
}

// Upload copies data into a new array.
func (Host) Upload(data []float32, shape ...int) (*HostArray, error) {
	if len(data) != numel(shape) {
		panic(fmt.Sprintf("clipnet.Host.Upload: %d values for shape %v", len(data), shape))
	}
	return &HostArray{Data: append([]float32(nil), data...), Shape: append([]int(nil), shape...)}, nil
}

// Alloc returns a new array; it is filled with NaN so that reading an
// element before writing it shows in the results.
func (Host) Alloc(shape ...int) (*HostArray, error) {
	d := make([]float32, numel(shape))
	for i := range d {
		d[i] = float32(nan())
	}
	return &HostArray{Data: d, Shape: append([]int(nil), shape...)}, nil
}

// Free drops the array's storage.
func (Host) Free(a *HostArray) { a.Data, a.Shape = nil, nil }

// View aliases a's elements from off on.
func (Host) View(a *HostArray, off int, shape ...int) *HostArray {
	n := numel(shape)
	return &HostArray{Data: need("View", a, off+n)[off : off+n], Shape: shape}
}

// Download copies the array's elements.
func (Host) Download(a *HostArray) ([]float32, error) { return append([]float32(nil), a.Data...), nil }

// Sgemm runs the CPU SGEMM (which checks the sizes).
func (Host) Sgemm(transA, transB bool, m, n, k int, alpha float32, a *HostArray, lda int, b *HostArray, ldb int, beta float32, c *HostArray, ldc int) error {
	if err := kernels.CheckSgemm(transA, transB, m, n, k, lda, ldb, ldc, len(a.Data), len(b.Data), len(c.Data)); err != nil {
		panic("clipnet.Host.Sgemm: " + err.Error())
	}
	cpu.Sgemm(transA, transB, m, n, k, alpha, a.Data, lda, b.Data, ldb, beta, c.Data, ldc)
	return nil
}

// Add computes dst = a + b over n elements.
func (Host) Add(dst, a, b *HostArray, n int) error {
	cpu.AddGeneric(need("Add", dst, n)[:n], need("Add", a, n)[:n], need("Add", b, n)[:n])
	return nil
}

// LayerNorm normalises rows x cols (dst may be src).
func (Host) LayerNorm(dst, src, gamma, beta *HostArray, rows, cols int, eps float32) error {
	n := rows * cols
	out := make([]float32, n)
	cpu.LayerNormRowsGeneric(out, make([]float32, rows), make([]float32, rows), need("LayerNorm", src, n)[:n],
		need("LayerNorm", gamma, cols)[:cols], need("LayerNorm", beta, cols)[:cols], rows, cols, eps)
	copy(need("LayerNorm", dst, n), out)
	return nil
}

// Im2col runs kernels.Im2colCNHW.
func (Host) Im2col(col, x *HostArray, g kernels.ConvGeom) error {
	if err := g.Check(len(col.Data), len(x.Data)); err != nil {
		panic("clipnet.Host.Im2col: " + err.Error())
	}
	kernels.Im2colCNHW(col.Data, x.Data, g)
	return nil
}

// BiasAct runs kernels.BiasAct (bias nil for none).
func (Host) BiasAct(dst, src, bias *HostArray, inner, nb, n int, act kernels.Act) error {
	var b []float32
	if bias != nil {
		b = need("BiasAct", bias, nb)
	}
	kernels.BiasAct(need("BiasAct", dst, n), need("BiasAct", src, n), b, inner, nb, n, act)
	return nil
}

// AvgPool runs kernels.AvgPool.
func (Host) AvgPool(dst, src *HostArray, planes, h, w, k int) error {
	need("AvgPool", src, planes*h*w)
	kernels.AvgPool(need("AvgPool", dst, planes*(h/k)*(w/k)), src.Data, planes, h, w, k)
	return nil
}

// Transpose01 runs kernels.Transpose01.
func (Host) Transpose01(dst, src *HostArray, a, b, inner int) error {
	kernels.Transpose01(need("Transpose01", dst, a*b*inner), need("Transpose01", src, a*b*inner), a, b, inner)
	return nil
}

// PoolTokens runs kernels.PoolTokens.
func (Host) PoolTokens(seq, x, pos *HostArray, c, n, hw int) error {
	kernels.PoolTokens(need("PoolTokens", seq, n*(hw+1)*c), need("PoolTokens", x, c*n*hw), need("PoolTokens", pos, (hw+1)*c), c, n, hw)
	return nil
}

// GatherRows runs kernels.GatherRows after checking the indices.
func (Host) GatherRows(dst, src *HostArray, idx []int, cols int) error {
	rows := len(src.Data) / cols
	for _, j := range idx {
		if j < 0 || j >= rows {
			panic(fmt.Sprintf("clipnet.Host.GatherRows: row %d of %d", j, rows))
		}
	}
	kernels.GatherRows(need("GatherRows", dst, len(idx)*cols), src.Data, idx, cols)
	return nil
}

// Attention runs kernels.Attention.
func (Host) Attention(out, q, k, v *HostArray, p kernels.AttnParams) error {
	if err := p.Check(len(q.Data), len(k.Data), len(v.Data), len(out.Data)); err != nil {
		panic("clipnet.Host.Attention: " + err.Error())
	}
	kernels.Attention(out.Data, q.Data, k.Data, v.Data, p)
	return nil
}

func nan() float64 { return math.NaN() }
