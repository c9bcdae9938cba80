// Package clipnet is the forward pass of a frozen CLIP model (ModifiedResNet
// image tower and text transformer) written once against a small Backend of
// array operations: the kernels of cuda/kernels/clip.cu plus SGEMM, add and
// layer norm. Package cuda (build tag cuda) runs it on the GPU; the Host
// backend here runs it on the Go references of the same kernels, so the
// orchestration (layouts, leading dimensions, strides, bias indexing) is
// tested against clip.Model on machines without a GPU.
//
// ResNet activations are channel-major, [C, N, H, W]: a convolution is then
// one GEMM W [O, C·KH·KW] @ im2col(x) [C·KH·KW, N·OH·OW] whose result is
// already the next activation [O, N, OH, OW], and a 1x1 stride-1
// convolution needs no im2col at all.
package clipnet

import (
	"math"
	"strings"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/cuda/kernels"
	"github.com/softcpt/softcpt-go/tensor"
)

// Backend holds arrays of type A (a pointer type; the zero value is "no
// array") and runs the operations of the forward pass on them. Arrays are
// row-major float32. View returns an array aliasing the elements of a from
// offset off on (never freed). Methods panic on sizes that do not fit the
// arrays (programming errors) and return errors from the device.
type Backend[A comparable] interface {
	Upload(data []float32, shape ...int) (A, error)
	Alloc(shape ...int) (A, error)
	Free(a A)
	View(a A, off int, shape ...int) A
	Download(a A) ([]float32, error)

	// Sgemm is C = alpha op(A) op(B) + beta C as kernels.Sgemm.
	Sgemm(transA, transB bool, m, n, k int, alpha float32, a A, lda int, b A, ldb int, beta float32, c A, ldc int) error
	// Add is dst = a + b over n elements.
	Add(dst, a, b A, n int) error
	// LayerNorm normalises rows x cols of src into dst with gamma, beta.
	LayerNorm(dst, src, gamma, beta A, rows, cols int, eps float32) error
	// Im2col, BiasAct, AvgPool, Transpose01, PoolTokens, GatherRows and
	// Attention are the kernels of clip.cu (see their references in
	// cuda/kernels). bias may be the zero A.
	Im2col(col, x A, g kernels.ConvGeom) error
	BiasAct(dst, src, bias A, inner, nb, n int, act kernels.Act) error
	AvgPool(dst, src A, planes, h, w, k int) error
	Transpose01(dst, src A, a, b, inner int) error
	PoolTokens(seq, x, pos A, c, n, hw int) error
	GatherRows(dst, src A, idx []int, cols int) error
	Attention(out, q, k, v A, p kernels.AttnParams) error
}

// Net is a frozen CLIP model uploaded to a backend: every parameter the
// forward pass reads, with BatchNorm folded into the ResNet convolutions.
type Net[A comparable] struct {
	be     Backend[A]
	cfg    clip.Config
	w      map[string]A
	shapes map[string][]int
}

// biasKey is the key of a folded convolution's bias.
func biasKey(convKey string) string { return convKey + "#folded_bias" }

// bnFor returns the BatchNorm prefix that follows a conv weight key in a
// ModifiedResNet, or "" (the rule of clip.bnFor).
func bnFor(convKey string) string {
	base := strings.TrimSuffix(convKey, ".weight")
	switch {
	case strings.HasSuffix(base, ".downsample.0"):
		return strings.TrimSuffix(base, ".0") + ".1"
	case strings.HasPrefix(base, "visual."):
		i := strings.LastIndex(base, ".conv")
		if i < 0 {
			return ""
		}
		return base[:i] + ".bn" + base[i+len(".conv"):]
	}
	return ""
}

// bnEps is the BatchNorm epsilon and lnEps the LayerNorm epsilon of CLIP.
const (
	bnEps = 1e-5
	lnEps = 1e-5
)

