package backend

import (
	"fmt"
	"math"

	"github.com/softcpt/softcpt-go/kernels"
)

// HostArray is a Host array: a float32 slice (a view of another array's
// slice for views) and its shape.
type HostArray struct {
	Data  []float32
	Shape []int
}

// Host is the Backend on the CPU: the Go references of this package, the
// CPU SGEMM (kernels.Sgemm) and the CPU kernels' generic layer norm and
// softmax. It exists to run and test the model code without a GPU; it is
// not fast. Its methods panic on arrays too short for the sizes given.
type Host struct{}

var _ Backend[*HostArray] = Host{}

func numel(shape []int) int {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return n
}

// data returns a's first n elements, panicking when a is shorter.
func data(op string, a *HostArray, n int) []float32 {
	if a == nil || len(a.Data) < n {
		l := 0
		if a != nil {
			l = len(a.Data)
		}
		panic(fmt.Sprintf("backend.Host.%s: array of %d elements, need %d", op, l, n))
	}
	return a.Data[:n]
}

// Upload copies data into a new array.
func (Host) Upload(data []float32, shape ...int) (*HostArray, error) {
	if len(data) != numel(shape) {
		panic(fmt.Sprintf("backend.Host.Upload: %d values for shape %v", len(data), shape))
	}
	return &HostArray{Data: append([]float32(nil), data...), Shape: append([]int(nil), shape...)}, nil
}

// Alloc returns a new array; it is filled with NaN so that reading an
// element before writing it shows in the results.
func (Host) Alloc(shape ...int) (*HostArray, error) {
	d := make([]float32, numel(shape))
	nan := float32(math.NaN())
	for i := range d {
		d[i] = nan
	}
	return &HostArray{Data: d, Shape: append([]int(nil), shape...)}, nil
}

// Free drops the array's storage.
func (Host) Free(a *HostArray) { a.Data, a.Shape = nil, nil }

// View aliases a's elements from off on.
func (Host) View(a *HostArray, off int, shape ...int) *HostArray {
	n := numel(shape)
	return &HostArray{Data: data("View", a, off+n)[off : off+n], Shape: shape}
}

// Download copies the array's elements.
func (Host) Download(a *HostArray) ([]float32, error) { return append([]float32(nil), a.Data...), nil }

// Zero clears the first n elements.
func (Host) Zero(a *HostArray, n int) error {
	clear(data("Zero", a, n))
	return nil
}

// Sgemm runs the CPU SGEMM after CheckSgemm.
func (Host) Sgemm(transA, transB bool, m, n, k int, alpha float32, a *HostArray, lda int, b *HostArray, ldb int, beta float32, c *HostArray, ldc int) error {
	if err := CheckSgemm(transA, transB, m, n, k, lda, ldb, ldc, len(a.Data), len(b.Data), len(c.Data)); err != nil {
		panic("backend.Host.Sgemm: " + err.Error())
	}
	kernels.Sgemm(transA, transB, m, n, k, alpha, a.Data, lda, b.Data, ldb, beta, c.Data, ldc)
	return nil
}

// Add computes dst = a + b over n elements.
func (Host) Add(dst, a, b *HostArray, n int) error {
	kernels.AddGeneric(data("Add", dst, n), data("Add", a, n), data("Add", b, n))
	return nil
}

// LayerNorm normalises rows x cols (dst may be src).
func (h Host) LayerNorm(dst, src, gamma, beta *HostArray, rows, cols int, eps float32) error {
	return h.LayerNormSave(dst, &HostArray{Data: make([]float32, rows)}, &HostArray{Data: make([]float32, rows)}, src, gamma, beta, rows, cols, eps)
}

// LayerNormSave normalises rows × cols of src into dst and writes the
// row statistics (dst may be src).
func (Host) LayerNormSave(dst, mean, rstd, src, gamma, beta *HostArray, rows, cols int, eps float32) error {
	n := rows * cols
	out := make([]float32, n)
	kernels.LayerNormRowsGeneric(out, data("LayerNormSave", mean, rows), data("LayerNormSave", rstd, rows), data("LayerNormSave", src, n),
		data("LayerNormSave", gamma, cols), data("LayerNormSave", beta, cols), rows, cols, eps)
	copy(data("LayerNormSave", dst, n), out)
	return nil
}

