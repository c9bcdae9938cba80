package report

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/pkg/errors"
)

// StandardShots are the few-shot settings of the paper's tables, whose
// mean is the "Avg." column.
var StandardShots = []int{1, 2, 4, 8, 16}

// Spread kinds of a Stat.
const (
	// SpreadStd is the population standard deviation (ddof=0).
	SpreadStd = "std"
	// SpreadCI95 is the half-width of a normal 95% confidence interval,
	// 1.96·std/√n with the population std.
	SpreadCI95 = "ci95"
)

// Options controls Aggregate.
type Options struct {
	// CI95 reports 1.96·std/√n instead of the std as the spread.
	CI95 bool
}

// Stat is a mean and a spread over seeds.
type Stat struct {
	// Mean is the arithmetic mean.
	Mean float64 `json:"mean"`
	// Spread is the population std, or the 95% CI half-width (see the
	// group's Spread field).
	Spread float64 `json:"spread"`
	// N is the number of values.
	N int `json:"n"`
}

// TaskStat is a task's score over the seeds of a group.
type TaskStat struct {
	// Name is the task's name.
	Name string `json:"name"`
	// Metric is the task's metric as written by the runs.
	Metric string `json:"metric,omitempty"`
	Stat
}

// Group is the aggregate of the results of one (benchmark, method, shots)
// over seeds.
type Group struct {
	// Benchmark, Method and Shots identify the group.
	Benchmark string `json:"benchmark"`
	Method    string `json:"method"`
	Shots     int    `json:"shots"`
	// Run is the results' configuration name (Result.Run). When a
	// benchmark has results of one method with several configurations,
	// Method is "METHOD [RUN]" for each, so that every table keeps them
	// apart.
	Run string `json:"run,omitempty"`
	// Seeds lists the seeds, ascending.
	Seeds []int `json:"seeds"`
	// Spread is SpreadStd or SpreadCI95.
	Spread string `json:"spread_kind"`
	// Overall is the benchmark score over seeds.
	Overall Stat `json:"overall"`
	// Tasks holds each task's score over the seeds that report it, in
	// the order the tasks first appear.
	Tasks []TaskStat `json:"tasks,omitempty"`
	// Files lists the result files, in seed order.
	Files []string `json:"files,omitempty"`
}

// MeanStd returns the mean and the population standard deviation (ddof=0,
// numpy's np.std default) of xs; both are NaN when xs is empty.
func MeanStd(xs []float64) (mean, std float64) {
	if len(xs) == 0 {
		return math.NaN(), math.NaN()
	}
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	for _, x := range xs {
		d := x - mean
		std += d * d
	}
	return mean, math.Sqrt(std / float64(len(xs)))
}

func newStat(xs []float64, ci95 bool) Stat {
	m, s := MeanStd(xs)
	if ci95 {
		s = 1.96 * s / math.Sqrt(float64(len(xs)))
	}
	return Stat{Mean: m, Spread: s, N: len(xs)}
}

// Warning is a non-fatal inconsistency found by Aggregate.
type Warning struct {
	// Benchmark is the benchmark concerned.
	Benchmark string `json:"benchmark"`
	// Message describes the problem, naming groups and files.
	Message string `json:"message"`
}

// String returns the message.
func (w Warning) String() string { return w.Message }

type groupKey struct {
	benchmark, method, run string
	shots                  int
}

