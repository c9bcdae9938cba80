package sweep

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	"github.com/pkg/errors"
)

// Sweep is a sweep folder: the sweep file as written there (paths
// absolute), its cells and the folder.
type Sweep struct {
	Spec
	// Dir is the sweep folder (absolute).
	Dir string
	// Cells are the expanded cells; Cells[i].Index == i.
	Cells []Cell

	// requeue, set inside a Slurm job, requeues it after an interruption
	// by a signal when Slurm still reports it running.
	requeue func() (bool, error)
}

// The files of a sweep folder.
const (
	specFile  = "sweep.json" // the sweep file, paths absolute
	cellsFile = "cells.json" // the cells, in index order
	jobsFile  = "jobs.json"  // the Slurm submissions
	stateDir  = "state"      // the markers of the cells and the cache
	slurmDir  = "slurm"      // the job scripts
	logsDir   = "logs"       // the jobs' output and error files
)

// Create makes (or reopens) the sweep folder dir for spec, whose paths
// must already be resolved (Load and FromFlags do so; an empty Output
// becomes dir/runs): it writes
// sweep.json and cells.json, so that cell i means the same cell for
// every later command. A folder that holds another sweep is an error.
func Create(dir string, spec *Spec) (*Sweep, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, errors.Wrap(err, "sweep: folder")
	}
	sp := *spec
	if sp.Name == "" {
		sp.Name = filepath.Base(dir)
	}
	if sp.Output == "" {
		sp.Output = filepath.Join(dir, "runs")
	}
	if err := sp.Validate(); err != nil {
		return nil, errors.Wrap(err, "sweep")
	}
	for _, p := range []string{sp.DataRoot, sp.CacheDir, sp.Model, sp.BPE, sp.Output} {
		if p != "" && p != Shipped && !filepath.IsAbs(p) {
			return nil, errors.Errorf("sweep: path %q is relative, and the jobs run elsewhere (Load and FromFlags make paths absolute)", p)
		}
	}
	cells, err := sp.Cells()
	if err != nil {
		return nil, errors.Wrap(err, "sweep")
	}
	b, err := json.MarshalIndent(&sp, "", "  ")
	if err != nil {
		return nil, errors.Wrap(err, "sweep: encode sweep.json")
	}
	b = append(b, '\n')
	for _, d := range []string{dir, filepath.Join(dir, stateDir), filepath.Join(dir, logsDir), filepath.Join(dir, slurmDir)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, errors.Wrap(err, "sweep: create folder")
		}
	}
	path := filepath.Join(dir, specFile)
	if old, err := os.ReadFile(path); err == nil {
		if !bytes.Equal(old, b) {
			return nil, errors.Errorf("sweep: %s holds another sweep (its sweep.json differs from this one); use a new folder", dir)
		}
	} else if !os.IsNotExist(err) {
		return nil, errors.Wrap(err, "sweep: read sweep.json")
	} else if err := writeFileAtomic(path, b); err != nil {
		return nil, err
	}
	if err := writeJSONAtomic(filepath.Join(dir, cellsFile), cells); err != nil {
		return nil, err
	}
	return &Sweep{Spec: sp, Dir: dir, Cells: cells}, nil
}

// Open reads the sweep folder dir and checks that its cells.json is the
// expansion of its sweep.json.
func Open(dir string) (*Sweep, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, errors.Wrap(err, "sweep: folder")
	}
	b, err := os.ReadFile(filepath.Join(dir, specFile))
	if err != nil {
		return nil, errors.Wrapf(err, "sweep: %s is not a sweep folder", dir)
	}
	sp, err := Parse(b, filepath.Join(dir, specFile))
	if err != nil {
		return nil, err
	}
	var cells []Cell
	if err := readJSON(filepath.Join(dir, cellsFile), &cells); err != nil {
		return nil, err
	}
	want, err := sp.Cells()
	if err != nil {
		return nil, errors.Wrap(err, "sweep")
	}
	if len(want) != len(cells) {
		return nil, errors.Errorf("sweep: %s: %s has %d cells, %s expands to %d", dir, cellsFile, len(cells), specFile, len(want))
	}
	for i := range want {
		if cells[i].ID != want[i].ID || cells[i].Index != i {
			return nil, errors.Errorf("sweep: %s: cell %d of %s is %s, %s expands it to %s", dir, i, cellsFile, cells[i].ID, specFile, want[i].ID)
		}
	}
	return &Sweep{Spec: *sp, Dir: dir, Cells: cells}, nil
}

