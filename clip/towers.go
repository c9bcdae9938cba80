package clip

import (
	"fmt"
	"runtime"
	"strconv"

	"github.com/softcpt/softcpt-go/autograd"
	"github.com/softcpt/softcpt-go/tensor"
)

// convBN applies conv (no bias) followed by BatchNorm, using the folded
// weights when the tower is frozen.
func (m *Model) convBN(x *autograd.Var, convKey string, stride, pad int) *autograd.Var {
	opt := autograd.Conv2dOptions{StrideH: stride, StrideW: stride, PadH: pad, PadW: pad}
	if f, ok := m.folded[convKey]; ok {
		return autograd.Conv2d(x, autograd.Const(f[0]), autograd.Const(f[1]), opt)
	}
	y := autograd.Conv2d(x, m.p(convKey), nil, opt)
	bn := bnFor(convKey)
	return autograd.BatchNorm2d(y, m.p(bn+".weight"), m.p(bn+".bias"),
		m.buffers[bn+".running_mean"], m.buffers[bn+".running_var"], m.train, 0.1, bnEps)
}

// convBNAct is convBN followed by adding res (nil for none) and, when relu
// is set, a ReLU. A frozen tower (BatchNorm folded) whose inputs need no
// gradient runs the three as one fused autograd.Conv2dAct, which gives the
// same values without the separate bias, add and ReLU passes (at precision
// BF16, autograd.Conv2dActBF16 on the folded filters in bf16).
func (m *Model) convBNAct(x *autograd.Var, convKey string, stride, pad int, res *autograd.Var, relu bool) *autograd.Var {
	if f, ok := m.folded[convKey]; ok {
		noGrad := !autograd.GradEnabled() || (!x.RequiresGrad() && (res == nil || !res.RequiresGrad()))
		if noGrad {
			act := autograd.ActNone
			if relu {
				act = autograd.ActRelu
			}
			opt := autograd.Conv2dOptions{StrideH: stride, StrideW: stride, PadH: pad, PadW: pad}
			if m.precision == autograd.BF16 {
				return autograd.Conv2dActBF16(x, m.packedConv(convKey, f[0]), autograd.Const(f[1]), res, opt, act)
			}
			return autograd.Conv2dAct(x, autograd.Const(f[0]), autograd.Const(f[1]), res, opt, act)
		}
	}
	y := m.convBN(x, convKey, stride, pad)
	if res != nil {
		y = autograd.Add(y, res)
	}
	if relu {
		y = autograd.Relu(y)
	}
	return y
}

// resnet runs the ModifiedResNet tower on x [N,3,R,R] and returns [N,E].
func (m *Model) resnet(x *autograd.Var) *autograd.Var {
	x = m.convBNAct(x, "visual.conv1.weight", 2, 1, nil, true)
	x = m.convBNAct(x, "visual.conv2.weight", 1, 1, nil, true)
	x = m.convBNAct(x, "visual.conv3.weight", 1, 1, nil, true)
	x = autograd.AvgPool2d(x, 2, 2, 0)
	for l, n := range m.Config.VisionLayers {
		for i := 0; i < n; i++ {
			stride := 1
			if l > 0 && i == 0 {
				stride = 2
			}
			x = m.bottleneck(x, "visual.layer"+strconv.Itoa(l+1)+"."+strconv.Itoa(i)+".", stride)
		}
	}
	return m.attnPool(x)
}

// bottleneck is CLIP's anti-aliased Bottleneck block.
func (m *Model) bottleneck(x *autograd.Var, p string, stride int) *autograd.Var {
	out := m.convBNAct(x, p+"conv1.weight", 1, 0, nil, true)
	out = m.convBNAct(out, p+"conv2.weight", 1, 1, nil, true)
	if stride > 1 {
		out = autograd.AvgPool2d(out, stride, stride, 0)
	}
	identity := x
	if _, ok := m.params[p+"downsample.0.weight"]; ok {
		if stride > 1 {
			identity = autograd.AvgPool2d(identity, stride, stride, 0)
		}
		identity = m.convBNAct(identity, p+"downsample.0.weight", 1, 0, nil, false)
	}
	return m.convBNAct(out, p+"conv3.weight", 1, 0, identity, true)
}

