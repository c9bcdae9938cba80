package softcpt

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/autograd"
	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/tensor"
)

// TaskSpec is what a prompt learner needs to know about a task.
type TaskSpec struct {
	Name     string   // identifier, e.g. "oxford_pets"
	TaskName string   // phrase fed to the task prompt learner, e.g. "pet image classification"
	Classes  []string // class names in label order
	// Template is the task's zero-shot template ("a photo of a {}."),
	// used by Config.CtxInit = CtxInitTemplate.
	Template string
}

// Learner holds the learnable prompts of one method over a multi-task
// benchmark and computes class text features through the frozen CLIP
// text encoder.
type Learner struct {
	Cfg   Config
	model *clip.Model
	tasks []TaskSpec

	offsets     []int // first global class index of each task
	taskOfClass []int // task index of each global class
	numClasses  int

	classPrompts *PromptGroup // every class of every task, NCtx context slots
	taskPrompts  *PromptGroup // one per task, TaskNCtx slots (SoftCPT)
	featPrompts  *PromptGroup // every class, ClassNCtx slots (SoftCPT with CSC)

	// Ctx is the class-prompt context of the hard baselines: [N,W] (MT),
	// [T,N,W] (CA) or [ΣC,N,W] (CS).
	Ctx *autograd.Var
	// TaskCtx is [M,W] (TA) or [T,M,W] (TS); ClassCtx is [L,W] (CA) or
	// [ΣC,L,W] (CS); Meta is the meta network's matrix [in, N·W].
	TaskCtx, ClassCtx, Meta *autograd.Var
	// ctxStart is a SoftCPT learner's fixed start context of each task
	// [T, N·W] with Config.CtxInit (nil without): the meta network then
	// generates a residual on top of it (initContexts, generate).
	ctxStart *autograd.Var

	// FullPrompts turns off the shared-prefix encoder and encodes every
	// class prompt in full (for comparisons; the results are the same up
	// to float rounding).
	FullPrompts bool
}

// NewLearner builds the prompts and initialises the learnable parameters
// of cfg over tasks, drawing random initial values from seed; contexts
// start from words with Config.CtxInit (initContexts) and
// Config.TaskCtxInit (initTaskContext).
func NewLearner(cfg Config, m *clip.Model, tok Tokenizer, tasks []TaskSpec, seed uint64) (*Learner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, errors.Wrapf(err, "method %s", cfg.Name)
	}
	if len(tasks) == 0 {
		return nil, errors.New("no tasks")
	}
	l := &Learner{Cfg: cfg, model: m, tasks: tasks}
	var names []string
	for t, ts := range tasks {
		if len(ts.Classes) == 0 {
			return nil, errors.Errorf("task %q has no classes", ts.Name)
		}
		l.offsets = append(l.offsets, l.numClasses)
		for _, c := range ts.Classes {
			names = append(names, c)
			l.taskOfClass = append(l.taskOfClass, t)
		}
		l.numClasses += len(ts.Classes)
	}
	var err error
	if l.classPrompts, err = NewPromptGroup(m, tok, names, cfg.NCtx, cfg.Position); err != nil {
		return nil, err
	}
	rng := tensor.NewRNG(seed)
	W := m.Config.TransformerWidth
	T, C := len(tasks), l.numClasses
	param := func(name string, shape ...int) *autograd.Var {
		v := autograd.Param(tensor.RandN(rng, 0, cfg.InitStd, shape...))
		v.Name = name
		return v
	}
	if cfg.Hard {
		switch cfg.Sharing {
		case ShareAll:
			l.Ctx = param("ctx", cfg.NCtx, W)
		case SharePerTask:
			l.Ctx = param("ctx", T, cfg.NCtx, W)
		case SharePerClass:
			l.Ctx = param("ctx", C, cfg.NCtx, W)
		}
		if err := l.initContexts(tok); err != nil {
			return nil, err
		}
		return l, nil
	}
	taskNames := make([]string, T)
	for i, ts := range tasks {
		taskNames[i] = ts.TaskName
		if strings.TrimSpace(ts.TaskName) == "" {
			taskNames[i] = ts.Name
		}
	}
	if l.taskPrompts, err = NewPromptGroup(m, tok, taskNames, cfg.TaskNCtx, End); err != nil {
		return nil, err
	}
	if cfg.TaskCSC {
		l.TaskCtx = param("task_ctx", T, cfg.TaskNCtx, W)
	} else {
		l.TaskCtx = param("task_ctx", cfg.TaskNCtx, W)
	}
	if cfg.TaskNCtx == 0 {
		l.TaskCtx.SetRequiresGrad(false) // the authors make it a buffer
	}
	if err := l.initTaskContext(tok); err != nil {
		return nil, err
	}
	E := m.Config.EmbedDim
	in := E
	if cfg.CSC {
		if l.featPrompts, err = NewPromptGroup(m, tok, names, cfg.ClassNCtx, End); err != nil {
			return nil, err
		}
		if cfg.ClassCSC {
			l.ClassCtx = param("class_ctx", C, cfg.ClassNCtx, W)
		} else {
			l.ClassCtx = param("class_ctx", cfg.ClassNCtx, W)
		}
		if cfg.ClassNCtx == 0 {
			l.ClassCtx.SetRequiresGrad(false)
		}
		if cfg.PGType == "lin" {
			in = 2 * E
		}
	}
	l.Meta = param("prompt_gen.P", in, cfg.NCtx*W)
	if err := l.initContexts(tok); err != nil {
		return nil, err
	}
	return l, nil
}

