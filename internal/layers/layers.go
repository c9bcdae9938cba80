// Package layers states the floors of the module's packages and checks
// imports against them; its test runs the check on `go list` of the whole
// module, in the default build and with -tags cuda.
//
// A package may import the standard library, third-party modules, the
// packages of its own group (a path and its subpackages, e.g. clip and
// clip/frozen) and the groups on lower floors. A group may also name the
// only module packages it may import (the CUDA backend imports nothing
// above tensor and kernels; the interface it implements is
// kernels/backend). A package that no group holds is an
// error, so a new package must be placed here. Test files are not
// checked.
package layers

import (
	"fmt"
	"sort"
	"strings"
)

// Module is the module path.
const Module = "github.com/softcpt/softcpt-go"

// Group is a package path of the module relative to its root, which also
// holds the path's subpackages, on a floor.
type Group struct {
	// Path is the group's root, e.g. "clip" (clip and clip/...).
	Path string
	// Floor is the group's floor: a package imports only lower floors
	// and its own group.
	Floor int
	// Only, when not nil, lists the only groups outside its own the
	// group may import (whatever their floor).
	Only []string
}

// Floors are the module's groups, floor by floor. Groups that do not
// exist yet are allowed.
var Floors = []Group{
	// Tensors, leaf utilities and the embedded assets; the CPU kernels
	// (which read tensor's element conversions) just above.
	{Path: "tensor", Floor: 0},
	// kernels/backend, the array-ops interface that a backend implements
	// and its host implementation, is part of the kernels floor.
	{Path: "kernels", Floor: 1},
	{Path: "internal/atomicfile", Floor: 0},
	{Path: "internal/layers", Floor: 0},
	{Path: "internal/console", Floor: 0},
	{Path: "internal/cmdline", Floor: 0},
	{Path: "internal/hostile", Floor: 0},
	{Path: "internal/setting", Floor: 0},
	{Path: "internal/interrupt", Floor: 0},
	// CPU time of this process, for the benchmark commands.
	{Path: "bench/internal", Floor: 0},
	{Path: "pretrained", Floor: 0},
	{Path: "realdata/assets", Floor: 0},
	// The CUDA backend: device memory, streams, PTX kernels.
	{Path: "cuda", Floor: 3, Only: []string{"tensor", "kernels"}},
	{Path: "autograd", Floor: 4},
	{Path: "optim", Floor: 5},
	// CLIP: model, checkpoints, preprocessing, tokenizer, frozen forward.
	{Path: "clip", Floor: 6},
	// Dataset readers and report rendering (library leaves below the
	// method: softcpt reads data's benchmarks; realdata draws into them).
	{Path: "data", Floor: 7},
	// The test fixtures (testdata/), loaded for any package's tests.
	{Path: "internal/fixture", Floor: 7},
	{Path: "report", Floor: 7},
	{Path: "realdata", Floor: 8},
	// The shipped model and benchmark, opened from the embedded assets.
	{Path: "shipped", Floor: 9},
	// The method: learners, training, evaluation, the backend step.
	{Path: "softcpt", Floor: 10},
	// Pretraining a small CLIP; the flags that the driver's commands and
	// the sweep share (cell settings, lists, setting names → flags).
	{Path: "pretrain", Floor: 11},
	{Path: "internal/cliflag", Floor: 11},
	// Experiments and sweeps of experiments.
	{Path: "experiment", Floor: 12},
	{Path: "sweep", Floor: 13},
	// Commands.
	{Path: "cmd", Floor: 14},
	{Path: "bench/cmd", Floor: 14},
}

// group returns the group holding rel (a module-relative path), the
// longest matching root, or false.
func group(floors []Group, rel string) (Group, bool) {
	var best Group
	found := false
	for _, g := range floors {
		if (rel == g.Path || strings.HasPrefix(rel, g.Path+"/")) && (!found || len(g.Path) > len(best.Path)) {
			best, found = g, true
		}
	}
	return best, found
}

// Check returns the violations of floors by imports, which maps each
// package's import path to its imports: packages no group holds and
// imports of a higher or equal floor (outside the package's group) or
// outside a group's Only list, one line each, sorted.
func Check(floors []Group, imports map[string][]string) []string {
	var bad []string
	for pkg, imps := range imports {
		rel, ok := relative(pkg)
		if !ok {
			continue
		}
		g, ok := group(floors, rel)
		if !ok {
			bad = append(bad, fmt.Sprintf("%s: no floor (add it to layers.Floors)", rel))
			continue
		}
		for _, imp := range imps {
			irel, ok := relative(imp)
			if !ok {
				continue // standard library or third party
			}
			ig, ok := group(floors, irel)
			switch {
			case !ok:
				bad = append(bad, fmt.Sprintf("%s imports %s, which has no floor", rel, irel))
			case ig.Path == g.Path:
			case g.Only != nil && !contains(g.Only, ig.Path):
				bad = append(bad, fmt.Sprintf("%s imports %s: %s may import only %s", rel, irel, g.Path, strings.Join(g.Only, ", ")))
			case ig.Floor >= g.Floor:
				bad = append(bad, fmt.Sprintf("%s (floor %d) imports %s (floor %d)", rel, g.Floor, irel, ig.Floor))
			}
		}
	}
	sort.Strings(bad)
	return bad
}

// relative returns path relative to the module root, or false for a path
// outside the module.
func relative(path string) (string, bool) {
	if path == Module {
		return ".", true
	}
	rel, ok := strings.CutPrefix(path, Module+"/")
	return rel, ok
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
