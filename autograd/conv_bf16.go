package autograd

import (
	"fmt"
	"sync"

	"github.com/softcpt/softcpt-go/kernels"
	"github.com/softcpt/softcpt-go/tensor"
)

// PackedConv is a constant convolution weight w [out, in, kh, kw] with its
// filters converted to bf16 for Conv2dActBF16 (on first use, then reused).
// Like PackedWeight it is for frozen models: the bf16 copy is rebuilt when
// w.Value is replaced or the kernel level changes; call Invalidate after
// writing into w.Value in place. It is safe for concurrent use.
type PackedConv struct {
	w *Var

	mu  sync.Mutex
	src *tensor.Tensor
	bf  *kernels.BF16Rows
}

// NewPackedConv wraps the convolution weight w; it panics if w is not 4-D.
func NewPackedConv(w *Var) *PackedConv {
	if w == nil || w.Value.NDim() != 4 {
		var s []int
		if w != nil {
			s = w.Shape()
		}
		panic(fmt.Sprintf("autograd.NewPackedConv: weight of shape %v is not 4-D", s))
	}
	return &PackedConv{w: w}
}

// Weight returns the wrapped weight.
func (p *PackedConv) Weight() *Var { return p.w }

// Invalidate drops the bf16 filters (after in-place writes to the weight).
func (p *PackedConv) Invalidate() {
	p.mu.Lock()
	p.src, p.bf = nil, nil
	p.mu.Unlock()
}

// rows returns the bf16 filter matrix [out, in·kh·kw], converting it if
// needed.
func (p *PackedConv) rows() *kernels.BF16Rows {
	p.mu.Lock()
	defer p.mu.Unlock()
	v := p.w.Value
	if p.bf == nil || p.src != v || p.bf.Level() != kernels.Current() {
		k := v.Numel() / v.Dim(0)
		p.src, p.bf = v, kernels.NewBF16Rows(v.Dim(0), k, v.Contiguous().Data(), k)
	}
	return p.bf
}

// Conv2dActBF16 is Conv2dAct(x, pc.Weight(), b, residual, opt, act) with
// the filters and the input rounded to bf16 and the products summed in
// fp32 (kernels.Conv2dForwardBF16); bias, residual and activation stay
// fp32. Grouped convolutions run in fp32. Like Conv2dAct it is
// forward-only and panics if gradients are wanted.
func Conv2dActBF16(x *Var, pc *PackedConv, b, residual *Var, opt Conv2dOptions, act Activation) *Var {
	return conv2dAct(x, pc.w, b, residual, opt, act, pc)
}
