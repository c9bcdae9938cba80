package sweep

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/softcpt/softcpt-go/report"
)

// tinySweepFile is a 2 methods × 2 shots × 2 seeds sweep on two tasks of
// the shipped benchmark with short training.
const tinySweepFile = `{
  "name": "tiny",
  "tasks": ["general/vehicles", "general/handwritten-digits"],
  "methods": ["coop-ca", "nata"],
  "shots": [1, 2],
  "seeds": [1, 2],
  "params": {"epochs": 2, "batch_size": 8, "lr": 0.01, "n_ctx": 4}
}
`

// buildSoftcpt builds the softcpt command into a temporary folder.
func buildSoftcpt(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "softcpt")
	start := time.Now()
	out, err := exec.Command("go", "build", "-o", bin, "github.com/softcpt/softcpt-go/cmd/softcpt").CombinedOutput()
	if err != nil {
		t.Fatalf("go build ./cmd/softcpt: %v\n%s", err, out)
	}
	t.Logf("built softcpt in %v", time.Since(start).Round(time.Second))
	return bin
}

// runSoftcpt runs the binary and returns its standard output; it fails the
// test, with the standard error, when the command fails.
func runSoftcpt(t *testing.T, bin string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("softcpt %s: %v\n%s\n%s", strings.Join(args, " "), err, stdout.String(), tail(stderr.String(), 3000))
	}
	return stdout.String()
}

// slurmSoftcpt runs the tiny sweep with the softcpt binary on Slurm: it
// cancels one running array task (scancel), checks that only that cell
// failed, resubmits it (--resubmit-failed) and waits for every cell. It
// runs the same sweep file with --local 2 in two processes at once (the
// cache and every cell must run once), and checks that both reports, and
// every cell's scores, are equal, that no cell wrote a feature cache file
// (the cache job encoded every image the cells read) and that no
// finished cell ran again.
func slurmSoftcpt(t *testing.T, c *slurmCluster) {
	bin := buildSoftcpt(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "tiny.json")
	if err := os.WriteFile(file, []byte(tinySweepFile), 0o644); err != nil {
		t.Fatal(err)
	}
	slurmDir, localDir := filepath.Join(dir, "on-slurm"), filepath.Join(dir, "local")
	start := time.Now()
	t.Log(runSoftcpt(t, bin, "sweep", "--file", file, "--dir", slurmDir, "--slurm", "--array-throttle", "2", "--time", "10", "--cpus-per-task", "1"))
	s, err := Open(slurmDir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			logTails(t, s)
		}
	}()
	jobs, err := s.Jobs()
	if err != nil || len(jobs) != 2 {
		t.Fatalf("jobs %+v (%v), want a cache job and an array", jobs, err)
	}

	// Cancel a cell while it runs (its running marker exists once its
	// signal handler is installed); one that finishes first is not
	// cancelled, and another is tried.
	victim := -1
	tried := map[int]bool{}
	for victim < 0 {
		if len(tried) == 3 {
			t.Fatalf("three cells finished before scancel stopped them: %v", tried)
		}
		cand := -1
		c.waitFor(t, 5*time.Minute, "a cell running", func() bool {
			for _, cell := range s.Cells {
				if _, ok := s.marked(cell.ID, markRunning); ok && !tried[cell.Index] {
					cand = cell.Index
					return true
				}
			}
			return false
		})
		tried[cand] = true
		task := fmt.Sprintf("%s_%d", jobs[1].ID, cand)
		t.Logf("cancelling cell %d (task %s) %v after submission", cand, task, time.Since(start).Round(time.Second))
		c.run(t, "scancel", task)
		c.waitFor(t, time.Minute, "the cancelled task to end", func() bool {
			st := status(t, s).Cells[cand].State
			return st != Running && st != Pending
		})
		if status(t, s).Cells[cand].State == Failed {
			victim = cand
		}
	}
	c.waitCancelled(t, s, victim, 10*time.Minute)
	t.Log(runSoftcpt(t, bin, "sweep", "--resubmit-failed", "--dir", slurmDir))
	c.waitFor(t, 5*time.Minute, "every cell done", func() bool { return status(t, s).Count()[Done] == len(s.Cells) })
	t.Logf("Slurm sweep done %v after submission", time.Since(start).Round(time.Second))
	checkOnce(t, s, victim)

	// The same sweep file on this machine, in two processes at once.
	start = time.Now()
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runSoftcpt(t, bin, "sweep", "--file", file, "--dir", localDir, "--local", "2")
		}()
	}
	wg.Wait()
	t.Logf("local sweep (two processes) done in %v", time.Since(start).Round(time.Second))
	l, err := Open(localDir)
	if err != nil {
		t.Fatal(err)
	}
	checkOnce(t, l, -1)

	// Equal reports and scores.
	rs, rl := runSoftcpt(t, bin, "report", slurmDir), runSoftcpt(t, bin, "report", localDir)
	if rs != rl {
		t.Errorf("the reports differ:\nSlurm:\n%s\nlocal:\n%s", rs, rl)
	}
	t.Logf("report of both:\n%s", rs)
	if a, b := scores(t, s.Output), scores(t, l.Output); !reflect.DeepEqual(a, b) || len(a) != len(s.Cells) {
		t.Errorf("%d cells' scores on Slurm, %d local, or they differ:\n%v\n%v", len(a), len(b), a, b)
	}
}