// Tasks returns the learner's tasks.
func (l *Learner) Tasks() []TaskSpec { return l.tasks }

// NumClasses returns ΣC, the number of classes over all tasks.
func (l *Learner) NumClasses() int { return l.numClasses }

// Offset returns the first global class index of task t.
func (l *Learner) Offset(t int) int { return l.offsets[t] }

// Parameters returns the trainable parameters (named as in the authors'
// module paths where one exists).
func (l *Learner) Parameters() []*autograd.Var {
	var ps []*autograd.Var
	for _, v := range []*autograd.Var{l.Ctx, l.TaskCtx, l.ClassCtx, l.Meta} {
		if v != nil && v.RequiresGrad() {
			ps = append(ps, v)
		}
	}
	return ps
}

// stateVars returns the tensors of State in order: the learned ones and
// the fixed start contexts.
func (l *Learner) stateVars() []*autograd.Var {
	return []*autograd.Var{l.Ctx, l.TaskCtx, l.ClassCtx, l.Meta, l.ctxStart}
}

// State returns every learned tensor by name (for checkpoints), and the
// fixed start contexts (ContextStart) when there are some, so that the
// learned residual is never loaded without its start.
func (l *Learner) State() map[string]*tensor.Tensor {
	st := map[string]*tensor.Tensor{}
	for _, v := range l.stateVars() {
		if v != nil {
			st[v.Name] = v.Value
		}
	}
	return st
}

// LoadState copies saved tensors into the learner, checking names and
// shapes first (on an error the learner is unchanged). Start contexts in
// st are an error for a learner without them: the saved meta network is
// a residual that means nothing without its start.
func (l *Learner) LoadState(st map[string]*tensor.Tensor) error {
	if _, ok := st[ctxStartName]; ok && l.ctxStart == nil {
		return errors.Errorf("learner state has start contexts %q (trained with a ctx init), but this %s learner has none (built without Config.CtxInit)", ctxStartName, l.Cfg.Name)
	}
	vars := l.stateVars()
	for _, v := range vars {
		if v == nil {
			continue
		}
		t, ok := st[v.Name]
		if !ok {
			return errors.Errorf("learner state has no %q", v.Name)
		}
		if !tensor.SameShape(t.Shape(), v.Value.Shape()) {
			return errors.Errorf("learner state %q has shape %v, want %v", v.Name, t.Shape(), v.Value.Shape())
		}
	}
	for _, v := range vars {
		if v != nil {
			v.Value.CopyFrom(st[v.Name])
		}
	}
	return nil
}

