package sweep

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/pkg/errors"
)

// State is the state of a cell (or of the feature cache).
type State string

// The states of a cell.
const (
	Pending State = "pending" // queued (or requeued) and not started
	Running State = "running" // running now
	Done    State = "done"    // finished: its done marker exists
	Failed  State = "failed"  // stopped without finishing (error, cancelled, time limit, node failure)
	Missing State = "missing" // never submitted, or gone from the queue without a trace
)

// CellStatus is the status of one cell (or of the cache: Index -1).
type CellStatus struct {
	Index int    `json:"index"`
	ID    string `json:"id"`
	State State  `json:"state"`
	// Job is the cell's latest Slurm job ("<array job>_<index>"), if any.
	Job string `json:"job,omitempty"`
	// Slurm is that job's state as Slurm reports it ("" when unknown).
	Slurm string `json:"slurm,omitempty"`
	// Detail is the reason or error of a pending or failed cell.
	Detail string `json:"detail,omitempty"`
}

// Status is the state of every cell of a sweep and of its cache.
type Status struct {
	Cache CellStatus   `json:"cache"`
	Cells []CellStatus `json:"cells"`
	// Source says where the Slurm states came from: "sacct", "squeue",
	// "scontrol" or "" (markers only).
	Source string `json:"source,omitempty"`
}

// Count returns the number of cells in each state.
func (st *Status) Count() map[State]int {
	n := map[State]int{}
	for _, c := range st.Cells {
		n[c.State]++
	}
	return n
}

// Write prints the status as a table with a summary line.
func (st *Status) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CELL\tID\tSTATE\tJOB\tSLURM\tDETAIL")
	row := func(i string, c CellStatus) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", i, c.ID, c.State, c.Job, c.Slurm, c.Detail)
	}
	row("cache", st.Cache)
	for _, c := range st.Cells {
		row(strconv.Itoa(c.Index), c)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	n := st.Count()
	_, err := fmt.Fprintf(w, "%d cells: %d done, %d running, %d pending, %d failed, %d missing\n",
		len(st.Cells), n[Done], n[Running], n[Pending], n[Failed], n[Missing])
	return err
}

// WriteJSON writes the status as indented JSON.
func (st *Status) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return errors.Wrap(err, "sweep status")
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// ResultRoots returns the result roots for 'softcpt report': roots with
// every sweep folder (one holding sweep.json) replaced by its cells'
// output root; it writes to w which cells of each sweep are not done
// (they are missing from the tables).
func ResultRoots(ctx context.Context, roots []string, w io.Writer) ([]string, error) {
	out := make([]string, len(roots))
	for i, root := range roots {
		out[i] = root
		if _, err := os.Stat(filepath.Join(root, "sweep.json")); err != nil {
			continue
		}
		s, err := Open(root)
		if err != nil {
			return nil, err
		}
		st, err := s.Status(ctx)
		if err != nil {
			return nil, err
		}
		out[i] = s.Output
		n := st.Count()
		if n[Done] == len(st.Cells) {
			fmt.Fprintf(w, "report: sweep %s: all %d cells done\n", s.Dir, len(st.Cells))
			continue
		}
		fmt.Fprintf(w, "report: sweep %s: %d of %d cells done; missing from the tables:\n", s.Dir, n[Done], len(st.Cells))
		for _, c := range st.Cells {
			if c.State != Done {
				fmt.Fprintf(w, "  cell %d %s: %s %s\n", c.Index, c.ID, c.State, c.Detail)
			}
		}
	}
	return out, nil
}

// jobInfo is what Slurm says about one job or array task.
type jobInfo struct {
	state, reason string
}

