package cmdline

import (
	"os"
	"path/filepath"
	"testing"
)

// TestQuote checks the words that need quoting and the quoting of a
// single quote.
func TestQuote(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"plain-word_1.2/x:y=z,a@b%c+d", "plain-word_1.2/x:y=z,a@b%c+d"},
		{"", "''"},
		{"my runs/x", "'my runs/x'"},
		{"it's", `'it'\''s'`},
		{"$HOME", "'$HOME'"},
		{"a\nb", "'a\nb'"},
	} {
		if got := Quote(c.in); got != c.want {
			t.Errorf("Quote(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got, want := Join([]string{"softcpt", "--out", "a b", ""}), "softcpt --out 'a b' ''"; got != want {
		t.Errorf("Join = %q, want %q", got, want)
	}
}

// TestHasFlag checks the spellings of a flag and where the search stops.
func TestHasFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		want bool
	}{
		{[]string{"--resume"}, true},
		{[]string{"-resume"}, true},
		{[]string{"--n-ctx", "4", "--resume=false"}, false}, // "4" ends the flags
		{[]string{"-resume=true", "--out", "x"}, true},
		{[]string{"--resumed"}, false},
		{[]string{"--", "--resume"}, false},
		{[]string{"pos", "--resume"}, false},
		{nil, false},
	} {
		if got := HasFlag(c.args, "resume"); got != c.want {
			t.Errorf("HasFlag(%q) = %v, want %v", c.args, got, c.want)
		}
	}
}

// TestAgain checks the command lines to run a command again, with and
// without the added flag, from a 'go run' binary and from a path.
func TestAgain(t *testing.T) {
	goRun := filepath.Join(os.TempDir(), "go-build123", "b001", "exe", "softcpt")
	path := filepath.Join(t.TempDir(), "softcpt") // not on PATH
	for _, c := range []struct {
		argv       []string
		flag, want string
	}{
		{[]string{goRun, "train"}, "resume", "go run ./cmd/softcpt train --resume"},
		{[]string{path, "train", "--resume", "--out", "a b"}, "resume", Quote(path) + " train --resume --out 'a b'"},
		{[]string{path, "train", "--out", "a b"}, "resume", Quote(path) + " train --resume --out 'a b'"},
		{[]string{path, "demo", "--quick"}, "", Quote(path) + " demo --quick"},
		{[]string{path}, "resume", Quote(path)},
	} {
		if got := Again(c.argv, "./cmd/softcpt", c.flag); got != c.want {
			t.Errorf("Again(%q, %q) = %q, want %q", c.argv, c.flag, got, c.want)
		}
	}
	if !IsGoRun(goRun) || IsGoRun(path) {
		t.Errorf("IsGoRun(%s) = %v, IsGoRun(%s) = %v", goRun, IsGoRun(goRun), path, IsGoRun(path))
	}
}

// TestProgramOnPath: a binary that PATH finds is called by its base name.
func TestProgramOnPath(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "softcpt-test-bin")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	if got := Program(bin, "./cmd/softcpt"); len(got) != 1 || got[0] != "softcpt-test-bin" {
		t.Errorf("Program(%s) = %q, want the base name", bin, got)
	}
	other := filepath.Join(t.TempDir(), "softcpt-test-bin")
	if err := os.WriteFile(other, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := Program(other, "./cmd/softcpt"); len(got) != 1 || got[0] != other {
		t.Errorf("Program(%s) = %q, want the path (PATH finds another file)", other, got)
	}
}