// encode runs the frozen text encoder over a prompt group's prompts idx
// with context ctx.
func (l *Learner) encode(g *PromptGroup, ctx *autograd.Var, idx []int) *autograd.Var {
	return l.model.TextFeaturesFromEmbeddings(g.Embeddings(ctx, idx), g.EOTOf(idx))
}

// TaskFeatures returns the task features f_t [T, E] (unnormalised) from
// the task prompt learner (SoftCPT only).
func (l *Learner) TaskFeatures() *autograd.Var {
	ctx := l.TaskCtx
	return l.encode(l.taskPrompts, ctx, nil)
}

// contexts returns the class-prompt context of every class in classes
// (global indices) as [len(classes), N, W], or a shared [N, W].
func (l *Learner) contexts(classes []int) *autograd.Var {
	N, W := l.Cfg.NCtx, l.model.Config.TransformerWidth
	if l.Cfg.Hard {
		switch l.Cfg.Sharing {
		case ShareAll:
			return l.Ctx
		case SharePerTask:
			return autograd.IndexSelect(l.Ctx, 0, l.tasksOf(classes))
		default:
			return autograd.IndexSelect(l.Ctx, 0, classes)
		}
	}
	f := l.TaskFeatures() // [T, E]
	if !l.Cfg.CSC {
		// NA: one generated context per task, shared by its classes.
		ctx := autograd.Reshape(l.generate(f, nil), -1, N, W) // [T, N, W]
		return autograd.IndexSelect(ctx, 0, l.tasksOf(classes))
	}
	return autograd.Reshape(l.generate(l.metaInput(f, classes), l.tasksOf(classes)), -1, N, W)
}

// generate returns the contexts [rows, N·W] that the meta network
// generates from its inputs x [rows, in], row r belonging to task
// rowTasks[r] (nil: row r is task r): x·P, or with a start context
// start[task] + (x/‖x‖)·P (initContexts).
func (l *Learner) generate(x *autograd.Var, rowTasks []int) *autograd.Var {
	if l.ctxStart == nil {
		return autograd.MatMul(x, l.Meta, false, false)
	}
	start := l.ctxStart
	if rowTasks != nil {
		start = autograd.IndexSelect(start, 0, rowTasks)
	}
	return autograd.Add(start, autograd.MatMul(autograd.L2Normalize(x, 1, 1e-12), l.Meta, false, false))
}

// ctxStartName is the start contexts' name in State.
const ctxStartName = "prompt_gen.ctx_start"

// ContextStart returns a SoftCPT learner's fixed start contexts [T, N·W]
// when it was built with Config.CtxInit, and nil otherwise (and for the
// hard baselines, whose Ctx starts there). With them the meta network's
// contexts are start[task] + (x/‖x‖)·P instead of x·P, x being its input
// row (the task feature, or the class-and-task input with class
// features); P starts at zero. A trainer that runs the meta network
// itself (a GPU's step) must implement this form.
func (l *Learner) ContextStart() *tensor.Tensor {
	if l.ctxStart == nil {
		return nil
	}
	return l.ctxStart.Value
}

// metaInput returns the meta network's input [len(classes), in] of a
// CA/CS learner: each class's feature combined with its task's feature f
// [T, E] as the meta network (PGType) wants it. The authors encode the
// class prompts of all classes even when sampling; so do we.
func (l *Learner) metaInput(f *autograd.Var, classes []int) *autograd.Var {
	g := l.encode(l.featPrompts, l.ClassCtx, nil) // [ΣC, E]
	g = autograd.IndexSelect(g, 0, classes)
	ft := autograd.IndexSelect(f, 0, l.tasksOf(classes))
	switch l.Cfg.PGType {
	case "lin":
		return autograd.Concat([]*autograd.Var{g, ft}, 1)
	case "linmean":
		return autograd.Scale(autograd.Add(g, ft), 0.5)
	default: // lincls
		return g
	}
}

