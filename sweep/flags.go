package sweep

import (
	"flag"
	"strings"

	"github.com/pkg/errors"
)

// paramHelp describes the cell settings (ParamNames) as flags; unset
// ones are the paper's.
var paramHelp = map[string]string{
	"epochs":               "training epochs (MAX_EPOCH, 50)",
	"batch_size":           "training batch size (32)",
	"lr":                   "SGD learning rate (0.002)",
	"momentum":             "SGD momentum (0.9)",
	"weight_decay":         "SGD weight decay (5e-4)",
	"warmup_epochs":        "constant warm-up epochs (1)",
	"warmup_lr":            "warm-up learning rate (1e-5)",
	"repeat_steps":         "the authors' repeated optimiser steps (0 = off)",
	"augment":              "re-encode augmented training images every epoch (true/false)",
	"n_ctx":                "N_CTX: learned context length of the class prompts (16; 4 suits the shipped model)",
	"ctx_init":             "CTX_INIT: initial context words, or \"template\"",
	"class_token_position": "CLASS_TOKEN_POSITION: end, middle or front",
	"csc":                  "CSC (true/false; default from the method)",
	"class_n_ctx":          "CLASS_N_CTX (default from the method)",
	"class_csc":            "CLASS_CSC (true/false; default from the method)",
	"task_n_ctx":           "TASK_N_CTX (default 4)",
	"task_csc":             "TASK_CSC (true/false; default from the method)",
	"pg_type":              "PG_TYPE meta network: lin, linmean or lincls",
	"cls_sample_rate":      "CLS_SAMPLE_RATE: class sampling rate in training (0 = off)",
	"full_prompts":         "encode every class prompt in full (true/false)",
	"max_iter":             "linear probe: L-BFGS iterations per fit (1000)",
	"templates":            "zero-shot: extra templates separated by '|'",
}

// gridUsage starts the usage of every grid flag (GridGiven finds them by
// it).
const gridUsage = "grid"

// Register registers on fs the flags of a grid given without a sweep
// file, into f: --name, --benchmark, --group, --tasks, --data-root,
// --cache-dir, --model, --bpe, --out, --device, --methods and one string
// flag per cell setting (ParamNames with "-" for "_"). Their usage starts
// with "grid"; so must that of the caller's --shots and --seed, lists of
// integers it keeps in f.Shots and f.Seeds.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Name, "name", "", "grid: label of the sweep in Slurm job names (default: the folder's name)")
	fs.StringVar(&f.Benchmark, "benchmark", "", "grid: \"shipped\" (default), a benchmark pack (*.bin), a shipped definition (general10, plant6, fashion20) or a definition file")
	fs.StringVar(&f.Group, "group", "", "grid: task group of a packed benchmark: general (default), nature, attributes")
	fs.StringVar(&f.Tasks, "tasks", "", "grid: comma-separated subset of the benchmark's tasks")
	fs.StringVar(&f.DataRoot, "data-root", "", "grid: folder of a definition's datasets")
	fs.StringVar(&f.CacheDir, "cache-dir", "", "grid: generated splits and few-shot samples (default DATA-ROOT/.softcpt-cache)")
	fs.StringVar(&f.Model, "model", "", "grid: CLIP checkpoint, or \"shipped\" (default)")
	fs.StringVar(&f.BPE, "bpe", "", "grid: BPE merges of the model's tokenizer (default: named by the model, or embedded)")
	fs.StringVar(&f.Output, "out", "", "grid: root of the cells' run folders (default DIR/runs)")
	fs.StringVar(&f.Device, "device", "", "grid: cpu (default) or cuda")
	fs.StringVar(&f.Methods, "methods", "", "grid: comma-separated methods (coop-mt, coop-ca, coop-cs, nata, nats, cata, csta, cats, csts), and zeroshot, linprobe")
	f.params = map[string]*string{}
	for _, n := range ParamNames() {
		name := strings.ReplaceAll(n, "_", "-")
		f.params[name] = fs.String(name, "", gridUsage+", cell setting: "+paramHelp[n])
	}
}

// GridGiven lists the grid flags (Register's, and --shots and --seed)
// given on fs's command line, as "--name".
func GridGiven(fs *flag.FlagSet) []string {
	var out []string
	fs.Visit(func(fl *flag.Flag) {
		if strings.HasPrefix(fl.Usage, gridUsage) {
			out = append(out, "--"+fl.Name)
		}
	})
	return out
}

// FromFlagSet returns the sweep of the parsed fs on which f registered
// its flags: the sweep file when file is not empty (then no grid flag
// may be given), the grid flags given (FromFlags, with the cell settings
// given as f.Params), or nil when neither is (an existing sweep folder).
func (f *Flags) FromFlagSet(fs *flag.FlagSet, file string) (*Spec, error) {
	given := GridGiven(fs)
	switch {
	case file != "" && len(given) > 0:
		return nil, errors.Errorf("sweep: give --file or grid flags, not both (%s)", strings.Join(given, " "))
	case file != "":
		return Load(file)
	case len(given) == 0:
		return nil, nil
	}
	f.Params = map[string]string{}
	fs.Visit(func(fl *flag.Flag) {
		if p, ok := f.params[fl.Name]; ok {
			f.Params[fl.Name] = *p
		}
	})
	return FromFlags(*f)
}
