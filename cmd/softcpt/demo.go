package main

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/clip/imageproc"
	"github.com/softcpt/softcpt-go/clip/tokenizer"
	"github.com/softcpt/softcpt-go/data"
	"github.com/softcpt/softcpt-go/realdata"
	"github.com/softcpt/softcpt-go/softcpt"
)

// Shipped assets, relative to the repository root.
const (
	shippedBenchmark = "realdata/assets/benchmark.bin"
	shippedModel     = "pretrained/model.safetensors"
	shippedBPE       = "pretrained/bpe.txt.gz"
)

// regenerateHint says how to rebuild the shipped assets.
const regenerateHint = "regenerate the benchmark with 'go run ./cmd/builddata -out realdata/assets' and the model with 'softcpt pretrain' (see README.md, 'Shipped model and data')"

// openShipped opens the shipped benchmark, model and tokenizer, with
// errors that say how to regenerate a missing or corrupt file.
func openShipped(benchPath, modelPath, bpePath string) (*realdata.Benchmark, *clip.Model, *tokenizer.Tokenizer, error) {
	b, err := realdata.OpenBenchmark(benchPath)
	if err != nil {
		return nil, nil, nil, errors.Wrapf(err, "shipped benchmark (%s)", regenerateHint)
	}
	m, err := clip.Load(modelPath)
	if err != nil {
		return nil, nil, nil, errors.Wrapf(err, "shipped model (%s)", regenerateHint)
	}
	tok, err := tokenizer.Load(bpePath)
	if err != nil {
		return nil, nil, nil, errors.Wrapf(err, "shipped tokenizer (%s)", regenerateHint)
	}
	if tok.VocabSize() != m.Config.VocabSize {
		return nil, nil, nil, errors.Errorf("tokenizer %s has %d tokens but model %s expects %d (%s)", bpePath, tok.VocabSize(), modelPath, m.Config.VocabSize, regenerateHint)
	}
	return b, m, tok, nil
}

// realTasks builds the experiment tasks of one task group of the shipped
// benchmark with K shots per class drawn with seed (K = 0: no training
// images).
func realTasks(b *realdata.Benchmark, group string, k, seed int) []*task {
	var out []*task
	for ti, rt := range b.TasksIn(group) {
		ex := func(items []realdata.Item) []softcpt.Example {
			exs := make([]softcpt.Example, len(items))
			for i, it := range items {
				idx := it.Image
				exs[i] = softcpt.Example{Task: ti, Label: it.Label, Name: "img:" + strconv.Itoa(idx),
					Load: func() (*imageproc.RGB, error) { return b.Image(idx), nil }}
			}
			return exs
		}
		// K training shots per class from the pool, and min(K, 4)
		// validation shots per class from the rest of it (linear probe).
		var train, val []realdata.Item
		if k > 0 {
			items := make([]data.Item, len(rt.Train))
			for i, it := range rt.Train {
				items[i] = data.Item{Path: strconv.Itoa(it.Image), Label: it.Label}
			}
			picked := map[string]bool{}
			for _, it := range data.FewShot(items, len(rt.Classes), k, data.TaskSeed(rt.ID, uint64(seed))) {
				idx, _ := strconv.Atoi(it.Path)
				train = append(train, realdata.Item{Image: idx, Label: it.Label})
				picked[it.Path] = true
			}
			var rest []data.Item
			for _, it := range items {
				if !picked[it.Path] {
					rest = append(rest, it)
				}
			}
			for _, it := range data.FewShot(rest, len(rt.Classes), softcpt.ProbeValShots(k), data.TaskSeed(rt.ID+"/val", uint64(seed))) {
				idx, _ := strconv.Atoi(it.Path)
				val = append(val, realdata.Item{Image: idx, Label: it.Label})
			}
		}
		metric := data.Accuracy
		if rt.Metric == realdata.MetricMeanPerClass {
			metric = data.MeanPerClass
		}
		out = append(out, &task{
			spec:      softcpt.TaskSpec{Name: rt.ID, TaskName: rt.Phrase, Classes: rt.Classes},
			metric:    metric,
			templates: []string{rt.Template},
			train:     ex(train),
			val:       ex(val),
			test:      ex(rt.Test),
		})
	}
	return out
}

