package sweep

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./sweep -run %s -update to write it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (go test ./sweep -run %s -update rewrites it):\n--- got\n%s\n--- want\n%s", name, t.Name(), got, want)
	}
}

// goldenSweep is the General-10 sweep in a fixed folder.
func goldenSweep(t *testing.T) *Sweep {
	spec, err := Load("testdata/general10.json")
	if err != nil {
		t.Fatal(err)
	}
	cells, err := spec.Cells()
	if err != nil {
		t.Fatal(err)
	}
	return &Sweep{Spec: *spec, Dir: "/scratch/sweeps/general10", Cells: cells}
}

func TestScriptsGolden(t *testing.T) {
	s := goldenSweep(t)
	o := SlurmOptions{Command: []string{"/opt/softcpt/bin/softcpt"}, Partition: "gpu", Account: "vision-lab", Time: "04:00:00",
		CPUsPerTask: 8, Mem: "32G", Gres: "gpu:1", Throttle: 8, Extra: []string{"--qos=normal", "--constraint=a100"}}
	if err := o.check(); err != nil {
		t.Fatal(err)
	}
	all := make([]int, len(s.Cells))
	for i := range all {
		all[i] = i
	}
	golden(t, "cache.sbatch.golden", s.cacheScript(o))
	golden(t, "array.sbatch.golden", s.arrayScript(o, all, "All cells."))
	golden(t, "submit.sh.golden", s.submitScript(o))
	golden(t, "resubmit.sbatch.golden", s.arrayScript(o, []int{3, 4, 5, 17, 40, 41, 105}, "Resubmission 1 (failed and missing cells)."))

	// The minimal options: no resources, the signal asked for, a command
	// with words that need quoting.
	m := SlurmOptions{Command: []string{"env", "A=b c", "/usr/local/bin/softcpt"}, Signal: "SIGUSR1@300"}
	if err := m.check(); err != nil {
		t.Fatal(err)
	}
	golden(t, "array-minimal.sbatch.golden", s.arrayScript(m, []int{0, 1, 2}, "All cells."))
}

func TestArrayList(t *testing.T) {
	for in, want := range map[string]string{
		"0":               "0",
		"0 1 2 3":         "0-3",
		"5 3 4 9 11 12 0": "0,3-5,9,11-12",
	} {
		var ix []int
		for _, f := range strings.Fields(in) {
			var n int
			for _, r := range f {
				n = n*10 + int(r-'0')
			}
			ix = append(ix, n)
		}
		if got := arrayList(ix); got != want {
			t.Errorf("arrayList(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestSlurmOptionErrors(t *testing.T) {
	for _, tc := range []struct {
		o    SlurmOptions
		want string
	}{
		{SlurmOptions{Command: []string{"x"}, Signal: "KILL@10"}, `unknown signal "KILL"`},
		{SlurmOptions{Command: []string{"x"}, Signal: "TERM@soon"}, `"soon" is not a number of seconds`},
		{SlurmOptions{Command: []string{"x"}, Extra: []string{"qos=high"}}, `extra sbatch option "qos=high"`},
		{SlurmOptions{Command: []string{"x"}, Time: "4 hours"}, `--time "4 hours"`},
		{SlurmOptions{Command: []string{"x"}, Throttle: -1}, "--throttle -1"},
	} {
		if err := tc.o.check(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.o, err, tc.want)
		}
	}
	for in, want := range map[string]string{"": "B:TERM@120", "USR1": "B:USR1@120", "B:SIGUSR2@90": "B:USR2@90", "term@30": "B:TERM@30"} {
		if s, err := ParseSignal(in); err != nil || s.String() != want {
			t.Errorf("ParseSignal(%q) = %v, %v; want %s", in, s, err, want)
		}
	}
}

func TestWriteScripts(t *testing.T) {
	s, err := Create(filepath.Join(t.TempDir(), "g"), &Spec{Benchmark: "general10", Model: "/m.pt", Output: "/o", ZeroShot: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WriteScripts(SlurmOptions{Command: []string{"/bin/softcpt"}, Throttle: 2}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"cache.sbatch", "array.sbatch", "submit.sh", "options.json"} {
		if _, err := os.Stat(filepath.Join(s.Dir, slurmDir, f)); err != nil {
			t.Error(err)
		}
	}
	o, err := s.slurmOptions()
	if err != nil || o.Throttle != 2 || o.Signal != DefaultSignal || o.Tools.Sbatch != "sbatch" {
		t.Errorf("kept options %+v, %v", o, err)
	}
}
