package main

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBareHelp checks that a bare 'softcpt' names the first command to
// try and lists every command, ending with a newline.
func TestBareHelp(t *testing.T) {
	var b bytes.Buffer
	bareHelp(&b)
	out := b.String()
	if !strings.Contains(out, "\n  softcpt demo --quick\n") {
		t.Errorf("bare help does not show the first command to try:\n%s", out)
	}
	for name := range commands {
		if !strings.Contains(out, "\n  "+name+" ") {
			t.Errorf("bare help does not list %s", name)
		}
	}
	if !strings.HasSuffix(out, "flags.\n") {
		t.Errorf("help does not end with its final newline: %q", out[max(0, len(out)-30):])
	}
	b.Reset()
	usage(&b)
	if !strings.HasSuffix(b.String(), ".\n") {
		t.Errorf("usage does not end with a newline: %q", b.String())
	}
}

// TestResumeHint checks the command printed on Ctrl-C.
func TestResumeHint(t *testing.T) {
	for _, c := range []struct {
		argv []string
		want string
	}{
		{[]string{"softcpt", "train", "--benchmark", "toy.json", "--shots", "1,2"},
			"to resume: softcpt train --resume --benchmark toy.json --shots 1,2"},
		{[]string{"softcpt", "train", "--resume", "--n-ctx", "4"},
			"to resume: softcpt train --resume --n-ctx 4"},
		{[]string{"softcpt", "pretrain", "-resume=true", "--out", "my runs/x"},
			"to resume: softcpt pretrain -resume=true --out 'my runs/x'"},
		{[]string{"softcpt", "demo", "--quick"}, "to resume: softcpt demo --quick"},
		{[]string{"softcpt", "linprobe", "--ctx-init", "it's"}, "to run it again: softcpt linprobe --ctx-init 'it'\\''s'"},
		{[]string{"/tmp/go-build123/b001/exe/softcpt", "train"}, "to resume: go run ./cmd/softcpt train --resume"},
	} {
		if got := resumeHint(c.argv); !strings.HasSuffix(got, c.want) {
			t.Errorf("resumeHint(%q) = %q, want suffix %q", c.argv, got, c.want)
		}
	}
}

// TestInterruptPrintsResume interrupts a demo in training (SIGINT, as
// Ctrl-C) and checks that the command to resume it is printed. It builds
// the binary; 'go test -short' skips it.
func TestInterruptPrintsResume(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	dir, bin := buildBinary(t)
	out := filepath.Join(dir, "my out")
	cmd := exec.Command(bin, "demo", "--methods", "nata", "--shots", "1", "--seed", "1", "--epochs", "200", "--out", out)
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	sc := bufio.NewScanner(pr)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sent := false
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if !sent && strings.Contains(sc.Text(), "epoch 2/200") {
				cmd.Process.Signal(os.Interrupt)
				sent = true
			}
		}
	}()
	timer := time.AfterFunc(5*time.Minute, func() { cmd.Process.Kill() })
	defer timer.Stop()
	cmd.Wait()
	pw.Close()
	<-done
	want := "to resume: " + bin + " demo --methods nata --shots 1 --seed 1 --epochs 200 --out '" + out + "'"
	if !strings.Contains(log.String(), want) {
		t.Errorf("no resume hint %q in the output:\n%s", want, log.String())
	}
}
