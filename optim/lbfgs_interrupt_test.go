package optim

import (
	"errors"
	"slices"
	"testing"
)

// TestLBFGSInterrupt: an Interrupt that never fires leaves the iterates
// unchanged; one that fires before iteration k stops there with its error
// and the iterate of k−1 iterations.
func TestLBFGSInterrupt(t *testing.T) {
	start := func() []float64 { return []float64{-1.2, 1, -1.2, 1} }
	ref := start()
	want, err := LBFGS(rosenbrock, ref, LBFGSOptions{GradTol: 1e-9, FTol: -1})
	if err != nil {
		t.Fatal(err)
	}
	x := start()
	calls := 0
	got, err := LBFGS(rosenbrock, x, LBFGSOptions{GradTol: 1e-9, FTol: -1, Interrupt: func() error { calls++; return nil }})
	if err != nil || got != want || !slices.Equal(x, ref) {
		t.Fatalf("with a silent Interrupt: %+v, %v, x %v; want %+v, x %v", got, err, x, want, ref)
	}
	if calls != want.Iter+1 && calls != want.Iter {
		t.Errorf("Interrupt called %d times for %d iterations", calls, want.Iter)
	}

	stop := errors.New("stop")
	prefix := start()
	if _, err := LBFGS(rosenbrock, prefix, LBFGSOptions{GradTol: 1e-9, FTol: -1, MaxIter: 5}); err != nil {
		t.Fatal(err)
	}
	x, calls = start(), 0
	got, err = LBFGS(rosenbrock, x, LBFGSOptions{GradTol: 1e-9, FTol: -1, Interrupt: func() error {
		if calls++; calls > 5 {
			return stop
		}
		return nil
	}})
	if !errors.Is(err, stop) {
		t.Fatalf("err = %v, want the interrupt's error", err)
	}
	if got.Iter != 5 || !slices.Equal(x, prefix) {
		t.Errorf("stopped after %d iterations at %v, want 5 at %v (the 5-iteration run's)", got.Iter, x, prefix)
	}
}
