package main

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// driverBinary builds the driver once per test process into a temporary
// folder removed by TestMain.
func driverBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "softcpt-bin-")
		if err != nil {
			binErr = err
			return
		}
		binDir = dir
		binPath = filepath.Join(dir, "softcpt")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = err
			binPath = string(out)
		}
	})
	if binErr != nil {
		t.Fatalf("building the driver: %v\n%s", binErr, binPath)
	}
	return binPath
}

var binDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// shippedDemo are the flags of a demo run on the shipped assets from this
// package's folder.
func shippedDemo(out string, extra ...string) []string {
	return append([]string{"demo", "--out", out, "--benchmark-file", "../../realdata/assets/benchmark.bin",
		"--model", "../../pretrained/model.safetensors", "--bpe", "../../pretrained/bpe.txt.gz", "--seed", "1"}, extra...)
}

// driverRun is a started driver whose standard error is collected and
// scanned for a line.
type driverRun struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	lines  []string
	seen   chan string   // lines as they come
	exited chan struct{} // closed once Wait has returned
}

func startDriver(t *testing.T, args ...string) *driverRun {
	t.Helper()
	cmd := exec.Command(driverBinary(t), args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &driverRun{cmd: cmd, seen: make(chan string, 1000), exited: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			r.mu.Lock()
			r.lines = append(r.lines, sc.Text())
			r.mu.Unlock()
			select {
			case r.seen <- sc.Text():
			default:
			}
		}
		cmd.Wait() // the exit status is read from cmd.ProcessState
		close(r.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-r.exited:
		default:
			cmd.Process.Kill()
			<-r.exited
		}
	})
	return r
}

// waitLine waits for a standard-error line containing s.
func (r *driverRun) waitLine(t *testing.T, s string, limit time.Duration) {
	t.Helper()
	deadline := time.After(limit)
	for {
		select {
		case l := <-r.seen:
			if strings.Contains(l, s) {
				return
			}
		case <-deadline:
			t.Fatalf("no line with %q within %s; stderr:\n%s", s, limit, r.stderr())
		}
	}
}

func (r *driverRun) stderr() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n")
}

// stop sends sig and returns the time to exit and the exit status.
func (r *driverRun) stop(t *testing.T, sig ...syscall.Signal) (time.Duration, int) {
	t.Helper()
	start := time.Now()
	for _, s := range sig {
		if err := r.cmd.Process.Signal(s); err != nil {
			t.Fatalf("sending %v: %v; stderr:\n%s", s, err, r.stderr())
		}
	}
	select {
	case <-r.exited:
	case <-time.After(20 * time.Second):
		r.cmd.Process.Kill()
		t.Fatalf("still running 20 s after %v; stderr:\n%s", sig, r.stderr())
	}
	return time.Since(start), r.cmd.ProcessState.ExitCode()
}

