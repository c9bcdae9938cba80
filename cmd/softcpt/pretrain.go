package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/internal/atomicfile"

	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/clip/tokenizer"
	"github.com/softcpt/softcpt-go/pretrain"
	"github.com/softcpt/softcpt-go/realdata"
)

// Output names inside the pretrain --out directory.
const (
	pretrainModelFile = "model.safetensors"
	pretrainBPEFile   = "bpe.txt.gz"
	pretrainCkptDir   = "checkpoint"
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

// pretrainFlags are the command line of `softcpt pretrain`.
type pretrainFlags struct {
	pairs, out, benchmark            string
	evalGroups                       string
	steps, batch, warmup             int
	lr, minLR, wd                    float64
	imageSize, visionWidth           int
	visionLayers                     string
	width, layers, heads, embed, ctx int
	vocab                            int
	cropMin                          float64
	noFlip, resume                   bool
	seed                             uint64
	ckptEvery, evalEvery, evalMax    int
	workers, logEvery                int
}

// cmdPretrain is `softcpt pretrain`.
func cmdPretrain(ctx context.Context, args []string) error {
	f, err := parsePretrainFlags(args)
	if err != nil {
		return err
	}
	return runPretrain(ctx, f, os.Stderr)
}

// parsePretrainFlags parses the command line of `softcpt pretrain`.
func parsePretrainFlags(args []string) (pretrainFlags, error) {
	fs := flag.NewFlagSet("pretrain", flag.ContinueOnError)
	var f pretrainFlags
	fs.StringVar(&f.pairs, "pairs", "", "pretraining pairs pack (realdata.OpenPairs format) (required)")
	fs.StringVar(&f.out, "out", "", "output directory for bpe.txt.gz, checkpoint/ and model.safetensors (required)")
	fs.StringVar(&f.benchmark, "benchmark", "", "benchmark pack (realdata.OpenBenchmark) whose tasks' test images are used for zero-shot evaluation")
	fs.StringVar(&f.evalGroups, "eval-groups", "", "comma-separated benchmark task groups to evaluate (default: all)")
	fs.IntVar(&f.evalMax, "eval-max-images", 200, "test images per task used for zero-shot evaluation (0: all)")
	fs.IntVar(&f.evalEvery, "eval-every", 250, "evaluate every N steps (and at the end)")
	fs.IntVar(&f.steps, "steps", 3500, "optimiser steps")
	fs.IntVar(&f.batch, "batch", 256, "pairs per step (distinct images; the contrastive loss sees batch² pairs)")
	fs.Float64Var(&f.lr, "lr", 5e-4, "peak learning rate (AdamW)")
	fs.Float64Var(&f.minLR, "min-lr", 0, "learning rate at the end of the cosine decay")
	fs.IntVar(&f.warmup, "warmup", 200, "linear warm-up steps")
	fs.Float64Var(&f.wd, "wd", 0.1, "AdamW weight decay on weight matrices and conv kernels (not on biases, norms, embeddings, logit_scale)")
	fs.IntVar(&f.imageSize, "image-size", 32, "image resolution of the model (a multiple of 32)")
	fs.IntVar(&f.visionWidth, "vision-width", 16, "ModifiedResNet width (stem/first stage; the attention pool has 32× this many channels)")
	fs.StringVar(&f.visionLayers, "vision-layers", "1,1,1,1", "bottleneck blocks in the four ResNet stages")
	fs.IntVar(&f.width, "width", 128, "text transformer width")
	fs.IntVar(&f.layers, "layers", 3, "text transformer layers")
	fs.IntVar(&f.heads, "heads", 0, "text attention heads (default: width/64, at least 1)")
	fs.IntVar(&f.embed, "embed-dim", 128, "joint embedding size")
	fs.IntVar(&f.ctx, "context", 32, "text context length in tokens (longer captions are truncated)")
	fs.IntVar(&f.vocab, "vocab", 4096, "BPE vocabulary size (512 byte tokens + merges + 2 special tokens)")
	fs.Float64Var(&f.cropMin, "crop-min", 0.5, "smallest area fraction of the random resized crop")
	fs.BoolVar(&f.noFlip, "no-flip", false, "disable random horizontal flips")
	fs.BoolVar(&f.resume, "resume", false, "continue from DIR/checkpoint (same data, seed, steps and batch)")
	fs.Uint64Var(&f.seed, "seed", 1, "random seed (initialisation, batch order, augmentation)")
	fs.IntVar(&f.ckptEvery, "checkpoint-every", 200, "checkpoint every N steps (and at the end and on Ctrl-C)")
	fs.IntVar(&f.workers, "workers", 2, "goroutines preparing images")
	fs.IntVar(&f.logEvery, "log-every", 20, "without a terminal: log a line every N steps")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), pretrainUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if f.pairs == "" || f.out == "" {
		fs.Usage()
		return f, errors.New("pretrain: --pairs and --out are required")
	}
	if fs.NArg() > 0 {
		return f, errors.Errorf("pretrain: unexpected arguments %q", fs.Args())
	}
	return f, nil
}

