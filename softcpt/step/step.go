// Package step is one prompt-learner training step (forward, backward and
// SGD) through a frozen CLIP text tower on cached image features, for
// SoftCPT-NATA, SoftCPT-NATS, the class-feature variants
// SoftCPT-CATA/CSTA/CATS/CSTS and CoOp's hard-sharing baselines CoOp-MT,
// CoOp-CA and CoOp-CS (Method), written once against the array operations
// of a backend.Backend. On backend.Host it runs on the operations' Go
// references, so it is tested against softcpt.Learner (the autograd
// reference) on any machine; on a GPU (package cuda, build tag cuda:
// step.New(dev.Backend(), l, m, tok, opt)) it is the device's training
// step. CanTrain says which learners and options it trains.
//
// The step is the CPU learner's Loss + Backward + optim.SGD step with every
// prompt encoded in full ("[SOS][ctx][name][.][EOT]", padded to the
// longest prompt of its group in the step, causal mask, so the padding
// never reaches the pooled EOT states). SoftCPT: task prompts "X×M <task
// name>." with the task context (shared by the tasks for TA, one per task
// for TS) → task features f [T, E]; NA: ctx = reshape(f @ P) [T, N, W];
// CA/CS: class-feature prompts "X×L <class name>." of the batch's classes
// with the class context (shared for CA, one per class for CS) → class
// features g, and each class's own context reshape(x @ P) [N, W] from x =
// [g_c ; f_t] (lin), (g_c+f_t)/2 (linmean) or g_c (lincls). CoOp: ctx is
// the trained context ([N, W] for every class, [T, N, W] per task or
// [ΣC, N, W] per class). Then the class prompts of every class of the
// tasks in the batch with their context → w; loss = batch mean of the
// within-task cross-entropy of exp(logit_scale)·cos(v, w). The CLIP
// weights are frozen, so the backward pass computes input gradients only
// (no weight gradients).
package step

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/kernels/backend"
	"github.com/softcpt/softcpt-go/softcpt"
	"github.com/softcpt/softcpt-go/tensor"
)

// lnEps is CLIP's LayerNorm epsilon.
const lnEps = 1e-5

// Step holds the frozen text tower and the trainable tensors of a prompt
// learner (Spec.Method) on a backend, with SGD momentum buffers: SetLR,
// Step, Snapshot and Restore train it batch by batch and save and resume
// it as softcpt's training loop does with the autograd learner. Its
// methods may be called from any goroutine, one at a time.
type Step[A comparable] struct {
	be   backend.Backend[A]
	cfg  clip.Config
	spec Spec

	w      map[string]A
	shapes map[string][]int

	// taskFixed: SoftCPT only; featFixed: the class-feature methods only.
	taskFixed, classFixed, featFixed A
	params                           []param[A]
	// steps counts the SGD steps taken.
	steps int
}

// param is a trainable tensor on the backend with its momentum buffer.
// A frozen one (the task context under the meta network "lincls", which
// gets no gradient) is never updated and has no momentum to save.
type param[A comparable] struct {
	name     string
	shape    []int
	val, buf A
	frozen   bool
}

// New uploads to be the text tower of m, the prompts of learner l (built
// with m and tok, as softcpt.NewLearner was) and l's current trainable
// tensors. opt gives the SGD settings (LR, Momentum, WeightDecay;
// softcpt.Defaults for the paper's). l's method must be one CanTrain
// accepts. The learner itself is not changed.
func New[A comparable](be backend.Backend[A], l *softcpt.Learner, m *clip.Model, tok softcpt.Tokenizer, opt softcpt.TrainOptions) (*Step[A], error) {
	spec, err := SpecFromLearner(l, m, tok, opt)
	if err != nil {
		return nil, err
	}
	return fromSpec(be, m, spec)
}

