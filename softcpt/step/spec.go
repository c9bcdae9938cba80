package step

import (
	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/autograd"
	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/softcpt"
	"github.com/softcpt/softcpt-go/tensor"
)

// Prompts are the fixed parts of a group of prompts "[SOS][ctx×NCtx][name]
// [.][EOT][pad…]" of a common padded length Len.
type Prompts struct {
	// Fixed is [P, Len, W]: the token embeddings of every prompt, with
	// zeros in the NCtx context slots (positions 1..NCtx).
	Fixed *tensor.Tensor
	// EOT is the EOT position of each prompt.
	EOT []int
	// NCtx is the number of context slots.
	NCtx int
}

// Len returns the padded prompt length.
func (p Prompts) Len() int { return p.Fixed.Dim(1) }

// Num returns the number of prompts.
func (p Prompts) Num() int { return p.Fixed.Dim(0) }

// CanTrain returns nil when a Step can train learner l with options opt,
// else an error saying why not: the step takes one optimiser step per
// batch (opt.RepeatSteps at most 1) and implements SoftCPT's six variants
// (NATA, NATS, CATA, CSTA, CATS, CSTS; the class-feature ones with the
// meta network lin, linmean or lincls) and CoOp's hard-sharing baselines
// (CoOp-MT, CoOp-CA, CoOp-CS), with the class token at the end, contexts
// (class, task and class-feature) of at least one token and no class
// sampling (MethodOf). What it refuses trains on the autograd learner
// (softcpt.TrainFeatures).
func CanTrain(l *softcpt.Learner, opt softcpt.TrainOptions) error {
	if opt.RepeatSteps > 1 {
		return errors.New("the backend step does not repeat optimiser steps")
	}
	_, err := MethodOf(l)
	return err
}

// Method is the prompt learner a Step trains.
type Method int

const (
	// NATA is SoftCPT-NATA: a task context [M, W] shared by the task
	// prompts, a linear meta network P [E, N·W] from task features to
	// each task's class context.
	NATA Method = iota
	// NATS is SoftCPT-NATS: NATA with one task context per task,
	// [T, M, W].
	NATS
	// CoOpMT is CoOp-MT: one class context [N, W] for every class.
	CoOpMT
	// CoOpCA is CoOp-CA: one class context per task, [T, N, W].
	CoOpCA
	// CoOpCS is CoOp-CS: one class context per class, [ΣC, N, W].
	CoOpCS
	// CATA is SoftCPT-CATA: NATA's task context [M, W], a class context
	// [L, W] shared by the class-feature prompts "X×L <class>.", and a
	// meta network P from each class's [g_c ; f_t] (Spec.PGType) to its
	// own class context.
	CATA
	// CSTA is SoftCPT-CSTA: CATA with one class context per class,
	// [ΣC, L, W].
	CSTA
	// CATS is SoftCPT-CATS: CATA with one task context per task,
	// [T, M, W].
	CATS
	// CSTS is SoftCPT-CSTS: per-class class contexts and per-task task
	// contexts.
	CSTS
)

// String returns the method's name as softcpt.MethodConfig spells it.
func (m Method) String() string {
	switch m {
	case NATA:
		return "SoftCPT-NATA"
	case NATS:
		return "SoftCPT-NATS"
	case CoOpMT:
		return "CoOp-MT"
	case CoOpCA:
		return "CoOp-CA"
	case CoOpCS:
		return "CoOp-CS"
	case CATA:
		return "SoftCPT-CATA"
	case CSTA:
		return "SoftCPT-CSTA"
	case CATS:
		return "SoftCPT-CATS"
	case CSTS:
		return "SoftCPT-CSTS"
	}
	return "unknown method"
}

// soft reports whether the method has task prompts and a meta network.
func (m Method) soft() bool { return m == NATA || m == NATS || m.csc() }

// csc reports whether the method has class features (SoftCPT CSC=True).
func (m Method) csc() bool { return m >= CATA && m <= CSTS }

// taskCSC reports whether the method has one task context per task.
func (m Method) taskCSC() bool { return m == NATS || m == CATS || m == CSTS }

// classCSC reports whether the method has one class context per class.
func (m Method) classCSC() bool { return m == CSTA || m == CSTS }

// Param is a trainable tensor's name (as in the learner's State) and
// initial value.
type Param struct {
	Name  string
	Value *tensor.Tensor
}

