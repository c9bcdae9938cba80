package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDemoInTmux runs a small demo in a tmux terminal (80 columns) and
// checks the screen as the user sees it: no log line glued to a progress
// bar, no bar left behind, and the final table intact. It builds the
// binary and takes about a minute on two cores; 'go test -short' skips
// it, and it skips itself without tmux (apt-get install tmux).
func TestDemoInTmux(t *testing.T) {
	if testing.Short() {
		t.Skip("the tmux terminal test runs a demo (about a minute); skipped with -short")
	}
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux is not installed (apt-get install -y tmux); skipping the terminal test")
	}
	dir, bin := buildBinary(t)
	sock := fmt.Sprintf("softcpt-test-%d", os.Getpid())
	run := func(args ...string) (string, error) {
		out, err := exec.Command(tmux, append([]string{"-L", sock, "-f", os.DevNull}, args...)...).CombinedOutput()
		return string(out), err
	}
	raw := filepath.Join(dir, "raw.log")
	// The demo's output plus an end marker; the pane stays until killed.
	script := fmt.Sprintf("cd %s && %s demo --quick --methods zeroshot,linprobe,coop-ca,nata --shots 1 --epochs 3 --out out; echo DEMO-EXIT-$?; sleep 600", dir, bin)
	if out, err := run("new-session", "-d", "-x", "80", "-y", "60", "-s", "demo", "sh", "-c", script); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	defer run("kill-server")
	if out, err := run("pipe-pane", "-t", "demo", "-o", "cat >> "+raw); err != nil {
		t.Fatalf("tmux pipe-pane: %v\n%s", err, out)
	}
	start := time.Now()
	var screen string
	for {
		screen, err = run("capture-pane", "-p", "-t", "demo", "-S", "-", "-E", "-")
		if err != nil {
			t.Fatalf("tmux capture-pane: %v\n%s", err, screen)
		}
		if strings.Contains(screen, "DEMO-EXIT-") {
			break
		}
		if time.Since(start) > 8*time.Minute {
			t.Fatalf("the demo did not finish in 8 minutes; screen:\n%s", screen)
		}
		time.Sleep(time.Second)
	}
	t.Logf("demo under tmux took %s", time.Since(start).Round(time.Second))
	if !strings.Contains(screen, "DEMO-EXIT-0") {
		t.Fatalf("the demo failed; screen:\n%s", screen)
	}
	// The raw stream shows that bars were drawn in place.
	rb, _ := os.ReadFile(raw)
	if !strings.Contains(string(rb), "\r") || !strings.Contains(string(rb), "█") {
		t.Errorf("no progress bar was drawn on the terminal (raw output %d bytes)", len(rb))
	}
	glued := regexp.MustCompile(`ETA.*\d\d:\d\d:\d\d`)
	stamp := regexp.MustCompile(`\d\d:\d\d:\d\d `)
	logLine := regexp.MustCompile(`^\d\d:\d\d:\d\d `)
	epochs := 0
	for _, l := range strings.Split(screen, "\n") {
		hasBar := strings.ContainsAny(l, "█░")
		if glued.MatchString(l) || (hasBar && stamp.MatchString(l)) {
			t.Errorf("a log line is glued to a progress bar: %q", l)
		} else if hasBar {
			t.Errorf("a progress bar was left on the screen: %q", l)
		}
		if strings.Contains(l, " epoch ") && strings.Contains(l, " loss ") {
			epochs++
			if !logLine.MatchString(l) {
				t.Errorf("an epoch log line does not start its own line: %q", l)
			}
		}
	}
	if epochs != 6 {
		t.Errorf("%d epoch log lines on the screen, want 6 (3 epochs × 2 methods)", epochs)
	}
	for _, row := range []string{"| Method | 0 | 1 | 2 | 4 | 8 | 16 | Avg. |", "| ZeroShot | ", "| LinearProbe | – | ", "| CoOp-CA | – | ", "| SoftCPT-NATA | – | "} {
		found := false
		for _, l := range strings.Split(screen, "\n") {
			if strings.HasPrefix(l, row) && strings.HasSuffix(strings.TrimRight(l, " "), "|") {
				found = true
			}
		}
		if !found {
			t.Errorf("the final table has no intact line starting %q; screen:\n%s", row, screen)
		}
	}
}

// buildBinary builds this command into a temporary folder and returns the
// folder and the binary's path.
func buildBinary(t *testing.T) (dir, bin string) {
	t.Helper()
	dir = t.TempDir()
	bin = filepath.Join(dir, "softcpt")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return dir, bin
}