// New uploads m's parameters. The ResNet's BatchNorm layers are folded
// into their convolutions with running statistics (eval mode), as
// clip.Model does when frozen: w' = w·γ/√(σ²+ε), b' = β − μ·γ/√(σ²+ε).
// A ViT's parameters are uploaded as they are.
func New[A comparable](be Backend[A], m *clip.Model) (*Net[A], error) {
	n := &Net[A]{be: be, cfg: m.Config, w: map[string]A{}, shapes: map[string][]int{}}
	sd := m.StateDict()
	vit := m.Config.IsViT()
	put := func(key string, t *tensor.Tensor) error {
		a, err := be.Upload(t.Contiguous().Data(), t.Shape()...)
		if err != nil {
			n.Free()
			return errors.Wrapf(err, "clipnet: uploading %s %v", key, t.Shape())
		}
		n.w[key] = a
		n.shapes[key] = t.Shape()
		return nil
	}
	for _, k := range m.Keys() {
		t := sd[k]
		if strings.HasPrefix(k, "visual.") && !vit {
			if strings.Contains(k, ".bn") || strings.Contains(k, ".downsample.1.") {
				continue
			}
			if bn := bnFor(k); bn != "" && strings.HasSuffix(k, ".weight") && t.NDim() == 4 {
				fw, fb, err := fold(sd, t, bn)
				if err != nil {
					n.Free()
					return nil, errors.Wrapf(err, "clipnet: folding %s", k)
				}
				if err := put(k, fw); err != nil {
					return nil, err
				}
				if err := put(biasKey(k), fb); err != nil {
					return nil, err
				}
				continue
			}
		}
		if err := put(k, t); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// fold returns the BatchNorm-folded weight and bias of conv weight w.
func fold(sd map[string]*tensor.Tensor, w *tensor.Tensor, bn string) (*tensor.Tensor, *tensor.Tensor, error) {
	var p [4][]float32
	for i, s := range []string{".weight", ".bias", ".running_mean", ".running_var"} {
		t, ok := sd[bn+s]
		if !ok || t.Numel() != w.Dim(0) {
			return nil, nil, errors.Errorf("BatchNorm %s%s missing or not of length %d", bn, s, w.Dim(0))
		}
		p[i] = t.Contiguous().Data()
	}
	gamma, beta, mean, variance := p[0], p[1], p[2], p[3]
	out := w.Dim(0)
	per := w.Numel() / out
	fw := w.Contiguous().Clone()
	fb := tensor.New(out)
	fd, bd := fw.Data(), fb.Data()
	for o := 0; o < out; o++ {
		s := gamma[o] / float32(math.Sqrt(float64(variance[o])+bnEps))
		for i := o * per; i < (o+1)*per; i++ {
			fd[i] *= s
		}
		bd[o] = beta[o] - mean[o]*s
	}
	return fw, fb, nil
}

// Config returns the model's architecture.
func (n *Net[A]) Config() clip.Config { return n.cfg }

// Free returns the parameters' memory to the backend.
func (n *Net[A]) Free() {
	for k, a := range n.w {
		n.be.Free(a)
		delete(n.w, k)
	}
}

// run carries the first error of a forward pass: once it is set, every
// further operation is skipped and allocations return the zero A.
type run[A comparable] struct {
	*Net[A]
	err error
}

func (r *run[A]) check(err error) {
	if r.err == nil && err != nil {
		r.err = err
	}
}

func (r *run[A]) alloc(shape ...int) A {
	var z A
	if r.err != nil {
		return z
	}
	a, err := r.be.Alloc(shape...)
	r.check(err)
	return a
}

func (r *run[A]) free(as ...A) {
	var z A
	for _, a := range as {
		if a != z {
			r.be.Free(a)
		}
	}
}

func (r *run[A]) p(key string) A {
	a, ok := r.w[key]
	if !ok {
		panic("clipnet: no parameter " + key)
	}
	return a
}

// linear computes y [rows, out] = act(x [rows, in] Wᵀ + b) for the weight
// [out, in] and bias under prefix (".weight", ".bias"); lda is x's row
// stride.
func (r *run[A]) linear(y, x A, lda, rows int, prefix string, act kernels.Act) {
	if r.err != nil {
		return
	}
	ws := r.shapes[prefix+".weight"]
	out, in := ws[0], ws[1]
	r.check(r.be.Sgemm(false, true, rows, out, in, 1, x, lda, r.p(prefix+".weight"), in, 0, y, out))
	if r.err == nil {
		r.check(r.be.BiasAct(y, y, r.p(prefix+".bias"), 1, out, rows*out, act))
	}
}

// act4 is a channel-major activation [C, N, H, W].
type act4[A comparable] struct {
	a          A
	c, n, h, w int
}

// conv applies the folded convolution under key (+ ReLU) and returns a new
// activation.
func (r *run[A]) conv(x act4[A], key string, stride, pad int, act kernels.Act) act4[A] {
	ws := r.shapes[key]
	g := kernels.ConvGeom{C: x.c, N: x.n, H: x.h, W: x.w, KH: ws[2], KW: ws[3], Stride: stride, Pad: pad}
	y := act4[A]{c: ws[0], n: x.n, h: g.OH(), w: g.OW()}
	if r.err != nil {
		return y
	}
	col := x.a
	direct := g.KH == 1 && g.KW == 1 && stride == 1 && pad == 0
	if !direct {
		col = r.alloc(g.Rows(), g.Cols())
		if r.err == nil {
			r.check(r.be.Im2col(col, x.a, g))
		}
	}
	y.a = r.alloc(y.c, g.Cols())
	if r.err == nil {
		r.check(r.be.Sgemm(false, false, y.c, g.Cols(), g.Rows(), 1, r.p(key), g.Rows(), col, g.Cols(), 0, y.a, g.Cols()))
	}
	if r.err == nil {
		r.check(r.be.BiasAct(y.a, y.a, r.p(biasKey(key)), g.Cols(), y.c, y.c*g.Cols(), act))
	}
	if !direct {
		r.free(col)
	}
	return y
}

func (r *run[A]) avgpool(x act4[A], k int) act4[A] {
	y := act4[A]{c: x.c, n: x.n, h: x.h / k, w: x.w / k}
	y.a = r.alloc(y.c, y.n, y.h, y.w)
	if r.err == nil {
		r.check(r.be.AvgPool(y.a, x.a, x.c*x.n, x.h, x.w, k))
	}
	return y
}

// bottleneck is CLIP's anti-aliased Bottleneck; it frees x.
func (r *run[A]) bottleneck(x act4[A], p string, stride int) act4[A] {
	o1 := r.conv(x, p+"conv1.weight", 1, 0, kernels.ActRelu)
	o2 := r.conv(o1, p+"conv2.weight", 1, 1, kernels.ActRelu)
	r.free(o1.a)
	if stride > 1 {
		o := r.avgpool(o2, stride)
		r.free(o2.a)
		o2 = o
	}
	out := r.conv(o2, p+"conv3.weight", 1, 0, kernels.ActNone)
	r.free(o2.a)
	id := x
	if _, ok := r.w[p+"downsample.0.weight"]; ok {
		if stride > 1 {
			id = r.avgpool(x, stride)
		}
		d := r.conv(id, p+"downsample.0.weight", 1, 0, kernels.ActNone)
		if id.a != x.a {
			r.free(id.a)
		}
		id = d
	}
	if r.err == nil {
		n := out.c * out.n * out.h * out.w
		r.check(r.be.Add(out.a, out.a, id.a, n))
		if r.err == nil {
			r.check(r.be.BiasAct(out.a, out.a, *new(A), 1, 1, n, kernels.ActRelu))
		}
	}
	if id.a != x.a {
		r.free(id.a)
	}
	r.free(x.a)
	return out
}

// attnPool is AttentionPool2d over x [C, N, H, W] (freed); it returns the
// image features [N, EmbedDim].
func (r *run[A]) attnPool(x act4[A]) A {
	const p = "visual.attnpool."
	c, n, hw := x.c, x.n, x.h*x.w
	l := hw + 1
	heads := r.cfg.VisionHeads
	seq := r.alloc(n, l, c)
	if r.err == nil {
		r.check(r.be.PoolTokens(seq, x.a, r.p(p+"positional_embedding"), c, n, hw))
	}
	r.free(x.a)
	q := r.alloc(n, c)
	r.linear(q, seq, l*c, n, p+"q_proj", kernels.ActNone) // token 0 of each image
	k := r.alloc(n*l, c)
	r.linear(k, seq, c, n*l, p+"k_proj", kernels.ActNone)
	v := r.alloc(n*l, c)
	r.linear(v, seq, c, n*l, p+"v_proj", kernels.ActNone)
	r.free(seq)
	o := r.alloc(n, c)
	if r.err == nil {
		d := c / heads
		r.check(r.be.Attention(o, q, k, v, kernels.AttnParams{Batch: n, Heads: heads, Tq: 1, Tk: l, D: d,
			QRow: c, KRow: c, VRow: c, ORow: c, QBatch: c, KBatch: l * c, VBatch: l * c, OBatch: c,
			Scale: float32(1 / math.Sqrt(float64(d)))}))
	}
	r.free(q, k, v)
	out := r.alloc(n, r.shapes[p+"c_proj.weight"][0])
	r.linear(out, o, c, n, p+"c_proj", kernels.ActNone)
	r.free(o)
	return out
}

// EncodeImage returns the image features [N, EmbedDim] of preprocessed
// images [N, 3, R, R] (clip.Model.EncodeImage).
func (n *Net[A]) EncodeImage(images *tensor.Tensor) (*tensor.Tensor, error) {
	cfg := n.cfg
	s := images.Shape()
	res := cfg.ImageResolution
	if len(s) != 4 || s[1] != 3 || s[2] != res || s[3] != res {
		return nil, errors.Errorf("clipnet: images of shape %v, want [N,3,%d,%d]", s, res, res)
	}
	if s[0] == 0 {
		return tensor.New(0, cfg.EmbedDim), nil
	}
	if cfg.IsViT() {
		return n.encodeViT(images)
	}
	r := &run[A]{Net: n}
	in, err := n.be.Upload(images.Contiguous().Data(), s...)
	if err != nil {
		return nil, errors.Wrap(err, "clipnet: uploading images")
	}
	x := act4[A]{c: 3, n: s[0], h: res, w: res}
	x.a = r.alloc(3, s[0], res, res)
	if r.err == nil {
		r.check(n.be.Transpose01(x.a, in, s[0], 3, res*res))
	}
	n.be.Free(in)
	for i, key := range []string{"visual.conv1.weight", "visual.conv2.weight", "visual.conv3.weight"} {
		stride := 1
		if i == 0 {
			stride = 2
		}
		y := r.conv(x, key, stride, 1, kernels.ActRelu)
		r.free(x.a)
		x = y
	}
	y := r.avgpool(x, 2)
	r.free(x.a)
	x = y
	for l, depth := range cfg.VisionLayers {
		for i := 0; i < depth; i++ {
			stride := 1
			if l > 0 && i == 0 {
				stride = 2
			}
			x = r.bottleneck(x, "visual.layer"+itoa(l+1)+"."+itoa(i)+".", stride)
		}
	}
	out := r.attnPool(x)
	return r.result(out, s[0], cfg.EmbedDim)
}

// encodeViT is EncodeImage for a VisionTransformer (images checked): the
// patch convolution (stride = kernel = patch size, no bias) as one GEMM
// im2col(x)ᵀ [N·g², 3·P²] @ Wᵀ [3·P², width], the class embedding
// prepended to each image's g² patch tokens, the positional embedding,
// ln_pre, the transformer blocks (no mask), ln_post on the class tokens
// and the projection.
func (n *Net[A]) encodeViT(images *tensor.Tensor) (*tensor.Tensor, error) {
	cfg := n.cfg
	s := images.Shape()
	nb, res, ps := s[0], cfg.ImageResolution, cfg.PatchSize
	ws := n.shapes["visual.conv1.weight"]
	if len(ws) != 4 || ws[1] != 3 || ws[2] != ps || ws[3] != ps {
		return nil, errors.Errorf("clipnet: ViT patch convolution weight %v, want [width,3,%d,%d]", ws, ps, ps)
	}
	w := ws[0]
	g := kernels.ConvGeom{C: 3, N: nb, H: res, W: res, KH: ps, KW: ps, Stride: ps, Pad: 0}
	grid := g.OH() * g.OW()
	l := grid + 1 // tokens per image
	r := &run[A]{Net: n}
	in, err := n.be.Upload(images.Contiguous().Data(), s...)
	if err != nil {
		return nil, errors.Wrap(err, "clipnet: uploading images")
	}
	x := r.alloc(3, nb, res, res)
	if r.err == nil {
		r.check(n.be.Transpose01(x, in, nb, 3, res*res))
	}
	n.be.Free(in)
	col := r.alloc(g.Rows(), g.Cols())
	if r.err == nil {
		r.check(n.be.Im2col(col, x, g))
	}
	r.free(x)
	// tok holds the N·g² patch tokens (rows in image, grid-row, grid-column
	// order, as the CPU tower's reshape) and the class embedding as its
	// last row; one gather then lays out the sequences [N, 1+g², width].
	tok := r.alloc(nb*grid+1, w)
	if r.err == nil {
		r.check(n.be.Sgemm(true, true, nb*grid, w, g.Rows(), 1, col, g.Cols(), r.p("visual.conv1.weight"), g.Rows(), 0, tok, w))
	}
	r.free(col)
	if r.err == nil {
		r.check(n.be.GatherRows(n.be.View(tok, nb*grid*w, 1, w), r.p("visual.class_embedding"), []int{0}, w))
	}
	idx := make([]int, 0, nb*l)
	for i := 0; i < nb; i++ {
		idx = append(idx, nb*grid)
		for j := 0; j < grid; j++ {
			idx = append(idx, i*grid+j)
		}
	}
	rows := nb * l
	seq := r.alloc(rows, w)
	if r.err == nil {
		r.check(n.be.GatherRows(seq, tok, idx, w))
	}
	r.free(tok)
	if r.err == nil {
		r.check(n.be.BiasAct(seq, seq, r.p("visual.positional_embedding"), 1, l*w, rows*w, kernels.ActNone))
	}
	if r.err == nil {
		r.check(n.be.LayerNorm(seq, seq, r.p("visual.ln_pre.weight"), r.p("visual.ln_pre.bias"), rows, w, lnEps))
	}
	r.transformer(seq, "visual.transformer.", cfg.VisionDepth, nb, l, w, cfg.VisionHeads, false)
	cls := r.alloc(nb, w)
	if r.err == nil {
		first := make([]int, nb)
		for i := range first {
			first[i] = i * l
		}
		r.check(n.be.GatherRows(cls, seq, first, w))
	}
	r.free(seq)
	if r.err == nil {
		r.check(n.be.LayerNorm(cls, cls, r.p("visual.ln_post.weight"), r.p("visual.ln_post.bias"), nb, w, lnEps))
	}
	e := cfg.EmbedDim
	out := r.alloc(nb, e)
	if r.err == nil {
		r.check(n.be.Sgemm(false, false, nb, e, w, 1, cls, w, r.p("visual.proj"), e, 0, out, e))
	}
	r.free(cls)
	return r.result(out, nb, e)
}

// result downloads out [rows, cols] and frees it.
func (r *run[A]) result(out A, rows, cols int) (*tensor.Tensor, error) {
	if r.err != nil {
		r.free(out)
		return nil, r.err
	}
	data, err := r.be.Download(out)
	r.free(out)
	if err != nil {
		return nil, err
	}
	return tensor.FromSlice(data, rows, cols), nil
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + itoa(i%10)
}

// EncodeText returns the text features [B, EmbedDim] of token ids [B, T]
// (clip.Model.EncodeText): the sequences are cut after the batch's last
// EOT (the largest id of each row), run through the causal transformer and
// pooled at their EOT positions.
func (n *Net[A]) EncodeText(ids []int, batch, length int) (*tensor.Tensor, error) {
	cfg := n.cfg
	if batch < 0 || length < 1 || length > cfg.ContextLength || len(ids) != batch*length {
		return nil, errors.Errorf("clipnet: %d token ids for %d×%d (context %d)", len(ids), batch, length, cfg.ContextLength)
	}
	for i, id := range ids {
		if id < 0 || id >= cfg.VocabSize {
			return nil, errors.Errorf("clipnet: token id %d at %d outside the vocabulary of %d", id, i, cfg.VocabSize)
		}
	}
	if batch == 0 {
		return tensor.New(0, cfg.EmbedDim), nil
	}
	eot := clip.EOTPositions(ids, batch, length)
	t := 1
	for _, e := range eot {
		t = max(t, e+1)
	}
	short := make([]int, 0, batch*t)
	for b := 0; b < batch; b++ {
		short = append(short, ids[b*length:b*length+t]...)
	}
	w := cfg.TransformerWidth
	heads := cfg.TransformerHeads
	rows := batch * t
	r := &run[A]{Net: n}
	x := r.alloc(rows, w)
	if r.err == nil {
		r.check(n.be.GatherRows(x, r.p("token_embedding.weight"), short, w))
	}
	if r.err == nil {
		r.check(n.be.BiasAct(x, x, r.p("positional_embedding"), 1, t*w, rows*w, kernels.ActNone))
	}
	r.transformer(x, "transformer.", cfg.TransformerLayers, batch, t, w, heads, true)
	pooled := r.alloc(batch, w)
	if r.err == nil {
		idx := make([]int, batch)
		for b, e := range eot {
			idx[b] = b*t + e
		}
		r.check(n.be.GatherRows(pooled, x, idx, w))
	}
	r.free(x)
	if r.err == nil {
		r.check(n.be.LayerNorm(pooled, pooled, r.p("ln_final.weight"), r.p("ln_final.bias"), batch, w, lnEps))
	}
	e := cfg.EmbedDim
	out := r.alloc(batch, e)
	if r.err == nil {
		r.check(n.be.Sgemm(false, false, batch, e, w, 1, pooled, w, r.p("text_projection"), e, 0, out, e))
	}
	r.free(pooled)
	return r.result(out, batch, e)
}

// transformer runs the residual attention blocks prefix+"resblocks.<l>."
// (l < layers) in place on x [batch·t, w] (batch sequences of t tokens,
// heads heads, causal mask or none): x += attn(ln_1(x)); x +=
// mlp(ln_2(x)). The text tower and the ViT share it.
func (r *run[A]) transformer(x A, prefix string, layers, batch, t, w, heads int, causal bool) {
	if r.err != nil {
		return
	}
	rows := batch * t
	d := w / heads
	hidden := w
	if s, ok := r.shapes[prefix+"resblocks.0.mlp.c_fc.weight"]; ok {
		hidden = s[0]
	}
	h := r.alloc(rows, w)
	qkv := r.alloc(rows, 3*w)
	a := r.alloc(rows, w)
	o := r.alloc(rows, w)
	f := r.alloc(rows, hidden)
	for l := 0; l < layers && r.err == nil; l++ {
		p := prefix + "resblocks." + itoa(l) + "."
		r.check(r.be.LayerNorm(h, x, r.p(p+"ln_1.weight"), r.p(p+"ln_1.bias"), rows, w, lnEps))
		if r.err == nil {
			ws := r.shapes[p+"attn.in_proj_weight"]
			r.check(r.be.Sgemm(false, true, rows, ws[0], ws[1], 1, h, w, r.p(p+"attn.in_proj_weight"), w, 0, qkv, 3*w))
		}
		if r.err == nil {
			r.check(r.be.BiasAct(qkv, qkv, r.p(p+"attn.in_proj_bias"), 1, 3*w, rows*3*w, kernels.ActNone))
		}
		if r.err == nil {
			r.check(r.be.Attention(a, qkv, r.be.View(qkv, w, rows*3*w-w), r.be.View(qkv, 2*w, rows*3*w-2*w),
				kernels.AttnParams{Batch: batch, Heads: heads, Tq: t, Tk: t, D: d,
					QRow: 3 * w, KRow: 3 * w, VRow: 3 * w, ORow: w,
					QBatch: t * 3 * w, KBatch: t * 3 * w, VBatch: t * 3 * w, OBatch: t * w,
					Causal: causal, Scale: float32(1 / math.Sqrt(float64(d)))}))
		}
		r.linear(o, a, w, rows, p+"attn.out_proj", kernels.ActNone)
		if r.err == nil {
			r.check(r.be.Add(x, x, o, rows*w))
		}
		if r.err == nil {
			r.check(r.be.LayerNorm(h, x, r.p(p+"ln_2.weight"), r.p(p+"ln_2.bias"), rows, w, lnEps))
		}
		r.linear(f, h, w, rows, p+"mlp.c_fc", kernels.ActQuickGelu)
		r.linear(o, f, hidden, rows, p+"mlp.c_proj", kernels.ActNone)
		if r.err == nil {
			r.check(r.be.Add(x, x, o, rows*w))
		}
	}
	r.free(h, qkv, a, o, f)
}