// Spec is what a training step needs from a softcpt.Learner: the method,
// the task and class prompts, the class layout, the initial trainable
// tensors and the SGD settings.
type Spec struct {
	Method Method
	// Task holds one prompt per task ("X×M <task name>."; SoftCPT only,
	// the zero Prompts for CoOp), Class one per class of every task in
	// task order ("X×N <class name>."), Feat one per class for the class
	// features ("X×L <class name>."; the class-feature methods only).
	Task, Class, Feat Prompts
	// PGType is the meta network of the class-feature methods: "lin"
	// (P [2E, N·W] on [g_c ; f_t]), "linmean" (P [E, N·W] on
	// (g_c+f_t)/2) or "lincls" (P [E, N·W] on g_c; the task context
	// then gets no gradient and is not updated, as optim.SGD skips it).
	// NATA and NATS have "lin" (P [E, N·W] on f_t).
	PGType string
	// Offsets holds the first global class of each task, then ΣC.
	Offsets []int
	// Scale is exp(logit_scale).
	Scale float32
	// Params are the initial trainable tensors (copied): the task
	// context then the meta network (SoftCPT), then the class-feature
	// context (class-feature methods), or the class context (CoOp); see
	// ParamShapes.
	Params []Param
	// LR, Momentum and WeightDecay are the settings of the optim.SGD step.
	LR, Momentum, WeightDecay float32
}

// NumTasks returns the number of tasks.
func (s Spec) NumTasks() int { return len(s.Offsets) - 1 }

// metaIn returns the meta network's input width for embedding e.
func (s Spec) metaIn(e int) int {
	if s.Method.csc() && s.PGType == "lin" {
		return 2 * e
	}
	return e
}

// ParamShapes returns the shapes Params must have for text width w and
// embedding e.
func (s Spec) ParamShapes(w, e int) [][]int {
	T, C := s.NumTasks(), s.Class.Num()
	M, N, L := s.Task.NCtx, s.Class.NCtx, s.Feat.NCtx
	switch s.Method {
	case NATA:
		return [][]int{{M, w}, {e, N * w}}
	case NATS:
		return [][]int{{T, M, w}, {e, N * w}}
	case CATA, CSTA, CATS, CSTS:
		task, class := []int{M, w}, []int{L, w}
		if s.Method.taskCSC() {
			task = []int{T, M, w}
		}
		if s.Method.classCSC() {
			class = []int{C, L, w}
		}
		return [][]int{task, {s.metaIn(e), N * w}, class}
	case CoOpMT:
		return [][]int{{N, w}}
	case CoOpCA:
		return [][]int{{T, N, w}}
	case CoOpCS:
		return [][]int{{C, N, w}}
	}
	return nil
}

// MethodOf returns the Method of learner l, or an error saying why a Step
// cannot train it (CanTrain): the step implements SoftCPT's six variants (the
// class-feature ones with any meta network: lin, linmean, lincls) and
// CoOp's hard-sharing baselines, with the class token at the end, N_CTX
// > 0 (and TASK_N_CTX > 0 for SoftCPT, CLASS_N_CTX > 0 with class
// features) and no class sampling.
func MethodOf(l *softcpt.Learner) (Method, error) {
	c := l.Cfg
	switch {
	case c.Position != softcpt.End:
		return 0, errors.Errorf("method %s puts the class token at position %d, want end", c.Name, c.Position)
	case c.NCtx <= 0:
		return 0, errors.Errorf("method %s has N_CTX %d, want > 0", c.Name, c.NCtx)
	case c.ClassSample > 0:
		return 0, errors.Errorf("method %s samples classes (rate %v), not supported", c.Name, c.ClassSample)
	case l.ContextStart() != nil:
		return 0, errors.Errorf("method %s starts from fixed contexts (CTX_INIT %q) plus a residual meta network, not supported", c.Name, c.CtxInit)
	case c.Hard && l.Ctx == nil:
		return 0, errors.Errorf("learner %s has no context", c.Name)
	case c.Hard:
		switch c.Sharing {
		case softcpt.ShareAll:
			return CoOpMT, nil
		case softcpt.SharePerTask:
			return CoOpCA, nil
		case softcpt.SharePerClass:
			return CoOpCS, nil
		}
		return 0, errors.Errorf("method %s has an unknown sharing %d", c.Name, c.Sharing)
	case c.TaskNCtx <= 0:
		return 0, errors.Errorf("method %s has TASK_N_CTX %d, want > 0", c.Name, c.TaskNCtx)
	case l.TaskCtx == nil || l.Meta == nil:
		return 0, errors.Errorf("learner %s has no task context or meta network", c.Name)
	case !c.CSC && c.PGType != "lin":
		return 0, errors.Errorf("method %s has meta network %q without class features, want lin", c.Name, c.PGType)
	case !c.CSC && c.TaskCSC:
		return NATS, nil
	case !c.CSC:
		return NATA, nil
	case c.ClassNCtx <= 0:
		return 0, errors.Errorf("method %s has CLASS_N_CTX %d, want > 0", c.Name, c.ClassNCtx)
	case l.ClassCtx == nil:
		return 0, errors.Errorf("learner %s has no class context", c.Name)
	case c.PGType != "lin" && c.PGType != "linmean" && c.PGType != "lincls":
		return 0, errors.Errorf("method %s has an unknown meta network %q", c.Name, c.PGType)
	}
	switch {
	case c.ClassCSC && c.TaskCSC:
		return CSTS, nil
	case c.ClassCSC:
		return CSTA, nil
	case c.TaskCSC:
		return CATS, nil
	}
	return CATA, nil
}

