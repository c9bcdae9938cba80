package autograd

import (
	"fmt"
	"slices"

	"github.com/softcpt/softcpt-go/kernels"
	"github.com/softcpt/softcpt-go/tensor"
)

// argMaxInto finds, for src viewed as [outer, n, inner], the maximum over
// n of every (outer, inner) position: its value into vals and the index
// of its first occurrence into arg (both [outer, inner]). A NaN counts as
// the maximum, as in PyTorch.
func argMaxInto(vals []float32, arg []int, src []float32, outer, n, inner int) {
	for a := 0; a < outer; a++ {
		v := vals[a*inner : (a+1)*inner]
		ix := arg[a*inner : (a+1)*inner]
		copy(v, src[a*n*inner:(a*n+1)*inner])
		clear(ix)
		for j := 1; j < n; j++ {
			row := src[(a*n+j)*inner : (a*n+j+1)*inner]
			for i, x := range row {
				if x > v[i] || (x != x && v[i] == v[i]) {
					v[i] = x
					ix[i] = j
				}
			}
		}
	}
}

// Max reduces x over axis by taking the maximum, like torch.max(x, dim)
// values. The gradient flows to the first index holding the maximum of
// each slice. It panics on an empty axis.
func Max(x *Var, axis int, keepdim bool) *Var {
	axis = x.Value.Axis("Max", axis)
	shape := x.Shape()
	outer, n, inner := reduceDims(shape, axis)
	if n == 0 {
		panic(fmt.Sprintf("autograd.Max: empty axis %d of %v", axis, shape))
	}
	out := tensor.New(reducedShape(shape, axis, keepdim)...)
	arg := make([]int, outer*inner)
	argMaxInto(out.Data(), arg, x.Value.Contiguous().Data(), outer, n, inner)
	return result(out, func(g *tensor.Tensor) {
		gd := g.Contiguous().Data()
		gx := tensor.New(shape...)
		d := gx.Data()
		for a := 0; a < outer; a++ {
			for i := 0; i < inner; i++ {
				p := a*inner + i
				d[(a*n+arg[p])*inner+i] = gd[p]
			}
		}
		x.accumulate(gx)
	}, x)
}

// ArgMax returns the index along axis of the first maximum of every slice
// of t, in row-major order of t's shape with axis removed (for a [N, C]
// tensor and axis 1: the predicted class of each of the N rows). It is
// not differentiable. It panics on an empty axis.
func ArgMax(t *tensor.Tensor, axis int) []int {
	axis = t.Axis("ArgMax", axis)
	outer, n, inner := reduceDims(t.Shape(), axis)
	if n == 0 {
		panic(fmt.Sprintf("autograd.ArgMax: empty axis %d of %v", axis, t.Shape()))
	}
	arg := make([]int, outer*inner)
	argMaxInto(tensor.Buffer(outer*inner), arg, t.Contiguous().Data(), outer, n, inner)
	return arg
}

// joinInto copies parts, each viewed as [outer, chunks[k]], side by side
// into dst viewed as [outer, Σchunks].
func joinInto(dst []float32, parts [][]float32, chunks []int, outer int) {
	pos := 0
	for a := 0; a < outer; a++ {
		for k, p := range parts {
			c := chunks[k]
			copy(dst[pos:pos+c], p[a*c:(a+1)*c])
			pos += c
		}
	}
}

// joinBackward returns the gradient of each part that requires one, cut
// out of g viewed as [outer, Σchunks].
func joinBackward(g []float32, xs []*Var, chunks []int, outer int) {
	total := 0
	for _, c := range chunks {
		total += c
	}
	off := 0
	for k, x := range xs {
		c := chunks[k]
		if x.requiresGrad {
			gk := tensor.New(x.Shape()...)
			d := gk.Data()
			for a := 0; a < outer; a++ {
				copy(d[a*c:(a+1)*c], g[a*total+off:a*total+off+c])
			}
			x.accumulate(gk)
		}
		off += c
	}
}

func shapesOf(xs []*Var) [][]int {
	s := make([][]int, len(xs))
	for i, x := range xs {
		s[i] = x.Shape()
	}
	return s
}

// Concat joins xs along axis, like torch.cat. Every input must have the
// same shape except along axis. It panics on an empty list or mismatched
// shapes.
func Concat(xs []*Var, axis int) *Var {
	if len(xs) == 0 {
		panic("autograd.Concat: no inputs")
	}
	xs = slices.Clone(xs)
	ref := xs[0].Shape()
	axis = xs[0].Value.Axis("Concat", axis)
	outShape := slices.Clone(ref)
	outShape[axis] = 0
	for _, x := range xs {
		s := x.Shape()
		ok := len(s) == len(ref)
		for d := 0; ok && d < len(s); d++ {
			ok = d == axis || s[d] == ref[d]
		}
		if !ok {
			panic(fmt.Sprintf("autograd.Concat: shapes %v differ outside axis %d", shapesOf(xs), axis))
		}
		outShape[axis] += s[axis]
	}
	outer, _, inner := reduceDims(ref, axis)
	chunks := make([]int, len(xs))
	parts := make([][]float32, len(xs))
	for k, x := range xs {
		chunks[k] = x.Value.Dim(axis) * inner
		parts[k] = x.Value.Contiguous().Data()
	}
	out := tensor.New(outShape...)
	joinInto(out.Data(), parts, chunks, outer)
	return result(out, func(g *tensor.Tensor) {
		joinBackward(g.Contiguous().Data(), xs, chunks, outer)
	}, xs...)
}