// splitHeads turns [B,T,H·D] into [B,H,T,D].
func splitHeads(x *autograd.Var, heads int) *autograd.Var {
	s := x.Shape()
	return autograd.Permute(autograd.Reshape(x, s[0], s[1], heads, s[2]/heads), 0, 2, 1, 3)
}

// mergeHeads turns [B,H,T,D] into [B,T,H·D].
func mergeHeads(x *autograd.Var) *autograd.Var {
	s := x.Shape()
	return autograd.Reshape(autograd.Permute(x, 0, 2, 1, 3), s[0], s[2], s[1]*s[3])
}

// attnPool is AttentionPool2d: the mean token attends over the mean and
// all spatial tokens (plus positional embeddings); returns [N, EmbedDim].
func (m *Model) attnPool(x *autograd.Var) *autograd.Var {
	s := x.Shape() // N, C, H, W
	n, c := s[0], s[1]
	tokens := autograd.Permute(autograd.Reshape(x, n, c, s[2]*s[3]), 0, 2, 1) // N, HW, C
	mean := autograd.Mean(tokens, 1, true)                                    // N, 1, C
	seq := autograd.Concat([]*autograd.Var{mean, tokens}, 1)                  // N, HW+1, C
	seq = autograd.Add(seq, m.p("visual.attnpool.positional_embedding"))
	const p = "visual.attnpool."
	heads := m.Config.VisionHeads
	q := m.linear(autograd.Narrow(seq, 1, 0, 1), m.p(p+"q_proj.weight"), m.p(p+"q_proj.bias"))
	k := m.linear(seq, m.p(p+"k_proj.weight"), m.p(p+"k_proj.bias"))
	v := m.linear(seq, m.p(p+"v_proj.weight"), m.p(p+"v_proj.bias"))
	o := mergeHeads(autograd.Attention(splitHeads(q, heads), splitHeads(k, heads), splitHeads(v, heads), nil, false))
	o = m.linear(o, m.p(p+"c_proj.weight"), m.p(p+"c_proj.bias")) // N, 1, E
	return autograd.Reshape(o, n, m.Config.EmbedDim)
}

// resblock is the pre-LN residual attention block shared by the text
// transformer and the ViT: x += attn(ln_1(x)); x += mlp(ln_2(x)).
func (m *Model) resblock(x *autograd.Var, p string, heads int, causal bool) *autograd.Var {
	q, k, v := m.qkv(x, p)
	a := autograd.Attention(splitHeads(q, heads), splitHeads(k, heads), splitHeads(v, heads), nil, causal)
	x = autograd.Add(x, m.linear(mergeHeads(a), m.p(p+"attn.out_proj.weight"), m.p(p+"attn.out_proj.bias")))
	return m.mlp(x, p)
}

// qkv returns the q, k and v projections of ln_1(x) ([B,T,W] each), as
// three products with the row blocks of the packed in_proj weight, so no
// activation has to be split afterwards.
func (m *Model) qkv(x *autograd.Var, p string) (q, k, v *autograd.Var) {
	h := autograd.LayerNorm(x, m.p(p+"ln_1.weight"), m.p(p+"ln_1.bias"), lnEps)
	w := m.inProj(p)
	return m.linear(h, w[0], w[1]), m.linear(h, w[2], w[3]), m.linear(h, w[4], w[5])
}

// inProj returns the q, k and v weights and biases of block p: slices of
// the packed in_proj parameters, cached for a frozen model (built when it
// is frozen, so never inside a tensor.Arena) and through Narrow, so that
// gradients reach the packed parameters, for a trainable one.
func (m *Model) inProj(p string) [6]*autograd.Var {
	if w, ok := m.inproj[p]; ok {
		return w
	}
	W, B := m.p(p+"attn.in_proj_weight"), m.p(p+"attn.in_proj_bias")
	n := W.Shape()[1]
	var out [6]*autograd.Var
	for i := 0; i < 3; i++ {
		out[2*i] = autograd.Narrow(W, 0, i*n, n)
		out[2*i+1] = autograd.Narrow(B, 0, i*n, n)
	}
	return out
}

