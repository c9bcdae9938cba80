package clip

import (
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/autograd"
	"github.com/softcpt/softcpt-go/tensor"
)

// Model is a CLIP model: an image tower (ModifiedResNet or
// VisionTransformer), a causal text transformer and the logit scale.
//
// Parameters are held by OpenAI's state-dict key names. A loaded model is
// frozen: its parameters are constants, no graph is recorded through it,
// and the BatchNorm layers of a ResNet tower run in eval mode with the
// BatchNorm folded into the preceding convolution (exact up to float
// rounding). SetTrainable(true) turns the parameters into leaves that
// require gradients (pretraining) and unfolds BatchNorm.
type Model struct {
	Config Config

	params map[string]*autograd.Var
	keys   []string
	// buffers holds BatchNorm running statistics by key.
	buffers map[string]*tensor.Tensor

	trainable bool
	// train selects BatchNorm batch statistics (pretraining only).
	train bool
	// folded holds conv weights/biases with BatchNorm folded in, keyed by
	// the conv weight key; nil when not folded.
	folded map[string][2]*tensor.Tensor
	// inproj caches the q/k/v slices of the packed attention in-projection
	// of a frozen model, by block prefix.
	inproj map[string][6]*autograd.Var
	// packed holds the frozen model's Linear weights with their lazily
	// packed forms (cachePacked); nil when trainable.
	packed map[*autograd.Var]*autograd.PackedWeight
	// precision is the number format of the frozen towers' products
	// (SetPrecision); convs holds the folded conv weights with their bf16
	// filters, by conv key, at precision BF16 (built lazily).
	precision autograd.Precision
	convMu    sync.Mutex
	convs     map[string]*autograd.PackedConv
}

// droppedKeys are entries of OpenAI's state dicts that are not parameters.
var droppedKeys = map[string]bool{"input_resolution": true, "context_length": true, "vocab_size": true}

// FromStateDict builds a model from tensors named as in OpenAI's state
// dicts. The architecture is inferred from the shapes. Every expected key
// must be present with the expected shape; the error lists all missing
// and mismatched keys by name. Unexpected keys (other than the three
// integer metadata entries and num_batches_tracked) are reported too.
// The tensors are used as they are (not copied).
func FromStateDict(sd map[string]*tensor.Tensor) (*Model, error) {
	return FromStateDictWith(sd, Options{})
}

// FromStateDictWith is FromStateDict with head counts from opt.
func FromStateDictWith(sd map[string]*tensor.Tensor, opt Options) (*Model, error) {
	cfg, err := InferConfigWith(sd, opt)
	if err != nil {
		return nil, errors.Wrap(err, "clip: inferring the architecture")
	}
	keys, shapes := cfg.ParamShapes()
	var missing, wrong []string
	for _, k := range keys {
		t, ok := sd[k]
		switch {
		case !ok:
			missing = append(missing, k)
		case !tensor.SameShape(t.Shape(), shapes[k]) && !(k == "logit_scale" && t.Numel() == 1):
			wrong = append(wrong, fmt.Sprintf("%s: got %v, want %v", k, t.Shape(), shapes[k]))
		}
	}
	var unexpected []string
	for _, k := range sortedKeys(sd) {
		if _, ok := shapes[k]; !ok && !droppedKeys[k] && !strings.HasSuffix(k, ".num_batches_tracked") {
			unexpected = append(unexpected, k)
		}
	}
	if len(missing)+len(wrong)+len(unexpected) > 0 {
		var b strings.Builder
		if len(missing) > 0 {
			fmt.Fprintf(&b, "missing keys: %s; ", strings.Join(missing, ", "))
		}
		if len(wrong) > 0 {
			fmt.Fprintf(&b, "wrong shapes: %s; ", strings.Join(wrong, "; "))
		}
		if len(unexpected) > 0 {
			fmt.Fprintf(&b, "unexpected keys: %s; ", strings.Join(unexpected, ", "))
		}
		return nil, errors.Errorf("clip: state dict does not match the inferred architecture: %s", strings.TrimSuffix(b.String(), "; "))
	}
	m := &Model{Config: cfg, params: map[string]*autograd.Var{}, buffers: map[string]*tensor.Tensor{}}
	for _, k := range keys {
		t := sd[k].Contiguous()
		if strings.HasSuffix(k, ".running_mean") || strings.HasSuffix(k, ".running_var") {
			m.buffers[k] = t
			continue
		}
		if k == "logit_scale" {
			t = t.Reshape()
		}
		v := autograd.Const(t)
		v.Name = k
		m.params[k] = v
		m.keys = append(m.keys, k)
	}
	if !cfg.IsViT() {
		m.foldBatchNorm()
	}
	m.cacheInProj()
	return m, nil
}

