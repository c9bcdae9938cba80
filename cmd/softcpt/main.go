// Command softcpt runs CLIP and SoftCPT (multi-task few-shot prompt tuning
// with soft context sharing) on the CPU, or on an NVIDIA GPU with a binary
// built with -tags cuda (--device cuda): encode images and texts, pretrain
// a small CLIP, train and evaluate prompt learners, zero-shot and
// linear-probe baselines, aggregate results, and run the demo on the
// shipped model and data.
//
// Run `softcpt help` for the subcommands and `softcpt <command> -h` for
// each command's flags.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
)

// command is one subcommand of the driver.
type command struct {
	run     func(ctx context.Context, args []string) error
	summary string
}

var commands = map[string]command{
	"encode":   {func(_ context.Context, a []string) error { return cmdEncode(a) }, "encode images and texts with a CLIP checkpoint, write features as JSON"},
	"train":    {cmdTrain, "train and evaluate a prompt learner (SoftCPT variants, CoOp baselines) over shots and seeds"},
	"eval":     {cmdEval, "evaluate the prompts of trained runs from their checkpoints (no training)"},
	"zeroshot": {cmdZeroShot, "evaluate zero-shot CLIP with each task's template (or an ensemble)"},
	"linprobe": {cmdLinProbe, "the linear-probe baseline on frozen image features (C search as the authors do)"},
	"report":   {cmdReport, "aggregate results folders: mean ± std over seeds, Markdown tables, accuracy-vs-shots plots"},
	"pretrain": {cmdPretrain, "pretrain a small CLIP from scratch on image–caption pairs (BPE + contrastive loss)"},
	"demo":     {cmdDemo, "the paper's comparison on the shipped small CLIP and real-image benchmark (no download)"},
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: softcpt <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(os.Stderr, "\nRun 'softcpt <command> -h' for a command's flags.")
}

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "help" || os.Args[1] == "-h" || os.Args[1] == "--help") {
		usage()
		return
	}
	args := os.Args[1:]
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		// No command: the default run on the shipped model and data.
		fmt.Fprintln(os.Stderr, "softcpt: no command given, running 'softcpt demo' on the shipped model and benchmark ('softcpt help' lists the commands)")
		args = append([]string{"demo"}, args...)
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "softcpt: unknown command %q\n\n", args[0])
		usage()
		os.Exit(2)
	}
	// SIGINT/SIGTERM cancel the context (signals.go): the running phase
	// stops, keeping what was saved, and the driver exits with 128 + the
	// signal's number; a second signal exits at once.
	ctx, in, stop := signalContext(context.Background())
	err := cmd.run(ctx, args[1:])
	stop()
	if err == flag.ErrHelp {
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "softcpt %s: %v\n", args[0], inFlagTerms(args[0], err))
	}
	if s := in.signal(); s != nil {
		os.Exit(exitCode(s))
	}
	if err != nil {
		os.Exit(1)
	}
}
