//go:build cuda

package cuda

import (
	"fmt"

	"gorgonia.org/cu"

	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/cuda/internal/clipnet"
	"github.com/softcpt/softcpt-go/cuda/kernels"
	"github.com/softcpt/softcpt-go/tensor"
)

// CLIP is a frozen copy of a clip.Model on a Device: the parameters the
// forward pass reads are uploaded once (ResNet BatchNorm folded into the
// convolutions), and EncodeImage/EncodeText run the towers with the
// kernels of cuda/kernels/clip.cu plus Sgemm and LayerNormRows: the
// ModifiedResNet or the VisionTransformer image tower (patch convolution
// as im2col + GEMM, class and positional embeddings, ln_pre, the text
// tower's residual blocks without a mask, ln_post, projection) and the
// text tower. Methods may be called from any goroutine, one at a time.
type CLIP struct {
	d   *Device
	net *clipnet.Net[*Array]
}

// NewCLIP uploads m's parameters to dev. The copy does not follow later
// changes of m.
func NewCLIP(dev *Device, m *clip.Model) (*CLIP, error) {
	net, err := clipnet.New[*Array](devBackend{dev}, m)
	if err != nil {
		return nil, err
	}
	return &CLIP{d: dev, net: net}, nil
}

// Config returns the model's architecture.
func (c *CLIP) Config() clip.Config { return c.net.Config() }

// EncodeImage returns the image features [N, EmbedDim] of preprocessed
// images [N, 3, R, R], as clip.Model.EncodeImage.
func (c *CLIP) EncodeImage(images *tensor.Tensor) (*tensor.Tensor, error) {
	return c.net.EncodeImage(images)
}

// EncodeText returns the text features [B, EmbedDim] of token ids [B, T]
// (row-major, T ≤ ContextLength), as clip.Model.EncodeText: the batch is
// cut after its last EOT (the largest id of a row), the causal transformer
// runs on the rest and each row is pooled at its EOT. Ids outside the
// vocabulary are an error.
func (c *CLIP) EncodeText(ids []int, batch, length int) (*tensor.Tensor, error) {
	return c.net.EncodeText(ids, batch, length)
}

// Free returns the parameters' device memory to the allocator.
func (c *CLIP) Free() { c.net.Free() }

// devBackend is clipnet's Backend on a Device.
type devBackend struct{ d *Device }

func (b devBackend) Upload(data []float32, shape ...int) (*Array, error) {
	a, err := b.d.Alloc(shape...)
	if err != nil {
		return nil, err
	}
	if err := a.CopyFromHost(data); err != nil {
		a.Free()
		return nil, err
	}
	return a, nil
}

func (b devBackend) Alloc(shape ...int) (*Array, error) { return b.d.Alloc(shape...) }
func (b devBackend) Free(a *Array)                      { a.Free() }

func (b devBackend) View(a *Array, off int, shape ...int) *Array { return a.View(off, shape...) }

func (b devBackend) Download(a *Array) ([]float32, error) {
	out := make([]float32, a.Numel())
	if err := a.CopyToHost(out); err != nil {
		return nil, err
	}
	return out, nil
}

func (b devBackend) Sgemm(transA, transB bool, m, n, k int, alpha float32, x *Array, lda int, y *Array, ldb int, beta float32, c *Array, ldc int) error {
	return b.d.Sgemm(transA, transB, m, n, k, alpha, x, lda, y, ldb, beta, c, ldc)
}

func (b devBackend) Add(dst, x, y *Array, n int) error {
	return b.d.Add(dst.View(0, n), x.View(0, n), y.View(0, n))
}

func (b devBackend) LayerNorm(dst, src, gamma, beta *Array, rows, cols int, eps float32) error {
	return b.d.LayerNormRows(dst.View(0, rows, cols), nil, nil, src.View(0, rows, cols), gamma.View(0, cols), beta.View(0, cols), eps)
}

func (b devBackend) Im2col(col, x *Array, g kernels.ConvGeom) error { return b.d.Im2col(col, x, g) }
func (b devBackend) BiasAct(dst, src, bias *Array, inner, nb, n int, act kernels.Act) error {
	return b.d.BiasAct(dst, src, bias, inner, nb, n, act)
}
func (b devBackend) AvgPool(dst, src *Array, planes, h, w, k int) error {
	return b.d.AvgPool(dst, src, planes, h, w, k)
}
func (b devBackend) Transpose01(dst, src *Array, x, y, inner int) error {
	return b.d.Transpose01(dst, src, x, y, inner)
}
func (b devBackend) PoolTokens(seq, x, pos *Array, c, n, hw int) error {
	return b.d.PoolTokens(seq, x, pos, c, n, hw)
}
func (b devBackend) GatherRows(dst, src *Array, idx []int, cols int) error {
	return b.d.GatherRows(dst, src, idx, cols)
}
func (b devBackend) Attention(out, q, k, v *Array, p kernels.AttnParams) error {
	return b.d.Attention(out, q, k, v, p)
}

// View returns an array aliasing a's elements from off on with the given
// shape. It must not be freed (Free on a view would hand a's memory back).
// It panics when the view does not fit in a.
func (a *Array) View(off int, shape ...int) *Array {
	n := tensor.Numel(shape)
	if off < 0 || off+n > a.Numel() {
		panic(fmt.Sprintf("cuda.View: %d elements from %d of an array of shape %v", n, off, a.Shape))
	}
	return &Array{Ptr: a.Ptr + cu.DevicePtr(4*off), Shape: append([]int(nil), shape...), d: a.d}
}