func cmdDemo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	quick := fs.Bool("quick", false, "a smaller run (one seed, shots 1 and 4, fewer epochs) that finishes in about two minutes")
	out := fs.String("out", "demo-output", "output directory (results.json per run, tables, plots)")
	benchPath := fs.String("benchmark-file", shippedBenchmark, "packed real-image benchmark")
	modelPath := fs.String("model", shippedModel, "CLIP checkpoint")
	bpePath := fs.String("bpe", shippedBPE, "BPE merges of the model's tokenizer")
	groups := fs.String("groups", "", "comma-separated task groups of the benchmark (default: all)")
	methods := fs.String("methods", "zeroshot,linprobe,coop-mt,coop-ca,nata,nats", "comma-separated methods")
	var shots, seeds intList
	shots, seeds = intList{1, 2, 4, 8, 16}, intList{1, 2, 3}
	fs.Var(&shots, "shots", "comma-separated shot counts")
	fs.Var(&seeds, "seed", "comma-separated seeds")
	epochs := fs.Int("epochs", 0, "training epochs per run (default: 20, 10 with --quick)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `usage: softcpt demo [--quick] [--out DIR]

Runs the paper's comparison on the shipped real-image benchmark with the
small CLIP pretrained by this project (no download needed): zero-shot CLIP,
the linear probe, CoOp-MT, CoOp-CA, SoftCPT-NATA and SoftCPT-NATS, for
each shot count and seed, on every task group of the benchmark. It prints
per-task and averaged tables shaped like the paper's and writes
results.json per run, summary tables and an accuracy-versus-shots plot
into --out.`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	ep := *epochs
	if *quick {
		if !flagSet(fs, "shots") {
			shots = intList{1, 4}
		}
		if !flagSet(fs, "seed") {
			seeds = intList{1}
		}
		if ep == 0 {
			ep = 10
		}
	}
	if ep == 0 {
		ep = 20
	}
	b, m, tok, err := openShipped(*benchPath, *modelPath, *bpePath)
	if err != nil {
		return err
	}
	gs := b.Groups
	if *groups != "" {
		gs = strings.Split(*groups, ",")
	}
	start := time.Now()
	for _, g := range gs {
		if len(b.TasksIn(g)) == 0 {
			return errors.Errorf("benchmark %s has no task group %q (groups: %s)", *benchPath, g, strings.Join(b.Groups, ", "))
		}
		if err := runDemoGroup(ctx, b, m, tok, g, strings.Split(*methods, ","), shots, seeds, ep, *out); err != nil {
			return err
		}
	}
	logf("demo finished in %s; results in %s", time.Since(start).Round(time.Second), *out)
	// The tables and plots of 'softcpt report', per task group.
	return cmdReport(ctx, []string{"--out", filepath.Join(*out, "summary"), *out})
}

// flagSet reports whether the named flag was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}

// runDemoGroup runs every method, shot count and seed on one task group.
func runDemoGroup(ctx context.Context, b *realdata.Benchmark, m *clip.Model, tok softcpt.Tokenizer, group string, methods []string, shots, seeds intList, epochs int, out string) error {
	name := "real-" + group
	// One feature cache for the whole group: images are encoded once.
	base := newExperiment(name, m, tok, realTasks(b, group, 0, 0))
	for _, method := range methods {
		method = strings.TrimSpace(method)
		switch method {
		case "zeroshot":
			if err := runZeroShot(ctx, base, out); err != nil {
				return err
			}
			continue
		}
		for _, k := range shots {
			for _, seed := range seeds {
				exp := base.withTasks(realTasks(b, group, k, seed))
				var err error
				if method == "linprobe" {
					err = runLinearProbe(ctx, exp, k, seed, out)
				} else {
					var cfg softcpt.Config
					if cfg, err = softcpt.MethodConfig(method); err != nil {
						return err
					}
					opt := softcpt.Defaults()
					opt.Epochs, opt.Seed = epochs, uint64(seed)
					dir := runDir(out, name, cfg.Name, k, seed)
					opt.CheckpointDir, opt.Resume = dir, true
					err = runLearned(ctx, exp, cfg, opt, false, k, seed, dir)
				}
				if err != nil {
					return err
				}
			}
		}
	}
	return nil
}
