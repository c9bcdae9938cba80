//go:build cuda

package cuda

import (
	"fmt"
	"unsafe"

	"github.com/pkg/errors"
	"gorgonia.org/cu"

	"github.com/softcpt/softcpt-go/tensor"
)

// Array is a contiguous row-major float32 array in device memory. Ptr is 0
// for an empty array. Free returns its memory to the device's cache.
type Array struct {
	// Ptr is the device address of the first element.
	Ptr cu.DevicePtr
	// Shape is the array's shape; the caller must not modify it.
	Shape []int

	d *Device
}

// Numel returns the number of elements.
func (a *Array) Numel() int { return tensor.Numel(a.Shape) }

// Bytes returns the size of the elements in bytes.
func (a *Array) Bytes() int64 { return int64(a.Numel()) * 4 }

// Device returns the device holding the array.
func (a *Array) Device() *Device { return a.d }

// Alloc returns an uninitialised array of the given shape.
func (d *Device) Alloc(shape ...int) (*Array, error) {
	for _, s := range shape {
		if s < 0 {
			panic(fmt.Sprintf("cuda.Alloc: negative dimension in shape %v", shape))
		}
	}
	a := &Array{Shape: append([]int(nil), shape...), d: d}
	if a.Numel() == 0 {
		return a, nil
	}
	err := d.Do(func() error {
		p, _, err := d.cache.Alloc(a.Bytes())
		if err != nil {
			return errors.Wrapf(err, "cuda: allocating %v float32", shape)
		}
		a.Ptr = cu.DevicePtr(p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// Zeros returns a zero-filled array of the given shape.
func (d *Device) Zeros(shape ...int) (*Array, error) {
	a, err := d.Alloc(shape...)
	if err != nil || a.Numel() == 0 {
		return a, err
	}
	err = d.Do(func() error {
		return errors.Wrapf(cu.MemsetD32(a.Ptr, 0, int64(a.Numel())), "cuda: zeroing %v", shape)
	})
	if err != nil {
		a.Free()
		return nil, err
	}
	return a, nil
}

// Free returns the array's memory to the device's allocator cache; the
// array becomes empty. Freeing an empty array does nothing. Memory freed
// while a kernel on another stream still uses it may be handed out again:
// synchronize first when several streams are in use.
func (a *Array) Free() error {
	if a.Ptr == 0 {
		return nil
	}
	p := a.Ptr
	a.Ptr, a.Shape = 0, nil
	return a.d.Do(func() error { return a.d.cache.Free(uint64(p)) })
}

// ToDevice copies a tensor (any view; non-contiguous views are made
// contiguous first) into a new device array of the same shape. The copy is
// synchronous.
func (d *Device) ToDevice(t *tensor.Tensor) (*Array, error) {
	if t.Device() != tensor.CPU {
		return nil, errors.Errorf("cuda.ToDevice: tensor on %v, want cpu", t.Device())
	}
	a, err := d.Alloc(t.Shape()...)
	if err != nil {
		return nil, err
	}
	if err := a.CopyFromHost(t.Contiguous().Data()); err != nil {
		a.Free()
		return nil, err
	}
	return a, nil
}

// ToHost copies the array into a new contiguous CPU tensor (synchronous:
// it waits for the kernels writing the array on the default stream and on
// blocking streams).
func (a *Array) ToHost() (*tensor.Tensor, error) {
	t := tensor.New(a.Shape...)
	if err := a.CopyToHost(t.Data()); err != nil {
		return nil, err
	}
	return t, nil
}

// CopyFromHost copies src (len = Numel) into the array, synchronously.
func (a *Array) CopyFromHost(src []float32) error {
	if len(src) != a.Numel() {
		panic(fmt.Sprintf("cuda.CopyFromHost: %d elements into an array of shape %v", len(src), a.Shape))
	}
	if len(src) == 0 {
		return nil
	}
	return a.d.Do(func() error {
		// Synchronous copy: the driver is done with src when it returns,
		// as cgo's pointer rules require.
		return errors.Wrapf(cu.MemcpyHtoD(a.Ptr, unsafe.Pointer(&src[0]), a.Bytes()), "cuda: copy to device of %v", a.Shape)
	})
}

// CopyToHost copies the array into dst (len = Numel), synchronously.
func (a *Array) CopyToHost(dst []float32) error {
	if len(dst) != a.Numel() {
		panic(fmt.Sprintf("cuda.CopyToHost: array of shape %v into %d elements", a.Shape, len(dst)))
	}
	if len(dst) == 0 {
		return nil
	}
	return a.d.Do(func() error {
		return errors.Wrapf(cu.MemcpyDtoH(unsafe.Pointer(&dst[0]), a.Ptr, a.Bytes()), "cuda: copy to host of %v", a.Shape)
	})
}

// int64Buffer copies host int64 values into a new device block (for
// class indices); the caller frees it with d.cache.Free. It runs on the
// context goroutine.
func (d *Device) int64Buffer(v []int64) (cu.DevicePtr, error) {
	p, _, err := d.cache.Alloc(int64(len(v)) * 8)
	if err != nil {
		return 0, errors.Wrap(err, "cuda: allocating targets")
	}
	if err := cu.MemcpyHtoD(cu.DevicePtr(p), unsafe.Pointer(&v[0]), int64(len(v))*8); err != nil {
		d.cache.Free(p)
		return 0, errors.Wrap(err, "cuda: copying targets")
	}
	return cu.DevicePtr(p), nil
}
