package sweep

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pkg/errors"
)

// TestMain turns the test binary into a fake softcpt for the jobs of the
// real-Slurm test when SWEEP_FAKE_RUNNER is set: `sweep cache DIR` and
// `sweep run-cell DIR INDEX` run through fileRunner.
func TestMain(m *testing.M) {
	if os.Getenv("SWEEP_FAKE_RUNNER") != "" {
		os.Exit(fakeMain(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func fakeMain(args []string) int {
	var err error
	r := fileRunner{}
	switch {
	case len(args) == 3 && args[0] == "sweep" && args[1] == "cache":
		err = RunCache(context.Background(), args[2], r)
	case len(args) == 4 && args[0] == "sweep" && args[1] == "run-cell":
		var i int
		if i, err = strconv.Atoi(args[3]); err == nil {
			err = RunCell(context.Background(), args[2], i, r)
		}
	default:
		err = errors.Errorf("fake softcpt: bad arguments %q", args)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake softcpt:", err)
	}
	return ExitCode(err)
}

// fileRunner is a Runner whose work is sleeping: the cache takes
// SWEEP_FAKE_CACHE_SECS, a cell SWEEP_FAKE_CELL_SECS (default 1 each),
// its first attempt SWEEP_FAKE_FIRST_SECS when set.
// Each appends "start <unix ns>" and "end <unix ns>" (or "interrupted")
// lines to <sweep>/fake/<id>.log, so that a test sees every attempt and
// the order of the cache and the cells across processes.
type fileRunner struct{}

func (fileRunner) Cache(ctx context.Context, s *Sweep) error {
	return fakeWork(ctx, s, cacheID, "SWEEP_FAKE_CACHE_SECS")
}

func (fileRunner) Run(ctx context.Context, s *Sweep, c Cell) error {
	env := "SWEEP_FAKE_CELL_SECS"
	if _, err := os.Stat(s.path("fake", c.ID+".log")); err != nil && os.Getenv("SWEEP_FAKE_FIRST_SECS") != "" {
		env = "SWEEP_FAKE_FIRST_SECS" // the first attempt of a cell
	}
	return fakeWork(ctx, s, c.ID, env)
}

func fakeWork(ctx context.Context, s *Sweep, id, env string) error {
	secs, err := strconv.ParseFloat(os.Getenv(env), 64)
	if err != nil {
		secs = 1
	}
	log := func(what string) {
		os.MkdirAll(s.path("fake"), 0o755)
		f, err := os.OpenFile(s.path("fake", id+".log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintf(f, "%s %d %s\n", what, time.Now().UnixNano(), slurmJobName())
			f.Close()
		}
	}
	log("start")
	select {
	case <-time.After(time.Duration(secs * float64(time.Second))):
		log("end")
		return nil
	case <-ctx.Done():
		log("interrupted")
		return ctx.Err()
	}
}

// memRunner is an in-process Runner that counts its calls.
type memRunner struct {
	delay time.Duration
	// fail makes these cells fail; block makes these cells wait for ctx.
	fail, block map[int]bool
	// started receives the index of every blocking cell that starts.
	started chan int

	mu                  sync.Mutex
	caches              int
	runs                map[int]int
	running, maxRunning int
	cacheDoneFirst      bool
}

func newMemRunner() *memRunner {
	return &memRunner{runs: map[int]int{}, fail: map[int]bool{}, block: map[int]bool{}, started: make(chan int, 100), cacheDoneFirst: true}
}

func (r *memRunner) Cache(ctx context.Context, s *Sweep) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.runs) > 0 {
		r.cacheDoneFirst = false
	}
	r.caches++
	return nil
}

func (r *memRunner) Run(ctx context.Context, s *Sweep, c Cell) error {
	r.mu.Lock()
	r.runs[c.Index]++
	r.running++
	r.maxRunning = max(r.maxRunning, r.running)
	fail, block := r.fail[c.Index], r.block[c.Index]
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.running--
		r.mu.Unlock()
	}()
	if block {
		r.started <- c.Index
		<-ctx.Done()
		return ctx.Err()
	}
	select {
	case <-time.After(r.delay):
	case <-ctx.Done():
		return ctx.Err()
	}
	if fail {
		return errors.Errorf("cell %d: out of memory", c.Index)
	}
	return nil
}

// smallSweep creates a 2 methods × 2 shots × 2 seeds sweep in a temporary
// folder.
func smallSweep(t *testing.T) *Sweep {
	t.Helper()
	s, err := Create(filepath.Join(t.TempDir(), "small"), &Spec{Benchmark: "general10", Model: "/m.pt", Output: "/out",
		Methods: []string{"coop-ca", "nata"}, Shots: []int{1, 2}, Seeds: []int{1, 2}, Params: Params{Epochs: ptr(2)}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func ptr[T any](v T) *T { return &v }

// fakeTool writes an executable shell script into dir and returns its
// path.
func fakeTool(t *testing.T, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte("#!/bin/bash\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}
