package clip

import (
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/tensor"
)

// Config describes a CLIP architecture. It is inferred from a state dict's
// key names and shapes exactly as OpenAI's build_model does.
type Config struct {
	EmbedDim int // joint embedding size (text_projection columns)

	// Image tower. VisionLayers holds the four ResNet stage depths for a
	// ModifiedResNet; for a ViT it is nil and VisionDepth holds the number
	// of transformer blocks.
	ImageResolution int
	VisionLayers    []int
	VisionDepth     int
	VisionWidth     int
	VisionHeads     int
	PatchSize       int // ViT only

	// Text tower.
	ContextLength     int
	VocabSize         int
	TransformerWidth  int
	TransformerHeads  int
	TransformerLayers int
}

// IsViT reports whether the image tower is a VisionTransformer.
func (c Config) IsViT() bool { return c.VisionLayers == nil }

// RN50 is the configuration of OpenAI's RN50 model.
func RN50() Config {
	return Config{EmbedDim: 1024, ImageResolution: 224, VisionLayers: []int{3, 4, 6, 3}, VisionWidth: 64, VisionHeads: 32,
		ContextLength: 77, VocabSize: 49408, TransformerWidth: 512, TransformerHeads: 8, TransformerLayers: 12}
}

// ViTB32 is the configuration of OpenAI's ViT-B/32 model.
func ViTB32() Config {
	return Config{EmbedDim: 512, ImageResolution: 224, VisionDepth: 12, VisionWidth: 768, VisionHeads: 12, PatchSize: 32,
		ContextLength: 77, VocabSize: 49408, TransformerWidth: 512, TransformerHeads: 8, TransformerLayers: 12}
}

// need returns the tensor under key or an error naming it.
func need(sd map[string]*tensor.Tensor, key string, ndim int) (*tensor.Tensor, error) {
	t, ok := sd[key]
	if !ok {
		return nil, errors.Errorf("state dict has no %q", key)
	}
	if ndim >= 0 && t.NDim() != ndim {
		return nil, errors.Errorf("%q has shape %v, want %d dimensions", key, t.Shape(), ndim)
	}
	return t, nil
}

// countIndices counts the distinct integers i in keys "<prefix><i>.…".
func countIndices(sd map[string]*tensor.Tensor, prefix string) int {
	seen := map[int]bool{}
	for k := range sd {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		rest := k[len(prefix):]
		if j := strings.IndexByte(rest, '.'); j > 0 {
			if i, err := strconv.Atoi(rest[:j]); err == nil {
				seen[i] = true
			}
		}
	}
	return len(seen)
}

// Options override what cannot be inferred from shapes alone. OpenAI's
// rule gives one attention head per 64 channels, which leaves models
// narrower than 64 (test fixtures, tiny models) without heads; their
// head counts come from here or from a safetensors file's metadata
// ("vision_heads", "transformer_heads").
type Options struct {
	VisionHeads      int
	TransformerHeads int
}

// InferConfig derives the architecture from a state dict as OpenAI's
// build_model does (clip/model.py).
func InferConfig(sd map[string]*tensor.Tensor) (Config, error) {
	return InferConfigWith(sd, Options{})
}

// InferConfigWith is InferConfig with head counts taken from opt where
// they are set.
func InferConfigWith(sd map[string]*tensor.Tensor, opt Options) (Config, error) {
	c, err := inferConfig(sd)
	if opt.VisionHeads > 0 {
		c.VisionHeads = opt.VisionHeads
	}
	if opt.TransformerHeads > 0 {
		c.TransformerHeads = opt.TransformerHeads
	}
	if err != nil {
		return c, err
	}
	if c.TransformerHeads <= 0 || c.VisionHeads <= 0 {
		return c, errors.Errorf("widths (text %d, vision %d) are below one 64-wide attention head; give the head counts (Options, or vision_heads/transformer_heads metadata)", c.TransformerWidth, c.VisionWidth)
	}
	vw := c.VisionWidth
	if !c.IsViT() {
		vw *= 32
	}
	if c.TransformerWidth%c.TransformerHeads != 0 || vw%c.VisionHeads != 0 {
		return c, errors.Errorf("head counts (text %d, vision %d) do not divide the widths (%d, %d)", c.TransformerHeads, c.VisionHeads, c.TransformerWidth, vw)
	}
	return c, nil
}

