package report

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pkg/errors"
)

// TableFormat controls how tables are rendered.
type TableFormat struct {
	// Digits is the number of decimals of every number; 0 means 2.
	Digits int
}

func (f TableFormat) digits() int {
	if f.Digits <= 0 {
		return 2
	}
	return f.Digits
}

// dash marks a missing cell, as in the paper's tables.
const dash = "–"

// Table renders, for every benchmark in groups (sorted by name), a
// Markdown section with a heading, a caption and a table shaped like the
// paper's: rows = methods (MethodLess order), columns = "0" (only when some
// method has zero-shot results), 1, 2, 4, 8, 16 and any other few-shot
// settings present, then "Avg.". See the package documentation for the
// cell format and the Avg. rule.
func Table(groups []Group, f TableFormat) string {
	var sb strings.Builder
	for i, b := range Benchmarks(groups) {
		if i > 0 {
			sb.WriteString("\n")
		}
		sb.WriteString(BenchmarkTable(groups, b, f))
	}
	return sb.String()
}

// BenchmarkTable renders Table's section for one benchmark; it is empty
// when groups has nothing for the benchmark.
func BenchmarkTable(groups []Group, benchmark string, f TableFormat) string {
	gs := ofBenchmark(groups, benchmark)
	if len(gs) == 0 {
		return ""
	}
	d := f.digits()
	zero, all := false, false
	shotSet := map[int]bool{}
	for _, s := range StandardShots {
		shotSet[s] = true
	}
	for _, g := range gs {
		switch g.Shots {
		case 0:
			zero = true
		case AllShots:
			all = true
		default:
			shotSet[g.Shots] = true
		}
	}
	shots := make([]int, 0, len(shotSet))
	for s := range shotSet {
		shots = append(shots, s)
	}
	sort.Ints(shots)
	if zero {
		shots = append([]int{0}, shots...)
	}
	if all {
		shots = append(shots, AllShots)
	}
	n := typicalN(gs)

	var sb strings.Builder
	fmt.Fprintf(&sb, "### %s: overall score (%%), %s over seeds\n\n", benchmark, spreadLabel(gs))
	fmt.Fprintf(&sb, "%s Avg. is the mean of the %s-shot means, shown when all are present.", seedCaption(n), joinInts(StandardShots, "/"))
	if zero {
		sb.WriteString(" Column 0 is zero-shot.")
	}
	if all {
		sb.WriteString(" Column all is training on all the training data.")
	}
	sb.WriteString("\n\n| Method |")
	for _, s := range shots {
		fmt.Fprintf(&sb, " %s |", shotsLabel(s))
	}
	sb.WriteString(" Avg. |\n|---|")
	for range shots {
		sb.WriteString("---:|")
	}
	sb.WriteString("---:|\n")
	for _, m := range methodsOf(gs) {
		fmt.Fprintf(&sb, "| %s |", escapeCell(m))
		for _, s := range shots {
			cell := dash
			if g, ok := findGroup(gs, m, s); ok {
				cell = formatStat(g.Overall, d, expectedN(g, n))
			}
			fmt.Fprintf(&sb, " %s |", cell)
		}
		avg := dash
		if v, ok := ShotAverage(gs, benchmark, m); ok {
			avg = fmt.Sprintf("%.*f", d, v)
		}
		fmt.Fprintf(&sb, " %s |\n", avg)
	}
	return sb.String()
}

