package layers

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// goList returns each package's imports from `go list` of the module
// with the build tags (none for the default build).
func goList(t *testing.T, tags string) map[string][]string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	args := []string{"list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}"}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	cmd := exec.Command(gobin, append(args, "./...")...)
	cmd.Dir = "../.."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	imports := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		imports[f[0]] = f[1:]
	}
	if len(imports) < 10 {
		t.Fatalf("go list found only %d packages", len(imports))
	}
	return imports
}

// TestFloors checks every package of the module against Floors, in the
// default build and with -tags cuda.
func TestFloors(t *testing.T) {
	for _, tags := range []string{"", "cuda"} {
		imports := goList(t, tags)
		for _, v := range Check(Floors, imports) {
			t.Errorf("tags %q: %s", tags, v)
		}
		t.Logf("tags %q: %d packages checked", tags, len(imports))
	}
}

// TestCheckFindsViolations runs Check on made-up import lists: each
// kind of violation is reported, and allowed imports are not.
func TestCheckFindsViolations(t *testing.T) {
	m := func(rel string) string { return Module + "/" + rel }
	imports := map[string][]string{
		m("tensor"):          {"fmt"},
		m("kernels/backend"): {m("tensor"), m("kernels"), "github.com/pkg/errors"},
		m("clip/frozen"):     {m("clip"), m("kernels/backend")},
		m("kernels"):         {m("clip")},                                        // upwards
		m("autograd"):        {m("optim")},                                       // upwards
		m("data"):            {m("report")},                                      // same floor, other group
		m("cuda"):            {m("kernels/backend"), m("internal/atomicfile")},   // outside Only
		m("cuda/kernels"):    {m("cuda/internal/alloc"), m("kernels/backend")},   // own group, Only
		m("softcpt/step"):    {m("softcpt"), m("kernels/backend"), m("unknown")}, // unplaced import
		m("newpkg"):          {m("tensor")},                                      // unplaced package
		m("cmd/softcpt"):     {m("cuda"), m("softcpt/step"), m("report")},
		"example.com/other":  {m("cmd/softcpt")}, // outside the module: not checked
	}
	got := Check(Floors, imports)
	want := []string{
		"autograd (floor 4) imports optim (floor 5)",
		"cuda imports internal/atomicfile: cuda may import only tensor, kernels",
		"data (floor 7) imports report (floor 7)",
		"kernels (floor 1) imports clip (floor 6)",
		"newpkg: no floor (add it to layers.Floors)",
		"softcpt/step imports unknown, which has no floor",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Check found\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}
