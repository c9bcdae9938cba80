// Package tensor holds dense float32 n-dimensional tensors.
//
// A Tensor is a view: a shape and strides over a flat float32 storage,
// starting at an offset. Reshape, Narrow, Transpose, Permute and Expand
// return views that share storage; Contiguous copies into row-major order
// when needed. The zero-copy views let layers slice heads, tokens and
// batches without moving data, while kernels work on contiguous slices.
//
// Every tensor lives on a Device. Only CPU storage exists in the default
// build; the device notion is part of the type so that a CUDA backend can
// plug in (behind the cuda build tag) without changing the layers' API.
package tensor

import (
	"fmt"
	"strings"
)

// Device says where a tensor's storage lives.
type Device uint8

const (
	// CPU is host memory, the default.
	CPU Device = iota
	// CUDA is the memory of an NVIDIA GPU (cuda build tag only).
	CUDA
)

// String returns "cpu" or "cuda".
func (d Device) String() string {
	switch d {
	case CPU:
		return "cpu"
	case CUDA:
		return "cuda"
	}
	return fmt.Sprintf("Device(%d)", int(d))
}

// Tensor is a strided view over float32 storage.
type Tensor struct {
	data    []float32
	shape   []int
	strides []int
	offset  int
	device  Device
}

// Numel returns the number of elements of a shape (1 for a scalar shape).
func Numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// ContiguousStrides returns the row-major strides of shape.
func ContiguousStrides(shape []int) []int {
	st := make([]int, len(shape))
	s := 1
	for i := len(shape) - 1; i >= 0; i-- {
		st[i] = s
		s *= shape[i]
	}
	return st
}

func checkShape(op string, shape []int) {
	for _, d := range shape {
		if d < 0 {
			panic(fmt.Sprintf("tensor.%s: negative dimension in shape %v", op, shape))
		}
	}
}

// New returns a zero-filled contiguous tensor of the given shape.
func New(shape ...int) *Tensor { return newTensor("New", shape, true) }

// Empty returns a contiguous tensor of the given shape whose elements
// are unspecified: inside an active Arena its storage may be a reused
// buffer with stale contents (see EmptyBuffer). The caller must write
// every element before reading any; where that is not certain, use New.
func Empty(shape ...int) *Tensor { return newTensor("Empty", shape, false) }

// newTensor returns a contiguous tensor of the given shape, zeroed if
// zero is set (for op's messages).
func newTensor(op string, shape []int, zero bool) *Tensor {
	checkShape(op, shape)
	return &Tensor{
		data:    buffer(Numel(shape), zero),
		shape:   append([]int(nil), shape...),
		strides: ContiguousStrides(shape),
	}
}

// Zeros is New.
func Zeros(shape ...int) *Tensor { return New(shape...) }

// Ones returns a tensor of ones.
func Ones(shape ...int) *Tensor { return Full(1, shape...) }

// Full returns a tensor filled with v.
func Full(v float32, shape ...int) *Tensor {
	t := Empty(shape...)
	for i := range t.data {
		t.data[i] = v
	}
	return t
}

// Scalar returns a 0-dimensional tensor holding v.
func Scalar(v float32) *Tensor {
	return &Tensor{data: []float32{v}, shape: []int{}, strides: []int{}}
}

// Arange returns the 1-d tensor [0, 1, ..., n-1].
func Arange(n int) *Tensor {
	t := New(n)
	for i := range t.data {
		t.data[i] = float32(i)
	}
	return t
}

// FromSlice wraps data (not copied) as a contiguous tensor of the given
// shape. It panics if len(data) does not equal the shape's element count.
func FromSlice(data []float32, shape ...int) *Tensor {
	checkShape("FromSlice", shape)
	if len(data) != Numel(shape) {
		panic(fmt.Sprintf("tensor.FromSlice: %d elements for shape %v (%d)", len(data), shape, Numel(shape)))
	}
	return &Tensor{data: data, shape: append([]int(nil), shape...), strides: ContiguousStrides(shape)}
}

// Shape returns the tensor's shape. The caller must not modify it.
func (t *Tensor) Shape() []int { return t.shape }

// Strides returns the tensor's strides in elements. The caller must not
// modify them.
func (t *Tensor) Strides() []int { return t.strides }

// Offset returns the index of the first element in the storage.
func (t *Tensor) Offset() int { return t.offset }

// Dim returns the size of dimension i; negative i counts from the end.
func (t *Tensor) Dim(i int) int { return t.shape[t.axis("Dim", i)] }

// NDim returns the number of dimensions.
func (t *Tensor) NDim() int { return len(t.shape) }

// Numel returns the number of elements.
func (t *Tensor) Numel() int { return Numel(t.shape) }

// Device returns where the storage lives.
func (t *Tensor) Device() Device { return t.device }

// Storage returns the whole underlying storage (shared, not copied).
func (t *Tensor) Storage() []float32 { return t.data }

// axis normalises a possibly negative axis, panicking when out of range.
func (t *Tensor) axis(op string, i int) int {
	if i < 0 {
		i += len(t.shape)
	}
	if i < 0 || i >= len(t.shape) {
		panic(fmt.Sprintf("tensor.%s: axis out of range for shape %v", op, t.shape))
	}
	return i
}

// Axis normalises a possibly negative axis index for t, panicking with
// the op name when it is out of range.
func (t *Tensor) Axis(op string, i int) int { return t.axis(op, i) }

// IsContiguous reports whether the view is row-major and dense.
func (t *Tensor) IsContiguous() bool {
	s := 1
	for i := len(t.shape) - 1; i >= 0; i-- {
		if t.shape[i] != 1 && t.strides[i] != s {
			return false
		}
		s *= t.shape[i]
	}
	return true
}

