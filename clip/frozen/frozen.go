// Package frozen is the forward pass of a frozen CLIP model (ModifiedResNet
// or VisionTransformer image tower, text transformer) written once against
// the array operations of a backend.Backend. On backend.Host it runs on the
// operations' Go references, so the orchestration (layouts, leading
// dimensions, strides, bias indexing) is tested against clip.Model on any
// machine; on a GPU (package cuda, build tag cuda: frozen.New(dev.Backend(),
// m)) it is the device's CLIP.
//
// ResNet activations are channel-major, [C, N, H, W]: a convolution is then
// one GEMM W [O, C·KH·KW] @ im2col(x) [C·KH·KW, N·OH·OW] whose result is
// already the next activation [O, N, OH, OW], and a 1x1 stride-1
// convolution needs no im2col at all.
package frozen

import (
	"math"
	"strconv"
	"strings"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/kernels/backend"
	"github.com/softcpt/softcpt-go/tensor"
)

// Model is a frozen CLIP model uploaded to a backend: every parameter the
// forward pass reads, with BatchNorm folded into the ResNet convolutions.
// EncodeImage and EncodeText run its towers. Its methods may be called
// from any goroutine, one at a time (as its backend allows).
type Model[A comparable] struct {
	be     backend.Backend[A]
	cfg    clip.Config
	w      map[string]A
	shapes map[string][]int
}

// biasKey is the key of a folded convolution's bias.
func biasKey(convKey string) string { return convKey + "#folded_bias" }

// lnEps is the LayerNorm epsilon of CLIP.
const lnEps = 1e-5

