package main

import (
	"fmt"
	"io"

	"github.com/softcpt/softcpt-go/internal/cmdline"
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
	verb, flag := "to resume", ""
	if resumable[name] {
		flag = "resume"
	} else if name != "demo" {
		verb = "to run it again"
	}
	return fmt.Sprintf("softcpt: interrupted; %s: %s", verb, cmdline.Again(argv, "./cmd/softcpt", flag))
}