func runPretrain(ctx context.Context, f pretrainFlags, logw io.Writer) error {
	logf := func(format string, a ...any) {
		fmt.Fprintf(logw, time.Now().Format("15:04:05")+" "+format+"\n", a...)
	}
	cfg, err := f.config()
	if err != nil {
		return err
	}
	if f.cropMin <= 0 || f.cropMin > 1 {
		return errors.Errorf("pretrain: --crop-min %v outside (0, 1]", f.cropMin)
	}
	pp, err := realdata.OpenPairs(f.pairs)
	if err != nil {
		return errors.Wrap(err, "pretrain")
	}
	pairs := pretrain.FromRealdata(pp)
	logf("pairs: %d images, %d captions, %d×%d pixels (%s)", pp.Len(), pp.NumPairs(), pp.ImageSize, pp.ImageSize, f.pairs)
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return errors.Wrapf(err, "pretrain: creating output directory %s", f.out)
	}
	ckpt := filepath.Join(f.out, pretrainCkptDir)
	bpePath := filepath.Join(f.out, pretrainBPEFile)
	if !f.resume {
		if _, err := os.Stat(filepath.Join(ckpt, pretrain.CheckpointState)); err == nil {
			return errors.Errorf("pretrain: %s already holds a checkpoint: add --resume to continue it, or choose another --out", f.out)
		}
	}
	tok, err := pretrainTokenizer(f, pairs, bpePath, logf)
	if err != nil {
		return err
	}
	cfg.VocabSize = tok.VocabSize()

	opt := pretrain.DefaultOptions(cfg)
	opt.Steps, opt.BatchSize, opt.WarmupSteps = f.steps, f.batch, f.warmup
	opt.LR, opt.MinLR, opt.WeightDecay = f.lr, f.minLR, f.wd
	opt.CropScale = [2]float64{f.cropMin, 1}
	opt.Flip = !f.noFlip
	opt.Seed, opt.Workers = f.seed, f.workers
	opt.CheckpointDir, opt.CheckpointEvery, opt.Resume = ckpt, f.ckptEvery, f.resume
	opt.EvalEvery = f.evalEvery
	if f.benchmark != "" {
		b, err := realdata.OpenBenchmark(f.benchmark)
		if err != nil {
			return errors.Wrap(err, "pretrain")
		}
		var groups []string
		if f.evalGroups != "" {
			groups = strings.Split(f.evalGroups, ",")
		}
		tasks := pretrain.TasksFromBenchmark(b, groups, f.evalMax)
		if len(tasks) == 0 {
			return errors.Errorf("pretrain: benchmark %s has no tasks with test images in groups %q", f.benchmark, f.evalGroups)
		}
		logf("zero-shot evaluation on %d tasks of %s", len(tasks), f.benchmark)
		opt.Eval = pretrain.ZeroShotEval(tok, tasks)
	}
	bar := newPretrainProgress(logw, pretrainIsTerminal(logw), f.logEvery)
	opt.Progress = bar.update
	opt.Log = func(format string, a ...any) {
		bar.clear()
		logf(format, a...)
	}
	logf("model: ResNet %v width %d at %d px, text %d×%d (%d heads, context %d, vocab %d), embedding %d; %d steps of %d, lr %g, wd %g",
		cfg.VisionLayers, cfg.VisionWidth, cfg.ImageResolution, cfg.TransformerLayers, cfg.TransformerWidth, cfg.TransformerHeads,
		cfg.ContextLength, cfg.VocabSize, cfg.EmbedDim, opt.Steps, opt.BatchSize, opt.LR, opt.WeightDecay)
	res, err := pretrain.Train(ctx, pairs, tok, opt)
	bar.clear()
	if err != nil {
		return err
	}
	last := res.History[len(res.History)-1]
	md := map[string]string{"softcpt_pretrain_steps": strconv.Itoa(last.Step), "softcpt_pretrain_final_loss": strconv.FormatFloat(last.Loss, 'f', 4, 64), "bpe": pretrainBPEFile}
	out := filepath.Join(f.out, pretrainModelFile)
	if err := res.Model.Save(out, md); err != nil {
		return err
	}
	logf("done: final loss %.4f, logit scale %.1f; model %s, tokenizer %s, history %s", last.Loss, last.LogitScale, out, bpePath,
		filepath.Join(ckpt, pretrain.CheckpointState))
	return nil
}