// need panics unless a holds at least n elements.
func need(op, name string, a *Array, n int) {
	if a == nil || a.Numel() < n {
		var shape []int
		if a != nil {
			shape = a.Shape
		}
		panic(fmt.Sprintf("cuda.%s: %s of shape %v, need %d elements", op, name, shape, n))
	}
}

// Im2col writes col [C*KH*KW, N*OH*OW] from channel-major x [C, N, H, W]
// (kernels.Im2colCNHW).
func (d *Device) Im2col(col, x *Array, g kernels.ConvGeom) error {
	if err := g.Check(col.Numel(), x.Numel()); err != nil {
		panic("cuda.Im2col: " + err.Error())
	}
	return d.launch("im2col_cnhw_f32", kernels.Grid1D(g.Rows()*g.Cols()), ptrArg(col), ptrArg(x), intArg(g.C), intArg(g.N),
		intArg(g.H), intArg(g.W), intArg(g.KH), intArg(g.KW), intArg(g.Stride), intArg(g.Pad), intArg(g.OH()), intArg(g.OW()))
}

// BiasAct computes dst[i] = act(src[i] + bias[(i/inner)%nb]) for i < n
// (kernels.BiasAct); bias nil adds nothing. dst may be src.
func (d *Device) BiasAct(dst, src, bias *Array, inner, nb, n int, act kernels.Act) error {
	need("BiasAct", "dst", dst, n)
	need("BiasAct", "src", src, n)
	if inner <= 0 || nb <= 0 {
		panic(fmt.Sprintf("cuda.BiasAct: inner %d, nb %d", inner, nb))
	}
	if bias != nil {
		need("BiasAct", "bias", bias, nb)
	}
	return d.launch("bias_act_f32", kernels.Grid1D(n), ptrArg(dst), ptrArg(src), ptrArg(bias), intArg(inner), intArg(nb), intArg(n), intArg(int(act)))
}

// AvgPool averages the k x k windows (stride k) of src [planes, h, w] into
// dst [planes, h/k, w/k] (kernels.AvgPool).
func (d *Device) AvgPool(dst, src *Array, planes, h, w, k int) error {
	if k <= 0 || h < k || w < k {
		panic(fmt.Sprintf("cuda.AvgPool: window %d for %dx%d", k, h, w))
	}
	need("AvgPool", "src", src, planes*h*w)
	need("AvgPool", "dst", dst, planes*(h/k)*(w/k))
	return d.launch("avgpool_f32", kernels.Grid1D(planes*(h/k)*(w/k)), ptrArg(dst), ptrArg(src), intArg(planes), intArg(h), intArg(w), intArg(k))
}

// Transpose01 writes dst [b, a, inner] from src [a, b, inner]
// (kernels.Transpose01). dst must not overlap src.
func (d *Device) Transpose01(dst, src *Array, a, b, inner int) error {
	need("Transpose01", "src", src, a*b*inner)
	need("Transpose01", "dst", dst, a*b*inner)
	return d.launch("transpose01_f32", kernels.Grid1D(a*b*inner), ptrArg(dst), ptrArg(src), intArg(a), intArg(b), intArg(inner))
}

// PoolTokens writes the attention pool's sequence seq [N, HW+1, C] from
// channel-major x [C, N, HW] plus pos [HW+1, C] (kernels.PoolTokens).
func (d *Device) PoolTokens(seq, x, pos *Array, c, n, hw int) error {
	need("PoolTokens", "seq", seq, n*(hw+1)*c)
	need("PoolTokens", "x", x, c*n*hw)
	need("PoolTokens", "pos", pos, (hw+1)*c)
	return d.launch("pool_tokens_f32", kernels.Grid1D(n*(hw+1)*c), ptrArg(seq), ptrArg(x), ptrArg(pos), intArg(c), intArg(n), intArg(hw))
}

// GatherRows writes dst[r] = src[idx[r]] for rows of cols elements; it
// panics on an index outside src's rows.
func (d *Device) GatherRows(dst, src *Array, idx []int, cols int) error {
	if cols <= 0 {
		panic(fmt.Sprintf("cuda.GatherRows: %d columns", cols))
	}
	rows := src.Numel() / cols
	need("GatherRows", "dst", dst, len(idx)*cols)
	t64 := make([]int64, len(idx))
	for i, j := range idx {
		if j < 0 || j >= rows {
			panic(fmt.Sprintf("cuda.GatherRows: index %d (at %d) outside the %d rows of src %v", j, i, rows, src.Shape))
		}
		t64[i] = int64(j)
	}
	return d.withTargets(t64, func(p uint64) error {
		return d.launchLocked("gather_rows_f32", kernels.Grid1D(len(idx)*cols), ptrArg(dst), ptrArg(src), p, intArg(len(idx)), intArg(cols))
	})
}

// Attention computes softmax(q kᵀ scale [+ causal mask]) v per batch, head
// and query with the layout of p (kernels.AttnParams, kernels.Attention).
func (d *Device) Attention(out, q, k, v *Array, p kernels.AttnParams) error {
	if err := p.Check(q.Numel(), k.Numel(), v.Numel(), out.Numel()); err != nil {
		panic("cuda.Attention: " + err.Error())
	}
	return d.launch("attention_f32", kernels.Grid1D(p.Threads()), ptrArg(out), ptrArg(q), ptrArg(k), ptrArg(v),
		intArg(p.Batch), intArg(p.Heads), intArg(p.Tq), intArg(p.Tk), intArg(p.D),
		intArg(p.QRow), intArg(p.KRow), intArg(p.VRow), intArg(p.ORow),
		intArg(p.QBatch), intArg(p.KBatch), intArg(p.VBatch), intArg(p.OBatch), boolArg(p.Causal), floatArg(p.Scale))
}