// TestSignalStopsEachPhase sends SIGTERM (or SIGINT) to the driver while
// it encodes images, trains and fits the linear probe on the shipped
// model and data, and checks that each phase stops on its own (not by
// the backstop) within 2.5 s with exit status 128 + signo,
// the one-line message, and no results file of the interrupted cell.
func TestSignalStopsEachPhase(t *testing.T) {
	if _, err := os.Stat("../../realdata/assets/benchmark.bin"); err != nil {
		t.Skip("shipped benchmark missing")
	}
	const bound = 2500 * time.Millisecond
	for _, tc := range []struct {
		phase  string
		args   []string
		after  string        // stderr line that starts the phase ("" = none)
		delay  time.Duration // then wait this long
		sig    syscall.Signal
		result string // results file that must not exist
	}{
		// Zero-shot encodes the class-name prompts, then every test image
		// of each group: about 3.5 s for the three groups here, from 0.3 s
		// after the start, so the signal comes before the last group.
		{"encoding", []string{"--methods", "zeroshot", "--groups", "all"}, "", 1200 * time.Millisecond, syscall.SIGTERM, "real-attributes/ZeroShot/shots_0/seed_0/results.json"},
		// Training: the first epoch's line is written after its checkpoint.
		{"training", []string{"--methods", "coop-ca", "--shots", "1", "--epochs", "40"}, "CoOp-CA epoch 1/40", 0, syscall.SIGINT, "real-general/CoOp-CA/shots_1/seed_1/results.json"},
		// The second seed's cell reuses the test features of the first
		// in memory and mostly fits the probes (about 40 s to get there:
		// not in -short).
		{"linear probe", []string{"--methods", "linprobe", "--shots", "1", "--seed", "1,2"}, "LinearProbe 1-shot seed 1", 300 * time.Millisecond, syscall.SIGTERM, "real-general/LinearProbe/shots_1/seed_2/results.json"},
	} {
		t.Run(tc.phase, func(t *testing.T) {
			if testing.Short() && tc.phase == "linear probe" {
				t.Skip("about 40 s before the probe's fits; the L-BFGS interrupt is tested in ./softcpt and ./optim")
			}
			out := t.TempDir()
			r := startDriver(t, shippedDemo(out, tc.args...)...)
			if tc.after != "" {
				r.waitLine(t, tc.after, 3*time.Minute)
			}
			time.Sleep(tc.delay)
			took, code := r.stop(t, tc.sig)
			t.Logf("%s: %v stopped in %v (exit %d)", tc.phase, tc.sig, took, code)
			errText := r.stderr()
			name := map[syscall.Signal]string{syscall.SIGTERM: "SIGTERM", syscall.SIGINT: "SIGINT"}[tc.sig]
			if want := 128 + int(tc.sig); code != want {
				t.Errorf("exit status %d, want %d; stderr:\n%s", code, want, errText)
			}
			if !strings.Contains(errText, "softcpt: "+name+": stopping") {
				t.Errorf("no stop message for %s; stderr:\n%s", name, errText)
			}
			if strings.Contains(errText, "did not stop within") {
				t.Errorf("the %s phase did not stop on its own; stderr:\n%s", tc.phase, errText)
			}
			if took > bound {
				t.Errorf("stopped in %v, want at most %v", took, bound)
			}
			if _, err := os.Stat(filepath.Join(out, tc.result)); err == nil {
				t.Errorf("%s was written: the cell was not interrupted", tc.result)
			}
		})
	}
}

// TestSecondSignalExitsAtOnce sends SIGTERM and SIGINT back to back
// (two signals of one kind can merge into one before delivery): the
// second one exits at once with 128 + its number and a one-line message.
// The watcher's handling of a repeated signal of one kind is tested by
// TestInterruptsBackstop.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	if _, err := os.Stat("../../realdata/assets/benchmark.bin"); err != nil {
		t.Skip("shipped benchmark missing")
	}
	// Zero-shot over the three groups encodes for about 3.5 s from 0.3 s.
	r := startDriver(t, shippedDemo(t.TempDir(), "--methods", "zeroshot", "--groups", "all")...)
	time.Sleep(time.Second)
	took, code := r.stop(t, syscall.SIGTERM, syscall.SIGINT)
	t.Logf("SIGTERM+SIGINT: exit %d in %v", code, took)
	errText := r.stderr()
	second := map[int]string{130: "SIGINT", 143: "SIGTERM"}[code]
	if second == "" {
		t.Fatalf("exit status %d, want 130 or 143; stderr:\n%s", code, errText)
	}
	if !strings.Contains(errText, "softcpt: second "+second+", exiting now") {
		t.Errorf("no second-signal message for %s; stderr:\n%s", second, errText)
	}
	if took > time.Second {
		t.Errorf("exited in %v, want under a second", took)
	}
}

// TestSignalStopsPretraining: SIGTERM during pretraining finishes the
// step under way, saves a checkpoint and exits with 143 (not by the
// backstop). Not in -short: learning the vocabulary and the first steps
// take about 20 s.
func TestSignalStopsPretraining(t *testing.T) {
	if testing.Short() {
		t.Skip("about 20 s")
	}
	if _, err := os.Stat("../../realdata/assets/pairs.bin"); err != nil {
		t.Skip("shipped pairs missing")
	}
	out := t.TempDir()
	r := startDriver(t, "pretrain", "--pairs", "../../realdata/assets/pairs.bin", "--out", out, "--steps", "1000",
		"--batch", "32", "--vocab", "600", "--eval-every", "0", "--log-every", "1")
	r.waitLine(t, "step 1/1000", 3*time.Minute)
	took, code := r.stop(t, syscall.SIGTERM)
	errText := r.stderr()
	t.Logf("pretraining: SIGTERM stopped in %v (exit %d)", took, code)
	if code != 143 || strings.Contains(errText, "did not stop within") || !strings.Contains(errText, "checkpoint of step") {
		t.Errorf("exit %d; stderr:\n%s", code, errText)
	}
	if _, err := os.Stat(filepath.Join(out, "checkpoint")); err != nil {
		t.Errorf("no checkpoint saved: %v", err)
	}
}
