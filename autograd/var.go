// Package autograd implements reverse-mode automatic differentiation over
// a graph recorded as operations run.
//
// A Var wraps a tensor value. Leaves made with Param require gradients;
// leaves made with Const do not. An op records its inputs and a backward
// closure only when gradients are enabled (see NoGrad) and at least one
// input requires them, so a frozen encoder whose weights are constants
// records no graph and holds no gradient memory. Backward walks the graph
// in reverse topological order and accumulates gradients into the leaves
// that asked for them; intermediate gradients are released as soon as
// they have been propagated.
//
// Every op has a finite-difference gradient check in this package's tests
// (see CheckGradients).
package autograd

import (
	"fmt"
	"sync/atomic"

	"github.com/softcpt/softcpt-go/tensor"
)

// Var is a node of the computation graph: a value, its gradient and, for
// results of ops that need gradients, how to propagate them.
type Var struct {
	// Value is the forward value. Ops treat it as read-only.
	Value *tensor.Tensor
	// Grad accumulates ∂loss/∂Value for leaves that require gradients
	// (nil until the first Backward reaches this leaf).
	Grad *tensor.Tensor
	// Name is an optional label used in error messages and by nn's
	// parameter registry.
	Name string

	requiresGrad bool
	retainGrad   bool
	parents      []*Var
	backward     func(g *tensor.Tensor)
}

// gradDisabled counts active NoGrad scopes.
var gradDisabled atomic.Int32

// NoGrad runs f with graph recording disabled: ops inside f return
// constants, whatever their inputs. Scopes nest. The switch is global to
// the process, so do not mix training and no-grad work concurrently.
func NoGrad(f func()) {
	gradDisabled.Add(1)
	defer gradDisabled.Add(-1)
	f()
}

// GradEnabled reports whether ops currently record the graph.
func GradEnabled() bool { return gradDisabled.Load() == 0 }

// Param returns a leaf that requires gradients.
func Param(t *tensor.Tensor) *Var { return &Var{Value: t, requiresGrad: true} }

// Const returns a leaf that does not require gradients.
func Const(t *tensor.Tensor) *Var { return &Var{Value: t} }

// RequiresGrad reports whether gradients flow to (or through) v.
func (v *Var) RequiresGrad() bool { return v.requiresGrad }

// SetRequiresGrad turns gradient tracking on or off for a leaf (freezing
// or unfreezing a parameter). It panics on a non-leaf.
func (v *Var) SetRequiresGrad(b bool) {
	if v.backward != nil {
		panic("autograd.SetRequiresGrad: not a leaf")
	}
	v.requiresGrad = b
}

// IsLeaf reports whether v was created by Param or Const rather than an op.
func (v *Var) IsLeaf() bool { return v.backward == nil }

// RetainGrad keeps the gradient of a non-leaf after Backward (for tests
// and inspection).
func (v *Var) RetainGrad() { v.retainGrad = true }

// Detach returns a constant sharing v's value.
func (v *Var) Detach() *Var { return &Var{Value: v.Value, Name: v.Name} }

// Shape returns the value's shape.
func (v *Var) Shape() []int { return v.Value.Shape() }

// ZeroGrad drops the accumulated gradient.
func (v *Var) ZeroGrad() { v.Grad = nil }

// result builds the output of an op. backward receives the contiguous
// gradient of the output and must call accumulate on each parent that
// requires gradients. When no parent requires gradients, or recording is
// disabled, the result is a constant and backward is dropped.
func result(value *tensor.Tensor, backward func(g *tensor.Tensor), parents ...*Var) *Var {
	out := &Var{Value: value}
	if !GradEnabled() {
		return out
	}
	for _, p := range parents {
		if p.requiresGrad {
			out.requiresGrad = true
			break
		}
	}
	if out.requiresGrad {
		out.parents = parents
		out.backward = backward
	}
	return out
}

// accumulate adds g (shape of v) into v.Grad. It takes ownership of g when
// v has no gradient yet, so callers must pass a fresh or unshared tensor.
func (v *Var) accumulate(g *tensor.Tensor) {
	if !v.requiresGrad {
		return
	}
	if !tensor.SameShape(g.Shape(), v.Value.Shape()) {
		panic(fmt.Sprintf("autograd: gradient of shape %v for value of shape %v (%s)", g.Shape(), v.Value.Shape(), v.Name))
	}
	if v.Grad == nil {
		v.Grad = g.Contiguous()
		return
	}
	dst := v.Grad.Data()
	src := g.Contiguous().Data()
	for i, x := range src {
		dst[i] += x
	}
}

// Backward computes gradients of v, which must hold a single element,
// with respect to every leaf that requires gradients.
func (v *Var) Backward() {
	if v.Value.Numel() != 1 {
		panic(fmt.Sprintf("autograd.Backward: output of shape %v is not a scalar; use BackwardWith", v.Value.Shape()))
	}
	v.BackwardWith(tensor.Full(1, v.Value.Shape()...))
}

// BackwardWith back-propagates the gradient g (shape of v) from v.
func (v *Var) BackwardWith(g *tensor.Tensor) {
	if !v.requiresGrad {
		panic("autograd.Backward: output does not require gradients (no leaf asked for them, or it was computed under NoGrad)")
	}
	order := topoSort(v)
	v.accumulate(g.Clone())
	for i := len(order) - 1; i >= 0; i-- {
		n := order[i]
		if n.backward == nil || n.Grad == nil {
			continue
		}
		gr := n.Grad
		if !n.retainGrad {
			n.Grad = nil
		}
		n.backward(gr)
	}
	// Release the graph so its activations can be collected.
	for _, n := range order {
		if n.backward != nil {
			n.parents = nil
			n.backward = nil
		}
	}
}

// topoSort returns the nodes reachable from root that require gradients,
// parents before children, without recursion.
func topoSort(root *Var) []*Var {
	type frame struct {
		v    *Var
		next int
	}
	visited := map[*Var]bool{root: true}
	var order []*Var
	stack := []frame{{v: root}}
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		if top.next < len(top.v.parents) {
			p := top.v.parents[top.next]
			top.next++
			if p.requiresGrad && !visited[p] {
				visited[p] = true
				stack = append(stack, frame{v: p})
			}
			continue
		}
		order = append(order, top.v)
		stack = stack[:len(stack)-1]
	}
	return order
}