// Im2col runs Im2colCNHW.
func (Host) Im2col(col, x *HostArray, g ConvGeom) error {
	if err := g.Check(len(col.Data), len(x.Data)); err != nil {
		panic("backend.Host.Im2col: " + err.Error())
	}
	Im2colCNHW(col.Data, x.Data, g)
	return nil
}

// BiasAct runs the reference BiasAct (bias nil for none).
func (Host) BiasAct(dst, src, bias *HostArray, inner, nb, n int, act Act) error {
	var b []float32
	if bias != nil {
		b = data("BiasAct", bias, nb)
	}
	BiasAct(data("BiasAct", dst, n), data("BiasAct", src, n), b, inner, nb, n, act)
	return nil
}

// AvgPool runs the reference AvgPool.
func (Host) AvgPool(dst, src *HostArray, planes, h, w, k int) error {
	AvgPool(data("AvgPool", dst, planes*(h/k)*(w/k)), data("AvgPool", src, planes*h*w), planes, h, w, k)
	return nil
}

// Transpose01 runs the reference Transpose01.
func (Host) Transpose01(dst, src *HostArray, a, b, inner int) error {
	Transpose01(data("Transpose01", dst, a*b*inner), data("Transpose01", src, a*b*inner), a, b, inner)
	return nil
}

// PoolTokens runs the reference PoolTokens.
func (Host) PoolTokens(seq, x, pos *HostArray, c, n, hw int) error {
	PoolTokens(data("PoolTokens", seq, n*(hw+1)*c), data("PoolTokens", x, c*n*hw), data("PoolTokens", pos, (hw+1)*c), c, n, hw)
	return nil
}

// GatherRows runs the reference GatherRows after checking the indices.
func (Host) GatherRows(dst, src *HostArray, idx []int, cols int) error {
	if err := CheckRowIndices("backend.Host.GatherRows", idx, len(src.Data)/cols, false); err != nil {
		panic(err.Error())
	}
	GatherRows(data("GatherRows", dst, len(idx)*cols), src.Data, idx, cols)
	return nil
}

// Attention runs the reference Attention.
func (Host) Attention(out, q, k, v *HostArray, p AttnParams) error {
	if err := p.Check(len(q.Data), len(k.Data), len(v.Data), len(out.Data)); err != nil {
		panic("backend.Host.Attention: " + err.Error())
	}
	Attention(out.Data, q.Data, k.Data, v.Data, p)
	return nil
}

// LayerNormBackward runs the reference LayerNormBackward (gamma
// required).
func (Host) LayerNormBackward(dx, dy, x, gamma, mean, rstd *HostArray, rows, cols int, accumulate bool) error {
	n := rows * cols
	LayerNormBackward(data("LayerNormBackward", dx, n), data("LayerNormBackward", dy, n), data("LayerNormBackward", x, n),
		data("LayerNormBackward", gamma, cols), data("LayerNormBackward", mean, rows), data("LayerNormBackward", rstd, rows), rows, cols, accumulate)
	return nil
}

// QuickGeluBackward runs the reference QuickGeluBackward.
func (Host) QuickGeluBackward(dx, dy, x *HostArray, n int) error {
	QuickGeluBackward(data("QuickGeluBackward", dx, n), data("QuickGeluBackward", dy, n), data("QuickGeluBackward", x, n), n)
	return nil
}

// L2NormRows runs the reference L2NormRows (inv nil for none).
func (Host) L2NormRows(y, inv, x *HostArray, rows, cols int) error {
	var iv []float32
	if inv != nil {
		iv = data("L2NormRows", inv, rows)
	}
	L2NormRows(data("L2NormRows", y, rows*cols), iv, data("L2NormRows", x, rows*cols), rows, cols)
	return nil
}

// L2NormRowsBackward runs the reference L2NormRowsBackward.
func (Host) L2NormRowsBackward(dx, dy, y, inv *HostArray, rows, cols int) error {
	n := rows * cols
	L2NormRowsBackward(data("L2NormRowsBackward", dx, n), data("L2NormRowsBackward", dy, n), data("L2NormRowsBackward", y, n),
		data("L2NormRowsBackward", inv, rows), rows, cols)
	return nil
}

