package sweep

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pkg/errors"
)

func TestRunLocal(t *testing.T) {
	s := smallSweep(t)
	r := newMemRunner()
	r.delay = 20 * time.Millisecond
	var lines []string
	if err := RunLocal(context.Background(), s, 2, r, func(f string, a ...any) { lines = append(lines, f) }); err != nil {
		t.Fatal(err)
	}
	if r.caches != 1 || !r.cacheDoneFirst {
		t.Errorf("cache computed %d times (first: %v), want once before the cells", r.caches, r.cacheDoneFirst)
	}
	if len(r.runs) != 8 || r.maxRunning > 2 {
		t.Errorf("runs %v, at most %d at once; want each of 8 cells once, at most 2 at once", r.runs, r.maxRunning)
	}
	for i, n := range r.runs {
		if n != 1 {
			t.Errorf("cell %d ran %d times", i, n)
		}
	}
	st, err := s.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n := st.Count(); n[Done] != 8 || st.Cache.State != Done {
		t.Errorf("status after the run: %v, cache %s", n, st.Cache.State)
	}
	// A second run runs nothing: done cells are never run twice.
	r2 := newMemRunner()
	if err := RunLocal(context.Background(), s, 3, r2, nil); err != nil {
		t.Fatal(err)
	}
	if r2.caches != 0 || len(r2.runs) != 0 {
		t.Errorf("second run: cache %d, runs %v; want nothing", r2.caches, r2.runs)
	}
	if err := RunLocal(context.Background(), s, 0, r2, nil); err == nil || !strings.Contains(err.Error(), "--local 0") {
		t.Errorf("--local 0: %v", err)
	}
}

func TestRunLocalFailure(t *testing.T) {
	s := smallSweep(t)
	r := newMemRunner()
	r.fail[3] = true
	err := RunLocal(context.Background(), s, 2, r, nil)
	if err == nil || !strings.Contains(err.Error(), "1 of 8 cells failed") || !strings.Contains(err.Error(), "3 "+s.Cells[3].ID) {
		t.Fatalf("error %v, want one naming cell 3", err)
	}
	st, _ := s.Status(context.Background())
	if c := st.Cells[3]; c.State != Failed || !strings.Contains(c.Detail, "out of memory") {
		t.Errorf("cell 3 status %+v", c)
	}
	if n := st.Count(); n[Done] != 7 {
		t.Errorf("status %v, want 7 done", n)
	}
	r2 := newMemRunner()
	if err := RunLocal(context.Background(), s, 2, r2, nil); err != nil {
		t.Fatal(err)
	}
	if len(r2.runs) != 1 || r2.runs[3] != 1 {
		t.Errorf("rerun ran %v, want only cell 3", r2.runs)
	}
}

func TestRunLocalCancel(t *testing.T) {
	s := smallSweep(t)
	r := newMemRunner()
	r.block[0], r.block[1] = true, true
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- RunLocal(ctx, s, 2, r, nil) }()
	<-r.started
	<-r.started
	cancel()
	err := <-done
	var in *Interrupted
	if !errors.As(err, &in) || ExitCode(err) != ExitRequeue {
		t.Fatalf("error %v (exit %d), want Interrupted (exit %d)", err, ExitCode(err), ExitRequeue)
	}
	st, _ := s.Status(context.Background())
	for _, i := range []int{0, 1} {
		if c := st.Cells[i]; c.State != Failed || !strings.Contains(c.Detail, "interrupted") {
			t.Errorf("cell %d status %+v, want failed (interrupted)", i, c)
		}
	}
	if n := st.Count(); n[Missing] != 6 {
		t.Errorf("status %v, want the 6 cells not started missing", n)
	}
}

func TestRunCellNeedsCache(t *testing.T) {
	s := smallSweep(t)
	r := newMemRunner()
	err := RunCell(context.Background(), s.Dir, 2, r)
	if err == nil || !strings.Contains(err.Error(), "feature cache is not computed") || len(r.runs) != 0 {
		t.Fatalf("cell before cache: %v, runs %v", err, r.runs)
	}
	if err := RunCache(context.Background(), s.Dir, r); err != nil {
		t.Fatal(err)
	}
	if err := RunCell(context.Background(), s.Dir, 2, r); err != nil {
		t.Fatal(err)
	}
	if err := RunCell(context.Background(), s.Dir, 2, r); err != nil {
		t.Fatal(err)
	}
	if r.runs[2] != 1 || r.caches != 1 {
		t.Errorf("runs %v caches %d; want cell 2 and the cache once", r.runs, r.caches)
	}
	if err := RunCell(context.Background(), s.Dir, 8, r); err == nil || !strings.Contains(err.Error(), "no cell 8") {
		t.Errorf("cell 8: %v", err)
	}
}