func (l *Learner) tasksOf(classes []int) []int {
	out := make([]int, len(classes))
	for i, c := range classes {
		out[i] = l.taskOfClass[c]
	}
	return out
}

// sharedPrefix reports whether every class prompt of a group (all
// classes for CoOp-MT, a task's classes for CoOp-CA and the NA variants)
// shares its context, so the prompts can be encoded as one shared prefix
// (SOS + context) and per-class suffixes.
func (l *Learner) sharedPrefix() bool {
	if l.FullPrompts || l.Cfg.Position != End || l.Cfg.NCtx == 0 {
		return false
	}
	if l.Cfg.Hard {
		return l.Cfg.Sharing != SharePerClass
	}
	return !l.Cfg.CSC
}

// groupContexts returns the shared contexts [G, N, W] of a sharedPrefix
// learner and the group of each class: one group for CoOp-MT, one per
// task otherwise.
func (l *Learner) groupContexts(classes []int) (*autograd.Var, []int) {
	N, W := l.Cfg.NCtx, l.model.Config.TransformerWidth
	groups := l.tasksOf(classes)
	switch {
	case l.Cfg.Hard && l.Cfg.Sharing == ShareAll:
		for i := range groups {
			groups[i] = 0
		}
		return autograd.Reshape(l.Ctx, 1, N, W), groups
	case l.Cfg.Hard:
		return l.Ctx, groups
	}
	return autograd.Reshape(l.generate(l.TaskFeatures(), nil), -1, N, W), groups
}

// ClassFeatures returns the unnormalised text features [len(classes), E]
// of the given global classes (in increasing order) under the current
// prompts. Where classes share a context, the shared prefix is encoded
// once per context and each class's suffix against its cached keys and
// values (exact under the causal mask).
func (l *Learner) ClassFeatures(classes []int) *autograd.Var {
	if l.sharedPrefix() {
		// Suffixes are bucketed by length so that no padding is encoded;
		// the prefixes are encoded once for all buckets.
		ctx, groups := l.groupContexts(classes)
		var order []int // position in classes of each bucketed row
		var sfx []*autograd.Var
		var gs, eots [][]int
		for _, bucket := range l.classPrompts.lengthBuckets(classes) {
			var cls, g []int
			for _, i := range bucket {
				cls = append(cls, classes[i])
				g = append(g, groups[i])
			}
			suffix, eot := l.classPrompts.Suffix(cls)
			sfx = append(sfx, autograd.Const(suffix))
			gs, eots = append(gs, g), append(eots, eot)
			order = append(order, bucket...)
		}
		outs := l.model.TextFeaturesSharedBuckets(l.classPrompts.Prefix(ctx), sfx, gs, eots)
		feats := outs[0]
		if len(outs) > 1 {
			feats = autograd.Concat(outs, 0)
		}
		inv := make([]int, len(order))
		for r, i := range order {
			inv[i] = r
		}
		return autograd.IndexSelect(feats, 0, inv)
	}
	return l.encode(l.classPrompts, l.contexts(classes), classes)
}

// AllClassFeatures returns the text features of every class of every
// task, without recording a graph (evaluation).
func (l *Learner) AllClassFeatures() *tensor.Tensor {
	all := make([]int, l.numClasses)
	for i := range all {
		all[i] = i
	}
	var out *autograd.Var
	autograd.NoGrad(func() { out = l.ClassFeatures(all) })
	return out.Value
}