// Aggregate groups results by (benchmark, method, configuration, shots)
// and computes the mean and spread over seeds of the overall and per-task
// scores. A method with results of several configurations (Result.Run) on
// a benchmark is named "METHOD [RUN]" in each of its groups. Groups are
// ordered by benchmark, then method (see MethodLess), then shots.
//
// Two results with the same benchmark, method, configuration, shots and
// seed are an error naming both files. Warnings (returned, not fatal) flag results of a
// group with different task sets, a task with different metrics, and
// benchmarks whose groups have different seed counts (single-seed
// zero-shot groups excepted: zero-shot evaluation is deterministic) or
// task sets.
func Aggregate(results []Result, opt Options) ([]Group, []Warning, error) {
	type acc struct {
		rs []Result
	}
	groups := map[groupKey]*acc{}
	for _, r := range results {
		k := groupKey{r.Benchmark, r.Method, r.Run, r.Shots}
		a := groups[k]
		if a == nil {
			a = &acc{}
			groups[k] = a
		}
		for _, o := range a.rs {
			if o.Seed == r.Seed {
				return nil, nil, errors.Errorf("two results for %s/%s%s/%d-shot seed %d: %s and %s (remove one, or pass only one of the directories)",
					r.Benchmark, r.Method, runSuffix(r.Run), r.Shots, r.Seed, nameOf(o), nameOf(r))
			}
		}
		a.rs = append(a.rs, r)
	}
	keys := make([]groupKey, 0, len(groups))
	runs := map[[2]string]map[string]bool{}
	for k := range groups {
		keys = append(keys, k)
		bm := [2]string{k.benchmark, k.method}
		if runs[bm] == nil {
			runs[bm] = map[string]bool{}
		}
		runs[bm][k.run] = true
	}
	// A method run with several configurations gets one name per
	// configuration.
	label := func(k groupKey) string {
		if len(runs[[2]string{k.benchmark, k.method}]) > 1 {
			return k.method + runSuffix(k.run)
		}
		return k.method
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.benchmark != b.benchmark {
			return a.benchmark < b.benchmark
		}
		if la, lb := label(a), label(b); la != lb {
			return MethodLess(la, lb)
		}
		return a.shots < b.shots
	})
	spread := SpreadStd
	if opt.CI95 {
		spread = SpreadCI95
	}
	var warnings []Warning
	out := make([]Group, 0, len(keys))
	for _, k := range keys {
		rs := groups[k].rs
		sort.Slice(rs, func(i, j int) bool { return rs[i].Seed < rs[j].Seed })
		g := Group{Benchmark: k.benchmark, Method: label(k), Run: k.run, Shots: k.shots, Spread: spread}
		overall := make([]float64, len(rs))
		var taskOrder []string
		taskVals := map[string][]float64{}
		taskMetric := map[string]string{}
		for i, r := range rs {
			g.Seeds = append(g.Seeds, r.Seed)
			if r.Path != "" {
				g.Files = append(g.Files, r.Path)
			}
			overall[i] = r.Overall
			for _, t := range r.Tasks {
				if _, ok := taskVals[t.Name]; !ok {
					taskOrder = append(taskOrder, t.Name)
					taskMetric[t.Name] = t.Metric
				} else if taskMetric[t.Name] != t.Metric {
					warnings = append(warnings, Warning{k.benchmark, fmt.Sprintf("%s: task %s has metric %q in %s but %q in an earlier seed",
						groupName(g), t.Name, t.Metric, nameOf(r), taskMetric[t.Name])})
				}
				taskVals[t.Name] = append(taskVals[t.Name], t.Value)
			}
		}
		for i, r := range rs {
			if d := taskSetDiff(taskOrder, r.Tasks); d != "" {
				warnings = append(warnings, Warning{k.benchmark, fmt.Sprintf("%s: seed %d (%s) lacks tasks %s reported by other seeds", groupName(g), rs[i].Seed, nameOf(r), d)})
			}
		}
		g.Overall = newStat(overall, opt.CI95)
		for _, name := range taskOrder {
			g.Tasks = append(g.Tasks, TaskStat{Name: name, Metric: taskMetric[name], Stat: newStat(taskVals[name], opt.CI95)})
		}
		out = append(out, g)
	}
	warnings = append(warnings, benchmarkWarnings(out)...)
	return out, warnings, nil
}

