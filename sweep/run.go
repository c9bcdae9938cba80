package sweep

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pkg/errors"
	"golang.org/x/sync/errgroup"
)

// Runner runs the work of a sweep's jobs in this process.
type Runner interface {
	// Cache computes (or finds) the shared feature cache of the sweep.
	Cache(ctx context.Context, s *Sweep) error
	// Run runs one cell to completion into its run folder, resuming from
	// its checkpoint; it returns ctx's error when interrupted after
	// saving the checkpoint.
	Run(ctx context.Context, s *Sweep, c Cell) error
}

// ExitRequeue is the exit status of a job interrupted by a signal after
// its checkpoint was saved (EX_TEMPFAIL). Slurm requeues it when the job
// asked for it with `scontrol requeue` (RunCell does so on the time-limit
// signal), or when slurm.conf lists the status in RequeueExit.
const ExitRequeue = 75

// Interrupted is the error of a job stopped by a signal after saving its
// checkpoint.
type Interrupted struct {
	// Signal is the signal that stopped it ("" when ctx was cancelled
	// otherwise).
	Signal string
	// Requeued says that `scontrol requeue` put the job back in the queue.
	Requeued bool
	// Err is the runner's error.
	Err error
}

func (e *Interrupted) Error() string {
	s := "interrupted"
	if e.Signal != "" {
		s += " by SIG" + e.Signal
	}
	if e.Requeued {
		s += ", checkpoint saved and job requeued"
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the runner's error.
func (e *Interrupted) Unwrap() error { return e.Err }

// ExitCode maps the error of RunCell or RunCache to the process's exit
// status: 0 for nil, ExitRequeue when interrupted, 1 otherwise.
func ExitCode(err error) int {
	var in *Interrupted
	switch {
	case err == nil:
		return 0
	case errors.As(err, &in):
		return ExitRequeue
	}
	return 1
}

// RunCell is the entry point of an array task (`softcpt sweep run-cell
// DIR INDEX`): it runs cell index of the sweep folder dir through r,
// unless the cell is done already. SIGTERM, SIGINT and the signal that
// the sweep's Slurm scripts ask for (slurm/options.json) cancel ctx, so
// that r saves its checkpoint; then, inside a Slurm job that is still
// running (the time-limit signal, not scancel), RunCell asks `scontrol
// requeue $SLURM_JOB_ID` and returns an *Interrupted error (exit status
// ExitRequeue).
func RunCell(ctx context.Context, dir string, index int, r Runner) error {
	s, err := Open(dir)
	if err != nil {
		return err
	}
	c, err := s.Cell(index)
	if err != nil {
		return err
	}
	return s.inJob(ctx, func(ctx context.Context) error { return s.runCell(ctx, c, r) })
}

// RunCache is the entry point of the cache job (`softcpt sweep cache
// DIR`): it computes the sweep's feature cache through r unless it is
// done, with RunCell's signal handling.
func RunCache(ctx context.Context, dir string, r Runner) error {
	s, err := Open(dir)
	if err != nil {
		return err
	}
	return s.inJob(ctx, func(ctx context.Context) error { return s.runCache(ctx, r) })
}

// RunLocal runs the sweep in this process: the cache first, then the
// cells that are not done, n at a time. A failed cell does not stop the
// others; the error lists the failures. Another process may run the same
// sweep at once: the cache is computed once (one waits for the other),
// and a cell that the other process is running, or that failed there
// since this run started, is left to it. Cancelling ctx interrupts the
// running cells (their checkpoints are saved) and starts no more. logf
// (nil: no log) receives one line as each cell starts and ends; its calls
// never overlap.
func RunLocal(ctx context.Context, s *Sweep, n int, r Runner, logf func(format string, args ...any)) error {
	if n < 1 {
		return errors.Errorf("sweep: --local %d: want at least 1 cell at a time", n)
	}
	var mu sync.Mutex // guards failed and the calls of logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	log := logf
	logf = func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		log(format, args...)
	}
	if err := s.runCache(ctx, r); err != nil {
		return err
	}
	var g errgroup.Group
	g.SetLimit(n)
	var failed []string
	start := time.Now().UTC()
	for _, c := range s.Cells {
		if ctx.Err() != nil {
			break
		}
		if _, ok := s.marked(c.ID, markDone); ok {
			continue
		}
		if m, ok := s.marked(c.ID, markFailed); ok && m.Time.After(start) {
			continue // failed in another process since this run started
		}
		g.Go(func() error {
			if ctx.Err() != nil { // cancelled while this one waited for a slot
				return nil
			}
			logf("cell %d %s: start", c.Index, c.ID)
			err := s.runCell(ctx, c, r)
			if busy(err) {
				logf("cell %d %s: another process is running it; left to that one", c.Index, c.ID)
				return nil
			}
			if err != nil {
				logf("cell %d %s: %v", c.Index, c.ID, err)
				mu.Lock()
				failed = append(failed, fmt.Sprintf("%d %s", c.Index, c.ID))
				mu.Unlock()
				return nil
			}
			logf("cell %d %s: done", c.Index, c.ID)
			return nil
		})
	}
	g.Wait()
	if err := ctx.Err(); err != nil {
		return &Interrupted{Err: err}
	}
	if len(failed) > 0 {
		return errors.Errorf("sweep: %d of %d cells failed (markers in %s): %s", len(failed), len(s.Cells), s.path(stateDir), strings.Join(failed, ", "))
	}
	return nil
}

// busyError says that another process holds a lock.
type busyError struct{ path string }

func (e *busyError) Error() string {
	return "another process is running it (it holds " + e.path + ")"
}

// busy reports whether err says that another process holds the lock.
func busy(err error) bool {
	var b *busyError
	return errors.As(err, &b)
}

// runCache computes the cache unless its done marker exists; while
// another process computes it, it waits for that one (polling its lock)
// and then finds it done, so that the cache is computed once.
func (s *Sweep) runCache(ctx context.Context, r Runner) error {
	for {
		err := s.runOnce(ctx, cacheID, "feature cache", func(ctx context.Context) error { return r.Cache(ctx, s) })
		if !busy(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return &Interrupted{Err: errors.Wrap(ctx.Err(), "sweep: waiting for the feature cache of another process")}
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// runCell runs c unless it is done; the cache must be done.
func (s *Sweep) runCell(ctx context.Context, c Cell, r Runner) error {
	_, done := s.marked(c.ID, markDone)
	if _, cached := s.marked(cacheID, markDone); !done && !cached {
		return errors.Errorf("sweep: cell %d %s: the feature cache is not computed yet (its job has not finished; `softcpt sweep cache %s` computes it)", c.Index, c.ID, s.Dir)
	}
	return s.runOnce(ctx, c.ID, fmt.Sprintf("cell %d %s", c.Index, c.ID), func(ctx context.Context) error { return r.Run(ctx, s, c) })
}

// runOnce runs fn for id under its lock unless id is done, and records
// the outcome in id's markers.
func (s *Sweep) runOnce(ctx context.Context, id, what string, fn func(context.Context) error) error {
	if _, ok := s.marked(id, markDone); ok {
		return nil
	}
	unlock, err := lock(s.markerPath(id, "lock"))
	if err != nil {
		return errors.Wrapf(err, "sweep: %s", what)
	}
	defer unlock()
	if _, ok := s.marked(id, markDone); ok { // finished while we waited for the lock
		return nil
	}
	s.unmark(id, markFailed, markInterrupted)
	if err := s.mark(id, markRunning, marker{}); err != nil {
		return err
	}
	defer s.unmark(id, markRunning)
	err = fn(ctx)
	switch {
	case err == nil:
		return s.mark(id, markDone, marker{})
	case ctx.Err() != nil:
		m := marker{Error: err.Error()}
		var sig signalCause
		if errors.As(context.Cause(ctx), &sig) {
			m.Signal = sig.name
		}
		if s.requeue != nil && m.Signal != "" {
			var rerr error
			if m.Requeued, rerr = s.requeue(); rerr != nil {
				err = errors.Wrapf(err, "requeue failed (%v)", rerr)
				m.Error = err.Error()
			}
		}
		s.mark(id, markInterrupted, m)
		return &Interrupted{Signal: m.Signal, Requeued: m.Requeued, Err: errors.Wrapf(err, "sweep: %s", what)}
	default:
		s.mark(id, markFailed, marker{Error: err.Error()})
		return errors.Wrapf(err, "sweep: %s", what)
	}
}

// signalCause is the cancellation cause of a job's context.
type signalCause struct{ name string }

func (c signalCause) Error() string { return "received SIG" + c.name }

// inJob runs fn with a context that SIGTERM, SIGINT and the sweep's
// Slurm signal cancel; inside a Slurm job, an interruption by one of
// them requeues the job when Slurm still reports it running.
func (s *Sweep) inJob(ctx context.Context, fn func(context.Context) error) error {
	sigs := map[os.Signal]string{syscall.SIGTERM: "TERM", syscall.SIGINT: "INT"}
	if o, err := s.slurmOptions(); err == nil {
		if sig, err := ParseSignal(o.Signal); err == nil {
			sigs[sig.sys] = sig.Name
		}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ch := make(chan os.Signal, 1)
	for sig := range sigs {
		signal.Notify(ch, sig)
	}
	defer signal.Stop(ch)
	go func() {
		select {
		case sig := <-ch:
			cancel(signalCause{sigs[sig]})
		case <-ctx.Done():
		}
	}()
	if job := os.Getenv("SLURM_JOB_ID"); job != "" {
		s.requeue = func() (bool, error) {
			tools := s.slurmTools()
			if !tools.jobRunning(context.Background(), job) {
				return false, nil // cancelled (scancel), or Slurm requeues it itself
			}
			return true, tools.run(context.Background(), tools.Scontrol, "requeue", job)
		}
		defer func() { s.requeue = nil }()
	}
	return fn(ctx)
}