// cacheInProj splits every block's packed in_proj once (frozen models).
func (m *Model) cacheInProj() {
	m.inproj = map[string][6]*autograd.Var{}
	var blocks []string
	for i := 0; i < m.Config.TransformerLayers; i++ {
		blocks = append(blocks, "transformer.resblocks."+strconv.Itoa(i)+".")
	}
	if m.Config.IsViT() {
		for i := 0; i < m.Config.VisionDepth; i++ {
			blocks = append(blocks, "visual.transformer.resblocks."+strconv.Itoa(i)+".")
		}
	}
	var w [6]*autograd.Var
	for _, p := range blocks {
		autograd.NoGrad(func() { w = m.inProj(p) })
		m.inproj[p] = w
	}
	m.cachePacked(blocks)
}

// cachePacked registers the Linear weights of the frozen transformer
// blocks (and of a ResNet tower's attention pool) for packed products:
// each is packed for kernels.SgemmPacked on first use and reused by every
// later call (see autograd.PackedWeight). Only for frozen models, whose
// weights are constants: SetTrainable(true) drops the cache, and code that
// writes into a frozen model's weights in place must refreeze it
// (SetTrainable(false)) to rebuild the cache.
func (m *Model) cachePacked(blocks []string) {
	m.packed = map[*autograd.Var]*autograd.PackedWeight{}
	add := func(w *autograd.Var) {
		pw := autograd.NewPackedWeight(w)
		pw.SetPrecision(m.precision)
		m.packed[w] = pw
	}
	for _, p := range blocks {
		w := m.inproj[p]
		add(w[0])
		add(w[2])
		add(w[4])
		for _, k := range []string{"attn.out_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight"} {
			add(m.p(p + k))
		}
	}
	if !m.Config.IsViT() {
		for _, k := range []string{"q_proj", "k_proj", "v_proj", "c_proj"} {
			add(m.p("visual.attnpool." + k + ".weight"))
		}
	}
}

// linear is autograd.Linear, through the weight's packed forms when the
// model is frozen and w is one of its cached Linear weights.
func (m *Model) linear(x, w, b *autograd.Var) *autograd.Var {
	if pw := m.packed[w]; pw != nil {
		return autograd.LinearPacked(x, pw, b)
	}
	return autograd.Linear(x, w, b)
}

// attentionPrecision is the number format of the text tower's attention
// products: the model's precision while it is frozen (as for the packed
// Linear weights), fp32 while it is trainable.
func (m *Model) attentionPrecision() autograd.Precision {
	if m.packed == nil {
		return autograd.FP32
	}
	return m.precision
}

// mlp is the second half of a residual block: x + c_proj(QuickGELU(c_fc(ln_2(x)))).
func (m *Model) mlp(x *autograd.Var, p string) *autograd.Var {
	h := autograd.LayerNorm(x, m.p(p+"ln_2.weight"), m.p(p+"ln_2.bias"), lnEps)
	h = autograd.QuickGelu(m.linear(h, m.p(p+"mlp.c_fc.weight"), m.p(p+"mlp.c_fc.bias")))
	return autograd.Add(x, m.linear(h, m.p(p+"mlp.c_proj.weight"), m.p(p+"mlp.c_proj.bias")))
}

