//go:build cuda

package cuda

import "github.com/softcpt/softcpt-go/kernels/backend"

// Backend returns the device as a backend.Backend of device arrays, on
// which the model code runs: frozen.New(d.Backend(), m) is CLIP's frozen
// towers on the GPU, step.New(d.Backend(), l, m, tok, opt) a prompt
// learner's training step. Its operations run on the device's current
// stream; the index lists and targets are copied to the device.
func (d *Device) Backend() backend.Backend[*Array] { return ops{d} }

// ops is the Device as a backend.Backend: the Device's launches of the
// same signature (Alloc, Sgemm, the forward and backward kernels) plus
// the methods below.
type ops struct{ *Device }

// Upload copies data into a new array of the given shape.
func (o ops) Upload(data []float32, shape ...int) (*Array, error) {
	a, err := o.Alloc(shape...)
	if err != nil {
		return nil, err
	}
	if err := a.CopyFromHost(data); err != nil {
		a.Free()
		return nil, err
	}
	return a, nil
}

// Free returns a's memory to the device's allocator cache.
func (ops) Free(a *Array) { a.Free() }

// View aliases a's elements from off on (Array.View).
func (ops) View(a *Array, off int, shape ...int) *Array { return a.View(off, shape...) }

// Download copies a's elements to the host.
func (ops) Download(a *Array) ([]float32, error) {
	out := make([]float32, a.Numel())
	if err := a.CopyToHost(out); err != nil {
		return nil, err
	}
	return out, nil
}

// Zero clears a's first n elements (Device.Clear).
func (o ops) Zero(a *Array, n int) error { return o.Clear(a, n) }

// Add computes dst = a + b over the first n elements.
func (o ops) Add(dst, a, b *Array, n int) error {
	return o.Device.Add(dst.View(0, n), a.View(0, n), b.View(0, n))
}

// LayerNorm normalises rows × cols of src into dst (Device.LayerNormRows).
func (o ops) LayerNorm(dst, src, gamma, beta *Array, rows, cols int, eps float32) error {
	return o.LayerNormRows(dst.View(0, rows, cols), nil, nil, src.View(0, rows, cols), gamma.View(0, cols), beta.View(0, cols), eps)
}

// LayerNormSave is LayerNorm that also writes each row's mean and rstd.
func (o ops) LayerNormSave(dst, mean, rstd, src, gamma, beta *Array, rows, cols int, eps float32) error {
	return o.LayerNormRows(dst.View(0, rows, cols), mean.View(0, rows), rstd.View(0, rows), src.View(0, rows, cols),
		gamma.View(0, cols), beta.View(0, cols), eps)
}

// CrossEntropy writes each row's loss for logits [rows, cols].
func (o ops) CrossEntropy(loss, logits *Array, targets []int, rows, cols int) error {
	return o.Device.CrossEntropy(loss.View(0, rows), logits.View(0, rows, cols), targets)
}

// CrossEntropyBackward writes (softmax - onehot)·scale for logits [rows,
// cols].
func (o ops) CrossEntropyBackward(dx, logits *Array, targets []int, rows, cols int, scale float32) error {
	return o.Device.CrossEntropyBackward(dx.View(0, rows, cols), logits.View(0, rows, cols), targets, nil, scale)
}

// SGD is one SGD step without dampening and Nesterov (Device.SGD) on n
// parameters.
func (o ops) SGD(p, g, buf *Array, n int, lr, wd, momentum float32, first bool) error {
	var bv *Array
	if momentum != 0 {
		bv = buf.View(0, n)
	}
	return o.Device.SGD(p.View(0, n), g.View(0, n), bv, lr, wd, momentum, 0, first, false)
}