// checkOnce checks that the sweep's cache was computed once, before every
// cell, that no cell wrote a feature cache file, and that every cell ran
// to the end once (cell victim after one interrupted attempt).
func checkOnce(t *testing.T, s *Sweep, victim int) {
	t.Helper()
	h, err := s.history(cacheID)
	if err != nil || len(h) != 2 || h[0].State != markRunning || h[1].State != markDone {
		t.Fatalf("cache history %+v (%v), want one run", h, err)
	}
	cached := h[1].Time
	for f, v := range cacheFiles(t, s.Output) {
		fi, err := os.Stat(f)
		if err != nil || fi.ModTime().After(cached) {
			t.Errorf("feature cache file %s (%s) was written after the cache job ended (%v): a cell encoded images", f, v, cached)
		}
	}
	for _, cell := range s.Cells {
		h, err := s.history(cell.ID)
		var states []string
		for _, m := range h {
			states = append(states, m.State)
			if m.Time.Before(cached) {
				t.Errorf("cell %d started before the cache was done (%v)", cell.Index, m)
			}
		}
		want := []string{"running done"}
		if cell.Index == victim {
			// SIGTERM, then SIGKILL after KillWait (5 s): a cell still
			// opening the model when cancelled writes no marker.
			want = []string{"running interrupted running done", "running running done"}
		}
		if got := strings.Join(states, " "); err != nil || !slices.Contains(want, got) {
			t.Errorf("cell %d: history %q (%v), want one of %q", cell.Index, got, err, want)
		}
	}
}

// scores lists every result under out: benchmark, method, shots, seed,
// overall and task scores.
func scores(t *testing.T, out string) []string {
	t.Helper()
	res, err := report.Scan(out)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, r := range res {
		l := fmt.Sprintf("%s %s %d %d %v", r.Benchmark, r.Method, r.Shots, r.Seed, r.Overall)
		for _, tk := range r.Tasks {
			l += fmt.Sprintf(" %s=%v", tk.Name, tk.Value)
		}
		lines = append(lines, l)
	}
	sort.Strings(lines)
	return lines
}

// logTails logs the ends of the sweep's job logs.
func logTails(t *testing.T, s *Sweep) {
	files, _ := filepath.Glob(s.path(logsDir, "*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if len(b) > 0 {
			t.Logf("%s:\n%s", filepath.Base(f), tail(string(b), 1500))
		}
	}
}

// TestCacheTwoProcesses starts two processes (the test binary as a fake
// softcpt) that ask for the same sweep's feature cache at once: it is
// computed once, and both succeed.
func TestCacheTwoProcesses(t *testing.T) {
	s := smallSweep(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.CommandContext(ctx, exe, "sweep", "cache", s.Dir)
			cmd.Env = append(os.Environ(), "SWEEP_FAKE_RUNNER=1", "SWEEP_FAKE_CACHE_SECS=1")
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("%v: %s", err, out)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	var whats []string
	for _, e := range fakeLog(t, s, cacheID) {
		whats = append(whats, e.what)
	}
	if got := strings.Join(whats, " "); got != "start end" {
		t.Errorf("cache computed %q, want once (start end)", got)
	}
}