func inferConfig(sd map[string]*tensor.Tensor) (Config, error) {
	var c Config
	if _, vit := sd["visual.proj"]; vit {
		w, err := need(sd, "visual.conv1.weight", 4)
		if err != nil {
			return c, err
		}
		c.VisionWidth = w.Dim(0)
		c.PatchSize = w.Dim(3)
		n := 0
		for k := range sd {
			if strings.HasPrefix(k, "visual.") && strings.HasSuffix(k, ".attn.in_proj_weight") {
				n++
			}
		}
		c.VisionDepth = n
		pos, err := need(sd, "visual.positional_embedding", 2)
		if err != nil {
			return c, err
		}
		grid := int(math.Round(math.Sqrt(float64(pos.Dim(0) - 1))))
		if grid*grid+1 != pos.Dim(0) {
			return c, errors.Errorf("visual.positional_embedding has %d rows, not grid²+1", pos.Dim(0))
		}
		c.ImageResolution = c.PatchSize * grid
		c.VisionHeads = c.VisionWidth / 64
	} else {
		c.VisionLayers = make([]int, 4)
		for i := range c.VisionLayers {
			c.VisionLayers[i] = countIndices(sd, "visual.layer"+strconv.Itoa(i+1)+".")
			if c.VisionLayers[i] == 0 {
				return c, errors.Errorf("state dict has no visual.layer%d blocks (neither a ResNet nor a ViT CLIP)", i+1)
			}
		}
		w, err := need(sd, "visual.layer1.0.conv1.weight", 4)
		if err != nil {
			return c, err
		}
		c.VisionWidth = w.Dim(0)
		pos, err := need(sd, "visual.attnpool.positional_embedding", 2)
		if err != nil {
			return c, err
		}
		side := int(math.Round(math.Sqrt(float64(pos.Dim(0) - 1))))
		if side*side+1 != pos.Dim(0) {
			return c, errors.Errorf("visual.attnpool.positional_embedding has %d rows, not side²+1", pos.Dim(0))
		}
		c.ImageResolution = 32 * side
		c.VisionHeads = c.VisionWidth * 32 / 64
	}
	tp, err := need(sd, "text_projection", 2)
	if err != nil {
		return c, err
	}
	c.EmbedDim = tp.Dim(1)
	pos, err := need(sd, "positional_embedding", 2)
	if err != nil {
		return c, err
	}
	c.ContextLength = pos.Dim(0)
	te, err := need(sd, "token_embedding.weight", 2)
	if err != nil {
		return c, err
	}
	c.VocabSize = te.Dim(0)
	lf, err := need(sd, "ln_final.weight", 1)
	if err != nil {
		return c, err
	}
	c.TransformerWidth = lf.Dim(0)
	c.TransformerHeads = c.TransformerWidth / 64
	c.TransformerLayers = countIndices(sd, "transformer.resblocks.")
	return c, nil
}

// ParamShapes returns every parameter and buffer key of the architecture
// with its shape, in OpenAI's state-dict order.
func (c Config) ParamShapes() ([]string, map[string][]int) {
	var keys []string
	shapes := map[string][]int{}
	add := func(k string, s ...int) {
		keys = append(keys, k)
		shapes[k] = s
	}
	W := c.TransformerWidth
	add("positional_embedding", c.ContextLength, W)
	add("text_projection", W, c.EmbedDim)
	add("logit_scale")
	block := func(p string, w int) {
		add(p+"attn.in_proj_weight", 3*w, w)
		add(p+"attn.in_proj_bias", 3*w)
		add(p+"attn.out_proj.weight", w, w)
		add(p+"attn.out_proj.bias", w)
		add(p+"ln_1.weight", w)
		add(p+"ln_1.bias", w)
		add(p+"mlp.c_fc.weight", 4*w, w)
		add(p+"mlp.c_fc.bias", 4*w)
		add(p+"mlp.c_proj.weight", w, 4*w)
		add(p+"mlp.c_proj.bias", w)
		add(p+"ln_2.weight", w)
		add(p+"ln_2.bias", w)
	}
	bn := func(p string, n int) {
		add(p+".weight", n)
		add(p+".bias", n)
		add(p+".running_mean", n)
		add(p+".running_var", n)
	}
	if c.IsViT() {
		vw := c.VisionWidth
		g := c.ImageResolution / c.PatchSize
		add("visual.class_embedding", vw)
		add("visual.positional_embedding", g*g+1, vw)
		add("visual.proj", vw, c.EmbedDim)
		add("visual.conv1.weight", vw, 3, c.PatchSize, c.PatchSize)
		add("visual.ln_pre.weight", vw)
		add("visual.ln_pre.bias", vw)
		for i := 0; i < c.VisionDepth; i++ {
			block("visual.transformer.resblocks."+strconv.Itoa(i)+".", vw)
		}
		add("visual.ln_post.weight", vw)
		add("visual.ln_post.bias", vw)
	} else {
		w := c.VisionWidth
		add("visual.conv1.weight", w/2, 3, 3, 3)
		bn("visual.bn1", w/2)
		add("visual.conv2.weight", w/2, w/2, 3, 3)
		bn("visual.bn2", w/2)
		add("visual.conv3.weight", w, w/2, 3, 3)
		bn("visual.bn3", w)
		inplanes := w
		for l, n := range c.VisionLayers {
			planes := w << l
			for i := 0; i < n; i++ {
				p := "visual.layer" + strconv.Itoa(l+1) + "." + strconv.Itoa(i) + "."
				add(p+"conv1.weight", planes, inplanes, 1, 1)
				bn(p+"bn1", planes)
				add(p+"conv2.weight", planes, planes, 3, 3)
				bn(p+"bn2", planes)
				add(p+"conv3.weight", planes*4, planes, 1, 1)
				bn(p+"bn3", planes*4)
				stride := 1
				if l > 0 && i == 0 {
					stride = 2
				}
				if stride > 1 || inplanes != planes*4 {
					add(p+"downsample.0.weight", planes*4, inplanes, 1, 1)
					bn(p+"downsample.1", planes*4)
				}
				inplanes = planes * 4
			}
		}
		e := w * 32
		side := c.ImageResolution / 32
		add("visual.attnpool.positional_embedding", side*side+1, e)
		for _, n := range []string{"k_proj", "q_proj", "v_proj"} {
			add("visual.attnpool."+n+".weight", e, e)
			add("visual.attnpool."+n+".bias", e)
		}
		add("visual.attnpool.c_proj.weight", c.EmbedDim, e)
		add("visual.attnpool.c_proj.bias", c.EmbedDim)
	}
	add("token_embedding.weight", c.VocabSize, W)
	for i := 0; i < c.TransformerLayers; i++ {
		block("transformer.resblocks."+strconv.Itoa(i)+".", W)
	}
	add("ln_final.weight", W)
	add("ln_final.bias", W)
	return keys, shapes
}

// sortedKeys returns the keys of a map in lexical order (error messages).
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