// ScatterAddRows runs the reference ScatterAddRows after checking the
// indices.
func (Host) ScatterAddRows(dst, src *HostArray, dstIdx, srcIdx []int, cols int) error {
	if len(dstIdx) != len(srcIdx) {
		panic(fmt.Sprintf("backend.Host.ScatterAddRows: %d destination and %d source rows", len(dstIdx), len(srcIdx)))
	}
	if err := CheckRowIndices("backend.Host.ScatterAddRows dst", dstIdx, len(dst.Data)/cols, true); err != nil {
		panic(err.Error())
	}
	if err := CheckRowIndices("backend.Host.ScatterAddRows src", srcIdx, len(src.Data)/cols, false); err != nil {
		panic(err.Error())
	}
	ScatterAddRows(dst.Data, src.Data, dstIdx, srcIdx, cols)
	return nil
}

// SegmentSumRows runs the reference SegmentSumRows after checking the
// indices.
func (Host) SegmentSumRows(dst, src *HostArray, idx, offsets []int, cols int) error {
	rows := len(offsets) - 1
	if err := CheckSegments("backend.Host.SegmentSumRows", idx, offsets, rows); err != nil {
		panic(err.Error())
	}
	if err := CheckRowIndices("backend.Host.SegmentSumRows", idx, len(src.Data)/cols, false); err != nil {
		panic(err.Error())
	}
	SegmentSumRows(data("SegmentSumRows", dst, rows*cols), src.Data, idx, offsets, cols)
	return nil
}

// AttentionBackward runs the reference AttentionBackward.
func (Host) AttentionBackward(dq, dk, dv, q, k, v, out, dout, lse, dsum *HostArray, p AttnParams) error {
	if err := p.Check(len(q.Data), len(k.Data), len(v.Data), len(out.Data)); err != nil {
		panic("backend.Host.AttentionBackward: " + err.Error())
	}
	if err := p.Check(len(dq.Data), len(dk.Data), len(dv.Data), len(dout.Data)); err != nil {
		panic("backend.Host.AttentionBackward: gradients: " + err.Error())
	}
	AttentionBackward(dq.Data, dk.Data, dv.Data, q.Data, k.Data, v.Data, out.Data, dout.Data,
		data("AttentionBackward", lse, p.StatRows()), data("AttentionBackward", dsum, p.StatRows()), p)
	return nil
}

func checkTargets(op string, targets []int, rows, cols int) {
	if len(targets) != rows {
		panic(fmt.Sprintf("backend.Host.%s: %d targets for %d rows", op, len(targets), rows))
	}
	for i, t := range targets {
		if t < 0 || t >= cols {
			panic(fmt.Sprintf("backend.Host.%s: target %d of row %d outside [0, %d)", op, t, i, cols))
		}
	}
}

// CrossEntropy writes each row's loss from the CPU log-softmax.
func (Host) CrossEntropy(loss, logits *HostArray, targets []int, rows, cols int) error {
	checkTargets("CrossEntropy", targets, rows, cols)
	ls := make([]float32, rows*cols)
	kernels.LogSoftmaxRowsGeneric(ls, data("CrossEntropy", logits, rows*cols), rows, cols)
	l := data("CrossEntropy", loss, rows)
	for r, t := range targets {
		l[r] = -ls[r*cols+t]
	}
	return nil
}

// CrossEntropyBackward writes (softmax - onehot)·scale from the CPU
// softmax.
func (Host) CrossEntropyBackward(dx, logits *HostArray, targets []int, rows, cols int, scale float32) error {
	checkTargets("CrossEntropyBackward", targets, rows, cols)
	d := data("CrossEntropyBackward", dx, rows*cols)
	kernels.SoftmaxRowsGeneric(d, data("CrossEntropyBackward", logits, rows*cols), rows, cols)
	for r, t := range targets {
		d[r*cols+t]--
	}
	for i := range d {
		d[i] *= scale
	}
	return nil
}

// SGD runs the reference SGD.
func (Host) SGD(p, g, buf *HostArray, n int, lr, wd, momentum float32, first bool) error {
	var b []float32
	if momentum != 0 {
		b = data("SGD", buf, n)
	}
	SGD(data("SGD", p, n), data("SGD", g, n), b, lr, wd, momentum, first)
	return nil
}
