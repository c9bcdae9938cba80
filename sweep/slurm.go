package sweep

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/internal/cmdline"
)

// SlurmOptions are the settings of a sweep's Slurm jobs. They are kept
// in the sweep folder (slurm/options.json) for resubmission and for the
// jobs' signal handling.
type SlurmOptions struct {
	// Command is the softcpt binary and any leading words; default: the
	// running executable.
	Command []string `json:"command"`
	// Partition, Account, Time, Mem and Gres are passed through as
	// --partition, --account, --time, --mem and --gres (e.g. "gpu:1");
	// CPUsPerTask as --cpus-per-task. Empty or 0: not passed.
	Partition   string `json:"partition,omitempty"`
	Account     string `json:"account,omitempty"`
	Time        string `json:"time,omitempty"`
	CPUsPerTask int    `json:"cpus_per_task,omitempty"`
	Mem         string `json:"mem,omitempty"`
	Gres        string `json:"gres,omitempty"`
	// Throttle runs at most this many array tasks at once (--array=…%M);
	// 0: no limit.
	Throttle int `json:"throttle,omitempty"`
	// Signal is sent to the job's batch shell (the softcpt process) that
	// many seconds before its time limit: "[B:]SIG[@secs]"; default
	// DefaultSignal. The job saves its checkpoint and requeues itself.
	Signal string `json:"signal,omitempty"`
	// Extra are more sbatch options, one "#SBATCH" line each
	// (e.g. "--qos=high").
	Extra []string `json:"extra,omitempty"`
	// Tools are the Slurm commands.
	Tools SlurmTools `json:"tools,omitzero"`
}

// SlurmTools name the Slurm commands (a name on PATH or a path); empty
// ones are the plain names.
type SlurmTools struct {
	Sbatch   string `json:"sbatch,omitempty"`
	Squeue   string `json:"squeue,omitempty"`
	Sacct    string `json:"sacct,omitempty"`
	Scontrol string `json:"scontrol,omitempty"`
	Scancel  string `json:"scancel,omitempty"`
}

// DefaultSignal is the time-limit signal of a sweep's jobs: SIGTERM to
// the batch shell 120 seconds before the limit.
const DefaultSignal = "B:TERM@120"

// Signal is a parsed --signal value.
type Signal struct {
	Name string // e.g. "TERM", "USR1"
	Secs int    // seconds before the time limit
	sys  syscall.Signal
}

// signals are the signals a sweep's jobs can handle.
var signals = map[string]syscall.Signal{
	"TERM": syscall.SIGTERM, "INT": syscall.SIGINT, "HUP": syscall.SIGHUP,
	"USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2, "ALRM": syscall.SIGALRM,
}

// ParseSignal parses "[B:][SIG]NAME[@secs]" (default secs: 120). The
// signal always goes to the batch shell, which is the softcpt process
// (the job script execs it).
func ParseSignal(v string) (Signal, error) {
	if v == "" {
		v = DefaultSignal
	}
	s := strings.TrimPrefix(v, "B:")
	name, secs, hasSecs := strings.Cut(s, "@")
	name = strings.TrimPrefix(strings.ToUpper(name), "SIG")
	sig := Signal{Name: name, Secs: 120}
	var ok bool
	if sig.sys, ok = signals[name]; !ok {
		return sig, errors.Errorf("sweep: --signal %q: unknown signal %q (want one of TERM, USR1, USR2, INT, HUP, ALRM)", v, name)
	}
	if hasSecs {
		n, err := strconv.Atoi(secs)
		if err != nil || n < 1 || n > 65535 {
			return sig, errors.Errorf("sweep: --signal %q: %q is not a number of seconds (1–65535)", v, secs)
		}
		sig.Secs = n
	}
	return sig, nil
}

// String is the value of sbatch's --signal.
func (s Signal) String() string { return fmt.Sprintf("B:%s@%d", s.Name, s.Secs) }