// NewRandom returns a model of the given architecture with OpenAI's
// initialisation (CLIP.initialize_parameters plus PyTorch's layer
// defaults), drawn from a seeded generator. It is trainable.
func NewRandom(cfg Config, seed uint64) *Model {
	rng := tensor.NewRNG(seed)
	keys, shapes := cfg.ParamShapes()
	sd := map[string]*tensor.Tensor{}
	W := float32(cfg.TransformerWidth)
	L := float32(cfg.TransformerLayers)
	for _, k := range keys {
		s := shapes[k]
		var t *tensor.Tensor
		switch {
		case k == "logit_scale":
			t = tensor.Scalar(float32(math.Log(1 / 0.07)))
		case strings.HasSuffix(k, ".running_var") || (strings.Contains(k, "ln_") || strings.Contains(k, ".bn") || strings.Contains(k, "downsample.1")) && strings.HasSuffix(k, ".weight"):
			t = tensor.Ones(s...)
		case strings.HasSuffix(k, ".running_mean") || strings.HasSuffix(k, "in_proj_bias") || strings.HasSuffix(k, "out_proj.bias"):
			t = tensor.New(s...)
		case strings.Contains(k, "ln_") || strings.Contains(k, ".bn") || strings.Contains(k, "downsample.1"):
			t = tensor.New(s...) // norm biases
		case k == "token_embedding.weight":
			t = tensor.RandN(rng, 0, 0.02, s...)
		case k == "positional_embedding":
			t = tensor.RandN(rng, 0, 0.01, s...)
		case k == "text_projection":
			t = tensor.RandN(rng, 0, 1/float32(math.Sqrt(float64(W))), s...)
		case strings.HasPrefix(k, "transformer.") && strings.HasSuffix(k, ".weight"):
			std := 1 / float32(math.Sqrt(float64(W))) // attention in_proj
			switch {
			case strings.Contains(k, "out_proj") || strings.Contains(k, "c_proj"):
				std /= float32(math.Sqrt(float64(2 * L)))
			case strings.Contains(k, "c_fc"):
				std = 1 / float32(math.Sqrt(float64(2*W)))
			}
			t = tensor.RandN(rng, 0, std, s...)
		case strings.HasPrefix(k, "visual.attnpool.") && strings.HasSuffix(k, ".weight"):
			t = tensor.RandN(rng, 0, 1/float32(math.Sqrt(float64(s[1]))), s...)
		case k == "visual.class_embedding" || k == "visual.positional_embedding" || k == "visual.proj" || k == "visual.attnpool.positional_embedding":
			scale := 1 / float32(math.Sqrt(float64(s[len(s)-1])))
			if k == "visual.proj" {
				scale = 1 / float32(math.Sqrt(float64(s[0])))
			}
			t = tensor.RandN(rng, 0, scale, s...)
		default:
			// PyTorch's default for Linear/Conv weights and biases:
			// U(±1/√fan_in).
			fanIn := 1
			if len(s) > 1 {
				fanIn = tensor.Numel(s[1:])
			} else if strings.HasSuffix(k, ".bias") {
				if w, ok := shapes[strings.TrimSuffix(k, ".bias")+".weight"]; ok && len(w) > 1 {
					fanIn = tensor.Numel(w[1:])
				}
			}
			b := 1 / float32(math.Sqrt(float64(fanIn)))
			t = tensor.RandU(rng, -b, b, s...)
		}
		sd[k] = t
	}
	m, err := FromStateDictWith(sd, Options{VisionHeads: cfg.VisionHeads, TransformerHeads: cfg.TransformerHeads})
	if err != nil {
		panic("clip.NewRandom: " + err.Error()) // ParamShapes and FromStateDict disagree: a bug
	}
	m.SetTrainable(true)
	return m
}

// p returns the parameter under key (a programming error if absent).
func (m *Model) p(key string) *autograd.Var {
	v, ok := m.params[key]
	if !ok {
		panic("clip: no parameter " + key)
	}
	return v
}

// Param returns the parameter stored under an OpenAI state-dict key.
// A frozen model caches packed copies of its transformer Linear weights:
// after writing into a frozen parameter's storage, call SetTrainable(false)
// again to rebuild them.
func (m *Model) Param(key string) (*autograd.Var, bool) {
	v, ok := m.params[key]
	return v, ok
}

// Keys returns the parameter keys in state-dict order (buffers excluded).
func (m *Model) Keys() []string { return m.keys }

// Parameters returns every parameter in state-dict order.
func (m *Model) Parameters() []*autograd.Var {
	out := make([]*autograd.Var, len(m.keys))
	for i, k := range m.keys {
		out[i] = m.params[k]
	}
	return out
}

// StateDict returns parameters and buffers by OpenAI key (shared, not
// copied); with it a model round-trips through a safetensors file.
func (m *Model) StateDict() map[string]*tensor.Tensor {
	sd := make(map[string]*tensor.Tensor, len(m.params)+len(m.buffers))
	for k, v := range m.params {
		sd[k] = v.Value
	}
	for k, t := range m.buffers {
		sd[k] = t
	}
	return sd
}

