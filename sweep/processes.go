package sweep

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"

	"github.com/pkg/errors"
)

// RunProcesses runs the sweep on this machine in n processes, one cell
// at a time in each: this process computes the cache and runs
// RunLocal(ctx, s, 1, r, logf), and n-1 more run `COMMAND sweep --local 1
// --dir DIR` (COMMAND: the softcpt binary and any leading words; nil: the
// running executable), with their output on this one's standard error.
// The processes share the cells through their locks and markers (a cell
// runs in one of them). Processes, not goroutines, because a process
// trains one model at a time (the CPU path's autograd arena is
// process-wide) and a crash stops only its cell. Cancelling ctx sends
// SIGINT to the others: every running cell saves its checkpoint. The
// error lists the cells that are neither done nor running elsewhere.
func RunProcesses(ctx context.Context, s *Sweep, n int, command []string, r Runner, logf func(format string, args ...any)) error {
	if n < 1 {
		return errors.Errorf("sweep: --local %d: want at least 1 process", n)
	}
	if len(command) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return errors.Wrap(err, "sweep: the softcpt binary")
		}
		command = []string{exe}
	}
	if err := s.runCache(ctx, r); err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := 1; i < n; i++ {
		cmd := exec.CommandContext(ctx, command[0], append(command[1:], "sweep", "--local", "1", "--dir", s.Dir)...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
		if err := cmd.Start(); err != nil {
			errs[i] = errors.Wrapf(err, "sweep: starting process %d", i+1)
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := cmd.Wait(); err != nil {
				errs[i] = errors.Wrapf(err, "sweep: process %d (pid %d)", i+1, cmd.Process.Pid)
			}
		}()
	}
	errs[0] = RunLocal(ctx, s, 1, r, logf)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return &Interrupted{Err: err}
	}
	var failed []string
	for _, c := range s.Cells {
		if _, ok := s.marked(c.ID, markDone); !ok && !locked(s.markerPath(c.ID, "lock")) {
			failed = append(failed, fmt.Sprintf("%d %s", c.Index, c.ID))
		}
	}
	if len(failed) > 0 {
		return errors.Errorf("sweep: %d of %d cells failed (markers and errors in %s; logs above): %s", len(failed), len(s.Cells), s.path(stateDir), strings.Join(failed, ", "))
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