// fromSpec uploads the text tower of m (token embeddings are not needed:
// the spec's prompts hold them) and the spec's prompts and initial
// tensors.
func fromSpec[A comparable](be backend.Backend[A], m *clip.Model, spec Spec) (*Step[A], error) {
	cfg := m.Config
	W, E := cfg.TransformerWidth, cfg.EmbedDim
	shapes := spec.ParamShapes(W, E)
	if shapes == nil || len(spec.Params) != len(shapes) {
		return nil, errors.Errorf("step: %s with %d trainable tensors", spec.Method, len(spec.Params))
	}
	for i, p := range spec.Params {
		if p.Value == nil || !tensor.SameShape(p.Value.Shape(), shapes[i]) {
			var got []int
			if p.Value != nil {
				got = p.Value.Shape()
			}
			return nil, errors.Errorf("step: %s %s has shape %v, want %v", spec.Method, p.Name, got, shapes[i])
		}
	}
	if spec.Class.Fixed == nil || spec.Class.Fixed.Dim(2) != W || len(spec.Offsets) < 2 ||
		spec.Offsets[len(spec.Offsets)-1] != spec.Class.Num() || len(spec.Class.EOT) != spec.Class.Num() {
		return nil, errors.Errorf("step: class prompts with class offsets %v for width %d", spec.Offsets, W)
	}
	if spec.Method.soft() && (spec.Task.Fixed == nil || spec.Task.Fixed.Dim(2) != W || spec.Task.Num() != spec.NumTasks() ||
		len(spec.Task.EOT) != spec.NumTasks()) {
		return nil, errors.Errorf("step: task prompts for %d tasks of width %d", spec.NumTasks(), W)
	}
	if spec.Method.csc() {
		if spec.PGType != "lin" && spec.PGType != "linmean" && spec.PGType != "lincls" {
			return nil, errors.Errorf("step: %s with meta network %q, want lin, linmean or lincls", spec.Method, spec.PGType)
		}
		if spec.Feat.Fixed == nil || spec.Feat.Fixed.Dim(2) != W || spec.Feat.Num() != spec.Class.Num() ||
			len(spec.Feat.EOT) != spec.Class.Num() || spec.Feat.NCtx <= 0 {
			return nil, errors.Errorf("step: class-feature prompts for %d classes of width %d", spec.Class.Num(), W)
		}
	}
	s := &Step[A]{be: be, cfg: cfg, spec: spec, w: map[string]A{}, shapes: map[string][]int{}}
	up := func(dst *A, name string, t *tensor.Tensor) error {
		a, err := be.Upload(t.Contiguous().Data(), t.Shape()...)
		if err != nil {
			s.Free()
			return errors.Wrapf(err, "step: uploading %s %v", name, t.Shape())
		}
		*dst = a
		return nil
	}
	sd := m.StateDict()
	for _, k := range m.Keys() {
		if !(strings.HasPrefix(k, "transformer.") || k == "positional_embedding" || strings.HasPrefix(k, "ln_final.") || k == "text_projection") {
			continue
		}
		var a A
		if err := up(&a, k, sd[k]); err != nil {
			return nil, err
		}
		s.w[k], s.shapes[k] = a, sd[k].Shape()
	}
	if err := up(&s.classFixed, "class prompts", spec.Class.Fixed); err != nil {
		return nil, err
	}
	if spec.Method.soft() {
		if err := up(&s.taskFixed, "task prompts", spec.Task.Fixed); err != nil {
			return nil, err
		}
	}
	if spec.Method.csc() {
		if err := up(&s.featFixed, "class-feature prompts", spec.Feat.Fixed); err != nil {
			return nil, err
		}
	}
	s.params = make([]param[A], len(spec.Params))
	for i, p := range spec.Params {
		s.params[i] = param[A]{name: p.Name, shape: p.Value.Shape(), frozen: i == 0 && s.taskFrozen()}
		if err := up(&s.params[i].val, p.Name, p.Value); err != nil {
			return nil, err
		}
		if err := up(&s.params[i].buf, "momentum of "+p.Name, tensor.New(p.Value.Shape()...)); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Free returns every array to the backend.
func (s *Step[A]) Free() {
	var z A
	for k, a := range s.w {
		s.be.Free(a)
		delete(s.w, k)
	}
	arrays := []*A{&s.taskFixed, &s.classFixed, &s.featFixed}
	for i := range s.params {
		arrays = append(arrays, &s.params[i].val, &s.params[i].buf)
	}
	for _, a := range arrays {
		if *a != z {
			s.be.Free(*a)
			*a = z
		}
	}
}

// Params downloads the current trainable tensors, named as in the
// learner's State.
func (s *Step[A]) Params() (map[string]*tensor.Tensor, error) {
	out := map[string]*tensor.Tensor{}
	for _, p := range s.params {
		d, err := s.be.Download(p.val)
		if err != nil {
			return nil, errors.Wrapf(err, "step: downloading %s", p.name)
		}
		out[p.name] = tensor.FromSlice(d, p.shape...)
	}
	return out, nil
}

// taskFrozen reports whether the task context gets no gradient (a
// class-feature method with the meta network "lincls").
func (s *Step[A]) taskFrozen() bool { return s.spec.Method.csc() && s.spec.PGType == "lincls" }

// Momentum downloads the SGD momentum buffers, named as in Params. Like
// optim.SGD.State it holds none without momentum or before the first step,
// and none for a tensor that gets no gradient.
func (s *Step[A]) Momentum() (map[string]*tensor.Tensor, error) {
	out := map[string]*tensor.Tensor{}
	if s.spec.Momentum == 0 || s.steps == 0 {
		return out, nil
	}
	for _, p := range s.params {
		if p.frozen {
			continue
		}
		d, err := s.be.Download(p.buf)
		if err != nil {
			return nil, errors.Wrapf(err, "step: downloading the momentum of %s", p.name)
		}
		out[p.name] = tensor.FromSlice(d, p.shape...)
	}
	return out, nil
}

// Restore uploads the trainable tensors params (every one of Params'
// names; other names are ignored, as Learner.LoadState does) and the
// momentum buffers (a tensor without one gets a zero buffer, which the
// next SGD step treats as optim.SGD treats a new buffer) and sets Steps, as
// resuming from a checkpoint does; buffers need steps > 0. On an error (a missing tensor, a shape
// mismatch, a buffer of no trainable tensor, a failed upload) the step is
// unchanged.
func (s *Step[A]) Restore(params, momentum map[string]*tensor.Tensor, steps int) error {
	if steps < 0 || steps == 0 && len(momentum) > 0 {
		return errors.Errorf("step: restoring %d steps with %d momentum buffers", steps, len(momentum))
	}
	for name := range momentum {
		if !slices.ContainsFunc(s.params, func(p param[A]) bool { return p.name == name && !p.frozen }) {
			return errors.Errorf("step: momentum buffer for %q, which %s does not train", name, s.spec.Method)
		}
	}
	vals := make([]*tensor.Tensor, len(s.params))
	bufs := make([]*tensor.Tensor, len(s.params))
	for i, p := range s.params {
		v, ok := params[p.name]
		if !ok {
			return errors.Errorf("step: restoring %s without %s", s.spec.Method, p.name)
		}
		b, ok := momentum[p.name]
		if !ok {
			b = tensor.New(p.shape...)
		}
		for _, t := range []struct {
			what string
			t    *tensor.Tensor
		}{{p.name, v}, {"the momentum of " + p.name, b}} {
			if !tensor.SameShape(t.t.Shape(), p.shape) {
				return errors.Errorf("step: %s has shape %v, want %v", t.what, t.t.Shape(), p.shape)
			}
		}
		vals[i], bufs[i] = v, b
	}
	// Upload everything before replacing anything.
	var up []A
	free := func() {
		for _, a := range up {
			s.be.Free(a)
		}
	}
	for i, p := range s.params {
		for _, t := range []*tensor.Tensor{vals[i], bufs[i]} {
			a, err := s.be.Upload(t.Contiguous().Data(), p.shape...)
			if err != nil {
				free()
				return errors.Wrapf(err, "step: uploading %s", p.name)
			}
			up = append(up, a)
		}
	}
	for i := range s.params {
		p := &s.params[i]
		s.be.Free(p.val)
		s.be.Free(p.buf)
		p.val, p.buf = up[2*i], up[2*i+1]
	}
	s.steps = steps
	return nil
}

// Snapshot downloads the trainable tensors (Params) and the momentum
// buffers (Momentum), what a training checkpoint saves.
func (s *Step[A]) Snapshot() (params, momentum map[string]*tensor.Tensor, err error) {
	if params, err = s.Params(); err != nil {
		return nil, nil, err
	}
	if momentum, err = s.Momentum(); err != nil {
		return nil, nil, err
	}
	return params, momentum, nil
}

// Steps returns the number of SGD steps taken (set by Restore).
func (s *Step[A]) Steps() int { return s.steps }

// SetLR sets the learning rate of the following SGD steps (the momentum
// buffers are kept), as an epoch's learning-rate schedule sets optim.SGD.LR.
func (s *Step[A]) SetLR(lr float64) { s.spec.LR = float32(lr) }

// run carries the first error of a step and the arrays to free at its end.
type run[A comparable] struct {
	*Step[A]
	err   error
	owned []A
}

// do runs f unless an operation has failed.
func (r *run[A]) do(f func() error) {
	if r.err == nil {
		r.err = f()
	}
}

// alloc returns a new array freed at the end of the step (the zero A
// after an error).
func (r *run[A]) alloc(shape ...int) A {
	var a A
	r.do(func() error {
		var err error
		a, err = r.be.Alloc(shape...)
		if err == nil {
			r.owned = append(r.owned, a)
		}
		return err
	})
	return a
}

func (r *run[A]) release() {
	for _, a := range r.owned {
		r.be.Free(a)
	}
	r.owned = nil
}

func (r *run[A]) p(key string) A {
	a, ok := r.w[key]
	if !ok {
		panic("step: no parameter " + key)
	}
	return a
}

// view aliases a from off (no-op after an error).
func (r *run[A]) view(a A, off int, shape ...int) A {
	if r.err != nil {
		var z A
		return z
	}
	return r.be.View(a, off, shape...)
}

// layer holds what the backward pass of one residual block reads.
type layer[A comparable] struct {
	x, qkv, a, x2, f1          A // block input, q|k|v, attention output, after attention, fc pre-activation
	mean1, rstd1, mean2, rstd2 A
}

// encoding is one forward pass of the text tower and what its backward
// pass reads.
type encoding[A comparable] struct {
	batch, t             int
	eotRows              []int
	layers               []layer[A]
	pooled, meanF, rstdF A
	feats                A // [batch, E]
}

func (r *run[A]) attnParams(batch, t int) backend.AttnParams {
	w := r.cfg.TransformerWidth
	h := r.cfg.TransformerHeads
	d := w / h
	return backend.AttnParams{Batch: batch, Heads: h, Tq: t, Tk: t, D: d,
		QRow: 3 * w, KRow: 3 * w, VRow: 3 * w, ORow: w,
		QBatch: t * 3 * w, KBatch: t * 3 * w, VBatch: t * 3 * w, OBatch: t * w,
		Causal: true, Scale: float32(1 / math.Sqrt(float64(d)))}
}

// linear computes y [rows, out] = x [rows, in] Wᵀ + b for the weight and
// bias under prefix.
func (r *run[A]) linear(y, x A, rows int, prefix string) {
	ws := r.shapes[prefix+".weight"]
	out, in := ws[0], ws[1]
	r.do(func() error {
		return r.be.Sgemm(false, true, rows, out, in, 1, x, in, r.p(prefix+".weight"), in, 0, y, out)
	})
	r.do(func() error { return r.be.BiasAct(y, y, r.p(prefix+".bias"), 1, out, rows*out, backend.ActNone) })
}

// encode runs the text tower on input embeddings x0 [batch·t, W] (which
// becomes the first block's saved input) and pools row b at eot[b].
func (r *run[A]) encode(x0 A, batch, t int, eot []int) *encoding[A] {
	W, E := r.cfg.TransformerWidth, r.cfg.EmbedDim
	hidden := r.shapes["transformer.resblocks.0.mlp.c_fc.weight"][0]
	rows := batch * t
	enc := &encoding[A]{batch: batch, t: t}
	for b, e := range eot {
		enc.eotRows = append(enc.eotRows, b*t+e)
	}
	r.do(func() error {
		return r.be.BiasAct(x0, x0, r.p("positional_embedding"), 1, t*W, rows*W, backend.ActNone)
	})
	x := x0
	ap := r.attnParams(batch, t)
	for l := 0; l < r.cfg.TransformerLayers; l++ {
		p := "transformer.resblocks." + strconv.Itoa(l) + "."
		c := layer[A]{x: x, qkv: r.alloc(rows, 3*W), a: r.alloc(rows, W), x2: r.alloc(rows, W), f1: r.alloc(rows, hidden),
			mean1: r.alloc(rows), rstd1: r.alloc(rows), mean2: r.alloc(rows), rstd2: r.alloc(rows)}
		h, o, g, next := r.alloc(rows, W), r.alloc(rows, W), r.alloc(rows, hidden), r.alloc(rows, W)
		r.do(func() error {
			return r.be.LayerNormSave(h, c.mean1, c.rstd1, x, r.p(p+"ln_1.weight"), r.p(p+"ln_1.bias"), rows, W, lnEps)
		})
		r.do(func() error {
			return r.be.Sgemm(false, true, rows, 3*W, W, 1, h, W, r.p(p+"attn.in_proj_weight"), W, 0, c.qkv, 3*W)
		})
		r.do(func() error {
			return r.be.BiasAct(c.qkv, c.qkv, r.p(p+"attn.in_proj_bias"), 1, 3*W, rows*3*W, backend.ActNone)
		})
		r.do(func() error {
			return r.be.Attention(c.a, c.qkv, r.be.View(c.qkv, W, rows*3*W-W), r.be.View(c.qkv, 2*W, rows*3*W-2*W), ap)
		})
		r.linear(o, c.a, rows, p+"attn.out_proj")
		r.do(func() error { return r.be.Add(c.x2, x, o, rows*W) })
		r.do(func() error {
			return r.be.LayerNormSave(h, c.mean2, c.rstd2, c.x2, r.p(p+"ln_2.weight"), r.p(p+"ln_2.bias"), rows, W, lnEps)
		})
		r.linear(c.f1, h, rows, p+"mlp.c_fc")
		var none A
		r.do(func() error { return r.be.BiasAct(g, c.f1, none, 1, 1, rows*hidden, backend.ActQuickGelu) })
		r.linear(o, g, rows, p+"mlp.c_proj")
		r.do(func() error { return r.be.Add(next, c.x2, o, rows*W) })
		enc.layers = append(enc.layers, c)
		x = next
	}
	enc.pooled, enc.meanF, enc.rstdF = r.alloc(batch, W), r.alloc(batch), r.alloc(batch)
	r.do(func() error { return r.be.GatherRows(enc.pooled, x, enc.eotRows, W) })
	ln := r.alloc(batch, W)
	r.do(func() error {
		return r.be.LayerNormSave(ln, enc.meanF, enc.rstdF, enc.pooled, r.p("ln_final.weight"), r.p("ln_final.bias"), batch, W, lnEps)
	})
	enc.feats = r.alloc(batch, E)
	r.do(func() error {
		return r.be.Sgemm(false, false, batch, E, W, 1, ln, W, r.p("text_projection"), E, 0, enc.feats, E)
	})
	return enc
}

// backward returns the gradient [batch·t, W] of the input embeddings for
// the features' gradient dfeat [batch, E].
func (r *run[A]) backward(enc *encoding[A], dfeat A) A {
	W, E := r.cfg.TransformerWidth, r.cfg.EmbedDim
	hidden := r.shapes["transformer.resblocks.0.mlp.c_fc.weight"][0]
	batch, rows := enc.batch, enc.batch*enc.t
	dln := r.alloc(batch, W)
	r.do(func() error {
		return r.be.Sgemm(false, true, batch, W, E, 1, dfeat, E, r.p("text_projection"), E, 0, dln, W)
	})
	r.do(func() error {
		return r.be.LayerNormBackward(dln, dln, enc.pooled, r.p("ln_final.weight"), enc.meanF, enc.rstdF, batch, W, false)
	})
	dx := r.alloc(rows, W)
	r.do(func() error { return r.be.Zero(dx, rows*W) })
	src := make([]int, batch)
	for i := range src {
		src[i] = i
	}
	r.do(func() error { return r.be.ScatterAddRows(dx, dln, enc.eotRows, src, W) })
	ap := r.attnParams(batch, enc.t)
	dg, dh, da, dqkv := r.alloc(rows, hidden), r.alloc(rows, W), r.alloc(rows, W), r.alloc(rows, 3*W)
	lse, dsum := r.alloc(ap.StatRows()), r.alloc(ap.StatRows())
	for l := len(enc.layers) - 1; l >= 0; l-- {
		c := enc.layers[l]
		p := "transformer.resblocks." + strconv.Itoa(l) + "."
		// x3 = x2 + c_proj(QuickGELU(c_fc(ln_2(x2)))).
		r.do(func() error {
			return r.be.Sgemm(false, false, rows, hidden, W, 1, dx, W, r.p(p+"mlp.c_proj.weight"), hidden, 0, dg, hidden)
		})
		r.do(func() error { return r.be.QuickGeluBackward(dg, dg, c.f1, rows*hidden) })
		r.do(func() error {
			return r.be.Sgemm(false, false, rows, W, hidden, 1, dg, hidden, r.p(p+"mlp.c_fc.weight"), W, 0, dh, W)
		})
		r.do(func() error {
			return r.be.LayerNormBackward(dx, dh, c.x2, r.p(p+"ln_2.weight"), c.mean2, c.rstd2, rows, W, true)
		})
		// x2 = x + out_proj(attention(in_proj(ln_1(x)))).
		r.do(func() error {
			return r.be.Sgemm(false, false, rows, W, W, 1, dx, W, r.p(p+"attn.out_proj.weight"), W, 0, da, W)
		})
		r.do(func() error {
			n1, n2 := rows*3*W-W, rows*3*W-2*W
			return r.be.AttentionBackward(dqkv, r.be.View(dqkv, W, n1), r.be.View(dqkv, 2*W, n2),
				c.qkv, r.be.View(c.qkv, W, n1), r.be.View(c.qkv, 2*W, n2), c.a, da, lse, dsum, ap)
		})
		r.do(func() error {
			return r.be.Sgemm(false, false, rows, W, 3*W, 1, dqkv, 3*W, r.p(p+"attn.in_proj_weight"), W, 0, dh, W)
		})
		r.do(func() error {
			return r.be.LayerNormBackward(dx, dh, c.x, r.p(p+"ln_1.weight"), c.mean1, c.rstd1, rows, W, true)
		})
	}
	return dx
}

// embed assembles the input embeddings [len(idx)·t, W] of prompts idx of
// a group (fixed rows, first t positions) with context rows of ctx
// [*, W] in slots 1..nCtx: prompt k's slot j gets ctx row ctxRow(k, j).
func (r *run[A]) embed(fixed A, pr Prompts, idx []int, t int, ctx A, ctxRow func(k, j int) int) A {
	W := r.cfg.TransformerWidth
	L := pr.Len()
	rows := make([]int, 0, len(idx)*t)
	var dst, src []int
	for k, i := range idx {
		for s := 0; s < t; s++ {
			rows = append(rows, i*L+s)
		}
		for j := 0; j < pr.NCtx; j++ {
			dst = append(dst, k*t+1+j)
			src = append(src, ctxRow(k, j))
		}
	}
	x := r.alloc(len(idx)*t, W)
	r.do(func() error { return r.be.GatherRows(x, fixed, rows, W) })
	r.do(func() error { return r.be.ScatterAddRows(x, ctx, dst, src, W) })
	return x
}

// Step runs the forward pass, the backward pass and one SGD step for a
// batch of image features [B, E] with each sample's task and label within
// its task. It returns the batch's mean loss (computed in float32, as the
// learner's) and the number of samples its logits classify correctly,
// both before the update. A batch with bad sizes, tasks or labels is an
// error that leaves the step unchanged.
func (s *Step[A]) Step(b softcpt.Batch) (loss float64, correct int, err error) {
	E := s.cfg.EmbedDim
	T := s.spec.NumTasks()
	features, tasks, labels := b.Features, b.Tasks, b.Labels
	B := len(tasks)
	if features == nil {
		return 0, 0, errors.New("step: batch without features")
	}
	if B == 0 || len(labels) != B || !tensor.SameShape(features.Shape(), []int{B, E}) {
		return 0, 0, errors.Errorf("step: batch of %d tasks, %d labels and features %v (embedding %d)", B, len(labels), features.Shape(), E)
	}
	off := s.spec.Offsets
	byTask := make([][]int, T)
	for i, t := range tasks {
		if t < 0 || t >= T || labels[i] < 0 || labels[i] >= off[t+1]-off[t] {
			return 0, 0, errors.Errorf("step: sample %d has task %d label %d out of range", i, t, labels[i])
		}
		byTask[t] = append(byTask[t], i)
	}
	// Samples ordered by task, so that each task's rows are contiguous;
	// every class of each present task, in global order.
	var present, order, classes, sampleOff, classOff []int
	for t := 0; t < T; t++ {
		if len(byTask[t]) == 0 {
			continue
		}
		present = append(present, t)
		sampleOff, classOff = append(sampleOff, len(order)), append(classOff, len(classes))
		order = append(order, byTask[t]...)
		for c := off[t]; c < off[t+1]; c++ {
			classes = append(classes, c)
		}
	}
	sampleOff, classOff = append(sampleOff, len(order)), append(classOff, len(classes))
	fd := features.Contiguous().Data()
	vdata := make([]float32, 0, B*E)
	for _, i := range order {
		vdata = append(vdata, fd[i*E:(i+1)*E]...)
	}

	r := &run[A]{Step: s}
	defer r.release()
	loss, correct = s.forwardBackward(r, vdata, present, order, classes, sampleOff, classOff, labels)
	if r.err != nil {
		return 0, 0, r.err
	}
	return loss, correct, nil
}

// forwardBackward is Step's body on run r.
func (s *Step[A]) forwardBackward(r *run[A], vdata []float32, present, order, classes, sampleOff, classOff, labels []int) (float64, int) {
	W, E := s.cfg.TransformerWidth, s.cfg.EmbedDim
	T := s.spec.NumTasks()
	N := s.spec.Class.NCtx
	B := len(order)
	off := s.spec.Offsets
	method := s.spec.Method

	// Image features, normalised (constants).
	var v A
	r.do(func() error {
		var err error
		v, err = r.be.Upload(vdata, B, E)
		if err == nil {
			r.owned = append(r.owned, v)
		}
		return err
	})
	var noInv A
	r.do(func() error { return r.be.L2NormRows(v, noInv, v, B, E) })

	// The class contexts ctx [ctxRows, W]: f @ P (NATA/NATS, one context
	// per task), input @ P (class-feature methods, one context per class
	// from its class and task features) or the trained context itself
	// (CoOp); class k's slot j reads row ctxRow(k, j).
	taskOf := make([]int, len(classes))
	for k, c := range classes {
		taskOf[k] = sort.SearchInts(off, c+1) - 1
	}
	var ctx A
	var ctxRows int
	var ctxRow func(k, j int) int
	var task promptPass[A]
	var meta metaPass[A]
	switch method {
	case NATA, NATS:
		task = s.taskForward(r)
		ctx, ctxRows = r.alloc(T*N, W), T*N
		r.do(func() error {
			return r.be.Sgemm(false, false, T, N*W, E, 1, task.enc.feats, E, s.params[1].val, N*W, 0, ctx, N*W)
		})
		ctxRow = func(k, j int) int { return taskOf[k]*N + j }
	case CATA, CSTA, CATS, CSTS:
		meta = s.metaForward(r, classes, taskOf)
		ctx, ctxRows = meta.ctx, len(classes)*N
		ctxRow = func(k, j int) int { return k*N + j }
	case CoOpMT:
		ctx, ctxRows = s.params[0].val, N
		ctxRow = func(_, j int) int { return j }
	case CoOpCA:
		ctx, ctxRows = s.params[0].val, T*N
		ctxRow = func(k, j int) int { return taskOf[k]*N + j }
	case CoOpCS:
		ctx, ctxRows = s.params[0].val, s.spec.Class.Num()*N
		ctxRow = func(k, j int) int { return classes[k]*N + j }
	}
	class := r.promptForward(s.classFixed, s.spec.Class, classes, ctx, ctxRows, ctxRow)
	encC := class.enc

	// Within-task logits, cross-entropy and its gradient.
	C := len(classes)
	wn, inv := r.alloc(C, E), r.alloc(C)
	r.do(func() error { return r.be.L2NormRows(wn, inv, encC.feats, C, E) })
	dwn := r.alloc(C, E)
	var total float64
	correct := 0
	for k := range present {
		n, nc := sampleOff[k+1]-sampleOff[k], classOff[k+1]-classOff[k]
		vt, wt := r.view(v, sampleOff[k]*E, n, E), r.view(wn, classOff[k]*E, nc, E)
		logits, rowLoss, dl := r.alloc(n, nc), r.alloc(n), r.alloc(n, nc)
		targets := make([]int, n)
		for i, smp := range order[sampleOff[k]:sampleOff[k+1]] {
			targets[i] = labels[smp]
		}
		r.do(func() error { return r.be.Sgemm(false, true, n, nc, E, s.spec.Scale, vt, E, wt, E, 0, logits, nc) })
		r.do(func() error { return r.be.CrossEntropy(rowLoss, logits, targets, n, nc) })
		r.do(func() error {
			ls, err := r.be.Download(rowLoss)
			for _, x := range ls {
				total += float64(x)
			}
			if err != nil {
				return err
			}
			lg, err := r.be.Download(logits)
			for i := 0; i < n && err == nil; i++ {
				if argmax(lg[i*nc:(i+1)*nc]) == targets[i] {
					correct++
				}
			}
			return err
		})
		r.do(func() error { return r.be.CrossEntropyBackward(dl, logits, targets, n, nc, 1/float32(B)) })
		r.do(func() error {
			return r.be.Sgemm(true, false, nc, E, n, s.spec.Scale, dl, nc, vt, E, 0, r.be.View(dwn, classOff[k]*E, nc, E), E)
		})
	}
	r.do(func() error { return r.be.L2NormRowsBackward(dwn, dwn, wn, inv, C, E) })

	// Back through the class prompts to the contexts: row i of dctx sums
	// the gradients of the slots that read ctx row i.
	dctx := r.promptBackward(class, dwn)
	grads := []A{dctx}
	switch {
	case method.csc():
		grads = s.metaBackward(r, meta, dctx)
	case method.soft():
		// Through ctx = f @ P to P and f, then the task prompts.
		dmeta, df := r.alloc(E, N*W), r.alloc(T, E)
		metaP := s.params[1].val
		r.do(func() error {
			return r.be.Sgemm(true, false, E, N*W, T, 1, task.enc.feats, E, dctx, N*W, 0, dmeta, N*W)
		})
		r.do(func() error { return r.be.Sgemm(false, true, T, E, N*W, 1, dctx, N*W, metaP, N*W, 0, df, E) })
		grads = []A{r.promptBackward(task, df), dmeta}
	}

	// SGD.
	first := s.steps == 0
	sp := s.spec
	for i, p := range s.params {
		if p.frozen {
			continue
		}
		g, n := grads[i], tensor.Numel(p.shape)
		r.do(func() error { return r.be.SGD(p.val, g, p.buf, n, sp.LR, sp.WeightDecay, sp.Momentum, first) })
	}
	if r.err == nil {
		s.steps++
	}
	return float64(float32(total / float64(B))), correct
}

// promptPass is the forward pass of a group of prompts with their
// context: n prompts padded to length t, whose slot j < nCtx of prompt k
// reads row ctxRow(k, j) of a context of rows rows.
type promptPass[A comparable] struct {
	enc        *encoding[A] // features [n, E]
	n, t       int
	nCtx, rows int
	ctxRow     func(k, j int) int
}

// promptForward encodes prompts idx of group pr (fixed: pr.Fixed on the
// backend), padded to the longest of them, with the context ctx [rows,
// W]: prompt k's slot j reads row ctxRow(k, j).
func (r *run[A]) promptForward(fixed A, pr Prompts, idx []int, ctx A, rows int, ctxRow func(k, j int) int) promptPass[A] {
	p := promptPass[A]{n: len(idx), t: 1, nCtx: pr.NCtx, rows: rows, ctxRow: ctxRow}
	eot := make([]int, len(idx))
	for k, i := range idx {
		eot[k] = pr.EOT[i]
		p.t = max(p.t, eot[k]+1)
	}
	p.enc = r.encode(r.embed(fixed, pr, idx, p.t, ctx, ctxRow), p.n, p.t, eot)
	return p
}

// promptBackward returns the context's gradient [p.rows, W] for the
// features' gradient dfeat [p.n, E]: row i sums the gradients of the
// slots that read context row i.
func (r *run[A]) promptBackward(p promptPass[A], dfeat A) A {
	W := r.cfg.TransformerWidth
	dx0 := r.backward(p.enc, dfeat)
	idx, segs := segments(p.n, p.nCtx, p.t, p.rows, p.ctxRow)
	d := r.alloc(p.rows, W)
	r.do(func() error { return r.be.SegmentSumRows(d, dx0, idx, segs, W) })
	return d
}

// taskForward encodes every task prompt with the task context: shared
// [M, W] (TA) or per task [T, M, W] (TS).
func (s *Step[A]) taskForward(r *run[A]) promptPass[A] {
	T, M := s.spec.NumTasks(), s.spec.Task.NCtx
	all := make([]int, T)
	for t := range all {
		all[t] = t
	}
	rows, ctxRow := M, func(_, j int) int { return j }
	if s.spec.Method.taskCSC() {
		rows, ctxRow = T*M, func(t, j int) int { return t*M + j }
	}
	return r.promptForward(s.taskFixed, s.spec.Task, all, s.params[0].val, rows, ctxRow)
}

// metaPass is the forward pass of a class-feature method's meta network.
type metaPass[A comparable] struct {
	feat    promptPass[A] // class features g [len(classes), E]
	task    promptPass[A] // task features f [T, E] (not with lincls)
	hasTask bool
	taskOf  []int // task of each encoded class
	// ctx is [len(classes), N·W]: class k's context.
	ctx A
}

// metaHalves returns the factor α and the parts of P that multiply the
// class and the task features: the meta network's output is α·g@top +
// α·f@bot (lin: the two halves of P [2E, N·W]; linmean: α = 1/2 and P
// twice; lincls: P and no task term). botOff is bot's offset in P.
func (s *Step[A]) metaHalves(r *run[A]) (alpha float32, top, bot A, botOff int) {
	E, NW := s.cfg.EmbedDim, s.spec.Class.NCtx*s.cfg.TransformerWidth
	P := s.params[1].val
	switch s.spec.PGType {
	case "lin":
		return 1, r.view(P, 0, E, NW), r.view(P, E*NW, E, NW), E * NW
	case "linmean":
		return 0.5, P, P, 0
	}
	return 1, P, bot, 0 // lincls: no task term
}

// metaForward encodes the class-feature prompts of classes with the
// class context (shared [L, W] for CA, per class [ΣC, L, W] for CS) and,
// unless the meta network is lincls, the task prompts, and returns each
// class's context input @ P.
func (s *Step[A]) metaForward(r *run[A], classes, taskOf []int) metaPass[A] {
	E, W := s.cfg.EmbedDim, s.cfg.TransformerWidth
	T, C, N, L := s.spec.NumTasks(), len(classes), s.spec.Class.NCtx, s.spec.Feat.NCtx
	NW := N * W
	p := metaPass[A]{taskOf: taskOf, hasTask: !s.taskFrozen()}
	rows, ctxRow := L, func(_, j int) int { return j }
	if s.spec.Method.classCSC() {
		rows, ctxRow = s.spec.Class.Num()*L, func(k, j int) int { return classes[k]*L + j }
	}
	p.feat = r.promptForward(s.featFixed, s.spec.Feat, classes, s.params[2].val, rows, ctxRow)
	alpha, top, bot, _ := s.metaHalves(r)
	p.ctx = r.alloc(C, NW)
	r.do(func() error {
		return r.be.Sgemm(false, false, C, NW, E, alpha, p.feat.enc.feats, E, top, NW, 0, p.ctx, NW)
	})
	if !p.hasTask {
		return p
	}
	// The task term once per task, added to the rows of its classes.
	p.task = s.taskForward(r)
	fp := r.alloc(T, NW)
	r.do(func() error {
		return r.be.Sgemm(false, false, T, NW, E, alpha, p.task.enc.feats, E, bot, NW, 0, fp, NW)
	})
	dst := make([]int, C)
	for k := range dst {
		dst[k] = k
	}
	r.do(func() error { return r.be.ScatterAddRows(p.ctx, fp, dst, taskOf, NW) })
	return p
}

// metaBackward returns the gradients of the task context, P and the
// class context for the gradient dctx [len(classes), N·W] of the
// contexts metaForward returned (a frozen task context's is the zero A).
func (s *Step[A]) metaBackward(r *run[A], p metaPass[A], dctx A) []A {
	E, W := s.cfg.EmbedDim, s.cfg.TransformerWidth
	T, C, NW := s.spec.NumTasks(), len(p.taskOf), s.spec.Class.NCtx*W
	alpha, top, bot, botOff := s.metaHalves(r)
	dP := r.alloc(s.spec.metaIn(E), NW)
	dg := r.alloc(C, E)
	r.do(func() error {
		return r.be.Sgemm(true, false, E, NW, C, alpha, p.feat.enc.feats, E, dctx, NW, 0, r.be.View(dP, 0, E, NW), NW)
	})
	r.do(func() error { return r.be.Sgemm(false, true, C, E, NW, alpha, dctx, NW, top, NW, 0, dg, E) })
	var dtask A
	if p.hasTask {
		// d(f@bot) sums the rows of each task's classes.
		lists := make([][]int, T)
		for k, t := range p.taskOf {
			lists[t] = append(lists[t], k)
		}
		idx, offs := []int{}, []int{0}
		for _, l := range lists {
			idx = append(idx, l...)
			offs = append(offs, len(idx))
		}
		dfp, df := r.alloc(T, NW), r.alloc(T, E)
		r.do(func() error { return r.be.SegmentSumRows(dfp, dctx, idx, offs, NW) })
		beta := float32(0) // lin: the other half of dP
		if s.spec.PGType == "linmean" {
			beta = 1 // the same P: accumulate
		}
		r.do(func() error {
			return r.be.Sgemm(true, false, E, NW, T, alpha, p.task.enc.feats, E, dfp, NW, beta, r.be.View(dP, botOff, E, NW), NW)
		})
		r.do(func() error { return r.be.Sgemm(false, true, T, E, NW, alpha, dfp, NW, bot, NW, 0, df, E) })
		dtask = r.promptBackward(p.task, df)
	}
	return []A{dtask, dP, r.promptBackward(p.feat, dg)}
}

// segments returns the SegmentSumRows lists that gather, for each of
// rows context rows, the input rows k·t+1+j (prompt k < n of padded
// length t, slot j < nCtx) with ctxRow(k, j) equal to it, in increasing k.
func segments(n, nCtx, t, rows int, ctxRow func(k, j int) int) (idx, offsets []int) {
	lists := make([][]int, rows)
	for k := 0; k < n; k++ {
		for j := 0; j < nCtx; j++ {
			i := ctxRow(k, j)
			lists[i] = append(lists[i], k*t+1+j)
		}
	}
	offsets = append(offsets, 0)
	for _, l := range lists {
		idx = append(idx, l...)
		offsets = append(offsets, len(idx))
	}
	return idx, offsets
}

// argmax returns the index of the first largest value.
func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// String describes the step's method and shapes.
func (s *Step[A]) String() string {
	return fmt.Sprintf("step.Step{%s, tasks %d, classes %d, M %d, N %d, width %d, embed %d}",
		s.spec.Method, s.spec.NumTasks(), s.spec.Class.Num(), s.spec.Task.NCtx, s.spec.Class.NCtx, s.cfg.TransformerWidth, s.cfg.EmbedDim)
}

// The step is the softcpt.Stepper that softcpt.TrainWith runs.
var _ softcpt.Stepper = (*Step[*backend.HostArray])(nil)