// Status reads the state of every cell: done from its done marker;
// otherwise from Slurm (sacct, or squeue and `scontrol show job` where
// sacct has no accounting storage) for the cell's latest submitted
// array task; otherwise from the markers left by the cell's last run.
func (s *Sweep) Status(ctx context.Context) (*Status, error) {
	jobs, err := s.Jobs()
	if err != nil {
		return nil, err
	}
	st := &Status{}
	var infos map[string]jobInfo
	if len(jobs) > 0 {
		ids := make([]string, len(jobs))
		for i, j := range jobs {
			ids[i] = j.ID
		}
		infos, st.Source = s.slurmTools().states(ctx, ids)
	}
	latest := map[int]string{} // cell index → its latest array task
	cacheJob := ""
	for _, j := range jobs {
		switch j.Kind {
		case "cache":
			cacheJob = j.ID
		case "array":
			for _, i := range j.Indices {
				latest[i] = j.ID + "_" + strconv.Itoa(i)
			}
		}
	}
	st.Cache = s.status(-1, cacheID, cacheJob, infos)
	for _, c := range s.Cells {
		st.Cells = append(st.Cells, s.status(c.Index, c.ID, latest[c.Index], infos))
	}
	return st, nil
}

// status combines the markers of id with Slurm's view of its job.
func (s *Sweep) status(index int, id, job string, infos map[string]jobInfo) CellStatus {
	cs := CellStatus{Index: index, ID: id, Job: job}
	if _, ok := s.marked(id, markDone); ok {
		cs.State = Done
		return cs
	}
	if info, ok := infos[job]; ok && job != "" {
		cs.Slurm = info.state
		switch info.state {
		case "PENDING", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD", "CONFIGURING", "RESIZING":
			cs.State, cs.Detail = Pending, info.reason
			if info.reason == "DependencyNeverSatisfied" {
				cs.State, cs.Detail = Failed, "the cache job failed (DependencyNeverSatisfied)"
			}
		case "RUNNING", "COMPLETING", "SUSPENDED", "SIGNALING", "STAGE_OUT":
			cs.State = Running
		case "COMPLETED":
			cs.State, cs.Detail = Failed, "the job completed without a done marker"
		default: // CANCELLED, FAILED, TIMEOUT, NODE_FAIL, PREEMPTED, OUT_OF_MEMORY, BOOT_FAIL, DEADLINE, ...
			cs.State, cs.Detail = Failed, info.reason
		}
		if m, ok := s.marked(id, markInterrupted); ok && cs.State == Failed {
			cs.Detail = "interrupted by SIG" + m.Signal
		}
		if m, ok := s.marked(id, markFailed); ok && cs.State == Failed {
			cs.Detail = m.Error
		}
		return cs
	}
	switch m, _ := s.marked(id, markRunning); {
	case locked(s.markerPath(id, "lock")):
		cs.State = Running
	case m.PID != 0:
		cs.State, cs.Detail = Failed, "stopped while running (no marker)"
	default:
		cs.State = Missing
	}
	if m, ok := s.marked(id, markInterrupted); ok && cs.State != Running {
		cs.State, cs.Detail = Failed, "interrupted: "+m.Error
	}
	if m, ok := s.marked(id, markFailed); ok && cs.State != Running {
		cs.State, cs.Detail = Failed, m.Error
	}
	return cs
}

// states asks Slurm for the states of jobs ids and their array tasks,
// keyed "<job>" and "<array job>_<task>": sacct first; where it fails
// (no accounting storage), squeue, then `scontrol show job` for the
// jobs squeue does not know (any more). It returns the source used.
func (t SlurmTools) states(ctx context.Context, ids []string) (map[string]jobInfo, string) {
	if out, err := t.output(ctx, t.Sacct, "--noheader", "--parsable2", "--allocations",
		"--jobs="+strings.Join(ids, ","), "--format=JobID,State,Reason"); err == nil {
		if m, err := parseSacct(out); err == nil {
			return m, "sacct"
		}
	}
	m := map[string]jobInfo{}
	source := "squeue"
	for _, id := range ids {
		out, err := t.output(ctx, t.Squeue, "--noheader", "--array", "--states=all", "--jobs="+id, "--format=%i|%T|%r")
		if err == nil {
			if n, err := parseSqueue(out, m); err == nil && n > 0 {
				continue
			}
		}
		if out, err := t.output(ctx, t.Scontrol, "--oneliner", "show", "job", id); err == nil {
			parseScontrol(out, m)
			source = "squeue+scontrol"
		}
	}
	return m, source
}

