//go:build unix

package softcpt

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Environment of the child process of TestKillResume.
const (
	killChildDir = "SOFTCPT_KILL_CHILD_DIR" // checkpoint folder: run as the child
	killChildAt  = "SOFTCPT_KILL_CHILD_AT"  // "step:n": SIGKILL itself at the n-th save's step
)

// killRunEpochs is the length of the child's training run.
const killRunEpochs = 12

// TestKillChild is the training run of TestKillResume, run in a child
// process (the test binary re-executed); it does nothing otherwise.
func TestKillChild(t *testing.T) {
	dir := os.Getenv(killChildDir)
	if dir == "" {
		t.Skip("only run as TestKillResume's child")
	}
	if at := os.Getenv(killChildAt); at != "" {
		step, n, _ := strings.Cut(at, ":")
		want, _ := strconv.Atoi(n)
		saves := 0
		ckptHook = func(s string) {
			if s == "tensors" {
				saves++
			}
			if s == step && saves == want {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {} // the signal is on its way
			}
		}
	}
	l, train, feats := fixtureRun(t, smallConfig(t, "nata"), 12)
	opt := Defaults()
	opt.Epochs, opt.BatchSize, opt.CheckpointDir, opt.Resume = killRunEpochs, 4, dir, true
	opt.Log = func(format string, args ...any) { fmt.Printf(format+"\n", args...) }
	if _, err := TrainFeatures(context.Background(), l, feats, train, opt); err != nil {
		t.Fatal(err)
	}
}

// runChild runs TestKillChild on dir; killAt is "" or a ckptHook kill
// point, and after, when positive, is when the parent sends SIGKILL. It
// returns the child's output and whether it was killed.
func runChild(t *testing.T, dir, killAt string, after time.Duration) (string, bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run", "^TestKillChild$", "-test.v")
	cmd.Env = append(os.Environ(), killChildDir+"="+dir, killChildAt+"="+killAt)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var timer *time.Timer
	if after > 0 {
		timer = time.AfterFunc(after, func() { cmd.Process.Signal(syscall.SIGKILL) })
	}
	err := cmd.Wait()
	if timer != nil {
		timer.Stop()
	}
	if err == nil {
		return out.String(), false
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
		return out.String(), true
	}
	t.Fatalf("child failed: %v\n%s", err, out.String())
	return "", false
}

// TestKillResume kills training runs with SIGKILL at random instants and
// between the writes of a checkpoint (through ckptHook), at least 30 times
// (8 with -short), resuming each time: every run must resume and end with
// a checkpoint bit-identical to an uninterrupted run's.
func TestKillResume(t *testing.T) {
	if os.Getenv(killChildDir) != "" {
		t.Skip("child process")
	}
	kills := 30
	if testing.Short() {
		kills = 8
	}
	ref := t.TempDir()
	start := time.Now()
	runChild(t, ref, "", 0)
	full := time.Since(start)
	want, err := os.ReadFile(filepath.Join(ref, ckptTensors))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	t.Logf("uninterrupted run: %v", full)

	killed, hookKills, notes := 0, 0, map[string]int{}
	for campaign := 0; killed < kills; campaign++ {
		dir := t.TempDir()
		for attempt := 0; ; attempt++ {
			if attempt > 4*kills {
				t.Fatalf("campaign %d: no progress after %d attempts", campaign, attempt)
			}
			var killAt string
			var after time.Duration
			if killed < kills {
				// The first kills between the writes of the second
				// checkpoint, then a third of them between the
				// writes of a random one, the rest at random
				// instants.
				switch {
				case killed == 0:
					killAt = "tensors:2"
				case killed == 1:
					killAt = "manifest:2"
				case rng.IntN(3) == 0:
					step := []string{"tensors", "manifest"}[rng.IntN(2)]
					killAt = fmt.Sprintf("%s:%d", step, 1+rng.IntN(3))
				default:
					after = time.Duration(rng.Int64N(int64(full)))
				}
			}
			out, wasKilled := runChild(t, dir, killAt, after)
			for _, n := range []string{"ignoring", "completing"} {
				if strings.Contains(out, "checkpoint in "+dir+": "+n) {
					notes[n]++
				}
			}
			if !wasKilled {
				break
			}
			killed++
			if killAt != "" {
				hookKills++
			}
		}
		got, err := os.ReadFile(filepath.Join(dir, ckptTensors))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("campaign %d: the resumed run's checkpoint differs from the uninterrupted run's", campaign)
		}
		js, err := os.ReadFile(filepath.Join(dir, ckptState))
		if err != nil || !bytes.Contains(js, []byte(fmt.Sprintf(`"epoch": %d,`, killRunEpochs))) {
			t.Fatalf("campaign %d: final state %s (%v)", campaign, js, err)
		}
		t.Logf("campaign %d done: %d kills so far", campaign, killed)
	}
	t.Logf("%d kills (%d between checkpoint writes), recoveries: %v", killed, hookKills, notes)
	if notes["ignoring"] == 0 || notes["completing"] == 0 {
		t.Errorf("recoveries %v: want both a stale next file ignored and an interrupted save completed", notes)
	}
}
