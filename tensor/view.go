package tensor

import "fmt"

// view returns a new header over t's storage.
func (t *Tensor) view(shape, strides []int, offset int) *Tensor {
	return &Tensor{data: t.data, shape: shape, strides: strides, offset: offset, device: t.device}
}

// Reshape returns a tensor with the same elements in row-major order and a
// new shape. One dimension may be -1 and is inferred. The result shares
// storage when t is contiguous and is a copy otherwise.
func (t *Tensor) Reshape(shape ...int) *Tensor {
	shape = append([]int(nil), shape...)
	infer := -1
	known := 1
	for i, d := range shape {
		switch {
		case d == -1 && infer < 0:
			infer = i
		case d < 0:
			panic(fmt.Sprintf("tensor.Reshape: bad shape %v for %v", shape, t.shape))
		default:
			known *= d
		}
	}
	n := t.Numel()
	if infer >= 0 {
		if known == 0 || n%known != 0 {
			panic(fmt.Sprintf("tensor.Reshape: cannot infer shape %v for %v", shape, t.shape))
		}
		shape[infer] = n / known
	}
	if Numel(shape) != n {
		panic(fmt.Sprintf("tensor.Reshape: shape %v (%d elements) for %v (%d elements)", shape, Numel(shape), t.shape, n))
	}
	c := t.Contiguous()
	return c.view(shape, ContiguousStrides(shape), c.offset)
}

// Narrow returns the view t[..., start:start+length, ...] along axis.
func (t *Tensor) Narrow(axis, start, length int) *Tensor {
	axis = t.axis("Narrow", axis)
	if start < 0 || length < 0 || start+length > t.shape[axis] {
		panic(fmt.Sprintf("tensor.Narrow: [%d:%d] out of range on axis %d of %v", start, start+length, axis, t.shape))
	}
	shape := append([]int(nil), t.shape...)
	shape[axis] = length
	return t.view(shape, append([]int(nil), t.strides...), t.offset+start*t.strides[axis])
}

// Select returns the view t[..., i, ...] with axis removed.
func (t *Tensor) Select(axis, i int) *Tensor {
	axis = t.axis("Select", axis)
	if i < 0 || i >= t.shape[axis] {
		panic(fmt.Sprintf("tensor.Select: index %d out of range on axis %d of %v", i, axis, t.shape))
	}
	shape := append(append([]int(nil), t.shape[:axis]...), t.shape[axis+1:]...)
	strides := append(append([]int(nil), t.strides[:axis]...), t.strides[axis+1:]...)
	return t.view(shape, strides, t.offset+i*t.strides[axis])
}

// Transpose returns the view with axes a and b swapped.
func (t *Tensor) Transpose(a, b int) *Tensor {
	a, b = t.axis("Transpose", a), t.axis("Transpose", b)
	perm := make([]int, len(t.shape))
	for i := range perm {
		perm[i] = i
	}
	perm[a], perm[b] = b, a
	return t.Permute(perm...)
}

// Permute returns the view whose axis i is t's axis perm[i].
func (t *Tensor) Permute(perm ...int) *Tensor {
	if len(perm) != len(t.shape) {
		panic(fmt.Sprintf("tensor.Permute: permutation %v for shape %v", perm, t.shape))
	}
	seen := make([]bool, len(perm))
	shape := make([]int, len(perm))
	strides := make([]int, len(perm))
	for i, p := range perm {
		if p < 0 || p >= len(perm) || seen[p] {
			panic(fmt.Sprintf("tensor.Permute: invalid permutation %v for shape %v", perm, t.shape))
		}
		seen[p] = true
		shape[i] = t.shape[p]
		strides[i] = t.strides[p]
	}
	return t.view(shape, strides, t.offset)
}

// Unsqueeze returns the view with a new axis of size 1 inserted at axis
// (which may equal NDim to append).
func (t *Tensor) Unsqueeze(axis int) *Tensor {
	if axis < 0 {
		axis += len(t.shape) + 1
	}
	if axis < 0 || axis > len(t.shape) {
		panic(fmt.Sprintf("tensor.Unsqueeze: axis %d for shape %v", axis, t.shape))
	}
	shape := append(append(append([]int(nil), t.shape[:axis]...), 1), t.shape[axis:]...)
	st := 1
	if axis < len(t.shape) {
		st = t.strides[axis] * t.shape[axis]
	}
	strides := append(append(append([]int(nil), t.strides[:axis]...), st), t.strides[axis:]...)
	return t.view(shape, strides, t.offset)
}

// Squeeze returns the view with axis (of size 1) removed.
func (t *Tensor) Squeeze(axis int) *Tensor {
	axis = t.axis("Squeeze", axis)
	if t.shape[axis] != 1 {
		panic(fmt.Sprintf("tensor.Squeeze: axis %d of %v is not 1", axis, t.shape))
	}
	return t.Select(axis, 0)
}

// Expand returns a broadcast view of t with the given shape, following
// NumPy's rules: shapes align on the right, and size-1 (or missing leading)
// axes repeat with stride 0.
func (t *Tensor) Expand(shape ...int) *Tensor {
	if len(shape) < len(t.shape) {
		panic(fmt.Sprintf("tensor.Expand: cannot expand %v to %v", t.shape, shape))
	}
	lead := len(shape) - len(t.shape)
	strides := make([]int, len(shape))
	for i := range shape {
		if i < lead {
			continue
		}
		d := t.shape[i-lead]
		switch {
		case d == shape[i]:
			strides[i] = t.strides[i-lead]
		case d == 1:
			strides[i] = 0
		default:
			panic(fmt.Sprintf("tensor.Expand: cannot expand %v to %v", t.shape, shape))
		}
	}
	return t.view(append([]int(nil), shape...), strides, t.offset)
}

// BroadcastShapes returns the NumPy broadcast of shapes a and b, or an
// error when they are incompatible.
func BroadcastShapes(a, b []int) ([]int, error) {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := 0; i < n; i++ {
		da, db := 1, 1
		if j := len(a) - n + i; j >= 0 {
			da = a[j]
		}
		if j := len(b) - n + i; j >= 0 {
			db = b[j]
		}
		switch {
		case da == db:
			out[i] = da
		case da == 1:
			out[i] = db
		case db == 1:
			out[i] = da
		default:
			return nil, fmt.Errorf("shapes %v and %v do not broadcast", a, b)
		}
	}
	return out, nil
}