// check checks the options and fills in the defaults.
func (o *SlurmOptions) check() error {
	if len(o.Command) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return errors.Wrap(err, "sweep: the softcpt binary for the job scripts")
		}
		o.Command = []string{exe}
	}
	sig, err := ParseSignal(o.Signal)
	if err != nil {
		return err
	}
	o.Signal = sig.String()
	if o.CPUsPerTask < 0 || o.Throttle < 0 {
		return errors.Errorf("sweep: --cpus-per-task %d and --throttle %d must not be negative", o.CPUsPerTask, o.Throttle)
	}
	for _, e := range o.Extra {
		if !strings.HasPrefix(e, "-") || strings.ContainsAny(e, "\n") {
			return errors.Errorf("sweep: extra sbatch option %q: want one option such as --qos=high", e)
		}
	}
	for _, v := range []struct{ name, v string }{{"partition", o.Partition}, {"account", o.Account}, {"time", o.Time}, {"mem", o.Mem}, {"gres", o.Gres}} {
		if strings.ContainsAny(v.v, " \t\n") {
			return errors.Errorf("sweep: --%s %q: blanks are not allowed", v.name, v.v)
		}
	}
	t := &o.Tools
	for _, p := range []struct {
		dst  *string
		name string
	}{{&t.Sbatch, "sbatch"}, {&t.Squeue, "squeue"}, {&t.Sacct, "sacct"}, {&t.Scontrol, "scontrol"}, {&t.Scancel, "scancel"}} {
		if *p.dst == "" {
			*p.dst = p.name
		}
	}
	return nil
}

// SetGPUs sets o.Gres to "gpu:G" for a number of GPUs G ≥ 1 (the --gpus
// flag; "" leaves o as it is). Both --gpus and --gres are an error.
func (o *SlurmOptions) SetGPUs(gpus string) error {
	if gpus == "" {
		return nil
	}
	if o.Gres != "" {
		return errors.New("sweep: give --gpus or --gres, not both")
	}
	if n, err := strconv.Atoi(gpus); err != nil || n < 1 {
		return errors.Errorf("sweep: --gpus %q: want a number of GPUs ≥ 1", gpus)
	}
	o.Gres = "gpu:" + gpus
	return nil
}

// Binary returns the absolute path of the softcpt binary that a sweep's
// jobs run: path (the --softcpt flag), or the running executable when
// path is empty, which must not be go run's temporary copy.
func Binary(path string) (string, error) {
	if path == "" {
		exe, err := os.Executable()
		if err != nil {
			return "", errors.Wrap(err, "sweep: the softcpt binary for the job scripts (--softcpt)")
		}
		if cmdline.IsGoRun(exe) {
			return "", errors.Errorf("sweep: this softcpt is go run's temporary copy (%s), which the jobs cannot run: build it (go build ./cmd/softcpt) or give --softcpt PATH", exe)
		}
		path = exe
	}
	abs, err := filepath.Abs(path)
	return abs, errors.Wrap(err, "sweep: --softcpt")
}

// slurmOptions reads the options kept in the sweep folder.
func (s *Sweep) slurmOptions() (SlurmOptions, error) {
	var o SlurmOptions
	if err := readJSON(s.path(slurmDir, "options.json"), &o); err != nil {
		return o, err
	}
	return o, o.check()
}

// slurmTools returns the tools of the kept options, or the plain names.
func (s *Sweep) slurmTools() SlurmTools {
	o, err := s.slurmOptions()
	if err != nil {
		o = SlurmOptions{Command: []string{"softcpt"}}
		o.check()
	}
	return o.Tools
}

