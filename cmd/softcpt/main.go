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
	"io"
	"os"
	"sort"

	"github.com/softcpt/softcpt-go/internal/cliflag"
	"github.com/softcpt/softcpt-go/internal/interrupt"
)

// command is one subcommand of the driver.
type command struct {
	run     func(ctx context.Context, args []string) error
	summary string
}

var commands = map[string]command{
	"encode":   {cmdEncode, "encode images and texts (files, folders) with a CLIP checkpoint, write features as JSON, .npy or safetensors"},
	"train":    {cmdTrain, "train and evaluate a prompt learner (SoftCPT variants, CoOp baselines) over shots and seeds"},
	"eval":     {cmdEval, "evaluate the prompts of trained runs from their checkpoints (no training)"},
	"zeroshot": {cmdZeroShot, "evaluate zero-shot CLIP with each task's template (or an ensemble)"},
	"linprobe": {cmdLinProbe, "the linear-probe baseline on frozen image features (C search as the authors do)"},
	"report":   {cmdReport, "aggregate results folders: mean ± std over seeds, Markdown tables, accuracy-vs-shots plots"},
	"pretrain": {cmdPretrain, "pretrain a small CLIP from scratch on image–caption pairs (BPE + contrastive loss)"},
	"sweep":    {cmdSweep, "run a grid as a sweep: on this machine (--local N) or as Slurm job arrays (--slurm), status, resubmission"},
	"demo":     {cmdDemo, "the paper's comparison on the shipped small CLIP and real-image benchmark (no download)"},
}

// usage prints the commands and how to get each one's flags.
func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: softcpt <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'softcpt <command> -h' for a command's flags.")
}

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "help" || os.Args[1] == "-h" || os.Args[1] == "--help") {
		usage(os.Stdout)
		return
	}
	args := os.Args[1:]
	if len(args) == 0 {
		bareHelp(os.Stderr)
		return
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "softcpt: unknown command %q (the command comes first, e.g. '%s')\n\n", args[0], firstCommand)
		usage(os.Stderr)
		os.Exit(2)
	}
	if ownSignals(args) {
		// A sweep's job entry points handle SIGTERM and the sweep's
		// --signal themselves (save, requeue, exit 75).
		err := cmd.run(context.Background(), args[1:])
		if err != nil && err != flag.ErrHelp {
			fmt.Fprintf(os.Stderr, "softcpt %s: %v\n", args[0], err)
			os.Exit(1)
		}
		return
	}
	// SIGINT/SIGTERM cancel the context (internal/interrupt): the running phase
	// stops, keeping what was saved, the command that resumes is printed,
	// and the driver exits with 128 + the signal's number; a second
	// signal exits at once.
	ctx, in, stop := interrupt.Context(context.Background(), "softcpt")
	err := cmd.run(ctx, args[1:])
	stop()
	if err == flag.ErrHelp {
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "softcpt %s: %v\n", args[0], cliflag.Rename(args[0], err))
	}
	if s := in.Signal(); s != nil {
		fmt.Fprintln(os.Stderr, resumeHint(os.Args))
		os.Exit(interrupt.ExitCode(s))
	}
	if err != nil {
		os.Exit(1)
	}
}

// ownSignals reports whether the command line is one of a sweep's job
// entry points ('sweep cache', 'sweep run-cell'), which handle their
// signals themselves.
func ownSignals(args []string) bool {
	return len(args) > 1 && args[0] == "sweep" && (args[1] == "cache" || args[1] == "run-cell")
}
