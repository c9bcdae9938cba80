package experiment

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/clip/tokenizer"
	"github.com/softcpt/softcpt-go/internal/atomicfile"
	"github.com/softcpt/softcpt-go/internal/console"
	"github.com/softcpt/softcpt-go/pretrain"
	"github.com/softcpt/softcpt-go/realdata"
	"github.com/softcpt/softcpt-go/shipped"
)

// Output names inside the pretraining output directory.
const (
	PretrainModelFile     = "model.safetensors"
	PretrainBPEFile       = "bpe.txt.gz"
	PretrainCheckpointDir = "checkpoint"
)

// PretrainOptions are the settings of Pretrain (the flags of 'softcpt
// pretrain', whose help describes each).
type PretrainOptions struct {
	// Pairs is the pretraining pairs pack and Out the output directory.
	Pairs, Out string
	// Benchmark is a benchmark pack whose tasks' test images (EvalMax per
	// task, of EvalGroups, every EvalEvery steps) evaluate zero-shot.
	Benchmark, EvalGroups       string
	EvalMax, EvalEvery          int
	Steps, Batch, Warmup        int
	LR, MinLR, WD               float64
	ImageSize, VisionWidth      int
	VisionLayers                string
	Width, Layers, Heads, Embed int
	Context, Vocab              int
	CropMin                     float64
	NoFlip, Resume              bool
	Seed                        uint64
	CheckpointEvery, Workers    int
	LogEvery                    int
}

// Pretrain pretrains a small CLIP from random initialisation on the
// image–caption pairs of o ('softcpt pretrain'): it learns (or, resuming,
// reloads) a BPE vocabulary, trains with CLIP's contrastive loss
// (pretrain.Train), checkpointing into OUT/checkpoint, and writes
// OUT/model.safetensors; log lines and progress go to logw.
func Pretrain(ctx context.Context, f PretrainOptions, logw io.Writer) error {
	if err := f.Validate(); err != nil {
		return err
	}
	if err := CheckOutDir("PretrainOptions.Out", f.Out); err != nil {
		return err
	}
	con := console.For(logw)
	logf := con.Logf
	cfg, err := f.config()
	if err != nil {
		return err
	}
	pp, err := realdata.OpenPairs(f.Pairs)
	if err != nil {
		return errors.Wrap(err, "pretrain")
	}
	pairs := pretrain.FromRealdata(pp)
	logf("pairs: %d images, %d captions, %d×%d pixels (%s)", pp.Len(), pp.NumPairs(), pp.ImageSize, pp.ImageSize, f.Pairs)
	if err := os.MkdirAll(f.Out, 0o755); err != nil {
		return errors.Wrapf(err, "pretrain: creating output directory %s", f.Out)
	}
	ckpt := filepath.Join(f.Out, PretrainCheckpointDir)
	bpePath := filepath.Join(f.Out, PretrainBPEFile)
	if !f.Resume {
		if _, err := os.Stat(filepath.Join(ckpt, pretrain.CheckpointState)); err == nil {
			return errors.Errorf("pretrain: %s already holds a checkpoint: add --resume to continue it, or choose another --out", f.Out)
		}
	}
	tok, err := pretrainTokenizer(f, pairs, bpePath, logf)
	if err != nil {
		return err
	}
	cfg.VocabSize = tok.VocabSize()

	opt := pretrain.DefaultOptions(cfg)
	opt.Steps, opt.BatchSize, opt.WarmupSteps = f.Steps, f.Batch, f.Warmup
	opt.LR, opt.MinLR, opt.WeightDecay = f.LR, f.MinLR, f.WD
	opt.CropScale = [2]float64{f.CropMin, 1}
	opt.Flip = !f.NoFlip
	opt.Seed, opt.Workers = f.Seed, f.Workers
	opt.CheckpointDir, opt.CheckpointEvery, opt.Resume = ckpt, f.CheckpointEvery, f.Resume
	opt.EvalEvery = f.EvalEvery
	if f.Benchmark != "" {
		b, err := realdata.OpenBenchmark(f.Benchmark)
		if err != nil {
			return errors.Wrap(err, "pretrain")
		}
		var groups []string
		if f.EvalGroups != "" {
			groups = strings.Split(f.EvalGroups, ",")
		}
		tasks := pretrain.TasksFromBenchmark(b, groups, f.EvalMax)
		if len(tasks) == 0 {
			return errors.Errorf("pretrain: benchmark %s has no tasks with test images in groups %q", f.Benchmark, f.EvalGroups)
		}
		logf("zero-shot evaluation on %d tasks of %s", len(tasks), f.Benchmark)
		opt.Eval = pretrain.ZeroShotEval(tok, tasks)
	}
	bar := con.Bar("pretraining", opt.Steps, "steps")
	every := max(1, f.LogEvery)
	opt.Progress = func(pr pretrain.Progress) {
		stats := fmt.Sprintf("loss %.4f (avg %.4f) lr %.2e T %.1f %.0f img/s", pr.Loss, pr.AvgLoss, pr.LR, pr.LogitScale, pr.ImagesPerS)
		bar.SetTotal(pr.Steps)
		bar.Set(pr.Step, stats)
		if !con.Terminal() && (pr.Step%every == 0 || pr.Step == pr.Steps) {
			logf("step %d/%d %s", pr.Step, pr.Steps, stats)
		}
	}
	opt.Log = logf
	logf("model: ResNet %v width %d at %d px, text %d×%d (%d heads, context %d, vocab %d), embedding %d; %d steps of %d, lr %g, wd %g",
		cfg.VisionLayers, cfg.VisionWidth, cfg.ImageResolution, cfg.TransformerLayers, cfg.TransformerWidth, cfg.TransformerHeads,
		cfg.ContextLength, cfg.VocabSize, cfg.EmbedDim, opt.Steps, opt.BatchSize, opt.LR, opt.WeightDecay)
	res, err := pretrain.Train(ctx, pairs, tok, opt)
	bar.Done()
	if err != nil {
		return err
	}
	last := res.History[len(res.History)-1]
	md := map[string]string{"softcpt_pretrain_steps": strconv.Itoa(last.Step), "softcpt_pretrain_final_loss": strconv.FormatFloat(last.Loss, 'f', 4, 64), "bpe": PretrainBPEFile}
	md[shipped.MetaPretrainedOn] = fmt.Sprintf("%d %dx%d images with %d captions (%s), %d steps of %d pairs",
		pp.Len(), pp.ImageSize, pp.ImageSize, pp.NumPairs(), filepath.Base(f.Pairs), last.Step, opt.BatchSize)
	nctx, why := pretrainedNCtx(cfg.ContextLength)
	md[shipped.MetaNCtx], md[shipped.MetaNCtxReason] = strconv.Itoa(nctx), why
	out := filepath.Join(f.Out, PretrainModelFile)
	if err := res.Model.Save(out, md); err != nil {
		return err
	}
	logf("done: final loss %.4f, logit scale %.1f; model %s, tokenizer %s, history %s", last.Loss, last.LogitScale, out, bpePath,
		filepath.Join(ckpt, pretrain.CheckpointState))
	return nil
}