// header writes the #SBATCH lines shared by the cache and array jobs.
func (s *Sweep) header(b *bytes.Buffer, o SlurmOptions, jobName, logName string) {
	line := func(opt string) { fmt.Fprintf(b, "#SBATCH %s\n", opt) }
	line("--job-name=" + jobName)
	line("--output=" + s.path(logsDir, logName+".out"))
	line("--error=" + s.path(logsDir, logName+".err"))
	line("--open-mode=append")
	line("--requeue")
	line("--signal=" + o.Signal)
	for _, r := range []struct{ name, v string }{{"partition", o.Partition}, {"account", o.Account}, {"time", o.Time}, {"mem", o.Mem}, {"gres", o.Gres}} {
		if r.v != "" {
			line("--" + r.name + "=" + r.v)
		}
	}
	if o.CPUsPerTask > 0 {
		line("--cpus-per-task=" + strconv.Itoa(o.CPUsPerTask))
	}
	for _, e := range o.Extra {
		line(e)
	}
}

// jobName is the Slurm job name of the sweep's jobs.
func (s *Sweep) jobName() string {
	return "softcpt-" + strings.Map(func(r rune) rune {
		if r <= ' ' || r == '\'' || r == '"' {
			return '_'
		}
		return r
	}, s.Name)
}

// cacheScript is the feature-cache job.
func (s *Sweep) cacheScript(o SlurmOptions) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "#!/bin/bash\n# softcpt sweep %q in %s:\n", s.Name, s.Dir)
	b.WriteString("# the feature cache, computed once for all cells. Written by softcpt.\n")
	b.WriteString("# The cells' array job (array.sbatch) runs after it succeeds:\n")
	b.WriteString("#   sbatch --dependency=afterok:<this job's id> array.sbatch\n")
	s.header(&b, o, s.jobName()+"-cache", "cache-%j")
	fmt.Fprintf(&b, "\nexec %s sweep cache %s\n", cmdline.Join(o.Command), cmdline.Quote(s.Dir))
	return b.String()
}

// arrayScript is a job array running the cells of indices, one per task
// (task id = cell index).
func (s *Sweep) arrayScript(o SlurmOptions, indices []int, note string) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "#!/bin/bash\n# softcpt sweep %q in %s:\n", s.Name, s.Dir)
	fmt.Fprintf(&b, "# array task i runs cell i of cells.json. %s\n", note)
	b.WriteString("# Written by softcpt. Submit it after the cache job (cache.sbatch) with\n")
	b.WriteString("#   sbatch --dependency=afterok:<cache job id> <this file>\n")
	b.WriteString("# SIGTERM and the time-limit signal (--signal) make the cell save its\n")
	fmt.Fprintf(&b, "# checkpoint; on the time-limit signal the task requeues itself\n# (scontrol requeue) and exits with status %d.\n", ExitRequeue)
	arr := arrayList(indices)
	if o.Throttle > 0 {
		arr += "%" + strconv.Itoa(o.Throttle)
	}
	fmt.Fprintf(&b, "#SBATCH --array=%s\n", arr)
	s.header(&b, o, s.jobName(), "cell-%a-%A")
	fmt.Fprintf(&b, "\nexec %s sweep run-cell %s \"$SLURM_ARRAY_TASK_ID\"\n", cmdline.Join(o.Command), cmdline.Quote(s.Dir))
	return b.String()
}

// submitScript is what a user runs to submit the sweep by hand.
func (s *Sweep) submitScript(o SlurmOptions) string {
	return fmt.Sprintf(`#!/bin/bash
# softcpt sweep %q: submits the feature cache, then the array of all
# cells once the cache job has succeeded. softcpt sweep --slurm does the
# same and records the job ids in jobs.json.
set -euo pipefail
cd %s
cache=$(%s --parsable cache.sbatch)
%s --parsable --dependency=afterok:"${cache%%%%;*}" array.sbatch
`, s.Name, cmdline.Quote(s.path(slurmDir)), cmdline.Quote(o.Tools.Sbatch), cmdline.Quote(o.Tools.Sbatch))
}