// vit runs the VisionTransformer tower on x [N,3,R,R] and returns [N,E].
func (m *Model) vit(x *autograd.Var) *autograd.Var {
	ps := m.Config.PatchSize
	x = autograd.Conv2d(x, m.p("visual.conv1.weight"), nil, autograd.Conv2dOptions{StrideH: ps, StrideW: ps})
	s := x.Shape() // N, W, g, g
	n, w := s[0], s[1]
	x = autograd.Permute(autograd.Reshape(x, n, w, s[2]*s[3]), 0, 2, 1) // N, g², W
	cls := autograd.Expand(autograd.Reshape(m.p("visual.class_embedding"), 1, 1, w), n, 1, w)
	x = autograd.Concat([]*autograd.Var{cls, x}, 1)
	x = autograd.Add(x, m.p("visual.positional_embedding"))
	x = autograd.LayerNorm(x, m.p("visual.ln_pre.weight"), m.p("visual.ln_pre.bias"), lnEps)
	for i := 0; i < m.Config.VisionDepth; i++ {
		x = m.resblock(x, "visual.transformer.resblocks."+strconv.Itoa(i)+".", m.Config.VisionHeads, false)
	}
	x = autograd.Reshape(autograd.Narrow(x, 1, 0, 1), n, w)
	x = autograd.LayerNorm(x, m.p("visual.ln_post.weight"), m.p("visual.ln_post.bias"), lnEps)
	return autograd.MatMul(x, m.p("visual.proj"), false, false)
}

// ImageFeatures runs the image tower on preprocessed images [N,3,R,R]
// and returns the unnormalised image features [N, EmbedDim]. Gradients
// flow when the model is trainable or the input requires them.
func (m *Model) ImageFeatures(x *autograd.Var) *autograd.Var {
	s := x.Shape()
	r := m.Config.ImageResolution
	if len(s) != 4 || s[1] != 3 || s[2] != r || s[3] != r {
		panic(fmt.Sprintf("clip.ImageFeatures: input %v, want [N,3,%d,%d]", s, r, r))
	}
	if m.Config.IsViT() {
		return m.vit(x)
	}
	return m.resnet(x)
}

// TokenEmbeddings looks up the token embeddings of ids [B,T] (flattened
// row-major) and returns [B,T,Width].
func (m *Model) TokenEmbeddings(ids []int, batch, length int) *autograd.Var {
	return autograd.Embedding(m.p("token_embedding.weight"), ids, batch, length)
}

// TextFeaturesFromEmbeddings runs the text transformer on input
// embeddings x [B,T,Width] (token embeddings, possibly with learned
// context vectors in place of some tokens; T ≤ ContextLength) and pools
// the hidden state of row b at position eot[b]. It returns [B, EmbedDim].
//
// Because the attention is causal, positions after the last EOT never
// influence the pooled states, so callers may pass only the first
// max(eot)+1 positions: the result is the same as for the full context.
func (m *Model) TextFeaturesFromEmbeddings(x *autograd.Var, eot []int) *autograd.Var {
	s := x.Shape()
	if len(s) != 3 || s[2] != m.Config.TransformerWidth || s[1] > m.Config.ContextLength || len(eot) != s[0] {
		panic(fmt.Sprintf("clip.TextFeaturesFromEmbeddings: input %v with %d EOT positions (width %d, context %d)", s, len(eot), m.Config.TransformerWidth, m.Config.ContextLength))
	}
	b, t, w := s[0], s[1], s[2]
	pos := autograd.Narrow(m.p("positional_embedding"), 0, 0, t)
	x = autograd.Add(x, pos)
	for i := 0; i < m.Config.TransformerLayers; i++ {
		x = m.resblock(x, "transformer.resblocks."+strconv.Itoa(i)+".", m.Config.TransformerHeads, true)
	}
	rows := make([]int, b)
	for i, e := range eot {
		if e < 0 || e >= t {
			panic(fmt.Sprintf("clip.TextFeaturesFromEmbeddings: EOT position %d outside [0,%d)", e, t))
		}
		rows[i] = i*t + e
	}
	x = autograd.IndexSelect(autograd.Reshape(x, b*t, w), 0, rows)
	x = autograd.LayerNorm(x, m.p("ln_final.weight"), m.p("ln_final.bias"), lnEps)
	return autograd.MatMul(x, m.p("text_projection"), false, false)
}