// config builds the model configuration (VocabSize is set later).
func (f PretrainOptions) config() (clip.Config, error) {
	var layers []int
	for _, s := range strings.Split(f.VisionLayers, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return clip.Config{}, errors.Errorf("pretrain: --vision-layers %q: want four positive integers", f.VisionLayers)
		}
		layers = append(layers, n)
	}
	heads := f.Heads
	if heads == 0 {
		heads = max(1, f.Width/64)
	}
	switch {
	case len(layers) != 4:
		return clip.Config{}, errors.Errorf("pretrain: --vision-layers %q: want four stages", f.VisionLayers)
	case f.ImageSize < 32 || f.ImageSize%32 != 0:
		return clip.Config{}, errors.Errorf("pretrain: --image-size %d is not a positive multiple of 32", f.ImageSize)
	case f.VisionWidth < 2 || f.VisionWidth%2 != 0:
		return clip.Config{}, errors.Errorf("pretrain: --vision-width %d must be even", f.VisionWidth)
	case f.Width < 1 || heads < 1 || f.Width%heads != 0:
		return clip.Config{}, errors.Errorf("pretrain: --heads %d does not divide --width %d", heads, f.Width)
	case f.Layers < 1 || f.Embed < 1 || f.Context < 3:
		return clip.Config{}, errors.Errorf("pretrain: --layers %d, --embed-dim %d, --context %d must be positive (context ≥ 3)", f.Layers, f.Embed, f.Context)
	}
	vw := f.VisionWidth * 32
	return clip.Config{EmbedDim: f.Embed, ImageResolution: f.ImageSize, VisionLayers: layers, VisionWidth: f.VisionWidth,
		VisionHeads: max(1, vw/64), ContextLength: f.Context, TransformerWidth: f.Width, TransformerHeads: heads, TransformerLayers: f.Layers}, nil
}

// pretrainTokenizer loads DIR/bpe.txt.gz when resuming, or learns the
// vocabulary from the captions and writes it.
func pretrainTokenizer(f PretrainOptions, pairs pretrain.Pairs, path string, logf func(string, ...any)) (*tokenizer.Tokenizer, error) {
	if f.Resume {
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
	merges, err := tokenizer.Learn(captions, f.Vocab)
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

// pretrainedNCtx is the number of learned context tokens recommended for a
// model that Pretrain made with the given text context length, and why:
// pretrained on captions of a few words, a model with a short context (at
// most 32 tokens, as the shipped one) reads class names well only near the
// positions its captions used, so 4 context tokens; with a longer context,
// the paper's 16.
func pretrainedNCtx(contextLength int) (int, string) {
	if contextLength <= 32 {
		return 4, fmt.Sprintf("pretrained on captions of a few words in a %d-token context: 16 learned context tokens push class names to positions pretraining hardly used (README.md, The default run)", contextLength)
	}
	return 16, fmt.Sprintf("a %d-token context leaves room for the paper's 16 learned context tokens", contextLength)
}