// LogitScale returns exp(logit_scale), the temperature of the logits.
func (m *Model) LogitScale() float32 {
	return float32(math.Exp(float64(m.p("logit_scale").Value.Item())))
}

// SetTrainable makes every parameter a leaf that requires gradients (true)
// or a constant (false). A trainable ResNet tower uses unfolded BatchNorm.
func (m *Model) SetTrainable(b bool) {
	m.trainable = b
	m.inproj = nil
	m.packed = nil
	m.convs = nil
	for _, v := range m.params {
		v.SetRequiresGrad(b)
	}
	if b {
		m.folded = nil
		return
	}
	if !m.Config.IsViT() {
		m.foldBatchNorm()
	}
	m.cacheInProj()
}

// SetPrecision selects the number format of a frozen model's towers:
// autograd.FP32 (the default) or autograd.BF16, where the products with
// the frozen weights (the image tower's convolutions and linear layers,
// the text transformer's linear layers, forward and the gradient with
// respect to the activations) take bf16-rounded operands with fp32 sums
// (kernels.GemmBF16). Everything else (attention, normalisation, the
// projections, gradients reaching learned inputs, the loss) stays fp32.
// It applies while the model is frozen (also after SetTrainable(false));
// a trainable model computes in fp32. On a CPU without AVX512-BF16 the
// bf16 products run in fp32 (with a note on stderr).
func (m *Model) SetPrecision(p autograd.Precision) {
	m.precision = p
	m.convMu.Lock()
	m.convs = nil
	m.convMu.Unlock()
	for _, pw := range m.packed {
		pw.SetPrecision(p)
	}
}

// Precision returns the number format set by SetPrecision.
func (m *Model) Precision() autograd.Precision { return m.precision }

// packedConv returns the bf16 filters of the folded conv convKey (weight
// w), making them on first use.
func (m *Model) packedConv(convKey string, w *tensor.Tensor) *autograd.PackedConv {
	m.convMu.Lock()
	defer m.convMu.Unlock()
	if pc := m.convs[convKey]; pc != nil && pc.Weight().Value == w {
		return pc
	}
	if m.convs == nil {
		m.convs = map[string]*autograd.PackedConv{}
	}
	pc := autograd.NewPackedConv(autograd.Const(w))
	m.convs[convKey] = pc
	return pc
}

// Train switches BatchNorm between batch statistics with running-stat
// updates (true, pretraining) and running statistics (false, the default).
func (m *Model) Train(b bool) { m.train = b }

// foldBatchNorm precomputes the folded weights and biases (FoldedConv) of
// every conv followed by BatchNorm in the ResNet tower.
func (m *Model) foldBatchNorm() {
	m.folded = map[string][2]*tensor.Tensor{}
	for _, k := range m.keys {
		if fw, fb, ok := m.FoldedConv(k); ok {
			m.folded[k] = [2]*tensor.Tensor{fw, fb}
		}
	}
}

// FoldedConv returns the ResNet convolution weight convKey [O, C, KH, KW]
// with the BatchNorm that follows it folded in with its running
// statistics (eval mode), w' = w·γ/√(σ²+ε), and the bias b' = β −
// μ·γ/√(σ²+ε) [O], as the frozen tower computes them; ok is false for any
// other key (a ViT's, the text tower's, a BatchNorm's). The tensors are
// new.
func (m *Model) FoldedConv(convKey string) (w, b *tensor.Tensor, ok bool) {
	v, isParam := m.params[convKey]
	if m.Config.IsViT() || !isParam || !strings.HasSuffix(convKey, ".weight") || v.Value.NDim() != 4 {
		return nil, nil, false
	}
	bnp := bnFor(convKey)
	if bnp == "" {
		return nil, nil, false
	}
	gamma := m.p(bnp + ".weight").Value.Data()
	beta := m.p(bnp + ".bias").Value.Data()
	mean := m.buffers[bnp+".running_mean"].Data()
	variance := m.buffers[bnp+".running_var"].Data()
	out := v.Value.Dim(0)
	per := v.Value.Numel() / out
	// One pass: w' = w·s row by row (no copy of w first).
	w = tensor.New(v.Value.Shape()...)
	b = tensor.New(out)
	wd, fd, bd := v.Value.Contiguous().Data(), w.Data(), b.Data()
	for o := 0; o < out; o++ {
		s := gamma[o] / float32(math.Sqrt(float64(variance[o])+bnEps))
		row := fd[o*per : (o+1)*per]
		for i, x := range wd[o*per : (o+1)*per] {
			row[i] = x * s
		}
		bd[o] = beta[o] - mean[o]*s
	}
	return w, b, true
}

// bnEps is the BatchNorm epsilon of CLIP's ResNets (PyTorch's default).
const bnEps = 1e-5

// lnEps is the LayerNorm epsilon of CLIP (PyTorch's default).
const lnEps = 1e-5

// bnFor returns the BatchNorm prefix that follows a conv weight key in a
// ModifiedResNet, or "".
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
