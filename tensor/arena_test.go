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