// TextFeaturesShared encodes C sequences that each begin with one of G
// shared prefixes, running every prefix through the transformer once:
// prefix holds the input embeddings [G,P,W] of positions 0..P-1 and
// suffix those [C,S,W] of positions P..P+S-1 of each sequence; group[c]
// (non-decreasing) names the prefix of sequence c and eot[c] its EOT
// position in the full sequence (P ≤ eot[c] < P+S). In every layer the
// suffix tokens attend to the cached keys and values of their prefix
// (autograd.PrefixAttention), so the result equals
// TextFeaturesFromEmbeddings on the concatenated sequences up to float
// rounding, forward and backward, at a fraction of the cost when many
// sequences share a long prefix (SOS + learned context).
func (m *Model) TextFeaturesShared(prefix, suffix *autograd.Var, group, eot []int) *autograd.Var {
	return m.TextFeaturesSharedBuckets(prefix, []*autograd.Var{suffix}, [][]int{group}, [][]int{eot})[0]
}

// TextFeaturesSharedBuckets is TextFeaturesShared for several buckets of
// suffixes of different lengths (for example one bucket per suffix
// length, so that no padding is encoded), all continuing the same
// prefixes, which are encoded once. It returns the features of each
// bucket.
func (m *Model) TextFeaturesSharedBuckets(prefix *autograd.Var, suffixes []*autograd.Var, groups, eots [][]int) []*autograd.Var {
	ps := prefix.Shape()
	W := m.Config.TransformerWidth
	if len(ps) != 3 || ps[2] != W || len(groups) != len(suffixes) || len(eots) != len(suffixes) {
		panic(fmt.Sprintf("clip.TextFeaturesShared: prefix %v (width %d) with %d suffix buckets, %d group lists, %d EOT lists", ps, W, len(suffixes), len(groups), len(eots)))
	}
	P := ps[1]
	pos := m.p("positional_embedding")
	hp := autograd.Add(prefix, autograd.Narrow(pos, 0, 0, P))
	hs := make([]*autograd.Var, len(suffixes))
	for b, sfx := range suffixes {
		ss := sfx.Shape()
		if len(ss) != 3 || ss[2] != W || P+ss[1] > m.Config.ContextLength || len(groups[b]) != ss[0] || len(eots[b]) != ss[0] {
			panic(fmt.Sprintf("clip.TextFeaturesShared: prefix %v suffix %v with %d groups and %d EOT positions (width %d, context %d)", ps, ss, len(groups[b]), len(eots[b]), W, m.Config.ContextLength))
		}
		hs[b] = autograd.Add(sfx, autograd.Narrow(pos, 0, P, ss[1]))
	}
	heads := m.Config.TransformerHeads
	for i := 0; i < m.Config.TransformerLayers; i++ {
		p := "transformer.resblocks." + strconv.Itoa(i) + "."
		outW, outB := m.p(p+"attn.out_proj.weight"), m.p(p+"attn.out_proj.bias")
		qp, kp, vp := m.qkv(hp, p)
		for b := range hs {
			qs, ks, vs := m.qkv(hs[b], p)
			as := autograd.PrefixAttention(qs, ks, vs, kp, vp, groups[b], heads, m.attentionPrecision())
			hs[b] = m.mlp(autograd.Add(hs[b], m.linear(as, outW, outB)), p)
		}
		if i < m.Config.TransformerLayers-1 { // the last layer's prefix output is never read
			ap := mergeHeads(autograd.Attention(splitHeads(qp, heads), splitHeads(kp, heads), splitHeads(vp, heads), nil, true))
			hp = m.mlp(autograd.Add(hp, m.linear(ap, outW, outB)), p)
		}
	}
	out := make([]*autograd.Var, len(hs))
	for b, h := range hs {
		C, S := h.Shape()[0], h.Shape()[1]
		rows := make([]int, C)
		for c, e := range eots[b] {
			if e < P || e >= P+S {
				panic(fmt.Sprintf("clip.TextFeaturesShared: EOT position %d outside the suffix [%d,%d)", e, P, P+S))
			}
			rows[c] = c*S + e - P
		}
		x := autograd.IndexSelect(autograd.Reshape(h, C*S, W), 0, rows)
		x = autograd.LayerNorm(x, m.p("ln_final.weight"), m.p("ln_final.bias"), lnEps)
		out[b] = autograd.MatMul(x, m.p("text_projection"), false, false)
	}
	return out
}