// Stack joins xs, which must all have the same shape, along a new axis
// (like torch.stack); axis may be in [-(ndim+1), ndim]. It panics on an
// empty list, differing shapes or a bad axis.
func Stack(xs []*Var, axis int) *Var {
	if len(xs) == 0 {
		panic("autograd.Stack: no inputs")
	}
	xs = slices.Clone(xs)
	ref := xs[0].Shape()
	if axis < 0 {
		axis += len(ref) + 1
	}
	if axis < 0 || axis > len(ref) {
		panic(fmt.Sprintf("autograd.Stack: axis out of range for inputs of shape %v", ref))
	}
	for _, x := range xs {
		if !tensor.SameShape(x.Shape(), ref) {
			panic(fmt.Sprintf("autograd.Stack: shapes %v differ", shapesOf(xs)))
		}
	}
	outShape := slices.Insert(slices.Clone(ref), axis, len(xs))
	outer := tensor.Numel(ref[:axis])
	chunk := tensor.Numel(ref[axis:])
	chunks := make([]int, len(xs))
	parts := make([][]float32, len(xs))
	for k, x := range xs {
		chunks[k] = chunk
		parts[k] = x.Value.Contiguous().Data()
	}
	out := tensor.New(outShape...)
	joinInto(out.Data(), parts, chunks, outer)
	return result(out, func(g *tensor.Tensor) {
		joinBackward(g.Contiguous().Data(), xs, chunks, outer)
	}, xs...)
}

// Split cuts x along axis into consecutive pieces of the given sizes
// (like torch.split with a list), which must add up to the axis length.
// Each piece is a contiguous copy with its own backward. It panics on
// negative sizes or a wrong total.
func Split(x *Var, sizes []int, axis int) []*Var {
	axis = x.Value.Axis("Split", axis)
	total := 0
	for _, s := range sizes {
		if s < 0 {
			panic(fmt.Sprintf("autograd.Split: negative size in %v", sizes))
		}
		total += s
	}
	if total != x.Value.Dim(axis) {
		panic(fmt.Sprintf("autograd.Split: sizes %v do not add up to axis %d of %v", sizes, axis, x.Shape()))
	}
	out := make([]*Var, len(sizes))
	start := 0
	for i, s := range sizes {
		out[i] = Narrow(x, axis, start, s)
		start += s
	}
	return out
}

// checkIndices panics, naming op, if any index is outside [0, n).
func checkIndices(op string, idx []int, n int) {
	for i, v := range idx {
		if v < 0 || v >= n {
			panic(fmt.Sprintf("autograd.%s: index %d at position %d out of range [0, %d)", op, v, i, n))
		}
	}
}

// gatherInto copies, for src viewed as [outer, n, inner], the slices
// idx[k] along n into dst viewed as [outer, len(idx), inner].
func gatherInto(dst, src []float32, idx []int, outer, n, inner int) {
	pos := 0
	for a := 0; a < outer; a++ {
		base := a * n * inner
		for _, j := range idx {
			copy(dst[pos:pos+inner], src[base+j*inner:base+(j+1)*inner])
			pos += inner
		}
	}
}

// scatterAdd is the adjoint of gatherInto: it adds g's slices into dst at
// the indexed positions, so repeated indices accumulate.
func scatterAdd(dst, g []float32, idx []int, outer, n, inner int) {
	pos := 0
	for a := 0; a < outer; a++ {
		base := a * n * inner
		for _, j := range idx {
			row := dst[base+j*inner : base+(j+1)*inner]
			kernels.Add(row, row, g[pos:pos+inner])
			pos += inner
		}
	}
}

// IndexSelect picks the slices idx along axis of x, like
// torch.index_select; indices may repeat, and their gradients add up. It
// panics on an index out of range.
func IndexSelect(x *Var, axis int, idx []int) *Var {
	axis = x.Value.Axis("IndexSelect", axis)
	shape := x.Shape()
	outer, n, inner := reduceDims(shape, axis)
	checkIndices("IndexSelect", idx, n)
	idx = slices.Clone(idx)
	outShape := slices.Clone(shape)
	outShape[axis] = len(idx)
	out := tensor.New(outShape...)
	gatherInto(out.Data(), x.Value.Contiguous().Data(), idx, outer, n, inner)
	return result(out, func(g *tensor.Tensor) {
		gx := tensor.New(shape...)
		scatterAdd(gx.Data(), g.Contiguous().Data(), idx, outer, n, inner)
		x.accumulate(gx)
	}, x)
}

// Embedding looks up rows of weight [V, D]: the result has shape
// [shape..., D] (shape defaults to [len(ids)] and must hold len(ids)
// elements), like torch.nn.functional.embedding. The backward adds the
// gradient of every lookup into its row of weight. It panics on a
// non-2-D weight, a bad shape or an id outside [0, V).
func Embedding(weight *Var, ids []int, shape ...int) *Var {
	ws := weight.Shape()
	if len(ws) != 2 {
		panic(fmt.Sprintf("autograd.Embedding: weight of shape %v is not [V, D]", ws))
	}
	if len(shape) == 0 {
		shape = []int{len(ids)}
	}
	for _, d := range shape {
		if d < 0 {
			panic(fmt.Sprintf("autograd.Embedding: negative dimension in shape %v", shape))
		}
	}
	if tensor.Numel(shape) != len(ids) {
		panic(fmt.Sprintf("autograd.Embedding: %d ids for shape %v", len(ids), shape))
	}
	checkIndices("Embedding", ids, ws[0])
	ids = slices.Clone(ids)
	out := tensor.New(append(slices.Clone(shape), ws[1])...)
	gatherInto(out.Data(), weight.Value.Contiguous().Data(), ids, 1, ws[0], ws[1])
	return result(out, func(g *tensor.Tensor) {
		gw := tensor.New(ws...)
		scatterAdd(gw.Data(), g.Contiguous().Data(), ids, 1, ws[0], ws[1])
		weight.accumulate(gw)
	}, weight)
}
