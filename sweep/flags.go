package sweep

import (
	"flag"
	"slices"
	"strings"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/internal/cliflag"
)

// Register registers on fs the flags of a grid given without a sweep
// file, into f: --name, --benchmark, --group, --tasks, --data-root,
// --cache-dir, --model, --bpe, --out, --device, --methods, --shots,
// --seed and every cell setting (cliflag.Settings, the flags of 'softcpt
// train', 'linprobe' and 'zeroshot': ParamNames with "-" for "_").
func (f *Flags) Register(fs *flag.FlagSet) {
	grid := func(p *string, name, usage string) {
		f.names = append(f.names, name)
		fs.StringVar(p, name, "", "grid: "+usage)
	}
	grid(&f.Name, "name", "label of the sweep in Slurm job names (default: the folder's name)")
	grid(&f.Benchmark, "benchmark", "\"shipped\" (default), a benchmark pack (*.bin), a shipped definition (general10, plant6, fashion20) or a definition file")
	grid(&f.Group, "group", "task group of a packed benchmark: general (default), nature, attributes")
	grid(&f.Tasks, "tasks", "comma-separated subset of the benchmark's tasks")
	grid(&f.DataRoot, "data-root", "folder of a definition's datasets")
	grid(&f.CacheDir, "cache-dir", "generated splits and few-shot samples (default DATA-ROOT/.softcpt-cache)")
	grid(&f.Model, "model", "CLIP checkpoint, or \"shipped\" (default)")
	grid(&f.BPE, "bpe", "BPE merges of the model's tokenizer (default: named by the model, or embedded)")
	grid(&f.Output, "out", "root of the cells' run folders (default DIR/runs)")
	grid(&f.Device, "device", "cpu (default) or cuda")
	grid(&f.Methods, "methods", "comma-separated methods (coop-mt, coop-ca, coop-cs, nata, nats, cata, csta, cats, csts), and zeroshot, linprobe")
	f.Shots, f.Seeds = []int{1, 2, 4, 8, 16}, []int{1, 2, 3}
	fs.Var((*cliflag.IntList)(&f.Shots), "shots", "grid: comma-separated shot counts")
	fs.Var((*cliflag.IntList)(&f.Seeds), "seed", "grid: comma-separated seeds")
	f.names = append(f.names, "shots", "seed")
	f.cell.Register(fs, cliflag.AllSettings, true)
}

// Given lists the grid flags (Register's) given on fs's command line, as
// "--name".
func (f *Flags) Given(fs *flag.FlagSet) []string {
	cells := f.cell.Given(fs)
	var out []string
	fs.Visit(func(fl *flag.Flag) {
		if _, ok := cells[fl.Name]; ok || slices.Contains(f.names, fl.Name) {
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
	given := f.Given(fs)
	switch {
	case file != "" && len(given) > 0:
		return nil, errors.Errorf("sweep: give --file or grid flags, not both (%s)", strings.Join(given, " "))
	case file != "":
		return Load(file)
	case len(given) == 0:
		return nil, nil
	}
	f.Params = f.cell.Given(fs)
	return FromFlags(*f)
}

// SlurmFlags are the flags of 'softcpt sweep --slurm' (Register).
type SlurmFlags struct {
	opts          SlurmOptions
	gpus, softcpt string
	extra         cliflag.StringList
}

// Register registers the Slurm flags on fs.
func (f *SlurmFlags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.opts.Partition, "partition", "", "slurm: --partition of the jobs")
	fs.StringVar(&f.opts.Account, "account", "", "slurm: --account of the jobs")
	fs.StringVar(&f.opts.Time, "time", "", "slurm: --time limit of each job (e.g. 04:00:00)")
	fs.IntVar(&f.opts.CPUsPerTask, "cpus-per-task", 0, "slurm: --cpus-per-task")
	fs.StringVar(&f.opts.Mem, "mem", "", "slurm: --mem (e.g. 32G)")
	fs.StringVar(&f.gpus, "gpus", "", "slurm: GPUs per job, passed as --gres=gpu:`G`")
	fs.StringVar(&f.opts.Gres, "gres", "", "slurm: --gres, e.g. gpu:a100:1 (instead of --gpus)")
	fs.IntVar(&f.opts.Throttle, "array-throttle", 0, "slurm: run at most `M` array tasks at once (--array=…%M)")
	fs.StringVar(&f.opts.Signal, "signal", DefaultSignal, "slurm: [B:]SIG@SECS, the signal sent that many seconds before the time limit; the cell saves its checkpoint and requeues itself")
	fs.Var(&f.extra, "sbatch-arg", "slurm: one more sbatch option for both jobs, e.g. --qos=high (repeatable)")
	fs.StringVar(&f.softcpt, "softcpt", "", "slurm: the softcpt binary the jobs run (default: this one)")
}

// Options returns the Slurm options of the parsed flags: --gpus as
// --gres (SetGPUs), the binary the jobs run (Binary).
func (f *SlurmFlags) Options() (SlurmOptions, error) {
	o := f.opts
	o.Extra = f.extra
	if err := o.SetGPUs(f.gpus); err != nil {
		return o, err
	}
	exe, err := Binary(f.softcpt)
	o.Command = []string{exe}
	return o, err
}
