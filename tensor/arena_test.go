package tensor

import "testing"

func TestArenaReuse(t *testing.T) {
	a := NewArena()
	var first *Tensor
	a.Do(func() {
		first = New(ArenaMinElems)
		first.Data()[7] = 3
		_ = New(2) // small: not from the arena
	})
	if a.Fresh != 1 || a.Reused != 0 {
		t.Fatalf("fresh %d reused %d", a.Fresh, a.Reused)
	}
	a.Reset()
	var second *Tensor
	a.Do(func() { second = New(64, ArenaMinElems/64) })
	if a.Reused != 1 || &second.Data()[0] != &first.Data()[0] {
		t.Fatal("the buffer was not reused after Reset")
	}
	if second.Data()[7] != 0 {
		t.Fatal("a reused buffer was not zeroed")
	}
	// Without Reset nothing is handed out twice.
	a.Do(func() {
		third := New(ArenaMinElems)
		if &third.Data()[0] == &second.Data()[0] {
			t.Fatal("a buffer in use was handed out again")
		}
	})
	// Outside Do, New does not touch the arena.
	before := a.Fresh + a.Reused
	New(ArenaMinElems)
	if a.Fresh+a.Reused != before {
		t.Fatal("New used the arena outside Do")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("nested Do did not panic")
		}
	}()
	a.Do(func() { NewArena().Do(func() {}) })
}

func TestArenaEmptyBuffer(t *testing.T) {
	a := NewArena()
	var first []float32
	a.Do(func() {
		first = EmptyBuffer(ArenaMinElems)
		for i := range first {
			first[i] = float32(i)
		}
		if b := EmptyBuffer(ArenaMinElems - 1); len(b) != ArenaMinElems-1 || b[0] != 0 {
			t.Fatal("a small EmptyBuffer is not a fresh zeroed slice")
		}
	})
	a.Reset()
	a.Do(func() {
		// Reused without clearing: the previous contents are still there.
		b := EmptyBuffer(ArenaMinElems)
		if &b[0] != &first[0] || b[5] != 5 {
			t.Fatalf("EmptyBuffer did not hand back the used buffer as it was (b[5] = %v)", b[5])
		}
	})
	a.Reset()
	a.Scribble = true
	a.Do(func() {
		z := Buffer(ArenaMinElems) // reused: cleared despite Scribble
		if &z[0] != &first[0] || z[5] != 0 {
			t.Fatalf("Buffer handed out a reused buffer without clearing it (z[5] = %v)", z[5])
		}
		e := Empty(2, ArenaMinElems) // fresh: scribbled over
		for _, v := range e.Data() {
			if v == v {
				t.Fatalf("Scribble left %v in a fresh Empty tensor", v)
			}
		}
		if f := Full(2, 2, ArenaMinElems); f.Data()[3] != 2 {
			t.Fatal("Full on an empty buffer")
		}
	})
}
