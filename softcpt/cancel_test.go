package softcpt

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/softcpt/softcpt-go/data"
)

// TestLinearProbeContext: an uncancelled context gives LinearProbe's
// result exactly; cancelling during the search stops it within the fit
// under way with an error that wraps context.Canceled.
func TestLinearProbeContext(t *testing.T) {
	train, val, test, k := probeTask(11, 16, 40, 400)
	want, err := LinearProbe(train, val, test, k, data.Accuracy, ProbeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := LinearProbeContext(context.Background(), train, val, test, k, data.Accuracy, ProbeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.C != want.C || got.TestScore != want.TestScore || !reflect.DeepEqual(got.Trace, want.Trace) ||
		!reflect.DeepEqual(got.Model.W, want.Model.W) {
		t.Errorf("LinearProbeContext differs from LinearProbe: C %g/%g, test %g/%g", got.C, want.C, got.TestScore, want.TestScore)
	}

	// Cancel from inside the 20th L-BFGS iteration's check: the search
	// must return at the next check.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	iters := 0
	opt := ProbeOptions{}
	opt.LBFGS.Interrupt = func() error {
		if iters++; iters == 20 {
			cancel()
		}
		return ctx.Err()
	}
	start := time.Now()
	_, err = LinearProbeContext(ctx, train, val, test, k, data.Accuracy, opt)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if iters != 20 {
		t.Errorf("%d interrupt checks, want the search to stop at the 20th", iters)
	}
	t.Logf("stopped in %v: %v", time.Since(start), err)

	// A context cancelled before the search: no fit at all.
	cancel()
	if _, err := LinearProbeContext(ctx, train, val, test, k, data.Accuracy, ProbeOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: err = %v, want context.Canceled", err)
	}
}
