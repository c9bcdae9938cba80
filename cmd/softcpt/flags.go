package main

import (
	"flag"
	"strings"

	"github.com/softcpt/softcpt-go/data"
	"github.com/softcpt/softcpt-go/experiment"
	"github.com/softcpt/softcpt-go/internal/cliflag"
	"github.com/softcpt/softcpt-go/softcpt"
)

// commonFlags are the flags shared by train, zeroshot, linprobe and eval.
type commonFlags struct {
	benchmark, tasks, dataRoot, cacheDir, model, bpe, out string
	shots                                                 cliflag.ShotList
	seeds                                                 cliflag.IntList
	visionHeads, textHeads                                int
	device                                                cliflag.Device
	precision                                             cliflag.Precision
	force                                                 bool
	// cell are the cell settings of the command (registerCells).
	cell cliflag.Settings
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.benchmark, "benchmark", "", "benchmark: a shipped definition ("+strings.Join(data.ShippedDefinitions(), ", ")+") or a definition file (JSON)")
	fs.StringVar(&c.tasks, "tasks", "", "comma-separated subset of the benchmark's tasks (default: all)")
	fs.StringVar(&c.dataRoot, "data-root", ".", "directory holding the datasets in the CoOp/SoftCPT folder layouts")
	fs.StringVar(&c.cacheDir, "cache-dir", "", "where generated splits and few-shot samples are cached (default DATA-ROOT/.softcpt-cache)")
	fs.StringVar(&c.model, "model", "", "CLIP checkpoint (RN50.pt, ViT-B-32.pt, ... or safetensors)")
	fs.StringVar(&c.bpe, "bpe", "", "BPE merges file of the model's tokenizer (bpe_simple_vocab_16e6.txt.gz for OpenAI's models)")
	fs.StringVar(&c.out, "out", "output", "output directory")
	fs.BoolVar(&c.force, "force", false, "rerun finished runs (a run whose folder holds its results.json is otherwise skipped, saying so)")
	fs.IntVar(&c.visionHeads, "vision-heads", 0, "override the inferred number of vision attention heads")
	fs.IntVar(&c.textHeads, "text-heads", 0, "override the inferred number of text attention heads")
	c.device.Register(fs)
	c.precision.Register(fs)
}

// registerCells registers --shots and --seed (not for zero-shot, which
// has one cell) and the cell settings of the groups (cliflag.Settings).
func (c *commonFlags) registerCells(fs *flag.FlagSet, groups cliflag.Group) {
	c.shots, c.seeds = cliflag.ShotList{1, 2, 4, 8, 16}, cliflag.IntList{1, 2, 3}
	fs.Var(&c.shots, "shots", "comma-separated shot counts per class; \"all\" trains on all the training data (Dassl's NUM_SHOTS 0, run folder shots_all)")
	fs.Var(&c.seeds, "seed", "comma-separated seeds")
	c.cell.Register(fs, groups, false)
}

// options returns the experiment options of the flags.
func (c *commonFlags) options(fullPrompts bool) experiment.Options {
	var tasks []string
	if c.tasks != "" {
		tasks = strings.Split(c.tasks, ",")
	}
	return experiment.Options{Benchmark: c.benchmark, Tasks: tasks, DataRoot: c.dataRoot, CacheDir: c.cacheDir, Model: c.model, BPE: c.bpe,
		VisionHeads: c.visionHeads, TextHeads: c.textHeads, Device: string(c.device), Precision: string(c.precision), Out: c.out, FullPrompts: fullPrompts}
}

// grid returns the shots and seeds of the flags as a grid of one method,
// with the flags given on the command line (fs).
func (c *commonFlags) grid(method string, fs *flag.FlagSet) experiment.Grid {
	return experiment.Grid{Methods: []string{method}, Shots: c.shots, Seeds: c.seeds, Force: c.force, Given: cliflag.Given(fs)}
}

// methodGrid returns the grid of one learned method (--method) with the
// method settings of the flags (cliflag.Settings.Config).
func (c *commonFlags) methodGrid(method string, fs *flag.FlagSet) (experiment.Grid, error) {
	g := c.grid("", fs)
	cfg, err := c.cell.Config(method, fs)
	g.Methods = []string{cfg.Name}
	g.Config = func(string) (softcpt.Config, error) { return cfg, nil }
	return g, err
}

// registerMethod registers --method.
func registerMethod(fs *flag.FlagSet) *string {
	return fs.String("method", "nata", "method: "+strings.Join(softcpt.Methods(), ", "))
}