// TaskTable renders a Markdown section with benchmark's per-task scores at
// the given shot setting: rows = tasks (in the order they first appear),
// then an "Overall" row; columns = "Task", "Metric", then one per method
// with results at that setting and, when shots > 0, one per zero-shot
// method (headed "NAME (0-shot)"). It fails when no method has results
// for benchmark at shots.
func TaskTable(groups []Group, benchmark string, shots int, f TableFormat) (string, error) {
	var cols []Group
	var zs []Group
	for _, g := range ofBenchmark(groups, benchmark) {
		switch {
		case g.Shots == shots:
			cols = append(cols, g)
		case g.Shots == 0:
			zs = append(zs, g)
		}
	}
	if len(cols) == 0 {
		return "", errors.Errorf("no %d-shot results for benchmark %s", shots, benchmark)
	}
	all := append(append([]Group(nil), cols...), zs...)
	d := f.digits()
	n := typicalN(all)

	var taskOrder []string
	metric := map[string]string{}
	for _, g := range all {
		for _, t := range g.Tasks {
			if _, ok := metric[t.Name]; !ok {
				taskOrder = append(taskOrder, t.Name)
				metric[t.Name] = t.Metric
			}
		}
	}

	var sb strings.Builder
	setting := fmt.Sprintf("%d shots", shots)
	if shots == 0 {
		setting = "zero-shot"
	}
	fmt.Fprintf(&sb, "### %s: per-task scores (%%), %s, %s over seeds\n\n%s\n\n| Task | Metric |", benchmark, setting, spreadLabel(all), seedCaption(n))
	for _, g := range cols {
		fmt.Fprintf(&sb, " %s |", escapeCell(g.Method))
	}
	for _, g := range zs {
		fmt.Fprintf(&sb, " %s (0-shot) |", escapeCell(g.Method))
	}
	sb.WriteString("\n|---|---|")
	for range all {
		sb.WriteString("---:|")
	}
	sb.WriteString("\n")
	for _, name := range taskOrder {
		m := metric[name]
		if m == "" {
			m = dash
		}
		fmt.Fprintf(&sb, "| %s | %s |", escapeCell(name), escapeCell(m))
		for _, g := range all {
			cell := dash
			for _, t := range g.Tasks {
				if t.Name == name {
					cell = formatStat(t.Stat, d, expectedN(g, n))
					break
				}
			}
			fmt.Fprintf(&sb, " %s |", cell)
		}
		sb.WriteString("\n")
	}
	fmt.Fprintf(&sb, "| Overall | mean of tasks |")
	for _, g := range all {
		fmt.Fprintf(&sb, " %s |", formatStat(g.Overall, d, expectedN(g, n)))
	}
	sb.WriteString("\n")
	return sb.String(), nil
}

// formatStat renders "mean±spread", only "mean" for a single seed, and
// appends " (n=K)" when the seed count differs from the table's usual n.
func formatStat(s Stat, digits, n int) string {
	var c string
	if s.N <= 1 {
		c = fmt.Sprintf("%.*f", digits, s.Mean)
	} else {
		c = fmt.Sprintf("%.*f±%.*f", digits, s.Mean, digits, s.Spread)
	}
	if s.N != n {
		c += fmt.Sprintf(" (n=%d)", s.N)
	}
	return c
}

// expectedN is the seed count a cell of g is compared with: n, except
// that a single-seed zero-shot group is never marked (zero-shot
// evaluation is deterministic, so one seed is the norm).
func expectedN(g Group, n int) int {
	if g.Shots == 0 && g.Overall.N == 1 {
		return 1
	}
	return n
}

// typicalN is the most common overall seed count of the few-shot groups
// of gs (of all groups when none is few-shot), the larger on a tie.
func typicalN(gs []Group) int {
	count := map[int]int{}
	best, bestC := 0, 0
	for _, g := range gs {
		if g.Shots > 0 {
			count[g.Overall.N]++
		}
	}
	if len(count) == 0 {
		for _, g := range gs {
			count[g.Overall.N]++
		}
	}
	for n, c := range count {
		if c > bestC || (c == bestC && n > best) {
			best, bestC = n, c
		}
	}
	return best
}

func seedCaption(n int) string {
	if n == 1 {
		return "1 seed per cell (cells marked (n=K) differ)."
	}
	return fmt.Sprintf("%d seeds per cell (cells marked (n=K) differ).", n)
}

func spreadLabel(gs []Group) string {
	for _, g := range gs {
		if g.Spread == SpreadCI95 {
			return "mean±95% CI (1.96·std/√n)"
		}
	}
	return "mean±std (population, ddof=0)"
}

func ofBenchmark(groups []Group, benchmark string) []Group {
	var out []Group
	for _, g := range groups {
		if g.Benchmark == benchmark {
			out = append(out, g)
		}
	}
	return out
}

// methodsOf returns the distinct methods of gs in MethodLess order.
func methodsOf(gs []Group) []string {
	seen := map[string]bool{}
	var out []string
	for _, g := range gs {
		if !seen[g.Method] {
			seen[g.Method] = true
			out = append(out, g.Method)
		}
	}
	sort.Slice(out, func(i, j int) bool { return MethodLess(out[i], out[j]) })
	return out
}

func findGroup(gs []Group, method string, shots int) (Group, bool) {
	for _, g := range gs {
		if g.Method == method && g.Shots == shots {
			return g, true
		}
	}
	return Group{}, false
}

// escapeCell makes s safe inside a Markdown table cell.
func escapeCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

// shotsLabel names a shot setting in table headers: "all" for
// AllShots, else the number.
func shotsLabel(k int) string {
	if k == AllShots {
		return "all"
	}
	return fmt.Sprint(k)
}

func joinInts(xs []int, sep string) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprint(x)
	}
	return strings.Join(parts, sep)
}