// Data returns the elements of a contiguous tensor as a slice sharing its
// storage. It panics if the tensor is not contiguous; call Contiguous first.
func (t *Tensor) Data() []float32 {
	if !t.IsContiguous() {
		panic(fmt.Sprintf("tensor.Data: view of shape %v strides %v is not contiguous", t.shape, t.strides))
	}
	return t.data[t.offset : t.offset+t.Numel()]
}

// Contiguous returns t itself when it is contiguous, otherwise a
// row-major copy.
func (t *Tensor) Contiguous() *Tensor {
	if t.IsContiguous() {
		return t
	}
	return t.Clone()
}

// Clone returns a contiguous copy of t.
func (t *Tensor) Clone() *Tensor {
	out := Empty(t.shape...)
	out.device = t.device
	t.CopyTo(out.data)
	return out
}

// CopyTo writes t's elements in row-major order into dst, which must hold
// exactly Numel elements.
func (t *Tensor) CopyTo(dst []float32) {
	n := t.Numel()
	if len(dst) != n {
		panic(fmt.Sprintf("tensor.CopyTo: destination has %d elements, tensor %v has %d", len(dst), t.shape, n))
	}
	if t.IsContiguous() {
		copy(dst, t.data[t.offset:t.offset+n])
		return
	}
	if n == 0 {
		return
	}
	nd := len(t.shape)
	// Copy the innermost dimension in runs; iterate the rest with a counter.
	inner := t.shape[nd-1]
	istride := t.strides[nd-1]
	idx := make([]int, nd-1)
	pos := t.offset
	for o := 0; o < n; o += inner {
		if istride == 1 {
			copy(dst[o:o+inner], t.data[pos:pos+inner])
		} else {
			src := pos
			for j := 0; j < inner; j++ {
				dst[o+j] = t.data[src]
				src += istride
			}
		}
		for d := nd - 2; d >= 0; d-- {
			idx[d]++
			pos += t.strides[d]
			if idx[d] < t.shape[d] {
				break
			}
			pos -= idx[d] * t.strides[d]
			idx[d] = 0
		}
	}
}

// index returns the storage index of a multi-index.
func (t *Tensor) index(op string, idx []int) int {
	if len(idx) != len(t.shape) {
		panic(fmt.Sprintf("tensor.%s: %d indices for shape %v", op, len(idx), t.shape))
	}
	p := t.offset
	for i, v := range idx {
		if v < 0 || v >= t.shape[i] {
			panic(fmt.Sprintf("tensor.%s: index %v out of range for shape %v", op, idx, t.shape))
		}
		p += v * t.strides[i]
	}
	return p
}

// At returns the element at the given multi-index.
func (t *Tensor) At(idx ...int) float32 { return t.data[t.index("At", idx)] }

// Set stores v at the given multi-index.
func (t *Tensor) Set(v float32, idx ...int) { t.data[t.index("Set", idx)] = v }

// Item returns the single element of a one-element tensor.
func (t *Tensor) Item() float32 {
	if t.Numel() != 1 {
		panic(fmt.Sprintf("tensor.Item: shape %v has %d elements", t.shape, t.Numel()))
	}
	return t.data[t.offset]
}

// Fill sets every element of the view to v.
func (t *Tensor) Fill(v float32) {
	if t.IsContiguous() {
		d := t.Data()
		for i := range d {
			d[i] = v
		}
		return
	}
	t.apply(func(p int) { t.data[p] = v })
}

// apply calls f with the storage index of every element in row-major order.
func (t *Tensor) apply(f func(p int)) {
	n := t.Numel()
	if n == 0 {
		return
	}
	nd := len(t.shape)
	if nd == 0 {
		f(t.offset)
		return
	}
	idx := make([]int, nd)
	pos := t.offset
	for i := 0; i < n; i++ {
		f(pos)
		for d := nd - 1; d >= 0; d-- {
			idx[d]++
			pos += t.strides[d]
			if idx[d] < t.shape[d] {
				break
			}
			pos -= idx[d] * t.strides[d]
			idx[d] = 0
		}
	}
}

// CopyFrom copies src's elements into the view t (shapes must match;
// src may be any view, t may be strided).
func (t *Tensor) CopyFrom(src *Tensor) {
	if !SameShape(t.shape, src.shape) {
		panic(fmt.Sprintf("tensor.CopyFrom: shape %v into %v", src.shape, t.shape))
	}
	s := src.Contiguous().Data()
	if t.IsContiguous() {
		copy(t.Data(), s)
		return
	}
	n := len(s)
	if n == 0 {
		return
	}
	// Walk the destination in runs of its innermost dimension.
	nd := len(t.shape)
	inner, istride := t.shape[nd-1], t.strides[nd-1]
	idx := make([]int, nd-1)
	pos := t.offset
	for o := 0; o < n; o += inner {
		if istride == 1 {
			copy(t.data[pos:pos+inner], s[o:o+inner])
		} else {
			d := pos
			for j := 0; j < inner; j++ {
				t.data[d] = s[o+j]
				d += istride
			}
		}
		for d := nd - 2; d >= 0; d-- {
			idx[d]++
			pos += t.strides[d]
			if idx[d] < t.shape[d] {
				break
			}
			pos -= idx[d] * t.strides[d]
			idx[d] = 0
		}
	}
}

// SameShape reports whether two shapes are equal.
func SameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// String formats small tensors fully and large ones by shape.
func (t *Tensor) String() string {
	if t.Numel() > 64 {
		return fmt.Sprintf("Tensor%v", t.shape)
	}
	d := t.Contiguous().Data()
	var b strings.Builder
	fmt.Fprintf(&b, "Tensor%v[", t.shape)
	for i, v := range d {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%g", v)
	}
	b.WriteByte(']')
	return b.String()
}
