package alloc

import (
	"errors"
	"testing"
)

func TestSizeClass(t *testing.T) {
	for _, c := range []struct{ n, want int64 }{
		{0, 512}, {1, 512}, {512, 512}, {513, 640}, {640, 640}, {641, 768}, {1024, 1024},
		{1025, 1280}, {1 << 20, 1 << 20}, {1<<20 + 1, 1<<20 + 1<<18}, {3 << 30, 3 << 30},
	} {
		if got := SizeClass(c.n); got != c.want {
			t.Errorf("SizeClass(%d) = %d, want %d", c.n, got, c.want)
		}
	}
	prev := int64(0)
	for n := int64(1); n < 1<<22; n += 37 {
		cl := SizeClass(n)
		if cl < n || cl%128 != 0 || (n > MinClass && float64(cl) > 1.25*float64(n)) {
			t.Fatalf("SizeClass(%d) = %d: below the request, misaligned or over 25%% waste", n, cl)
		}
		if cl < prev {
			t.Fatalf("SizeClass not monotonic at %d", n)
		}
		prev = cl
	}
}

// fakeBackend hands out increasing addresses and can fail above a budget.
type fakeBackend struct {
	next   uint64
	live   map[uint64]int64
	budget int64 // bytes that may be live at once (0: unlimited)
	used   int64
}

var errOOM = errors.New("out of memory")

func (f *fakeBackend) Alloc(n int64) (uint64, error) {
	if f.budget > 0 && f.used+n > f.budget {
		return 0, errOOM
	}
	f.next += 1 << 32
	f.live[f.next] = n
	f.used += n
	return f.next, nil
}

func (f *fakeBackend) Free(p uint64) error {
	n, ok := f.live[p]
	if !ok {
		return errors.New("double free")
	}
	delete(f.live, p)
	f.used -= n
	return nil
}

func TestCacheReuse(t *testing.T) {
	fb := &fakeBackend{live: map[uint64]int64{}}
	c := New(fb)
	p1, cl, err := c.Alloc(1000)
	if err != nil || cl != 1024 {
		t.Fatalf("Alloc(1000) = %v, %d, %v", p1, cl, err)
	}
	if err := c.Free(p1); err != nil {
		t.Fatal(err)
	}
	p2, _, err := c.Alloc(900) // same class 1024
	if err != nil || p2 != p1 {
		t.Fatalf("Alloc(900) after a free of the same class = %#x, want reuse of %#x (%v)", p2, p1, err)
	}
	p3, _, _ := c.Alloc(5000)
	if p3 == p1 {
		t.Fatal("two live blocks share a pointer")
	}
	s := c.Stats()
	if s.Allocs != 3 || s.Hits != 1 || s.Misses != 2 || s.BackendAllocs != 2 || s.InUse != 1024+5120 || s.Cached != 0 {
		t.Errorf("stats %+v", s)
	}
	if err := c.Free(p1); err != nil {
		t.Fatal(err)
	}
	if err := c.Free(p1); err == nil {
		t.Error("double free not reported")
	}
	if err := c.Free(12345); err == nil {
		t.Error("free of an unknown pointer not reported")
	}
	if _, ok := c.Live(p3); !ok {
		t.Error("live block not reported live")
	}
	if err := c.Release(); err != nil {
		t.Fatal(err)
	}
	s = c.Stats()
	if s.Cached != 0 || s.BackendFrees != 1 || len(fb.live) != 1 || s.PeakInUse != 1024+5120 {
		t.Errorf("after Release: stats %+v, backend live %d", s, len(fb.live))
	}
	if _, _, err := c.Alloc(0); err == nil {
		t.Error("Alloc(0) accepted")
	}
}

func TestCacheReleasesOnOOM(t *testing.T) {
	fb := &fakeBackend{live: map[uint64]int64{}, budget: 4096}
	c := New(fb)
	p, _, err := c.Alloc(3000) // class 3072
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Free(p); err != nil {
		t.Fatal(err)
	}
	// 2048 does not fit next to the cached 3072 block: the cache must be
	// released and the allocation retried.
	if _, _, err := c.Alloc(2048); err != nil {
		t.Fatalf("Alloc after OOM with a cached block: %v", err)
	}
	if s := c.Stats(); s.Retries != 1 || s.Cached != 0 || s.BackendFrees != 1 {
		t.Errorf("stats %+v", s)
	}
	if _, _, err := c.Alloc(4096); !errors.Is(err, errOOM) {
		t.Errorf("Alloc beyond the budget with an empty cache: err %v, want wrapped OOM", err)
	}
}