// Batch is a training batch of cached image features.
type Batch struct {
	Features *tensor.Tensor // [B, E] image features (unnormalised)
	Tasks    []int          // task of each sample
	Labels   []int          // label of each sample within its task
}

// Loss returns the batch mean of each sample's cross-entropy within its
// own task (the authors' loss) and the number of correct predictions.
// rng drives class sampling (Cfg.ClassSample > 0); pass nil to use every
// class.
func (l *Learner) Loss(b Batch, rng *rand.Rand) (*autograd.Var, int) {
	B := len(b.Tasks)
	if B == 0 || len(b.Labels) != B || b.Features.Dim(0) != B {
		panic(fmt.Sprintf("softcpt.Loss: %d tasks, %d labels, features %v", B, len(b.Labels), b.Features.Shape()))
	}
	byTask := map[int][]int{}
	for i, t := range b.Tasks {
		if t < 0 || t >= len(l.tasks) || b.Labels[i] < 0 || b.Labels[i] >= len(l.tasks[t].Classes) {
			panic(fmt.Sprintf("softcpt.Loss: sample %d has task %d label %d out of range", i, t, b.Labels[i]))
		}
		byTask[t] = append(byTask[t], i)
	}
	tasks := make([]int, 0, len(byTask))
	for t := range byTask {
		tasks = append(tasks, t)
	}
	sort.Ints(tasks)
	// Classes to encode: every class of each task present in the batch
	// (absent tasks do not affect the loss), or a sample of them.
	var classes []int
	cols := make([][]int, len(tasks)) // positions in classes of each task's columns
	remap := make([]map[int]int, len(tasks))
	for k, t := range tasks {
		sel := l.selectClasses(t, byTask[t], b.Labels, rng)
		remap[k] = map[int]int{}
		for j, c := range sel {
			remap[k][c] = j
			cols[k] = append(cols[k], len(classes))
			classes = append(classes, l.offsets[t]+c)
		}
	}
	w := autograd.L2Normalize(l.ClassFeatures(classes), 1, 0)
	v := autograd.L2Normalize(autograd.Const(b.Features), 1, 0)
	scale := l.model.LogitScale()
	var total *autograd.Var
	correct := 0
	for k, t := range tasks {
		idx := byTask[t]
		vt := autograd.IndexSelect(v, 0, idx)
		wt := autograd.IndexSelect(w, 0, cols[k])
		logits := autograd.Scale(autograd.MatMul(vt, wt, false, true), scale)
		targets := make([]int, len(idx))
		for i, s := range idx {
			targets[i] = remap[k][b.Labels[s]]
		}
		ce := autograd.CrossEntropy(logits, targets, autograd.ReduceSum)
		if total == nil {
			total = ce
		} else {
			total = autograd.Add(total, ce)
		}
		pred := autograd.ArgMax(logits.Value, 1)
		for i := range idx {
			if pred[i] == targets[i] {
				correct++
			}
		}
	}
	return autograd.Scale(total, 1/float32(B)), correct
}

// selectClasses returns the within-task classes of task t to score: all
// of them, or with class sampling the classes present in the batch plus
// ⌈rate·#others⌉ random others (the authors' rule).
func (l *Learner) selectClasses(t int, samples, labels []int, rng *rand.Rand) []int {
	n := len(l.tasks[t].Classes)
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	if l.Cfg.ClassSample <= 0 || rng == nil {
		return all
	}
	pos := map[int]bool{}
	for _, s := range samples {
		pos[labels[s]] = true
	}
	var sel, others []int
	for c := 0; c < n; c++ {
		if pos[c] {
			sel = append(sel, c)
		} else {
			others = append(others, c)
		}
	}
	k := int(math.Ceil(l.Cfg.ClassSample * float64(len(others))))
	rng.Shuffle(len(others), func(i, j int) { others[i], others[j] = others[j], others[i] })
	sel = append(sel, others[:k]...)
	sort.Ints(sel)
	return sel
}