// arrayList writes sorted indices as Slurm's --array list ("0-7,9,12-15").
func arrayList(indices []int) string {
	ix := append([]int(nil), indices...)
	sort.Ints(ix)
	var parts []string
	for i := 0; i < len(ix); {
		j := i
		for j+1 < len(ix) && ix[j+1] == ix[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(ix[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", ix[i], ix[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// WriteScripts writes the job scripts into the sweep folder's slurm/
// (cache.sbatch, array.sbatch, submit.sh) with the options (kept in
// options.json).
func (s *Sweep) WriteScripts(o SlurmOptions) error {
	if err := o.check(); err != nil {
		return err
	}
	if strings.ContainsAny(s.Dir, " \t\n") {
		return errors.Errorf("sweep: the sweep folder %q has blanks, which #SBATCH --output cannot hold", s.Dir)
	}
	all := make([]int, len(s.Cells))
	for i := range all {
		all[i] = i
	}
	files := []struct{ name, text string }{
		{"cache.sbatch", s.cacheScript(o)},
		{"array.sbatch", s.arrayScript(o, all, "All cells.")},
		{"submit.sh", s.submitScript(o)},
	}
	for _, f := range files {
		if err := writeFileAtomic(s.path(slurmDir, f.name), []byte(f.text)); err != nil {
			return err
		}
		if err := os.Chmod(s.path(slurmDir, f.name), 0o755); err != nil {
			return errors.Wrap(err, "sweep")
		}
	}
	return writeJSONAtomic(s.path(slurmDir, "options.json"), o)
}

// Job is one submitted Slurm job of a sweep (jobs.json).
type Job struct {
	// Kind is "cache" or "array".
	Kind string `json:"kind"`
	// ID is the job id (of the array job for an array).
	ID string `json:"id"`
	// Script is the submitted file, relative to the sweep folder.
	Script string `json:"script"`
	// Indices are an array's cells (= its task ids).
	Indices []int `json:"indices,omitempty"`
	// After is the job this one waits for (afterok).
	After string    `json:"after,omitempty"`
	Time  time.Time `json:"time"`
}

// String describes a submitted job: "job array ID (N cells) after job
// ID: SCRIPT" or "cache job ID: SCRIPT".
func (j Job) String() string {
	after := ""
	if j.After != "" {
		after = " after job " + j.After
	}
	if j.Kind == "array" {
		return fmt.Sprintf("job array %s (%d cells)%s: %s", j.ID, len(j.Indices), after, j.Script)
	}
	return fmt.Sprintf("%s job %s%s: %s", j.Kind, j.ID, after, j.Script)
}

// Jobs reads the sweep's submissions (none before the first).
func (s *Sweep) Jobs() ([]Job, error) {
	var jobs []Job
	if _, err := os.Stat(s.path(jobsFile)); os.IsNotExist(err) {
		return nil, nil
	}
	return jobs, readJSON(s.path(jobsFile), &jobs)
}

// Submit writes the job scripts and submits the sweep: the feature-cache
// job (unless the cache is done) and one job array of every cell that
// depends on it (--dependency=afterok). The job ids go to jobs.json. A
// sweep submitted before is an error: use Status and ResubmitFailed.
func (s *Sweep) Submit(ctx context.Context, o SlurmOptions) ([]Job, error) {
	jobs, err := s.Jobs()
	if err != nil {
		return nil, err
	}
	if len(jobs) > 0 {
		return nil, errors.Errorf("sweep: %s was submitted already (jobs %s in jobs.json); see its status or resubmit its failed cells", s.Dir, jobs[len(jobs)-1].ID)
	}
	if err := s.WriteScripts(o); err != nil {
		return nil, err
	}
	o, _ = s.slurmOptions()
	all := make([]int, len(s.Cells))
	for i := range all {
		all[i] = i
	}
	return s.submitArray(ctx, o, "array.sbatch", all, "")
}

// submitArray submits the cache job when needed (when the cache is not
// done and cacheJob, a cache job still queued or running, is ""), then
// the array script of indices after it.
func (s *Sweep) submitArray(ctx context.Context, o SlurmOptions, script string, indices []int, cacheJob string) ([]Job, error) {
	var out []Job
	if _, done := s.marked(cacheID, markDone); !done && cacheJob == "" {
		id, err := s.sbatch(ctx, o, "cache.sbatch", "")
		if err != nil {
			return nil, err
		}
		out = append(out, Job{Kind: "cache", ID: id, Script: filepath.Join(slurmDir, "cache.sbatch"), Time: time.Now().UTC()})
		if err := s.recordJob(out[len(out)-1]); err != nil {
			return out, err
		}
		cacheJob = id
	} else if done {
		cacheJob = ""
	}
	id, err := s.sbatch(ctx, o, script, cacheJob)
	if err != nil {
		return out, err
	}
	out = append(out, Job{Kind: "array", ID: id, Script: filepath.Join(slurmDir, script), Indices: indices, After: cacheJob, Time: time.Now().UTC()})
	return out, s.recordJob(out[len(out)-1])
}

// sbatch submits slurm/script, after job `after` when not "", and
// returns the job id.
func (s *Sweep) sbatch(ctx context.Context, o SlurmOptions, script, after string) (string, error) {
	args := []string{"--parsable"}
	if after != "" {
		args = append(args, "--dependency=afterok:"+after)
	}
	args = append(args, s.path(slurmDir, script))
	out, err := o.Tools.output(ctx, o.Tools.Sbatch, args...)
	if err != nil {
		return "", err
	}
	id, _, _ := strings.Cut(strings.TrimSpace(out), ";")
	if _, err := strconv.Atoi(id); err != nil {
		return "", errors.Errorf("sweep: sbatch %s printed %q, not a job id", script, out)
	}
	return id, nil
}

func (s *Sweep) recordJob(j Job) error {
	jobs, err := s.Jobs()
	if err != nil {
		return err
	}
	return writeJSONAtomic(s.path(jobsFile), append(jobs, j))
}

// ResubmitFailed submits one new array of the cells whose status is
// failed or missing (task ids = their indices), as
// slurm/resubmit-N.sbatch, after the cache job: the one still queued or
// running, or a new one when the cache is neither done nor coming. Old
// tasks that wait for ever on a failed cache job are cancelled first. It
// returns the submitted jobs (none when no cell failed).
func (s *Sweep) ResubmitFailed(ctx context.Context) ([]Job, error) {
	o, err := s.slurmOptions()
	if err != nil {
		return nil, errors.Wrap(err, "sweep: resubmit needs a sweep submitted with --slurm")
	}
	st, err := s.Status(ctx)
	if err != nil {
		return nil, err
	}
	var indices []int
	var stuck []string // tasks waiting for ever on a failed cache job
	for _, c := range st.Cells {
		if c.State == Failed || c.State == Missing {
			indices = append(indices, c.Index)
			if c.Slurm == "PENDING" {
				stuck = append(stuck, c.Job)
			}
		}
	}
	if len(indices) == 0 {
		return nil, nil
	}
	if len(stuck) > 0 {
		if err := o.Tools.run(ctx, o.Tools.Scancel, stuck...); err != nil {
			return nil, err
		}
	}
	jobs, err := s.Jobs()
	if err != nil {
		return nil, err
	}
	n := 0
	for _, j := range jobs {
		if j.Kind == "array" {
			n++
		}
	}
	name := fmt.Sprintf("resubmit-%d.sbatch", n)
	note := fmt.Sprintf("Resubmission %d (failed and missing cells).", n)
	if err := writeFileAtomic(s.path(slurmDir, name), []byte(s.arrayScript(o, indices, note))); err != nil {
		return nil, err
	}
	cacheJob := ""
	if st.Cache.State == Pending || st.Cache.State == Running {
		cacheJob = st.Cache.Job
	}
	return s.submitArray(ctx, o, name, indices, cacheJob)
}

// output runs a Slurm command and returns its standard output.
func (t SlurmTools) output(ctx context.Context, name string, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), errors.Errorf("sweep: %s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

func (t SlurmTools) run(ctx context.Context, name string, args ...string) error {
	_, err := t.output(ctx, name, args...)
	return err
}