// config builds the model configuration (VocabSize is set later).
func (f pretrainFlags) config() (clip.Config, error) {
	var layers []int
	for _, s := range strings.Split(f.visionLayers, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return clip.Config{}, errors.Errorf("pretrain: --vision-layers %q: want four positive integers", f.visionLayers)
		}
		layers = append(layers, n)
	}
	heads := f.heads
	if heads == 0 {
		heads = max(1, f.width/64)
	}
	switch {
	case len(layers) != 4:
		return clip.Config{}, errors.Errorf("pretrain: --vision-layers %q: want four stages", f.visionLayers)
	case f.imageSize < 32 || f.imageSize%32 != 0:
		return clip.Config{}, errors.Errorf("pretrain: --image-size %d is not a positive multiple of 32", f.imageSize)
	case f.visionWidth < 2 || f.visionWidth%2 != 0:
		return clip.Config{}, errors.Errorf("pretrain: --vision-width %d must be even", f.visionWidth)
	case f.width < 1 || heads < 1 || f.width%heads != 0:
		return clip.Config{}, errors.Errorf("pretrain: --heads %d does not divide --width %d", heads, f.width)
	case f.layers < 1 || f.embed < 1 || f.ctx < 3:
		return clip.Config{}, errors.Errorf("pretrain: --layers %d, --embed-dim %d, --context %d must be positive (context ≥ 3)", f.layers, f.embed, f.ctx)
	}
	vw := f.visionWidth * 32
	return clip.Config{EmbedDim: f.embed, ImageResolution: f.imageSize, VisionLayers: layers, VisionWidth: f.visionWidth,
		VisionHeads: max(1, vw/64), ContextLength: f.ctx, TransformerWidth: f.width, TransformerHeads: heads, TransformerLayers: f.layers}, nil
}

// pretrainTokenizer loads DIR/bpe.txt.gz when resuming, or learns the
// vocabulary from the captions and writes it.
func pretrainTokenizer(f pretrainFlags, pairs pretrain.Pairs, path string, logf func(string, ...any)) (*tokenizer.Tokenizer, error) {
	if f.resume {
		if _, err := os.Stat(path); err == nil {
			tok, err := tokenizer.Load(path)
			if err != nil {
				return nil, errors.Wrap(err, "pretrain: resuming")
			}
			logf("tokenizer: %s (vocabulary %d)", path, tok.VocabSize())
			return tok, nil
		}
	}
	start := time.Now()
	captions := pretrain.Captions(pairs)
	merges, err := tokenizer.Learn(captions, f.vocab)
	if err != nil {
		return nil, errors.Wrap(err, "pretrain: learning the BPE vocabulary (try a smaller --vocab)")
	}
	var buf bytes.Buffer
	if err := tokenizer.WriteMerges(&buf, merges); err != nil {
		return nil, err
	}
	if err := atomicfile.Write(path, buf.Bytes()); err != nil {
		return nil, err
	}
	tok, err := tokenizer.New(merges)
	if err != nil {
		return nil, err
	}
	logf("tokenizer: learned %d merges from %d captions in %.1fs, wrote %s", len(merges), len(captions), time.Since(start).Seconds(), path)
	return tok, nil
}

// pretrainIsTerminal reports whether w is a character device other than
// /dev/null (a terminal), without a dependency on x/term.
func pretrainIsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	st, err := f.Stat()
	if err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	if null, err := os.Stat(os.DevNull); err == nil && os.SameFile(st, null) {
		return false
	}
	return true
}

// pretrainProgress renders training progress: a one-line bar redrawn in
// place on a terminal, or a plain log line every `every` steps.
type pretrainProgress struct {
	w     io.Writer
	tty   bool
	every int
	shown bool
}

func newPretrainProgress(w io.Writer, tty bool, every int) *pretrainProgress {
	return &pretrainProgress{w: w, tty: tty, every: max(1, every)}
}

func (p *pretrainProgress) update(pr pretrain.Progress) {
	stats := fmt.Sprintf("loss %.4f (avg %.4f) lr %.2e T %.1f %.0f img/s ETA %s",
		pr.Loss, pr.AvgLoss, pr.LR, pr.LogitScale, pr.ImagesPerS, pretrainDuration(pr.ETA))
	if !p.tty {
		if pr.Step%p.every == 0 || pr.Step == pr.Steps {
			fmt.Fprintf(p.w, "%s step %d/%d %s\n", time.Now().Format("15:04:05"), pr.Step, pr.Steps, stats)
		}
		return
	}
	const width = 30
	done := width * pr.Step / max(1, pr.Steps)
	bar := strings.Repeat("=", done) + strings.Repeat(" ", width-done)
	if done < width {
		bar = bar[:done] + ">" + bar[done+1:]
	}
	fmt.Fprintf(p.w, "\r\033[K[%s] %d/%d %s", bar, pr.Step, pr.Steps, stats)
	p.shown = true
}

// clear ends the bar's line so that a log line can follow.
func (p *pretrainProgress) clear() {
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
	}
}

func pretrainDuration(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%dh%02dm%02ds", h, m, s)
	}
	return fmt.Sprintf("%dm%02ds", m, s)
}
