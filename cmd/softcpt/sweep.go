package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/experiment"
	"github.com/softcpt/softcpt-go/internal/cliflag"
	"github.com/softcpt/softcpt-go/sweep"
)

const sweepUsage = `usage:
  softcpt sweep [--file SWEEP.json | GRID FLAGS] --dir DIR --local N
  softcpt sweep [--file SWEEP.json | GRID FLAGS] --dir DIR --slurm [SLURM FLAGS]
  softcpt sweep status DIR [--json]
  softcpt sweep --resubmit-failed --dir DIR      (or: softcpt sweep resubmit DIR)
  softcpt sweep cache DIR                        (inside the cache job)
  softcpt sweep run-cell DIR INDEX               (inside array task INDEX)

Runs the paper's grid (methods × shots × seeds, plus zero-shot and the
linear probe) as a sweep. A sweep file (JSON; the keys are listed in
'go doc github.com/softcpt/softcpt-go/sweep' and the README, "Running the
paper's grid on a cluster"), or the same as GRID FLAGS, expands to cells,
one run folder each, kept in the sweep folder DIR (sweep.json, cells.json;
cell i is always the same run). Without a benchmark and a model the sweep
runs on the shipped ones (benchmark "shipped", group general; model
"shipped"); the run folders go into DIR/runs unless the sweep sets output.
Given neither --file nor grid flags, an existing DIR is run again.

  --local N   runs the feature cache, then the cells that are not done,
              on this machine in N processes, one cell at a time in each
              (more processes may join: softcpt sweep --local 1 --dir DIR).
  --slurm     writes DIR/slurm/{cache.sbatch,array.sbatch,submit.sh} and
              submits a feature-cache job and one job array of every cell
              after it (--dependency=afterok), one cell per array task;
              the job ids go to DIR/jobs.json and the jobs' output to
              DIR/logs/.

'sweep status' prints per cell pending / running / done / failed /
missing, from the markers in DIR/state and from squeue/sacct when
present. '--resubmit-failed' submits one new array of the failed and
missing cells. An array task that receives SIGTERM or the --signal
signal saves its checkpoint; on the time-limit signal it requeues itself
(exit status 75) and resumes from its checkpoint. A finished cell is
never run again. 'softcpt report DIR' merges the finished cells.

flags:`

// sweepFlags are the flags of 'softcpt sweep'.
type sweepFlags struct {
	file, dir    string
	grid         sweep.Flags
	local        int
	slurm, resub bool
	slurmFlags   sweep.SlurmFlags
}

func (f *sweepFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.file, "file", "", "the sweep file (JSON)")
	fs.StringVar(&f.dir, "dir", "", "the sweep folder (or give it as the last argument)")
	fs.IntVar(&f.local, "local", 0, "run the sweep on this machine in `N` processes, one cell at a time in each")
	fs.BoolVar(&f.slurm, "slurm", false, "submit the sweep to Slurm: a feature-cache job and a job array of the cells")
	fs.BoolVar(&f.resub, "resubmit-failed", false, "submit one new array of the sweep's failed and missing cells")
	f.grid.Register(fs) // the grid, without a sweep file
	f.slurmFlags.Register(fs)
}

func cmdSweep(ctx context.Context, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "status":
			return sweepStatus(ctx, args[1:])
		case "resubmit":
			return sweepResubmit(ctx, args[1:])
		case "cache", "run-cell":
			return sweepJob(args)
		}
	}
	fs := flag.NewFlagSet("sweep", flag.ContinueOnError)
	var f sweepFlags
	f.register(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), sweepUsage)
		fs.PrintDefaults()
	}
	pos, err := cliflag.ParseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if err := oneDir(&f.dir, pos); err != nil {
		return err
	}
	if f.resub {
		return resubmit(ctx, f.dir)
	}
	if (f.local > 0) == f.slurm {
		return errors.New("sweep: give --local N (run here, N cells at a time) or --slurm (submit to Slurm)")
	}
	var o sweep.SlurmOptions
	if f.slurm {
		if o, err = f.slurmFlags.Options(); err != nil {
			return err
		}
	}
	spec, err := f.grid.FromFlagSet(fs, f.file)
	if err != nil {
		return err
	}
	s, err := sweep.OpenOrCreate(f.dir, spec)
	if err != nil {
		return err
	}
	experiment.Logf("sweep %s: %d cells in %s, run folders under %s", s.Name, len(s.Cells), s.Dir, s.Output)
	if f.local > 0 {
		r := &sweep.Experiments{}
		defer r.Close()
		return sweep.RunProcesses(ctx, s, f.local, nil, r, experiment.Logf)
	}
	jobs, err := s.Submit(ctx, o)
	printJobs(jobs)
	if err == nil {
		fmt.Printf("scripts in %s; 'softcpt sweep status %s' follows the cells\n", filepath.Join(s.Dir, "slurm"), s.Dir)
	}
	return err
}

