package nn

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/autograd"
	"github.com/softcpt/softcpt-go/tensor"
)

// Module is anything that owns parameters: a layer or a whole model.
type Module interface {
	// Register adds the module's parameters and buffers (and those of its
	// children, under their own prefixes) to r, each named
	// Join(prefix, localName), in PyTorch's state-dict order.
	Register(r *Registry, prefix string)
	// Train switches training behaviour (BatchNorm batch statistics,
	// Dropout) on or off for the module and its children.
	Train(on bool)
}

// Layer is a Module with a single-input forward pass.
type Layer interface {
	Module
	// Forward applies the layer.
	Forward(x *autograd.Var) *autograd.Var
}

// Join returns prefix + "." + name, or name when prefix is empty.
func Join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// entry is one named parameter or buffer.
type entry struct {
	name     string
	param    *autograd.Var  // set for parameters
	buffer   *tensor.Tensor // set for buffers
	optional bool           // may be absent from a loaded state dict
}

func (e *entry) value() *tensor.Tensor {
	if e.param != nil {
		return e.param.Value
	}
	return e.buffer
}

// NamedParam is a parameter with its dotted name.
type NamedParam struct {
	// Name is the dotted state-dict key.
	Name string
	// Var is the parameter.
	Var *autograd.Var
}

// Registry maps stable dotted names (PyTorch state-dict keys) to a
// model's parameters and buffers, in registration order.
type Registry struct {
	entries []entry
	index   map[string]int
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{index: map[string]int{}} }

// Collect returns the registry of m's parameters and buffers, with names
// relative to m.
func Collect(m Module) *Registry {
	r := NewRegistry()
	m.Register(r, "")
	return r
}

func (r *Registry) add(e entry) {
	if e.name == "" {
		panic("nn.Registry: empty name")
	}
	if _, dup := r.index[e.name]; dup {
		panic(fmt.Sprintf("nn.Registry: name %q registered twice", e.name))
	}
	r.index[e.name] = len(r.entries)
	r.entries = append(r.entries, e)
}

// AddParam registers a parameter under name and sets v.Name to it. A
// duplicate name or a nil Var is a programming error and panics.
func (r *Registry) AddParam(name string, v *autograd.Var) {
	if v == nil {
		panic(fmt.Sprintf("nn.Registry.AddParam: nil parameter %q", name))
	}
	v.Name = name
	r.add(entry{name: name, param: v})
}

// AddBuffer registers a non-trainable tensor (running statistics) under
// name. It is part of the state dict and must be present on Load.
func (r *Registry) AddBuffer(name string, t *tensor.Tensor) {
	if t == nil {
		panic(fmt.Sprintf("nn.Registry.AddBuffer: nil buffer %q", name))
	}
	r.add(entry{name: name, buffer: t})
}

// AddOptionalBuffer registers a buffer that Load fills when present but
// does not require (BatchNorm's num_batches_tracked, which PyTorch stores
// as int64 and which plays no part in the computation with momentum 0.1).
func (r *Registry) AddOptionalBuffer(name string, t *tensor.Tensor) {
	if t == nil {
		panic(fmt.Sprintf("nn.Registry.AddOptionalBuffer: nil buffer %q", name))
	}
	r.add(entry{name: name, buffer: t, optional: true})
}

// Len returns the number of parameters and buffers.
func (r *Registry) Len() int { return len(r.entries) }

// Names returns every parameter and buffer name in registration order.
func (r *Registry) Names() []string {
	out := make([]string, len(r.entries))
	for i, e := range r.entries {
		out[i] = e.name
	}
	return out
}

// NamedParams returns the parameters with their names, in order.
func (r *Registry) NamedParams() []NamedParam {
	var out []NamedParam
	for _, e := range r.entries {
		if e.param != nil {
			out = append(out, NamedParam{e.name, e.param})
		}
	}
	return out
}

// Params returns all parameters in order.
func (r *Registry) Params() []*autograd.Var {
	var out []*autograd.Var
	for _, e := range r.entries {
		if e.param != nil {
			out = append(out, e.param)
		}
	}
	return out
}

// Trainable returns the parameters that require gradients, in order
// (what to hand to an optimiser).
func (r *Registry) Trainable() []*autograd.Var {
	var out []*autograd.Var
	for _, e := range r.entries {
		if e.param != nil && e.param.RequiresGrad() {
			out = append(out, e.param)
		}
	}
	return out
}

// Param returns the parameter registered under name.
func (r *Registry) Param(name string) (*autograd.Var, bool) {
	i, ok := r.index[name]
	if !ok || r.entries[i].param == nil {
		return nil, false
	}
	return r.entries[i].param, true
}

// Buffer returns the buffer registered under name.
func (r *Registry) Buffer(name string) (*tensor.Tensor, bool) {
	i, ok := r.index[name]
	if !ok || r.entries[i].buffer == nil {
		return nil, false
	}
	return r.entries[i].buffer, true
}

// NumParams returns the number of parameter elements.
func (r *Registry) NumParams() int {
	n := 0
	for _, e := range r.entries {
		if e.param != nil {
			n += e.param.Value.Numel()
		}
	}
	return n
}