// signalRunner sends sig to its own process once the cell starts, then
// waits for ctx as a training loop would, "saving its checkpoint".
type signalRunner struct {
	sig   syscall.Signal
	saved bool
}

func (r *signalRunner) Cache(context.Context, *Sweep) error { return nil }

func (r *signalRunner) Run(ctx context.Context, _ *Sweep, _ Cell) error {
	syscall.Kill(os.Getpid(), r.sig)
	select {
	case <-ctx.Done():
		r.saved = true
		return ctx.Err()
	case <-time.After(10 * time.Second):
		return errors.New("no signal arrived")
	}
}

// In a Slurm job, the time-limit signal makes the cell save its
// checkpoint and requeue the job while Slurm reports it running; after
// scancel (Slurm reports it cancelled) the job is not requeued.
func TestRunCellSignalRequeue(t *testing.T) {
	for _, tc := range []struct {
		name, state string
		sig         syscall.Signal
		requeued    bool
	}{
		{"time limit USR1", "RUNNING", syscall.SIGUSR1, true},
		{"time limit TERM", "RUNNING", syscall.SIGTERM, true},
		{"scancel", "CANCELLED", syscall.SIGTERM, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := smallSweep(t)
			bin := t.TempDir()
			log := filepath.Join(bin, "scontrol.log")
			scontrol := fakeTool(t, bin, "scontrol", `echo "$@" >> `+log+`
case "$*" in
  "--oneliner show job 4242") echo "JobId=4242 ArrayJobId=4240 ArrayTaskId=2 JobState=`+tc.state+` Reason=None Dependency=(null)";;
  "requeue 4242") ;;
  *) exit 1;;
esac
`)
			if err := s.WriteScripts(SlurmOptions{Command: []string{"softcpt"}, Signal: "USR1@60", Tools: SlurmTools{Scontrol: scontrol}}); err != nil {
				t.Fatal(err)
			}
			if err := s.runCache(context.Background(), &signalRunner{}); err != nil {
				t.Fatal(err)
			}
			t.Setenv("SLURM_JOB_ID", "4242")
			t.Setenv("SLURM_ARRAY_JOB_ID", "4240")
			t.Setenv("SLURM_ARRAY_TASK_ID", "2")
			r := &signalRunner{sig: tc.sig}
			err := RunCell(context.Background(), s.Dir, 2, r)
			var in *Interrupted
			if !errors.As(err, &in) || ExitCode(err) != ExitRequeue || !r.saved {
				t.Fatalf("error %v (exit %d, saved %v), want Interrupted (exit %d) after saving", err, ExitCode(err), r.saved, ExitRequeue)
			}
			b, _ := os.ReadFile(log)
			if in.Requeued != tc.requeued || strings.Contains(string(b), "requeue 4242") != tc.requeued {
				t.Errorf("requeued %v, scontrol calls %q; want requeued %v", in.Requeued, b, tc.requeued)
			}
			m, ok := s.marked(s.Cells[2].ID, markInterrupted)
			if !ok || m.Requeued != tc.requeued || m.Job != "4240_2" || m.Signal == "" {
				t.Errorf("interrupted marker %+v (%v)", m, ok)
			}
		})
	}
}

// Outside Slurm, a signal interrupts the cell without any scontrol call.
func TestRunCellSignalLocal(t *testing.T) {
	s := smallSweep(t)
	if err := s.runCache(context.Background(), &signalRunner{}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SLURM_JOB_ID", "")
	r := &signalRunner{sig: syscall.SIGINT}
	err := RunCell(context.Background(), s.Dir, 0, r)
	var in *Interrupted
	if !errors.As(err, &in) || in.Requeued || in.Signal != "INT" || !r.saved {
		t.Fatalf("error %v (%+v), want an interruption by SIGINT without requeue", err, in)
	}
}

// Two processes never run the same cell at once: the second one fails
// on the cell's lock.
func TestRunCellLock(t *testing.T) {
	s := smallSweep(t)
	if err := s.runCache(context.Background(), newMemRunner()); err != nil {
		t.Fatal(err)
	}
	r := newMemRunner()
	r.block[1] = true
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- RunCell(ctx, s.Dir, 1, r) }()
	<-r.started
	if st, _ := s.Status(context.Background()); st.Cells[1].State != Running {
		t.Errorf("a cell holding its lock: %+v, want running", st.Cells[1])
	}
	err := RunCell(context.Background(), s.Dir, 1, newMemRunner())
	if err == nil || !strings.Contains(err.Error(), "another process is running it") {
		t.Errorf("second run of a running cell: %v", err)
	}
	cancel()
	<-done
}