// oneDir sets dir from the positional arguments: at most one, and not
// beside --dir.
func oneDir(dir *string, pos []string) error {
	switch {
	case len(pos) > 1 || len(pos) == 1 && *dir != "":
		return errors.Errorf("sweep: one sweep folder, please (got %q and --dir %q)", pos, *dir)
	case len(pos) == 1:
		*dir = pos[0]
	case *dir == "":
		return errors.New("sweep: give the sweep folder (--dir DIR)")
	}
	return nil
}

func printJobs(jobs []sweep.Job) {
	for _, j := range jobs {
		fmt.Println("submitted", j)
	}
}

func sweepStatus(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("sweep status", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the status as JSON")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `usage: softcpt sweep status [--json] DIR

Prints the state of the feature cache and of every cell of the sweep in
DIR: pending (queued or requeued), running, done, failed (error,
cancelled, time limit, node failure) or missing (never submitted, or
gone without a trace), with its latest Slurm job and state (from sacct,
or squeue and scontrol without accounting) and the reason of a failure,
then a count of each state.`)
		fs.PrintDefaults()
	}
	dir, err := dirArg(fs, args)
	if err != nil {
		return err
	}
	return sweep.WriteStatus(ctx, dir, os.Stdout, *asJSON)
}

func sweepResubmit(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("sweep resubmit", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `usage: softcpt sweep resubmit DIR   (the same as softcpt sweep --resubmit-failed --dir DIR)

Submits one new job array of the cells of the Slurm sweep in DIR whose
status is failed or missing (array task id = cell index), written as
DIR/slurm/resubmit-N.sbatch, after the feature-cache job (a new one when
the cache failed). Resubmitted cells resume from their checkpoints.`)
		fs.PrintDefaults()
	}
	dir, err := dirArg(fs, args)
	if err != nil {
		return err
	}
	return resubmit(ctx, dir)
}

// dirArg parses the flags of a subcommand whose one argument is the sweep
// folder, and returns it.
func dirArg(fs *flag.FlagSet, args []string) (string, error) {
	pos, err := cliflag.ParseInterleaved(fs, args)
	if err != nil {
		return "", err
	}
	var dir string
	return dir, oneDir(&dir, pos)
}

func resubmit(ctx context.Context, dir string) error {
	s, err := sweep.Open(dir)
	if err != nil {
		return err
	}
	jobs, err := s.ResubmitFailed(ctx)
	if err == nil && len(jobs) == 0 {
		fmt.Println("no failed or missing cell: nothing to resubmit")
	}
	printJobs(jobs)
	return err
}

// sweepJob runs the in-job entry points 'sweep cache DIR' and 'sweep
// run-cell DIR INDEX' and exits with sweep.ExitCode (75 after an
// interruption that saved the checkpoint).
func sweepJob(args []string) error {
	usage := `usage: softcpt sweep cache DIR | softcpt sweep run-cell DIR INDEX

The entry points of a sweep's Slurm jobs (any scheduler's array can call
them): 'cache' computes the sweep's feature cache; 'run-cell' runs cell
INDEX of DIR/cells.json into its run folder unless it is done. SIGTERM,
SIGINT and the sweep's --signal make them save the checkpoint and exit
with status 75 (after 'scontrol requeue' on the time-limit signal).`
	if len(args) > 1 && (args[1] == "-h" || args[1] == "--help") {
		fmt.Fprintln(os.Stderr, usage)
		return flag.ErrHelp
	}
	r := &sweep.Experiments{}
	var err error
	switch {
	case args[0] == "cache" && len(args) == 2:
		// The jobs handle their signals themselves (sweep.RunCache), so
		// they do not run under the command's context, whose
		// cancellation by SIGTERM would hide which signal came.
		err = sweep.RunCache(context.Background(), args[1], r)
	case args[0] == "run-cell" && len(args) == 3:
		i, aerr := strconv.Atoi(args[2])
		if aerr != nil {
			return errors.Errorf("sweep run-cell: INDEX %q is not a cell index", args[2])
		}
		err = sweep.RunCell(context.Background(), args[1], i, r)
	default:
		fmt.Fprintln(os.Stderr, usage)
		return errors.Errorf("sweep %s: bad arguments %q", args[0], args[1:])
	}
	r.Close()
	if err != nil {
		fmt.Fprintf(os.Stderr, "softcpt sweep %s: %v\n", args[0], err)
		os.Exit(sweep.ExitCode(err))
	}
	return nil
}
