package natanet

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

// Spec is what a NATA step needs from a softcpt.Learner: the task and
// class prompts, the class layout, the initial trainable tensors and the
// SGD settings.
type Spec struct {
	// Task holds one prompt per task ("X×M <task name>."), Class one per
	// class of every task in task order ("X×N <class name>.").
	Task, Class Prompts
	// Offsets holds the first global class of each task, then ΣC.
	Offsets []int
	// Scale is exp(logit_scale).
	Scale float32
	// TaskCtx [M, W] and Meta [E, N·W] are the initial values (copied),
	// named TaskCtxName and MetaName as in the learner's State.
	TaskCtx, Meta         *tensor.Tensor
	TaskCtxName, MetaName string
	// LR, Momentum and WeightDecay are the settings of the nn.SGD step.
	LR, Momentum, WeightDecay float32
}

// SpecFromLearner builds the Spec of a SoftCPT-NATA learner (task-agnostic
// task context, no class features, class token at the end, no class
// sampling) over model m with tokenizer tok (the ones the learner was
// built with), with the SGD settings of opt. The prompts are built with
// softcpt.NewPromptGroup, as the learner builds its own.
func SpecFromLearner(l *softcpt.Learner, m *clip.Model, tok softcpt.Tokenizer, opt softcpt.TrainOptions) (Spec, error) {
	c := l.Cfg
	switch {
	case c.Hard || c.CSC || c.TaskCSC:
		return Spec{}, errors.Errorf("natanet: method %s is not NATA (hard %v, CSC %v, task CSC %v)", c.Name, c.Hard, c.CSC, c.TaskCSC)
	case c.Position != softcpt.End:
		return Spec{}, errors.Errorf("natanet: method %s puts the class token at position %d, want end", c.Name, c.Position)
	case c.NCtx <= 0 || c.TaskNCtx <= 0:
		return Spec{}, errors.Errorf("natanet: method %s has N_CTX %d and TASK_N_CTX %d, want both > 0", c.Name, c.NCtx, c.TaskNCtx)
	case c.ClassSample > 0:
		return Spec{}, errors.Errorf("natanet: method %s samples classes (rate %v), not supported", c.Name, c.ClassSample)
	case l.TaskCtx == nil || l.Meta == nil:
		return Spec{}, errors.Errorf("natanet: learner %s has no task context or meta network", c.Name)
	}
	W, E := m.Config.TransformerWidth, m.Config.EmbedDim
	if !tensor.SameShape(l.TaskCtx.Shape(), []int{c.TaskNCtx, W}) || !tensor.SameShape(l.Meta.Shape(), []int{E, c.NCtx * W}) {
		return Spec{}, errors.Errorf("natanet: task context %v and meta network %v do not fit [%d,%d] and [%d,%d]",
			l.TaskCtx.Shape(), l.Meta.Shape(), c.TaskNCtx, W, E, c.NCtx*W)
	}
	tasks := l.Tasks()
	s := Spec{Scale: m.LogitScale(), TaskCtx: l.TaskCtx.Value.Contiguous().Clone(), Meta: l.Meta.Value.Contiguous().Clone(),
		TaskCtxName: l.TaskCtx.Name, MetaName: l.Meta.Name,
		LR: float32(opt.LR), Momentum: float32(opt.Momentum), WeightDecay: float32(opt.WeightDecay)}
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
	var err error
	if s.Task, err = prompts(m, tok, taskNames, c.TaskNCtx); err != nil {
		return Spec{}, errors.Wrap(err, "natanet: task prompts")
	}
	if s.Class, err = prompts(m, tok, classNames, c.NCtx); err != nil {
		return Spec{}, errors.Wrap(err, "natanet: class prompts")
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
