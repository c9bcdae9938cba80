package natanet

import (
	"fmt"
	"math"

	cpu "github.com/softcpt/softcpt-go/kernels"

	"github.com/softcpt/softcpt-go/cuda/internal/clipnet"
	"github.com/softcpt/softcpt-go/cuda/kernels"
)

// Host is the Backend on the CPU: clipnet.Host plus the Go references of
// train.cu, the CPU softmax for cross-entropy and a Go SGD with the
// arithmetic of sgd_f32. It exists to test the step without a GPU.
type Host struct{ clipnet.Host }

// data returns a's first n elements, panicking when a is shorter.
func data(op string, a *clipnet.HostArray, n int) []float32 {
	if a == nil || len(a.Data) < n {
		l := 0
		if a != nil {
			l = len(a.Data)
		}
		panic(fmt.Sprintf("natanet.Host.%s: array of %d elements, need %d", op, l, n))
	}
	return a.Data[:n]
}

// Zero clears the first n elements.
func (Host) Zero(a *clipnet.HostArray, n int) error {
	clear(data("Zero", a, n))
	return nil
}

// LayerNormSave normalises rows × cols of src into dst and writes the
// row statistics (dst may be src).
func (Host) LayerNormSave(dst, mean, rstd, src, gamma, beta *clipnet.HostArray, rows, cols int, eps float32) error {
	n := rows * cols
	out := make([]float32, n)
	cpu.LayerNormRowsGeneric(out, data("LayerNormSave", mean, rows), data("LayerNormSave", rstd, rows), data("LayerNormSave", src, n),
		data("LayerNormSave", gamma, cols), data("LayerNormSave", beta, cols), rows, cols, eps)
	copy(data("LayerNormSave", dst, n), out)
	return nil
}

// LayerNormBackward runs kernels.LayerNormBackward (gamma required).
func (Host) LayerNormBackward(dx, dy, x, gamma, mean, rstd *clipnet.HostArray, rows, cols int, accumulate bool) error {
	n := rows * cols
	kernels.LayerNormBackward(data("LayerNormBackward", dx, n), data("LayerNormBackward", dy, n), data("LayerNormBackward", x, n),
		data("LayerNormBackward", gamma, cols), data("LayerNormBackward", mean, rows), data("LayerNormBackward", rstd, rows), rows, cols, accumulate)
	return nil
}

// QuickGeluBackward runs kernels.QuickGeluBackward.
func (Host) QuickGeluBackward(dx, dy, x *clipnet.HostArray, n int) error {
	kernels.QuickGeluBackward(data("QuickGeluBackward", dx, n), data("QuickGeluBackward", dy, n), data("QuickGeluBackward", x, n), n)
	return nil
}

// L2NormRows runs kernels.L2NormRows (inv nil for none).
func (Host) L2NormRows(y, inv, x *clipnet.HostArray, rows, cols int) error {
	var iv []float32
	if inv != nil {
		iv = data("L2NormRows", inv, rows)
	}
	kernels.L2NormRows(data("L2NormRows", y, rows*cols), iv, data("L2NormRows", x, rows*cols), rows, cols)
	return nil
}

// L2NormRowsBackward runs kernels.L2NormRowsBackward.
func (Host) L2NormRowsBackward(dx, dy, y, inv *clipnet.HostArray, rows, cols int) error {
	n := rows * cols
	kernels.L2NormRowsBackward(data("L2NormRowsBackward", dx, n), data("L2NormRowsBackward", dy, n), data("L2NormRowsBackward", y, n),
		data("L2NormRowsBackward", inv, rows), rows, cols)
	return nil
}

// ScatterAddRows runs kernels.ScatterAddRows after checking the indices.
func (Host) ScatterAddRows(dst, src *clipnet.HostArray, dstIdx, srcIdx []int, cols int) error {
	if len(dstIdx) != len(srcIdx) {
		panic(fmt.Sprintf("natanet.Host.ScatterAddRows: %d destination and %d source rows", len(dstIdx), len(srcIdx)))
	}
	if err := kernels.CheckRowIndices("natanet.Host.ScatterAddRows dst", dstIdx, len(dst.Data)/cols, true); err != nil {
		panic(err.Error())
	}
	if err := kernels.CheckRowIndices("natanet.Host.ScatterAddRows src", srcIdx, len(src.Data)/cols, false); err != nil {
		panic(err.Error())
	}
	kernels.ScatterAddRows(dst.Data, src.Data, dstIdx, srcIdx, cols)
	return nil
}

