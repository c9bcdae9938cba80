package sweep

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"path/filepath"
	"strings"
	"testing"
)

// TestRegisterFlags: every cell setting is a flag with its own help, and
// only the grid flags given count as given.
func TestRegisterFlags(t *testing.T) {
	var f Flags
	fs := flag.NewFlagSet("sweep", flag.ContinueOnError)
	fs.Bool("local", false, "not a grid flag")
	f.Register(fs)
	for _, n := range ParamNames() {
		fl := fs.Lookup(strings.ReplaceAll(n, "_", "-"))
		if fl == nil || !strings.HasPrefix(fl.Usage, "grid, cell setting: ") || len(fl.Usage) < len("grid, cell setting: ")+10 {
			t.Errorf("cell setting %s: flag %v", n, fl)
		}
	}
	if err := fs.Parse([]string{"--local", "--methods", "nata,zeroshot", "--batch-size", "8", "--seed", "4,5"}); err != nil {
		t.Fatal(err)
	}
	if len(f.Shots) != 5 || len(f.Seeds) != 2 || f.Seeds[1] != 5 {
		t.Errorf("shots %v, seeds %v: want the default shots and seeds 4,5", f.Shots, f.Seeds)
	}
	fs = flag.NewFlagSet("sweep", flag.ContinueOnError)
	fs.Bool("local", false, "not a grid flag")
	f = Flags{}
	f.Register(fs)
	if err := fs.Parse([]string{"--local", "--methods", "nata,zeroshot", "--batch-size", "8"}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.Given(fs), " "); got != "--batch-size --methods" {
		t.Errorf("Given = %q", got)
	}
	spec, err := f.FromFlagSet(fs, "")
	if err != nil {
		t.Fatal(err)
	}
	if !spec.ZeroShot || len(spec.Methods) != 1 || spec.Params.BatchSize == nil || *spec.Params.BatchSize != 8 || len(f.Params) != 1 {
		t.Errorf("spec %+v (params %v): want nata, zero-shot and batch size 8 only", spec, f.Params)
	}
	if _, err := f.FromFlagSet(fs, "s.json"); err == nil || !strings.Contains(err.Error(), "not both (--batch-size --methods)") {
		t.Errorf("--file with grid flags: error %v", err)
	}
}

// TestSlurmFlags: --gpus becomes --gres, and contradicts it; the binary
// is an absolute path.
func TestSlurmFlags(t *testing.T) {
	var o SlurmOptions
	if err := o.SetGPUs("2"); err != nil || o.Gres != "gpu:2" {
		t.Errorf("SetGPUs(2): gres %q, error %v", o.Gres, err)
	}
	if err := o.SetGPUs("1"); err == nil || !strings.Contains(err.Error(), "--gpus or --gres") {
		t.Errorf("--gpus with --gres: error %v", err)
	}
	for _, v := range []string{"two", "0"} {
		o := SlurmOptions{}
		if err := o.SetGPUs(v); err == nil || !strings.Contains(err.Error(), `--gpus "`+v+`"`) {
			t.Errorf("SetGPUs(%q): error %v", v, err)
		}
	}
	if exe, err := Binary("bin/softcpt"); err != nil || !filepath.IsAbs(exe) || !strings.HasSuffix(exe, "bin/softcpt") {
		t.Errorf("Binary(bin/softcpt) = %q, %v", exe, err)
	}
}

// TestJobString: the lines that report submissions.
func TestJobString(t *testing.T) {
	for _, c := range []struct {
		j    Job
		want string
	}{
		{Job{Kind: "cache", ID: "11", Script: "slurm/cache.sbatch"}, "cache job 11: slurm/cache.sbatch"},
		{Job{Kind: "array", ID: "12", After: "11", Indices: []int{0, 1, 2}, Script: "slurm/array.sbatch"}, "job array 12 (3 cells) after job 11: slurm/array.sbatch"},
	} {
		if got := c.j.String(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.j, got, c.want)
		}
	}
}

// TestResultRoots: report given a sweep folder reads its output root
// and lists the cells that are not done.
func TestResultRoots(t *testing.T) {
	s, err := Create(filepath.Join(t.TempDir(), "s"), &Spec{Methods: []string{"nata"}, Shots: []int{1}, Seeds: []int{1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	var w bytes.Buffer
	roots, err := ResultRoots(context.Background(), []string{s.Dir, "other"}, &w)
	if err != nil {
		t.Fatal(err)
	}
	if roots[0] != s.Output || roots[1] != "other" {
		t.Errorf("roots %q, want the sweep's output root and the other root", roots)
	}
	out := w.String()
	if !strings.Contains(out, "0 of 2 cells done") || !strings.Contains(out, s.Cells[0].ID+": missing") || !strings.Contains(out, s.Cells[1].ID) {
		t.Errorf("report's note:\n%s\nwant both cells listed as missing", out)
	}
	st, err := s.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	w.Reset()
	if err := st.WriteJSON(&w); err != nil {
		t.Fatal(err)
	}
	var back Status
	if err := json.Unmarshal(w.Bytes(), &back); err != nil || len(back.Cells) != 2 || back.Cells[1].ID != s.Cells[1].ID {
		t.Errorf("WriteJSON: %s (%v)", w.String(), err)
	}
}
