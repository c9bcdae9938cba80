//go:build cuda

package cuda

import (
	"runtime"
	"sync"

	"github.com/pkg/errors"
	"gorgonia.org/cu"

	"github.com/softcpt/softcpt-go/cuda/internal/alloc"
	"github.com/softcpt/softcpt-go/cuda/kernels"
)

// ErrClosed is returned by calls on a closed Device.
var ErrClosed = errors.New("cuda: device is closed")

// Available reports whether a CUDA device can be used: nil when the driver
// reports at least one device.
func Available() error {
	n, err := cu.NumDevices()
	if err != nil {
		return errors.Wrap(err, "cuda: counting devices")
	}
	if n == 0 {
		return errors.New("cuda: no CUDA device")
	}
	return nil
}

// AllocStats are the counters of a Device's caching allocator.
type AllocStats = alloc.Stats

// Device is one GPU with its primary context, owned by a goroutine locked
// to an OS thread. Its methods may be called from any goroutine; they run
// one at a time on the owner goroutine.
type Device struct {
	// Ordinal is the device number given to Open.
	Ordinal int
	// Name is the device's name as the driver reports it.
	Name string

	mu     sync.Mutex // guards closed and sends on work
	closed bool
	work   chan func()
	done   chan struct{}

	// Owned by the context goroutine.
	dev    cu.Device
	fns    map[string]cu.Function
	cache  *alloc.Cache
	stream cu.Stream
}

// Open starts the owner goroutine of device ordinal, makes the device's
// primary context current on it and loads the embedded PTX modules.
func Open(ordinal int) (*Device, error) {
	d := &Device{Ordinal: ordinal, work: make(chan func()), done: make(chan struct{})}
	started := make(chan error, 1)
	go d.loop(started)
	if err := <-started; err != nil {
		return nil, err
	}
	err := d.Do(func() error {
		name, err := d.dev.Name()
		if err != nil {
			return errors.Wrapf(err, "cuda: name of device %d", ordinal)
		}
		d.Name = name
		d.fns = map[string]cu.Function{}
		for _, m := range kernels.Modules {
			ptx, err := kernels.PTX(m.File)
			if err != nil {
				return err
			}
			mod, err := cu.LoadData(ptx)
			if err != nil {
				return errors.Wrapf(err, "cuda: loading PTX module %s", m.File)
			}
			for _, k := range m.Kernels {
				fn, err := mod.Function(k.Name)
				if err != nil {
					return errors.Wrapf(err, "cuda: kernel %s in %s", k.Name, m.File)
				}
				d.fns[k.Name] = fn
			}
		}
		return nil
	})
	if err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// loop is the owner goroutine: it never unlocks its OS thread, so the
// thread (and its current context) ends with it.
func (d *Device) loop(started chan<- error) {
	runtime.LockOSThread()
	defer close(d.done)
	dev, err := cu.GetDevice(d.Ordinal)
	if err != nil {
		started <- errors.Wrapf(err, "cuda: device %d", d.Ordinal)
		return
	}
	ctx, err := dev.RetainPrimaryCtx()
	if err != nil {
		started <- errors.Wrapf(err, "cuda: retaining the primary context of device %d", d.Ordinal)
		return
	}
	if err := cu.SetCurrentContext(ctx); err != nil {
		dev.ReleasePrimaryCtx()
		started <- errors.Wrapf(err, "cuda: making the context of device %d current", d.Ordinal)
		return
	}
	d.dev = dev
	d.cache = alloc.New(driverBackend{})
	started <- nil
	for f := range d.work {
		f()
	}
	// Close has run the cleanup; drop our reference to the context.
	dev.ReleasePrimaryCtx()
}

// Do runs f on the context goroutine and returns its error. f must not call
// Do (it would deadlock); it may call the driver directly.
func (d *Device) Do(f func() error) error {
	errc := make(chan error, 1)
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return ErrClosed
	}
	d.work <- func() { errc <- f() }
	d.mu.Unlock()
	return <-errc
}

// Close waits for outstanding work, frees the cached device memory and
// releases the context. Arrays still allocated are freed with the context.
// Close is idempotent.
func (d *Device) Close() error {
	err := d.Do(func() error {
		if err := cu.Synchronize(); err != nil {
			return errors.Wrap(err, "cuda: synchronizing before close")
		}
		if d.cache != nil {
			return d.cache.Release()
		}
		return nil
	})
	if err == ErrClosed {
		return nil
	}
	d.mu.Lock()
	d.closed = true
	close(d.work)
	d.mu.Unlock()
	<-d.done
	return err
}

// Synchronize waits until all work queued on the device has finished and
// returns the first asynchronous error (a failed kernel shows here).
func (d *Device) Synchronize() error {
	return d.Do(func() error {
		return errors.Wrap(cu.Synchronize(), "cuda: synchronize")
	})
}

// AllocStats returns the caching allocator's counters.
func (d *Device) AllocStats() AllocStats {
	var s AllocStats
	d.Do(func() error { s = d.cache.Stats(); return nil })
	return s
}

// ReleaseCache returns the allocator's free blocks to the driver.
func (d *Device) ReleaseCache() error {
	return d.Do(func() error { return d.cache.Release() })
}

// MemInfo returns the device's free and total memory in bytes.
func (d *Device) MemInfo() (free, total int64, err error) {
	err = d.Do(func() error {
		var e error
		free, total, e = cu.MemInfo()
		return errors.Wrap(e, "cuda: memory info")
	})
	return free, total, err
}

// driverBackend allocates with cuMemAlloc/cuMemFree; it runs on the
// context goroutine (the cache is only used inside Do).
type driverBackend struct{}

func (driverBackend) Alloc(n int64) (uint64, error) {
	p, err := cu.MemAlloc(n)
	return uint64(p), err
}

func (driverBackend) Free(p uint64) error { return cu.MemFree(cu.DevicePtr(p)) }

// Stream is a CUDA stream of a Device.
type Stream struct {
	d *Device
	s cu.Stream
}

// NewStream creates a stream. It is a blocking stream (CU_STREAM_DEFAULT):
// it synchronizes with the legacy default stream, so the synchronous
// copies of ToDevice and ToHost are ordered after its kernels.
func (d *Device) NewStream() (*Stream, error) {
	s := &Stream{d: d}
	err := d.Do(func() error {
		var e error
		s.s, e = cu.MakeStream(cu.DefaultStream)
		return errors.Wrap(e, "cuda: creating a stream")
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// SetStream makes s the stream on which the device's kernels are launched;
// nil selects the default stream.
func (d *Device) SetStream(s *Stream) {
	d.Do(func() error {
		if s == nil {
			d.stream = cu.Stream{}
		} else {
			d.stream = s.s
		}
		return nil
	})
}

// Synchronize waits for the stream's work.
func (s *Stream) Synchronize() error {
	return s.d.Do(func() error { return errors.Wrap(s.s.Synchronize(), "cuda: stream synchronize") })
}

// Destroy destroys the stream after its work has finished. If it is the
// device's current stream, the default stream becomes current.
func (s *Stream) Destroy() error {
	return s.d.Do(func() error {
		if s.d.stream == s.s {
			s.d.stream = cu.Stream{}
		}
		return errors.Wrap(s.s.Destroy(), "cuda: destroying a stream")
	})
}