// SegmentSumRows runs kernels.SegmentSumRows after checking the indices.
func (Host) SegmentSumRows(dst, src *clipnet.HostArray, idx, offsets []int, cols int) error {
	rows := len(offsets) - 1
	if err := kernels.CheckSegments("natanet.Host.SegmentSumRows", idx, offsets, rows); err != nil {
		panic(err.Error())
	}
	if err := kernels.CheckRowIndices("natanet.Host.SegmentSumRows", idx, len(src.Data)/cols, false); err != nil {
		panic(err.Error())
	}
	kernels.SegmentSumRows(data("SegmentSumRows", dst, rows*cols), src.Data, idx, offsets, cols)
	return nil
}

// AttentionBackward runs kernels.AttentionBackward.
func (Host) AttentionBackward(dq, dk, dv, q, k, v, out, dout, lse, dsum *clipnet.HostArray, p kernels.AttnParams) error {
	if err := p.Check(len(q.Data), len(k.Data), len(v.Data), len(out.Data)); err != nil {
		panic("natanet.Host.AttentionBackward: " + err.Error())
	}
	if err := p.Check(len(dq.Data), len(dk.Data), len(dv.Data), len(dout.Data)); err != nil {
		panic("natanet.Host.AttentionBackward: gradients: " + err.Error())
	}
	kernels.AttentionBackward(dq.Data, dk.Data, dv.Data, q.Data, k.Data, v.Data, out.Data, dout.Data,
		data("AttentionBackward", lse, p.StatRows()), data("AttentionBackward", dsum, p.StatRows()), p)
	return nil
}

func checkTargets(op string, targets []int, rows, cols int) {
	if len(targets) != rows {
		panic(fmt.Sprintf("natanet.Host.%s: %d targets for %d rows", op, len(targets), rows))
	}
	for i, t := range targets {
		if t < 0 || t >= cols {
			panic(fmt.Sprintf("natanet.Host.%s: target %d of row %d outside [0, %d)", op, t, i, cols))
		}
	}
}

// CrossEntropy writes each row's loss from the CPU log-softmax.
func (Host) CrossEntropy(loss, logits *clipnet.HostArray, targets []int, rows, cols int) error {
	checkTargets("CrossEntropy", targets, rows, cols)
	ls := make([]float32, rows*cols)
	cpu.LogSoftmaxRowsGeneric(ls, data("CrossEntropy", logits, rows*cols), rows, cols)
	l := data("CrossEntropy", loss, rows)
	for r, t := range targets {
		l[r] = -ls[r*cols+t]
	}
	return nil
}

// CrossEntropyBackward writes (softmax - onehot)·scale from the CPU
// softmax.
func (Host) CrossEntropyBackward(dx, logits *clipnet.HostArray, targets []int, rows, cols int, scale float32) error {
	checkTargets("CrossEntropyBackward", targets, rows, cols)
	d := data("CrossEntropyBackward", dx, rows*cols)
	cpu.SoftmaxRowsGeneric(d, data("CrossEntropyBackward", logits, rows*cols), rows, cols)
	for r, t := range targets {
		d[r*cols+t]--
	}
	for i := range d {
		d[i] *= scale
	}
	return nil
}

// SGD follows sgd_f32 (no dampening, no Nesterov): d = g + wd·p; buf = d
// on the first step, momentum·buf + d later; p -= lr·buf.
func (Host) SGD(p, g, buf *clipnet.HostArray, n int, lr, wd, momentum float32, first bool) error {
	pd, gd := data("SGD", p, n), data("SGD", g, n)
	var bd []float32
	if momentum != 0 {
		bd = data("SGD", buf, n)
	}
	for i := range pd {
		pv := pd[i]
		d := fma32(wd, pv, gd[i])
		if momentum != 0 {
			b := d
			if !first {
				b = fma32(momentum, bd[i], d)
			}
			bd[i] = b
			d = b
		}
		pd[i] = fma32(-lr, d, pv)
	}
	return nil
}

func fma32(a, b, c float32) float32 { return float32(math.FMA(float64(a), float64(b), float64(c))) }