// benchmarkWarnings flags benchmarks whose groups have different seed
// counts or task sets.
func benchmarkWarnings(groups []Group) []Warning {
	var w []Warning
	for _, b := range Benchmarks(groups) {
		counts := map[int][]Group{}
		sets := map[string][]Group{}
		for _, g := range groups {
			if g.Benchmark != b {
				continue
			}
			if g.Shots > 0 || g.Overall.N != 1 {
				// Single-seed zero-shot groups are the norm:
				// zero-shot evaluation is deterministic.
				counts[g.Overall.N] = append(counts[g.Overall.N], g)
			}
			names := make([]string, len(g.Tasks))
			for i, t := range g.Tasks {
				names[i] = t.Name
			}
			sort.Strings(names)
			key := strings.Join(names, ",")
			sets[key] = append(sets[key], g)
		}
		if len(counts) > 1 {
			ns := make([]int, 0, len(counts))
			for n := range counts {
				ns = append(ns, n)
			}
			sort.Ints(ns)
			parts := make([]string, len(ns))
			for i, n := range ns {
				parts[i] = fmt.Sprintf("%d seed(s): %s", n, describeGroups(counts[n]))
			}
			w = append(w, Warning{b, fmt.Sprintf("benchmark %s: groups have different seed counts (%s)", b, strings.Join(parts, "; "))})
		}
		if len(sets) > 1 {
			keys := make([]string, 0, len(sets))
			for k := range sets {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			parts := make([]string, len(keys))
			for i, k := range keys {
				label := k
				if label == "" {
					label = "no tasks"
				}
				parts[i] = fmt.Sprintf("[%s]: %s", label, describeGroups(sets[k]))
			}
			w = append(w, Warning{b, fmt.Sprintf("benchmark %s: groups have different task sets (%s)", b, strings.Join(parts, "; "))})
		}
	}
	return w
}

// describeGroups names groups compactly, per method in order of
// appearance: "CoOp-MT 1/2/16-shot, ZS-CLIP 0-shot".
func describeGroups(gs []Group) string {
	var methods []string
	shots := map[string][]int{}
	for _, g := range gs {
		if _, ok := shots[g.Method]; !ok {
			methods = append(methods, g.Method)
		}
		shots[g.Method] = append(shots[g.Method], g.Shots)
	}
	parts := make([]string, len(methods))
	for i, m := range methods {
		parts[i] = fmt.Sprintf("%s %s-shot", m, joinInts(shots[m], "/"))
	}
	return strings.Join(parts, ", ")
}

// taskSetDiff lists the names in all that tasks lacks, or "".
func taskSetDiff(all []string, tasks []TaskResult) string {
	have := make(map[string]bool, len(tasks))
	for _, t := range tasks {
		have[t.Name] = true
	}
	var miss []string
	for _, n := range all {
		if !have[n] {
			miss = append(miss, n)
		}
	}
	return strings.Join(miss, ", ")
}

// runSuffix is " [RUN]", or "" for results that name no configuration.
func runSuffix(run string) string {
	if run == "" {
		return ""
	}
	return " [" + run + "]"
}

func groupName(g Group) string {
	return fmt.Sprintf("%s/%s/%d-shot", g.Benchmark, g.Method, g.Shots)
}

func nameOf(r Result) string {
	if r.Path != "" {
		return r.Path
	}
	return fmt.Sprintf("(seed %d, no file)", r.Seed)
}

// Benchmarks returns the distinct benchmarks of groups, sorted.
func Benchmarks(groups []Group) []string {
	seen := map[string]bool{}
	var out []string
	for _, g := range groups {
		if !seen[g.Benchmark] {
			seen[g.Benchmark] = true
			out = append(out, g.Benchmark)
		}
	}
	sort.Strings(out)
	return out
}

// ShotAverage returns the mean, over StandardShots, of the overall means
// of benchmark's method, and whether all five settings are present.
func ShotAverage(groups []Group, benchmark, method string) (float64, bool) {
	sum, n := 0.0, 0
	for _, s := range StandardShots {
		for _, g := range groups {
			if g.Benchmark == benchmark && g.Method == method && g.Shots == s {
				sum += g.Overall.Mean
				n++
				break
			}
		}
	}
	if n != len(StandardShots) {
		return 0, false
	}
	return sum / float64(n), true
}

// PaperMethodOrder is the row order of the paper's tables; MethodLess
// puts these names first (compared case-insensitively), in this order.
var PaperMethodOrder = []string{
	"ZS-CLIP", "ProtoNet", "LP-CLIP", "CoOp-CA", "CoOp-CS", "CoOp-MT",
	"CoCoOp", "ProGrad", "KgCoOp", "PLOT", "SoftCPT*", "SoftCPT-NATS", "SoftCPT-NATA",
}

// methodAliases maps other spellings used by this project's driver to
// the paper's names, for ordering only.
var methodAliases = map[string]string{
	"zeroshot": "ZS-CLIP", "zero-shot": "ZS-CLIP", "zsclip": "ZS-CLIP",
	"linearprobe": "LP-CLIP", "linear-probe": "LP-CLIP", "lpclip": "LP-CLIP",
	"coop": "CoOp-CA", // per-task CoOp: one context per task
}

func paperRank(m string) int {
	if i := strings.Index(m, " ["); i > 0 {
		m = m[:i] // a configuration of the method ranks as the method
	}
	if a, ok := methodAliases[strings.ToLower(m)]; ok {
		m = a
	}
	for i, p := range PaperMethodOrder {
		if strings.EqualFold(p, m) {
			return i
		}
	}
	return len(PaperMethodOrder)
}

// MethodLess orders methods as the paper's tables do (PaperMethodOrder;
// the driver's "ZeroShot" and "LinearProbe" rank as ZS-CLIP and LP-CLIP),
// then any other methods alphabetically.
func MethodLess(a, b string) bool {
	ra, rb := paperRank(a), paperRank(b)
	if ra != rb {
		return ra < rb
	}
	return a < b
}
