package tensor

import (
	"math"
	"sync"
	"sync/atomic"
)

// Arena recycles the storage of large tensors across repetitions of the
// same computation, such as the training steps of a fixed shape: while an
// arena is active (Arena.Do), New and Buffer take storage of at least
// ArenaMinElems elements from it, and Reset makes everything taken since
// the last Reset available again. After the first repetition the
// computation then allocates no large buffers (only small headers), and
// the garbage collector has nothing large to chase.
//
// The caller promises that no tensor created while the arena was active is
// used after Reset; anything that must survive (a loss value, optimiser
// state) is copied out or created outside Do. One arena is active at a
// time in the process.
//
// A reused buffer is cleared before it is handed out again by New and
// Buffer; Empty and EmptyBuffer skip the clearing, for producers that
// write every element before anything reads one.
type Arena struct {
	mu   sync.Mutex
	free map[int][][]float32
	used [][]float32

	// Fresh and Reused count the buffers the arena allocated and the ones
	// it handed out again.
	Fresh, Reused int

	// Scribble, a debugging aid, fills every buffer that Empty and
	// EmptyBuffer take from the arena (fresh or reused) with NaN, so that
	// a producer that reads an element before writing it (accumulates
	// into its output) shows NaN in its results. Set it before Do.
	Scribble bool
}

// ArenaMinElems is the smallest request served by an active arena;
// smaller buffers come from the garbage-collected heap as usual.
const ArenaMinElems = 4096

var activeArena atomic.Pointer[Arena]

// NewArena returns an empty arena.
func NewArena() *Arena { return &Arena{free: map[int][][]float32{}} }

// Do runs f with the arena active. It panics if another arena is active.
func (a *Arena) Do(f func()) {
	if !activeArena.CompareAndSwap(nil, a) {
		panic("tensor.Arena.Do: another arena is already active")
	}
	defer activeArena.Store(nil)
	f()
}

// Reset returns every buffer handed out since the last Reset to the arena.
func (a *Arena) Reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, b := range a.used {
		a.free[len(b)] = append(a.free[len(b)], b)
	}
	a.used = a.used[:0]
}

// get returns a buffer of n elements: zeroed if zero is set, otherwise
// holding whatever a previous user left there (NaN with Scribble).
func (a *Arena) get(n int, zero bool) []float32 {
	a.mu.Lock()
	var b []float32
	reused := false
	if fl := a.free[n]; len(fl) > 0 {
		b = fl[len(fl)-1]
		a.free[n] = fl[:len(fl)-1]
		reused = true
		a.Reused++
	} else {
		b = make([]float32, n)
		a.Fresh++
	}
	a.used = append(a.used, b)
	scribble := a.Scribble
	a.mu.Unlock()
	// Clear outside the lock: the heads of an attention op take buffers
	// concurrently.
	switch {
	case !zero && scribble:
		nan := float32(math.NaN())
		for i := range b {
			b[i] = nan
		}
	case zero && reused:
		clear(b)
	}
	return b
}

// Buffer returns a zeroed float32 slice of n elements: from the active
// arena when there is one and n is large enough, otherwise freshly
// allocated.
func Buffer(n int) []float32 { return buffer(n, true) }

// EmptyBuffer is Buffer without the guarantee of zeros: a buffer reused
// from the active arena keeps its previous contents. Use it only where
// every element is written before any is read (a product with beta = 0,
// an element-wise result, a copy), never for an output that is
// accumulated into.
func EmptyBuffer(n int) []float32 { return buffer(n, false) }

// buffer returns n elements, zeroed when zero is set.
func buffer(n int, zero bool) []float32 {
	if n >= ArenaMinElems {
		if a := activeArena.Load(); a != nil {
			return a.get(n, zero)
		}
	}
	return make([]float32, n)
}