// NumTrainable returns the number of elements of parameters that require
// gradients.
func (r *Registry) NumTrainable() int {
	n := 0
	for _, p := range r.Trainable() {
		n += p.Value.Numel()
	}
	return n
}

// matches reports whether name is one of prefixes or lies under one.
func matches(name string, prefixes []string) bool {
	if len(prefixes) == 0 {
		return true
	}
	for _, p := range prefixes {
		if name == p || strings.HasPrefix(name, p+".") {
			return true
		}
	}
	return false
}

// Freeze stops gradients for the parameters named by, or under, any of
// prefixes ("visual" freezes "visual.conv1.weight" but not
// "visual_proj"); with no prefixes it freezes every parameter. Frozen
// parameters also drop their gradient. It returns how many parameters
// matched.
func (r *Registry) Freeze(prefixes ...string) int { return r.setRequiresGrad(false, prefixes) }

// Unfreeze is Freeze's inverse: the matching parameters require
// gradients again.
func (r *Registry) Unfreeze(prefixes ...string) int { return r.setRequiresGrad(true, prefixes) }

func (r *Registry) setRequiresGrad(on bool, prefixes []string) int {
	n := 0
	for _, e := range r.entries {
		if e.param != nil && matches(e.name, prefixes) {
			e.param.SetRequiresGrad(on)
			if !on {
				e.param.Grad = nil
			}
			n++
		}
	}
	return n
}

// StateDict returns every parameter value and buffer by name. The tensors
// share storage with the model (Clone them to take a snapshot).
func (r *Registry) StateDict() map[string]*tensor.Tensor {
	sd := make(map[string]*tensor.Tensor, len(r.entries))
	for i := range r.entries {
		sd[r.entries[i].name] = r.entries[i].value()
	}
	return sd
}

// ShapeMismatch is a state-dict entry whose shape differs from the
// model's.
type ShapeMismatch struct {
	// Key is the state-dict key.
	Key string
	// Want is the model's shape, Got the state dict's (nil for a nil
	// tensor).
	Want, Got []int
}

// LoadError lists every problem found by Load: keys the model expects but
// the state dict lacks, keys the model does not have, and shape
// mismatches.
type LoadError struct {
	// Missing lists required keys absent from the state dict, in
	// registration order.
	Missing []string
	// Unexpected lists state-dict keys the model does not have, sorted.
	Unexpected []string
	// Mismatched lists entries whose shape differs, in registration order.
	Mismatched []ShapeMismatch
}

// Error lists all problems by key.
func (e *LoadError) Error() string {
	var parts []string
	if len(e.Missing) > 0 {
		parts = append(parts, fmt.Sprintf("%d missing keys: %s", len(e.Missing), strings.Join(e.Missing, ", ")))
	}
	if len(e.Unexpected) > 0 {
		parts = append(parts, fmt.Sprintf("%d unexpected keys: %s", len(e.Unexpected), strings.Join(e.Unexpected, ", ")))
	}
	for _, m := range e.Mismatched {
		parts = append(parts, fmt.Sprintf("shape mismatch for %s: expected %v, got %v", m.Key, m.Want, m.Got))
	}
	return "state dict does not fit the model: " + strings.Join(parts, "; ")
}

func (e *LoadError) empty() bool {
	return len(e.Missing) == 0 && len(e.Unexpected) == 0 && len(e.Mismatched) == 0
}

// Diff compares a state dict with the model without loading it. Missing
// keys are in registration order (optional buffers are never missing),
// unexpected keys sorted; a nil tensor counts as a shape mismatch with a
// nil Got.
func (r *Registry) Diff(sd map[string]*tensor.Tensor) *LoadError {
	le := &LoadError{}
	for i := range r.entries {
		e := &r.entries[i]
		t, ok := sd[e.name]
		switch {
		case !ok:
			if !e.optional {
				le.Missing = append(le.Missing, e.name)
			}
		case t == nil:
			le.Mismatched = append(le.Mismatched, ShapeMismatch{e.name, e.value().Shape(), nil})
		case !tensor.SameShape(t.Shape(), e.value().Shape()):
			le.Mismatched = append(le.Mismatched, ShapeMismatch{e.name, e.value().Shape(), t.Shape()})
		}
	}
	for k := range sd {
		if _, ok := r.index[k]; !ok {
			le.Unexpected = append(le.Unexpected, k)
		}
	}
	sort.Strings(le.Unexpected)
	return le
}

// Load copies a state dict into the model's parameters and buffers (the
// Vars keep their identity, so optimisers stay attached). With strict,
// missing and unexpected keys are errors; without, they are skipped.
// Shape mismatches are always errors. On error nothing is copied, and the
// returned error wraps a *LoadError listing every problem by key.
func (r *Registry) Load(sd map[string]*tensor.Tensor, strict bool) error {
	le := r.Diff(sd)
	if !strict {
		le.Missing, le.Unexpected = nil, nil
	}
	if !le.empty() {
		return errors.WithStack(le)
	}
	for i := range r.entries {
		e := &r.entries[i]
		if t, ok := sd[e.name]; ok {
			e.value().CopyFrom(t)
		}
	}
	return nil
}

// TrainAll calls Train on every module (a helper for composite models).
func TrainAll(on bool, ms ...Module) {
	for _, m := range ms {
		m.Train(on)
	}
}