// jobRunning says whether Slurm reports job id as RUNNING (not cancelled
// or being requeued).
func (t SlurmTools) jobRunning(ctx context.Context, id string) bool {
	out, err := t.output(ctx, t.Scontrol, "--oneliner", "show", "job", id)
	if err != nil {
		return false
	}
	m := map[string]jobInfo{}
	parseScontrol(out, m)
	for _, info := range m {
		return info.state == "RUNNING"
	}
	return false
}

// parseSacct parses `sacct --parsable2 --noheader
// --format=JobID,State,Reason` lines ("12_3|CANCELLED by 0|None").
func parseSacct(out string) (map[string]jobInfo, error) {
	m := map[string]jobInfo{}
	_, err := parseFields("sacct", out, m)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// parseSqueue parses `squeue --noheader --format=%i|%T|%r` lines into m
// and returns how many it read.
func parseSqueue(out string, m map[string]jobInfo) (int, error) {
	return parseFields("squeue", out, m)
}

// parseFields reads "JOBID|STATE|REASON" lines of tool into m (a state
// is its first word: sacct writes "CANCELLED by 0") and returns how many
// it read.
func parseFields(tool, out string, m map[string]jobInfo) (int, error) {
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, "|")
		if len(f) < 2 {
			return n, errors.Errorf("sweep: %s line %q: want JOBID|STATE|REASON", tool, line)
		}
		state, _, _ := strings.Cut(strings.TrimSpace(f[1]), " ")
		info := jobInfo{state: state}
		if len(f) > 2 && f[2] != "None" {
			info.reason = f[2]
		}
		if err := addJob(m, f[0], info); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// parseScontrol parses `scontrol --oneliner show job` records
// ("JobId=14 ArrayJobId=13 ArrayTaskId=1 … JobState=CANCELLED Reason=None …").
func parseScontrol(out string, m map[string]jobInfo) {
	for _, line := range strings.Split(out, "\n") {
		kv := map[string]string{}
		for _, f := range strings.Fields(line) {
			if k, v, ok := strings.Cut(f, "="); ok {
				if _, seen := kv[k]; !seen {
					kv[k] = v
				}
			}
		}
		if kv["JobId"] == "" || kv["JobState"] == "" {
			continue
		}
		info := jobInfo{state: kv["JobState"]}
		if r := kv["Reason"]; r != "None" {
			info.reason = r
		}
		id := kv["JobId"]
		if a, t := kv["ArrayJobId"], kv["ArrayTaskId"]; a != "" && t != "" {
			id = a + "_" + t
			if strings.ContainsAny(t, ",-") {
				id = a + "_[" + t + "]"
			}
		}
		addJob(m, id, info)
	}
}

// addJob records info under id, expanding a pending array range
// ("12_[3-5,7%2]") into its tasks.
func addJob(m map[string]jobInfo, id string, info jobInfo) error {
	id = strings.TrimSpace(id)
	base, rng, ok := strings.Cut(id, "_[")
	if !ok {
		m[id] = info
		return nil
	}
	rng = strings.TrimSuffix(rng, "]")
	rng, _, _ = strings.Cut(rng, "%")
	for _, part := range strings.Split(rng, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		b := a
		if err == nil && isRange {
			b, err = strconv.Atoi(hi)
		}
		if err != nil || b < a {
			return errors.Errorf("sweep: job id %q: bad array range", id)
		}
		for i := a; i <= b; i++ {
			m[base+"_"+strconv.Itoa(i)] = info
		}
	}
	return nil
}

// WriteStatus writes the status of the sweep in dir to w: as a table
// (Status.Write), or as JSON (Status.WriteJSON).
func WriteStatus(ctx context.Context, dir string, w io.Writer, asJSON bool) error {
	s, err := Open(dir)
	if err != nil {
		return err
	}
	st, err := s.Status(ctx)
	switch {
	case err != nil:
		return err
	case asJSON:
		return st.WriteJSON(w)
	}
	return st.Write(w)
}
