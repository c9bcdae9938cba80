// Package alloc is the caching device-memory allocator of package cuda,
// written against a small Backend interface so that it is plain Go and is
// tested without a GPU.
//
// Requests are rounded up to size classes (SizeClass: at least 512 bytes,
// then four classes per power of two, so at most 25% is wasted). Freed
// blocks go to a free list per class and are handed out again without
// calling the backend; when the backend reports an error (out of memory),
// the cache releases every free block and tries once more.
package alloc

import (
	"fmt"
	"math/bits"
	"sync"
)

// Backend allocates and frees raw device memory (cuMemAlloc/cuMemFree in
// package cuda, a fake in tests). Pointers are opaque non-zero handles.
type Backend interface {
	Alloc(bytes int64) (uint64, error)
	Free(ptr uint64) error
}

// MinClass is the smallest size class in bytes; every class is a multiple
// of 128 bytes. (Block addresses come from the backend: cuMemAlloc aligns
// them to at least 256 bytes.)
const MinClass = 512

// SizeClass returns the size class of a request of n bytes: MinClass for
// n <= MinClass; otherwise n rounded up to a multiple of 2^(e-2), where
// 2^e <= n-1 < 2^(e+1), so that classes run 512, 640, 768, 896, 1024,
// 1280, ... and a class never exceeds n by more than 25%. It panics for
// negative n.
func SizeClass(n int64) int64 {
	if n < 0 {
		panic(fmt.Sprintf("alloc.SizeClass: negative size %d", n))
	}
	if n <= MinClass {
		return MinClass
	}
	e := 63 - bits.LeadingZeros64(uint64(n-1)) // 2^e <= n-1
	step := int64(1) << (e - 2)
	return (n + step - 1) / step * step
}

// Stats are the allocator's counters.
type Stats struct {
	// Allocs and Frees count Alloc and Free calls.
	Allocs, Frees int64
	// Hits counts allocations served from a free list; Misses those that
	// called the backend.
	Hits, Misses int64
	// BackendAllocs and BackendFrees count backend calls; Retries counts
	// backend allocations retried after releasing the cache.
	BackendAllocs, BackendFrees, Retries int64
	// InUse is the bytes (by size class) handed out and not freed;
	// PeakInUse its maximum. Cached is the bytes held in free lists.
	InUse, PeakInUse, Cached int64
}

// Cache is a caching allocator over a Backend. It is safe for concurrent
// use.
type Cache struct {
	mu    sync.Mutex
	b     Backend
	free  map[int64][]uint64 // class -> free blocks
	live  map[uint64]int64   // block -> class
	stats Stats
}

// New returns an empty cache over b.
func New(b Backend) *Cache {
	return &Cache{b: b, free: map[int64][]uint64{}, live: map[uint64]int64{}}
}

// Alloc returns a block of at least n bytes (n > 0) and its size class.
func (c *Cache) Alloc(n int64) (ptr uint64, class int64, err error) {
	if n <= 0 {
		return 0, 0, fmt.Errorf("alloc: allocation of %d bytes", n)
	}
	class = SizeClass(n)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stats.Allocs++
	if l := c.free[class]; len(l) > 0 {
		ptr = l[len(l)-1]
		c.free[class] = l[:len(l)-1]
		c.stats.Hits++
		c.stats.Cached -= class
	} else {
		c.stats.Misses++
		c.stats.BackendAllocs++
		ptr, err = c.b.Alloc(class)
		if err != nil && c.stats.Cached > 0 {
			c.stats.Retries++
			if ferr := c.releaseLocked(); ferr != nil {
				return 0, 0, fmt.Errorf("alloc: %d bytes: %v; releasing the cache: %v", class, err, ferr)
			}
			c.stats.BackendAllocs++
			ptr, err = c.b.Alloc(class)
		}
		if err != nil {
			return 0, 0, fmt.Errorf("alloc: %d bytes (class of %d): %w", class, n, err)
		}
	}
	c.live[ptr] = class
	c.stats.InUse += class
	c.stats.PeakInUse = max(c.stats.PeakInUse, c.stats.InUse)
	return ptr, class, nil
}

// Free returns a block from Alloc to its free list. Freeing an unknown or
// already freed pointer is an error.
func (c *Cache) Free(ptr uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	class, ok := c.live[ptr]
	if !ok {
		return fmt.Errorf("alloc: free of unknown or freed block %#x", ptr)
	}
	delete(c.live, ptr)
	c.free[class] = append(c.free[class], ptr)
	c.stats.Frees++
	c.stats.InUse -= class
	c.stats.Cached += class
	return nil
}

// Release returns every cached (free) block to the backend. Blocks in use
// are not affected.
func (c *Cache) Release() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.releaseLocked()
}

func (c *Cache) releaseLocked() error {
	var first error
	for class, l := range c.free {
		for len(l) > 0 {
			p := l[len(l)-1]
			if err := c.b.Free(p); err != nil && first == nil {
				first = fmt.Errorf("alloc: freeing cached block %#x: %w", p, err)
			}
			l = l[:len(l)-1]
			c.stats.BackendFrees++
			c.stats.Cached -= class
		}
		delete(c.free, class)
	}
	return first
}

// Live reports whether ptr is a block handed out and not freed, and its
// size class.
func (c *Cache) Live(ptr uint64) (class int64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	class, ok = c.live[ptr]
	return class, ok
}

// Stats returns a snapshot of the counters.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}
