package experiment

import (
	"os"
	"strconv"
	"strings"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/data"
	"github.com/softcpt/softcpt-go/internal/setting"
	"github.com/softcpt/softcpt-go/softcpt"
)

// AllShots in Grid.Shots trains on all the training data (Dassl's
// NUM_SHOTS 0) instead of a few-shot draw; its run folders are
// shots_all and its results record shots -1, which 'softcpt report'
// files in an "all" column of its own.
const AllShots = data.AllShots

// shotsName names a number of shots in run folders: "all" for AllShots,
// else the number.
func shotsName(k int) string {
	if k == AllShots {
		return "all"
	}
	return strconv.Itoa(k)
}

// Validate checks the grid before any work starts (no model, data or
// output is touched): known methods with valid configurations, at least
// one shot count (each >= 1 or AllShots) and seed (each >= 0), none
// listed twice, for the methods that draw shots; the training settings
// of the learned methods (softcpt.TrainOptions.Validate; a batch size of
// 0 is accepted with StepsPerEpoch, which derives it) unless they are
// evaluated From checkpoints; and the linear probe's settings. Errors are
// *setting.Error values named "Grid.FIELD", "Method" or the field of the
// options checked ("TrainOptions.Epochs", "Config.NCtx", ...).
func (g Grid) Validate() error {
	if len(g.Methods) == 0 {
		return setting.Errorf("Grid.Methods", "", "must name at least one method (zeroshot, linprobe, %s)", strings.Join(softcpt.Methods(), ", "))
	}
	draws, learned := false, false
	for _, m := range g.Methods {
		switch m = strings.TrimSpace(m); m {
		case "zeroshot":
			continue
		case "linprobe":
			if err := g.Probe.Validate(); err != nil {
				return err
			}
		default:
			cfg, err := g.config(m)
			if err != nil {
				return err
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			learned = true
		}
		draws = true
	}
	if err := setting.AtLeast("Grid.StepsPerEpoch", g.StepsPerEpoch, 0, "batches per epoch when the batch size is derived; 0 = off"); err != nil {
		return err
	}
	if draws {
		if err := checkList("Grid.Shots", g.Shots, func(k int) bool { return k >= 1 || k == AllShots },
			`must be a positive number of shots per class (or "all")`); err != nil {
			return err
		}
		if err := checkList("Grid.Seeds", g.Seeds, func(s int) bool { return s >= 0 }, "must be a seed >= 0"); err != nil {
			return err
		}
	}
	if learned && g.From == "" {
		opt := g.Train
		if opt.BatchSize == 0 && g.StepsPerEpoch > 0 {
			opt.BatchSize = 1 // derived per cell
		}
		if err := opt.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// checkList checks a non-empty list of distinct values that satisfy ok.
func checkList(name string, vs []int, ok func(int) bool, want string) error {
	if len(vs) == 0 {
		return setting.Errorf(name, "", "must list at least one value")
	}
	seen := map[int]bool{}
	for _, v := range vs {
		if !ok(v) {
			return setting.Errorf(name, v, "%s", want)
		}
		if seen[v] {
			return setting.Errorf(name, v, "is listed twice")
		}
		seen[v] = true
	}
	return nil
}

// config resolves a learned method's configuration.
func (g Grid) config(method string) (softcpt.Config, error) {
	if g.Config != nil {
		return g.Config(method)
	}
	return softcpt.MethodConfig(method)
}

// CheckModel checks the context lengths of the grid's learned methods
// against a model's text context length (softcpt.Config.CheckContext);
// Run calls it once the model is loaded, before any image is encoded.
func (g Grid) CheckModel(contextLength int) error {
	for _, m := range g.Methods {
		if m = strings.TrimSpace(m); m == "zeroshot" || m == "linprobe" {
			continue
		}
		cfg, err := g.config(m)
		if err != nil {
			return err
		}
		if err := cfg.CheckContext(contextLength); err != nil {
			return err
		}
	}
	return nil
}

// Validate checks the options before any file is read: the benchmark,
// model and tokenizer are given, the device is known, head overrides are
// not negative, no task name is empty and an output root is set. Run
// also checks that the output root is writable (CheckOutDir).
func (o Options) Validate() error {
	if o.Benchmark == "" || o.Model == "" || o.BPE == "" {
		return errors.New("--benchmark, --model and --bpe are required (or run 'softcpt demo' for the shipped model and data)")
	}
	for _, t := range o.Tasks {
		if strings.TrimSpace(t) == "" {
			return setting.Errorf("Options.Tasks", strings.Join(o.Tasks, ","), "must be a comma-separated list of task names, none empty")
		}
	}
	return setting.First(
		checkDevice(o.Device),
		setting.AtLeast("Options.VisionHeads", o.VisionHeads, 0, "vision attention heads; 0 = inferred"),
		setting.AtLeast("Options.TextHeads", o.TextHeads, 0, "text attention heads; 0 = inferred"),
		checkOutSet("Options.Out", o.Out),
	)
}

// Validate checks the options before any file is read: at least one task
// group, a known device and an output root.
func (o ShippedOptions) Validate() error {
	if len(o.Groups) == 0 || strings.TrimSpace(strings.Join(o.Groups, "")) == "" {
		return setting.Errorf("ShippedOptions.Groups", strings.Join(o.Groups, ","), "must name at least one task group (or \"all\")")
	}
	return setting.First(checkDevice(o.Device), checkOutSet("ShippedOptions.Out", o.Out))
}

// Validate checks the options before the model is loaded: a model, a
// known device, head overrides not negative, something to encode and a
// tokenizer for texts.
func (o EncodeOptions) Validate() error {
	if len(o.Images) == 0 && len(o.Texts) == 0 {
		return setting.Errorf("EncodeOptions.Images", "", "nothing to encode: give images and/or texts")
	}
	return setting.First(
		checkDevice(o.Device),
		setting.AtLeast("EncodeOptions.VisionHeads", o.VisionHeads, 0, "vision attention heads; 0 = inferred"),
		setting.AtLeast("EncodeOptions.TextHeads", o.TextHeads, 0, "text attention heads; 0 = inferred"),
	)
}

// Validate checks the pretraining settings before the pairs are read:
// the model's shape (config), the optimisation (steps, batch, learning
// rates, warm-up, weight decay, crop), the intervals and the vocabulary.
func (f PretrainOptions) Validate() error {
	if f.Pairs == "" || f.Out == "" {
		return errors.New("pretrain: --pairs and --out are required")
	}
	if _, err := f.config(); err != nil {
		return err
	}
	err := setting.First(
		setting.AtLeast("PretrainOptions.Steps", f.Steps, 1, "optimiser steps"),
		setting.AtLeast("PretrainOptions.Batch", f.Batch, 2, "pairs per step; the contrastive loss needs two"),
		setting.Positive("PretrainOptions.LR", f.LR, "peak learning rate"),
		setting.AtLeast("PretrainOptions.Warmup", f.Warmup, 0, "warm-up steps"),
		setting.NonNegative("PretrainOptions.WD", f.WD, "AdamW weight decay"),
		setting.AtLeast("PretrainOptions.Vocab", f.Vocab, minPretrainVocab, "BPE vocabulary: 512 byte tokens, 2 special tokens and merges"),
		setting.AtLeast("PretrainOptions.EvalMax", f.EvalMax, 0, "test images per task; 0 = all"),
		setting.AtLeast("PretrainOptions.EvalEvery", f.EvalEvery, 0, "steps between evaluations; 0 = at the end"),
		setting.AtLeast("PretrainOptions.CheckpointEvery", f.CheckpointEvery, 0, "steps between checkpoints; 0 = at the end"),
		setting.AtLeast("PretrainOptions.Workers", f.Workers, 0, "goroutines preparing images; 0 = 2"),
		setting.AtLeast("PretrainOptions.LogEvery", f.LogEvery, 0, "steps between log lines"),
	)
	switch {
	case err != nil:
		return err
	case !(f.MinLR >= 0 && f.MinLR <= f.LR):
		return setting.Errorf("PretrainOptions.MinLR", f.MinLR, "must be in [0, %g] (the peak learning rate)", f.LR)
	case !(f.CropMin > 0 && f.CropMin <= 1):
		return setting.Errorf("PretrainOptions.CropMin", f.CropMin, "must be an area fraction in (0, 1]")
	}
	return nil
}

// minPretrainVocab is the smallest BPE vocabulary: 512 byte tokens, the
// start and end tokens and one merge.
const minPretrainVocab = 515

// checkDevice checks a --device value (ParseDevice).
func checkDevice(d string) error {
	_, _, err := ParseDevice(d)
	return err
}

// checkOutSet checks that an output root is named.
func checkOutSet(name, dir string) error {
	if strings.TrimSpace(dir) == "" {
		return setting.Errorf(name, dir, "must name an output folder")
	}
	return nil
}

// CheckOutDir checks that the output folder dir can be written, before
// any work starts: it creates dir (and its parents), writes a probe file
// into it and removes it. name is the setting (e.g. "Options.Out").
func CheckOutDir(name, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return setting.Errorf(name, dir, "must be a writable folder: %v", err)
	}
	f, err := os.CreateTemp(dir, ".softcpt-write-check-*")
	if err != nil {
		return setting.Errorf(name, dir, "must be a writable folder: %v", err)
	}
	_, werr := f.Write([]byte("ok\n"))
	cerr := f.Close()
	rerr := os.Remove(f.Name())
	if err := setting.First(werr, cerr, rerr); err != nil {
		return setting.Errorf(name, dir, "must be a writable folder: %v", err)
	}
	return nil
}