// Cell returns cell i, with an error naming the range when there is none.
func (s *Sweep) Cell(i int) (Cell, error) {
	if i < 0 || i >= len(s.Cells) {
		return Cell{}, errors.Errorf("sweep: %s has cells 0–%d, no cell %d", s.Dir, len(s.Cells)-1, i)
	}
	return s.Cells[i], nil
}

// path joins names under the sweep folder.
func (s *Sweep) path(names ...string) string {
	return filepath.Join(append([]string{s.Dir}, names...)...)
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return errors.Wrap(err, "sweep")
	}
	if err := json.Unmarshal(b, v); err != nil {
		return errors.Wrapf(err, "sweep: %s", path)
	}
	return nil
}

func writeJSONAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return errors.Wrapf(err, "sweep: encode %s", path)
	}
	return writeFileAtomic(path, append(b, '\n'))
}

// writeFileAtomic writes path through a temporary file and a rename, so
// that readers see the old or the new content, never a part.
func writeFileAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return errors.Wrap(err, "sweep")
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return errors.Wrapf(err, "sweep: write %s", path)
	}
	return nil
}

// marker is the content of a cell's (or the cache's) state file.
type marker struct {
	State    string    `json:"state"`
	Time     time.Time `json:"time"`
	Host     string    `json:"host,omitempty"`
	PID      int       `json:"pid,omitempty"`
	Job      string    `json:"job,omitempty"`
	Error    string    `json:"error,omitempty"`
	Signal   string    `json:"signal,omitempty"`
	Requeued bool      `json:"requeued,omitempty"`
}

// The states a marker records.
const (
	markRunning     = "running"
	markDone        = "done"
	markFailed      = "failed"
	markInterrupted = "interrupted"
)

// cacheID names the cache's markers.
const cacheID = "cache"

func (s *Sweep) markerPath(id, state string) string { return s.path(stateDir, id+"."+state) }

// mark writes marker state of id (cell ID or cacheID) and appends it to
// id's history (<id>.history, one JSON object a line).
func (s *Sweep) mark(id, state string, m marker) error {
	host, _ := os.Hostname()
	m.Time, m.Host, m.PID, m.Job, m.State = time.Now().UTC(), host, os.Getpid(), slurmJobName(), state
	if err := writeJSONAtomic(s.markerPath(id, state), m); err != nil {
		return err
	}
	b, err := json.Marshal(m)
	if err != nil {
		return errors.Wrap(err, "sweep: encode marker")
	}
	f, err := os.OpenFile(s.markerPath(id, "history"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return errors.Wrap(err, "sweep: history")
	}
	_, err = f.Write(append(b, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return errors.Wrap(err, "sweep: history")
}

// history reads the markers ever written for id, oldest first.
func (s *Sweep) history(id string) ([]marker, error) {
	b, err := os.ReadFile(s.markerPath(id, "history"))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, errors.Wrap(err, "sweep: history")
	}
	var out []marker
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var m marker
		if err := json.Unmarshal(line, &m); err != nil {
			return out, errors.Wrapf(err, "sweep: %s", s.markerPath(id, "history"))
		}
		out = append(out, m)
	}
	return out, nil
}

// marked reads marker state of id; ok is false when there is none.
func (s *Sweep) marked(id, state string) (m marker, ok bool) {
	if err := readJSON(s.markerPath(id, state), &m); err != nil {
		return m, false
	}
	return m, true
}

func (s *Sweep) unmark(id string, states ...string) {
	for _, st := range states {
		os.Remove(s.markerPath(id, st))
	}
}

// slurmJobName is "<array job>_<task>" in an array task, the job id in
// another job, "" outside Slurm.
func slurmJobName() string {
	if a, t := os.Getenv("SLURM_ARRAY_JOB_ID"), os.Getenv("SLURM_ARRAY_TASK_ID"); a != "" && t != "" {
		return a + "_" + t
	}
	return os.Getenv("SLURM_JOB_ID")
}

// OpenOrCreate creates the sweep folder dir of spec (Create), or opens
// the existing one (Open) when spec is nil: then an error says that a new
// sweep needs a sweep file or grid flags.
func OpenOrCreate(dir string, spec *Spec) (*Sweep, error) {
	if spec != nil {
		return Create(dir, spec)
	}
	s, err := Open(dir)
	return s, errors.Wrap(err, "sweep: give --file or grid flags (--methods ...) for a new sweep")
}