// SpecFromLearner builds the Spec of learner l (a method MethodOf
// accepts) over model m with tokenizer tok (the ones the learner was
// built with), with the SGD settings of opt. The prompts are built with
// softcpt.NewPromptGroup, as the learner builds its own.
func SpecFromLearner(l *softcpt.Learner, m *clip.Model, tok softcpt.Tokenizer, opt softcpt.TrainOptions) (Spec, error) {
	method, err := MethodOf(l)
	if err != nil {
		return Spec{}, errors.Wrap(err, "step")
	}
	c := l.Cfg
	tasks := l.Tasks()
	s := Spec{Method: method, Scale: m.LogitScale(),
		LR: float32(opt.LR), Momentum: float32(opt.Momentum), WeightDecay: float32(opt.WeightDecay)}
	vars := []*autograd.Var{l.Ctx}
	switch {
	case method.csc():
		vars = []*autograd.Var{l.TaskCtx, l.Meta, l.ClassCtx}
		s.PGType = c.PGType
	case method.soft():
		vars = []*autograd.Var{l.TaskCtx, l.Meta}
		s.PGType = "lin"
	}
	for _, v := range vars {
		s.Params = append(s.Params, Param{Name: v.Name, Value: v.Value.Contiguous().Clone()})
	}
	var taskNames, classNames []string
	for t, ts := range tasks {
		name := ts.TaskName
		if name == "" {
			name = ts.Name
		}
		taskNames = append(taskNames, name)
		s.Offsets = append(s.Offsets, l.Offset(t))
		classNames = append(classNames, ts.Classes...)
	}
	s.Offsets = append(s.Offsets, l.NumClasses())
	if method.soft() {
		if s.Task, err = prompts(m, tok, taskNames, c.TaskNCtx); err != nil {
			return Spec{}, errors.Wrap(err, "step: task prompts")
		}
	}
	if s.Class, err = prompts(m, tok, classNames, c.NCtx); err != nil {
		return Spec{}, errors.Wrap(err, "step: class prompts")
	}
	if method.csc() {
		if s.Feat, err = prompts(m, tok, classNames, c.ClassNCtx); err != nil {
			return Spec{}, errors.Wrap(err, "step: class-feature prompts")
		}
	}
	for i, want := range s.ParamShapes(m.Config.TransformerWidth, m.Config.EmbedDim) {
		if got := s.Params[i].Value.Shape(); !tensor.SameShape(got, want) {
			return Spec{}, errors.Errorf("step: %s %s has shape %v, want %v", c.Name, s.Params[i].Name, got, want)
		}
	}
	return s, nil
}

// prompts returns the fixed embeddings of the prompts "X×nCtx <name>.".
func prompts(m *clip.Model, tok softcpt.Tokenizer, names []string, nCtx int) (Prompts, error) {
	g, err := softcpt.NewPromptGroup(m, tok, names, nCtx, softcpt.End)
	if err != nil {
		return Prompts{}, err
	}
	var e *autograd.Var
	autograd.NoGrad(func() { e = g.Embeddings(autograd.Const(tensor.New(nCtx, m.Config.TransformerWidth)), nil) })
	return Prompts{Fixed: e.Value.Contiguous(), EOT: append([]int(nil), g.EOT()...), NCtx: nCtx}, nil
}
