package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/experiment"
)

const pretrainUsage = `usage: softcpt pretrain --pairs FILE --out DIR [flags]

Pretrains a small CLIP from random initialisation on image–caption pairs
(a pairs pack made by 'go run ./cmd/builddata', read with
realdata.OpenPairs) with CLIP's contrastive loss, on the CPU.

Steps:
  1. learns a byte-level BPE vocabulary of --vocab tokens from all the
     captions and writes it to DIR/bpe.txt.gz (the format of CLIP's
     bpe_simple_vocab_16e6.txt.gz; with --resume an existing one is reused);
  2. trains a ModifiedResNet image tower and a causal text transformer
     (AdamW, linear warm-up then cosine decay, random resized crops and
     flips, batches of --batch distinct images), writing a checkpoint to
     DIR/checkpoint every --checkpoint-every steps;
  3. writes the final model to DIR/model.safetensors (head counts in the
     metadata), loadable by 'softcpt encode --model DIR/model.safetensors
     --bpe DIR/bpe.txt.gz' and clip.Load.

Ctrl-C saves a checkpoint and stops; run the same command with --resume to
continue exactly where it stopped (the loss trajectory is the same as an
uninterrupted run). With --benchmark, zero-shot accuracy on the held-out
test images of the benchmark's tasks is logged every --eval-every steps.

Budget: with the defaults (SmallConfig: ResNet [1,1,1,1] width 16 at 32 px,
text 3×128, vocabulary 4096, batch 256) one step took 1.0 CPU-second and
1.3 s of wall time on this project's 2-core machine while it was shared
(BenchmarkTrainStep in ./pretrain), so the default 3500 steps take about
75 minutes there (less on idle cores) plus a few seconds per evaluation.
Time a short run (--steps 20) and scale --steps to your budget.

Example:
  softcpt pretrain --pairs realdata/assets/pairs.bin --benchmark realdata/assets/benchmark.bin --out runs/tiny-clip

Flags:`

// cmdPretrain is `softcpt pretrain`.
func cmdPretrain(ctx context.Context, args []string) error {
	f, err := parsePretrainFlags(args)
	if err != nil {
		return err
	}
	return experiment.Pretrain(ctx, f, os.Stderr)
}

// parsePretrainFlags parses the command line of `softcpt pretrain`.
func parsePretrainFlags(args []string) (experiment.PretrainOptions, error) {
	fs := flag.NewFlagSet("pretrain", flag.ContinueOnError)
	var f experiment.PretrainOptions
	fs.StringVar(&f.Pairs, "pairs", "", "pretraining pairs pack (realdata.OpenPairs format) (required)")
	fs.StringVar(&f.Out, "out", "", "output directory for bpe.txt.gz, checkpoint/ and model.safetensors (required)")
	fs.StringVar(&f.Benchmark, "benchmark", "", "benchmark pack (realdata.OpenBenchmark) whose tasks' test images are used for zero-shot evaluation")
	fs.StringVar(&f.EvalGroups, "eval-groups", "", "comma-separated benchmark task groups to evaluate (default: all)")
	fs.IntVar(&f.EvalMax, "eval-max-images", 200, "test images per task used for zero-shot evaluation (0: all)")
	fs.IntVar(&f.EvalEvery, "eval-every", 250, "evaluate every N steps (and at the end)")
	fs.IntVar(&f.Steps, "steps", 3500, "optimiser steps")
	fs.IntVar(&f.Batch, "batch", 256, "pairs per step (distinct images; the contrastive loss sees batch² pairs)")
	fs.Float64Var(&f.LR, "lr", 5e-4, "peak learning rate (AdamW)")
	fs.Float64Var(&f.MinLR, "min-lr", 0, "learning rate at the end of the cosine decay")
	fs.IntVar(&f.Warmup, "warmup", 200, "linear warm-up steps")
	fs.Float64Var(&f.WD, "wd", 0.1, "AdamW weight decay on weight matrices and conv kernels (not on biases, norms, embeddings, logit_scale)")
	fs.IntVar(&f.ImageSize, "image-size", 32, "image resolution of the model (a multiple of 32)")
	fs.IntVar(&f.VisionWidth, "vision-width", 16, "ModifiedResNet width (stem/first stage; the attention pool has 32× this many channels)")
	fs.StringVar(&f.VisionLayers, "vision-layers", "1,1,1,1", "bottleneck blocks in the four ResNet stages")
	fs.IntVar(&f.Width, "width", 128, "text transformer width")
	fs.IntVar(&f.Layers, "layers", 3, "text transformer layers")
	fs.IntVar(&f.Heads, "heads", 0, "text attention heads (default: width/64, at least 1)")
	fs.IntVar(&f.Embed, "embed-dim", 128, "joint embedding size")
	fs.IntVar(&f.Context, "context", 32, "text context length in tokens (longer captions are truncated)")
	fs.IntVar(&f.Vocab, "vocab", 4096, "BPE vocabulary size (512 byte tokens + merges + 2 special tokens)")
	fs.Float64Var(&f.CropMin, "crop-min", 0.5, "smallest area fraction of the random resized crop")
	fs.BoolVar(&f.NoFlip, "no-flip", false, "disable random horizontal flips")
	fs.BoolVar(&f.Resume, "resume", false, "continue from DIR/checkpoint (same data, seed, steps and batch)")
	fs.Uint64Var(&f.Seed, "seed", 1, "random seed (initialisation, batch order, augmentation)")
	fs.IntVar(&f.CheckpointEvery, "checkpoint-every", 200, "checkpoint every N steps (and at the end and on Ctrl-C)")
	fs.IntVar(&f.Workers, "workers", 2, "goroutines preparing images")
	fs.IntVar(&f.LogEvery, "log-every", 20, "without a terminal: log a line every N steps")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), pretrainUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if f.Pairs == "" || f.Out == "" {
		fs.Usage()
		return f, errors.New("pretrain: --pairs and --out are required")
	}
	if fs.NArg() > 0 {
		return f, errors.Errorf("pretrain: unexpected arguments %q", fs.Args())
	}
	return f, nil
}