// New uploads m's parameters to be. The ResNet's BatchNorm layers are
// folded into their convolutions (clip.Model.FoldedConv), as clip.Model
// does when frozen; a ViT's parameters are uploaded as they are. The copy
// does not follow later changes of m.
func New[A comparable](be backend.Backend[A], m *clip.Model) (*Model[A], error) {
	n := &Model[A]{be: be, cfg: m.Config, w: map[string]A{}, shapes: map[string][]int{}}
	sd := m.StateDict()
	vit := m.Config.IsViT()
	put := func(key string, t *tensor.Tensor) error {
		a, err := be.Upload(t.Contiguous().Data(), t.Shape()...)
		if err != nil {
			n.Free()
			return errors.Wrapf(err, "frozen: uploading %s %v", key, t.Shape())
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
			if fw, fb, ok := m.FoldedConv(k); ok {
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

// Config returns the model's architecture.
func (n *Model[A]) Config() clip.Config { return n.cfg }

// Free returns the parameters' memory to the backend.
func (n *Model[A]) Free() {
	for k, a := range n.w {
		n.be.Free(a)
		delete(n.w, k)
	}
}

// run carries the first error of a forward pass: once it is set, every
// further operation is skipped and allocations return the zero A.
type run[A comparable] struct {
	*Model[A]
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
		panic("frozen: no parameter " + key)
	}
	return a
}

// linear computes y [rows, out] = act(x [rows, in] Wᵀ + b) for the weight
// [out, in] and bias under prefix (".weight", ".bias"); lda is x's row
// stride.
func (r *run[A]) linear(y, x A, lda, rows int, prefix string, act backend.Act) {
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
func (r *run[A]) conv(x act4[A], key string, stride, pad int, act backend.Act) act4[A] {
	ws := r.shapes[key]
	g := backend.ConvGeom{C: x.c, N: x.n, H: x.h, W: x.w, KH: ws[2], KW: ws[3], Stride: stride, Pad: pad}
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
	o1 := r.conv(x, p+"conv1.weight", 1, 0, backend.ActRelu)
	o2 := r.conv(o1, p+"conv2.weight", 1, 1, backend.ActRelu)
	r.free(o1.a)
	if stride > 1 {
		o := r.avgpool(o2, stride)
		r.free(o2.a)
		o2 = o
	}
	out := r.conv(o2, p+"conv3.weight", 1, 0, backend.ActNone)
	r.free(o2.a)
	id := x
	if _, ok := r.w[p+"downsample.0.weight"]; ok {
		if stride > 1 {
			id = r.avgpool(x, stride)
		}
		d := r.conv(id, p+"downsample.0.weight", 1, 0, backend.ActNone)
		if id.a != x.a {
			r.free(id.a)
		}
		id = d
	}
	if r.err == nil {
		n := out.c * out.n * out.h * out.w
		r.check(r.be.Add(out.a, out.a, id.a, n))
		if r.err == nil {
			r.check(r.be.BiasAct(out.a, out.a, *new(A), 1, 1, n, backend.ActRelu))
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
	r.linear(q, seq, l*c, n, p+"q_proj", backend.ActNone) // token 0 of each image
	k := r.alloc(n*l, c)
	r.linear(k, seq, c, n*l, p+"k_proj", backend.ActNone)
	v := r.alloc(n*l, c)
	r.linear(v, seq, c, n*l, p+"v_proj", backend.ActNone)
	r.free(seq)
	o := r.alloc(n, c)
	if r.err == nil {
		d := c / heads
		r.check(r.be.Attention(o, q, k, v, backend.AttnParams{Batch: n, Heads: heads, Tq: 1, Tk: l, D: d,
			QRow: c, KRow: c, VRow: c, ORow: c, QBatch: c, KBatch: l * c, VBatch: l * c, OBatch: c,
			Scale: float32(1 / math.Sqrt(float64(d)))}))
	}
	r.free(q, k, v)
	out := r.alloc(n, r.shapes[p+"c_proj.weight"][0])
	r.linear(out, o, c, n, p+"c_proj", backend.ActNone)
	r.free(o)
	return out
}

// EncodeImage returns the image features [N, EmbedDim] of preprocessed
// images [N, 3, R, R] (clip.Model.EncodeImage).
func (n *Model[A]) EncodeImage(images *tensor.Tensor) (*tensor.Tensor, error) {
	cfg := n.cfg
	s := images.Shape()
	res := cfg.ImageResolution
	if len(s) != 4 || s[1] != 3 || s[2] != res || s[3] != res {
		return nil, errors.Errorf("frozen: images of shape %v, want [N,3,%d,%d]", s, res, res)
	}
	if s[0] == 0 {
		return tensor.New(0, cfg.EmbedDim), nil
	}
	if cfg.IsViT() {
		return n.encodeViT(images)
	}
	r := &run[A]{Model: n}
	in, err := n.be.Upload(images.Contiguous().Data(), s...)
	if err != nil {
		return nil, errors.Wrap(err, "frozen: uploading images")
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
		y := r.conv(x, key, stride, 1, backend.ActRelu)
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
			x = r.bottleneck(x, "visual.layer"+strconv.Itoa(l+1)+"."+strconv.Itoa(i)+".", stride)
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
func (n *Model[A]) encodeViT(images *tensor.Tensor) (*tensor.Tensor, error) {
	cfg := n.cfg
	s := images.Shape()
	nb, res, ps := s[0], cfg.ImageResolution, cfg.PatchSize
	ws := n.shapes["visual.conv1.weight"]
	if len(ws) != 4 || ws[1] != 3 || ws[2] != ps || ws[3] != ps {
		return nil, errors.Errorf("frozen: ViT patch convolution weight %v, want [width,3,%d,%d]", ws, ps, ps)
	}
	w := ws[0]
	g := backend.ConvGeom{C: 3, N: nb, H: res, W: res, KH: ps, KW: ps, Stride: ps, Pad: 0}
	grid := g.OH() * g.OW()
	l := grid + 1 // tokens per image
	r := &run[A]{Model: n}
	in, err := n.be.Upload(images.Contiguous().Data(), s...)
	if err != nil {
		return nil, errors.Wrap(err, "frozen: uploading images")
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
		r.check(n.be.BiasAct(seq, seq, r.p("visual.positional_embedding"), 1, l*w, rows*w, backend.ActNone))
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

// EncodeText returns the text features [B, EmbedDim] of token ids [B, T]
// (clip.Model.EncodeText): the sequences are cut after the batch's last
// EOT (the largest id of each row), run through the causal transformer and
// pooled at their EOT positions.
func (n *Model[A]) EncodeText(ids []int, batch, length int) (*tensor.Tensor, error) {
	cfg := n.cfg
	if batch < 0 || length < 1 || length > cfg.ContextLength || len(ids) != batch*length {
		return nil, errors.Errorf("frozen: %d token ids for %d×%d (context %d)", len(ids), batch, length, cfg.ContextLength)
	}
	for i, id := range ids {
		if id < 0 || id >= cfg.VocabSize {
			return nil, errors.Errorf("frozen: token id %d at %d outside the vocabulary of %d", id, i, cfg.VocabSize)
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
	r := &run[A]{Model: n}
	x := r.alloc(rows, w)
	if r.err == nil {
		r.check(n.be.GatherRows(x, r.p("token_embedding.weight"), short, w))
	}
	if r.err == nil {
		r.check(n.be.BiasAct(x, x, r.p("positional_embedding"), 1, t*w, rows*w, backend.ActNone))
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
		p := prefix + "resblocks." + strconv.Itoa(l) + "."
		r.check(r.be.LayerNorm(h, x, r.p(p+"ln_1.weight"), r.p(p+"ln_1.bias"), rows, w, lnEps))
		if r.err == nil {
			ws := r.shapes[p+"attn.in_proj_weight"]
			r.check(r.be.Sgemm(false, true, rows, ws[0], ws[1], 1, h, w, r.p(p+"attn.in_proj_weight"), w, 0, qkv, 3*w))
		}
		if r.err == nil {
			r.check(r.be.BiasAct(qkv, qkv, r.p(p+"attn.in_proj_bias"), 1, 3*w, rows*3*w, backend.ActNone))
		}
		if r.err == nil {
			r.check(r.be.Attention(a, qkv, r.be.View(qkv, w, rows*3*w-w), r.be.View(qkv, 2*w, rows*3*w-2*w),
				backend.AttnParams{Batch: batch, Heads: heads, Tq: t, Tk: t, D: d,
					QRow: 3 * w, KRow: 3 * w, VRow: 3 * w, ORow: w,
					QBatch: t * 3 * w, KBatch: t * 3 * w, VBatch: t * 3 * w, OBatch: t * w,
					Causal: causal, Scale: float32(1 / math.Sqrt(float64(d)))}))
		}
		r.linear(o, a, w, rows, p+"attn.out_proj", backend.ActNone)
		if r.err == nil {
			r.check(r.be.Add(x, x, o, rows*w))
		}
		if r.err == nil {
			r.check(r.be.LayerNorm(h, x, r.p(p+"ln_2.weight"), r.p(p+"ln_2.bias"), rows, w, lnEps))
		}
		r.linear(f, h, w, rows, p+"mlp.c_fc", backend.ActQuickGelu)
		r.linear(o, f, hidden, rows, p+"mlp.c_proj", backend.ActNone)
		if r.err == nil {
			r.check(r.be.Add(x, x, o, rows*w))
		}
	}
	r.free(h, qkv, a, o, f)
}