// EOTPositions returns, for each row of token ids [B,T], the position of
// the largest id (the EOT token), as OpenAI's code does with argmax.
func EOTPositions(ids []int, batch, length int) []int {
	out := make([]int, batch)
	for b := 0; b < batch; b++ {
		best := 0
		for j := 1; j < length; j++ {
			if ids[b*length+j] > ids[b*length+best] {
				best = j
			}
		}
		out[b] = best
	}
	return out
}

// TextFeatures encodes token ids [B,T] (T = ContextLength, zero padded)
// into unnormalised text features [B, EmbedDim], running the transformer
// only up to the last EOT position of the batch (exact under the causal
// mask).
func (m *Model) TextFeatures(ids []int, batch, length int) *autograd.Var {
	if length > m.Config.ContextLength || len(ids) != batch*length {
		panic(fmt.Sprintf("clip.TextFeatures: %d ids for %d×%d (context %d)", len(ids), batch, length, m.Config.ContextLength))
	}
	for _, id := range ids {
		if id < 0 || id >= m.Config.VocabSize {
			panic(fmt.Sprintf("clip.TextFeatures: token id %d outside the vocabulary of %d", id, m.Config.VocabSize))
		}
	}
	eot := EOTPositions(ids, batch, length)
	t := 1
	for _, e := range eot {
		t = max(t, e+1)
	}
	short := make([]int, 0, batch*t)
	for b := 0; b < batch; b++ {
		short = append(short, ids[b*length:b*length+t]...)
	}
	return m.TextFeaturesFromEmbeddings(m.TokenEmbeddings(short, batch, t), eot)
}

// imageChunkBytes bounds the activations that EncodeImage allocates per
// chunk of images. In eval mode every image is independent, so chunking is
// exact; it bounds the activations alive at a time (a batch of 32 RN50
// images would otherwise hold over a gigabyte of activations between
// collections). maxImageChunk caps the chunk for small towers.
const (
	imageChunkBytes = 64 << 20
	maxImageChunk   = 64
)

// EncodeImage returns the image features [N, EmbedDim] of preprocessed
// images [N,3,R,R] without recording a graph. With BatchNorm in eval mode
// it encodes the batch in chunks (exact): the first image alone, which
// measures the bytes one image allocates, then as many images per chunk as
// fit in imageChunkBytes (1 for RN50 at 224 px, maxImageChunk for the
// shipped 32-px model), collecting the garbage after each chunk only when
// a chunk allocates more than half the budget.
func (m *Model) EncodeImage(images *tensor.Tensor) *tensor.Tensor {
	n := images.Dim(0)
	encode := func(s, k int) *tensor.Tensor {
		var f *autograd.Var
		autograd.NoGrad(func() { f = m.ImageFeatures(autograd.Const(images.Narrow(0, s, k).Contiguous())) })
		return f.Value
	}
	if m.train || n == 1 {
		return encode(0, n)
	}
	E := m.Config.EmbedDim
	out := tensor.New(n, E)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	copy(out.Data()[:E], encode(0, 1).Data())
	runtime.ReadMemStats(&after)
	per := max(1, after.TotalAlloc-before.TotalAlloc)
	chunk := int(max(1, min(maxImageChunk, imageChunkBytes/per)))
	collect := uint64(chunk)*per > imageChunkBytes/2
	for s := 1; s < n; s += chunk {
		if collect {
			// The last chunk's activations are garbage now. The heap
			// is dominated by the (pointer-free) weights, so a
			// collection is cheap, and without it the collector lets
			// garbage grow to the size of the weights before it runs:
			// peak memory would be about twice the model instead of
			// the model plus one chunk.
			runtime.GC()
		}
		k := min(chunk, n-s)
		copy(out.Data()[s*E:(s+k)*E], encode(s, k).Data())
	}
	return out
}

// EncodeText returns the text features [B, EmbedDim] of token ids [B,T]
// without recording a graph.
func (m *Model) EncodeText(ids []int, batch, length int) *tensor.Tensor {
	var out *autograd.Var
	autograd.NoGrad(func() { out = m.TextFeatures(ids, batch, length) })
	return out.Value
}
