package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// firstCommand is the command a new user should try first.
const firstCommand = "softcpt demo --quick"

// bareHelp is what a bare 'softcpt' prints: the command to try first, then
// the usage.
func bareHelp(w io.Writer) {
	fmt.Fprintf(w, `softcpt runs CLIP and SoftCPT prompt tuning in pure Go.

To try it first (about a minute on two cores, nothing to download):

  %s

`, firstCommand)
	usage(w)
}

// resumable are the commands with a --resume flag; a Ctrl-C hint adds it.
// The demo resumes its runs by itself.
var resumable = map[string]bool{"train": true, "pretrain": true}

// resumeHint returns the line printed when a command is interrupted: the
// exact command line to resume it (argv with --resume after the command
// name when the command takes it and it is not there yet), shell-quoted.
func resumeHint(argv []string) string {
	if len(argv) < 2 {
		return ""
	}
	name := argv[1]
	args := append([]string{programName(argv[0]), name}, argv[2:]...)
	if resumable[name] && !hasFlag(argv[2:], "resume") {
		args = append([]string{programName(argv[0]), name, "--resume"}, argv[2:]...)
	}
	verb := "to resume"
	if !resumable[name] && name != "demo" {
		verb = "to run it again"
	}
	return fmt.Sprintf("softcpt: interrupted; %s: %s", verb, shellJoin(args))
}

// hasFlag reports whether args set the boolean flag name (-name, --name,
// --name=...), before the first non-flag argument or "--".
func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if a == "--" || !strings.HasPrefix(a, "-") {
			return false
		}
		a = strings.TrimLeft(a, "-")
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

// programName returns how to call this program again: its base name when
// that is what PATH finds, "go run ./cmd/softcpt" for a 'go run' binary,
// otherwise argv[0] as given.
func programName(arg0 string) string {
	if strings.Contains(arg0, string(filepath.Separator)+"go-build") {
		return "go run ./cmd/softcpt"
	}
	base := filepath.Base(arg0)
	if p, err := exec.LookPath(base); err == nil && base != arg0 {
		if a, err1 := os.Stat(p); err1 == nil {
			if b, err2 := os.Stat(arg0); err2 == nil && os.SameFile(a, b) {
				return base
			}
		}
	}
	return arg0
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_./:=,@%+-]+$`)

// shellJoin quotes args for a POSIX shell where needed.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		switch {
		case i == 0 && strings.HasPrefix(a, "go run "):
			q[i] = a
		case shellSafe.MatchString(a):
			q[i] = a
		default:
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}
