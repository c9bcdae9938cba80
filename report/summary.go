package report

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/internal/atomicfile"
)

// Summary is the content of a benchmark's summary.json.
type Summary struct {
	// Benchmark is the benchmark's name.
	Benchmark string `json:"benchmark"`
	// Spread is SpreadStd or SpreadCI95: what every Stat.Spread holds.
	Spread string `json:"spread_kind"`
	// Groups holds the aggregates, in table order.
	Groups []Group `json:"groups"`
	// Avg maps each method with all StandardShots settings to the mean of
	// their overall means (the tables' "Avg." column).
	Avg map[string]float64 `json:"avg"`
	// Warnings are Aggregate's warnings about this benchmark.
	Warnings []string `json:"warnings,omitempty"`
}

// Summarize collects benchmark's groups, Avg. values and warnings.
func Summarize(groups []Group, warnings []Warning, benchmark string) Summary {
	s := Summary{Benchmark: benchmark, Spread: SpreadStd, Groups: ofBenchmark(groups, benchmark), Avg: map[string]float64{}}
	for _, g := range s.Groups {
		s.Spread = g.Spread
		if v, ok := ShotAverage(groups, benchmark, g.Method); ok {
			s.Avg[g.Method] = v
		}
	}
	for _, w := range warnings {
		if w.Benchmark == benchmark {
			s.Warnings = append(s.Warnings, w.Message)
		}
	}
	return s
}

// WriteSummaryFiles writes into dir (created if needed) summary.json,
// summary.md (BenchmarkTable, then TaskTable at taskShots unless
// taskShots < 0 or there are no results at that setting), shots.png and
// shots.svg for one benchmark. It returns the Markdown it wrote.
func WriteSummaryFiles(dir string, groups []Group, warnings []Warning, benchmark string, taskShots int, f TableFormat) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", errors.Wrapf(err, "creating output directory %s", dir)
	}
	s := Summarize(groups, warnings, benchmark)
	if len(s.Groups) == 0 {
		return "", errors.Errorf("no results for benchmark %s", benchmark)
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return "", errors.Wrapf(err, "encoding summary of %s", benchmark)
	}
	if err := atomicfile.Write(filepath.Join(dir, "summary.json"), append(b, '\n')); err != nil {
		return "", err
	}
	md := MarkdownReport(groups, warnings, benchmark, taskShots, f)
	if err := atomicfile.Write(filepath.Join(dir, "summary.md"), []byte(md)); err != nil {
		return "", err
	}
	for _, name := range []string{"shots.png", "shots.svg"} {
		if err := PlotShots(groups, benchmark, filepath.Join(dir, name)); err != nil {
			return "", err
		}
	}
	return md, nil
}

// MarkdownReport is the Markdown for one benchmark: BenchmarkTable, the
// TaskTable at taskShots (unless taskShots < 0 or there are no results at
// that setting, which is noted instead), and the warnings as a list.
func MarkdownReport(groups []Group, warnings []Warning, benchmark string, taskShots int, f TableFormat) string {
	var sb strings.Builder
	sb.WriteString(BenchmarkTable(groups, benchmark, f))
	if taskShots >= 0 {
		sb.WriteString("\n")
		t, err := TaskTable(groups, benchmark, taskShots, f)
		if err != nil {
			sb.WriteString("(" + err.Error() + ": no per-task table)\n")
		} else {
			sb.WriteString(t)
		}
	}
	first := true
	for _, w := range warnings {
		if w.Benchmark != benchmark {
			continue
		}
		if first {
			sb.WriteString("\nWarnings:\n\n")
			first = false
		}
		sb.WriteString("- " + strings.ReplaceAll(w.Message, "\n", " ") + "\n")
	}
	return sb.String()
}
