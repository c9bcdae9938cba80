package report

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/pkg/errors"
)

// ScanRoots reads the results under every root (ScanWarn), dropping the
// files reached through more than one root, and returns the messages of
// the JSON files skipped as not results. A root that does not exist is an
// error naming it.
func ScanRoots(ctx context.Context, roots []string) ([]Result, []string, error) {
	var results []Result
	var skipped []string
	seen := map[string]bool{}
	for _, root := range roots {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		if _, err := os.Stat(root); err != nil {
			return nil, nil, errors.Wrapf(err, "root %s", root)
		}
		rs, err := ScanWarn(root, func(msg string) { skipped = append(skipped, msg) })
		if err != nil {
			return nil, nil, err
		}
		for _, r := range rs {
			abs, err := filepath.Abs(r.Path)
			if err != nil {
				abs = r.Path
			}
			if seen[abs] {
				continue
			}
			seen[abs] = true
			results = append(results, r)
		}
	}
	return results, skipped, nil
}

// WriteSkipped writes to w a warning for the skipped files of ScanRoots:
// one line each when verbose, otherwise their count and the first.
func WriteSkipped(w io.Writer, skipped []string, verbose bool) {
	if len(skipped) == 0 {
		return
	}
	if verbose {
		for _, s := range skipped {
			fmt.Fprintln(w, "warning:", s)
		}
		return
	}
	fmt.Fprintf(w, "warning: %d JSON file(s) skipped as not results, e.g. %s (-v lists all)\n", len(skipped), skipped[0])
}

// DirName turns a benchmark name into a single path element: every byte
// other than a letter, digit, '-', '_' or '.' becomes '_', and "", "."
// and ".." get a leading '_'.
func DirName(benchmark string) string {
	b := []byte(benchmark)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
		if !ok {
			b[i] = '_'
		}
	}
	n := string(b)
	if n == "" || n == "." || n == ".." {
		n = "_" + n
	}
	return n
}

// SummaryDirs returns the folder of each benchmark's summary files under
// root, root/DirName(benchmark), or an error when two benchmarks would
// share one.
func SummaryDirs(root string, benchmarks []string) ([]string, error) {
	dirs := make([]string, len(benchmarks))
	seen := map[string]string{}
	for i, b := range benchmarks {
		sub := DirName(b)
		if prev, ok := seen[sub]; ok {
			return nil, errors.Errorf("report: benchmarks %q and %q would share the output directory %s", prev, b, filepath.Join(root, sub))
		}
		seen[sub] = b
		dirs[i] = filepath.Join(root, sub)
	}
	return dirs, nil
}

// Output says how Write renders the report of results.
type Output struct {
	// Options are those of Aggregate.
	Options
	// Dir, when not empty, also receives every benchmark's summary files
	// in Dir/DirName(benchmark) (WriteSummaryFiles).
	Dir string
	// TaskShots is the shot setting of the per-task tables (-1: none).
	TaskShots int
	// Format is the tables' number format.
	Format TableFormat
}

// Write aggregates the results and writes to w every benchmark's
// Markdown report (MarkdownReport), separated by blank lines, and with
// o.Dir its summary files; log gets the number of warnings (which close
// each benchmark's Markdown) and the files written. It stops between
// benchmarks when ctx is done.
func Write(ctx context.Context, w, log io.Writer, results []Result, o Output) error {
	groups, warnings, err := Aggregate(results, o.Options)
	if err != nil {
		return errors.Wrap(err, "report")
	}
	if len(warnings) > 0 {
		fmt.Fprintf(log, "report: %d warning(s), listed under the tables\n", len(warnings))
	}
	benchmarks := Benchmarks(groups)
	var dirs []string
	if o.Dir != "" {
		if dirs, err = SummaryDirs(o.Dir, benchmarks); err != nil {
			return err
		}
	}
	for i, b := range benchmarks {
		if err := ctx.Err(); err != nil {
			return err
		}
		if i > 0 {
			fmt.Fprintln(w)
		}
		if o.Dir == "" {
			fmt.Fprint(w, MarkdownReport(groups, warnings, b, o.TaskShots, o.Format))
			continue
		}
		md, err := WriteSummaryFiles(dirs[i], groups, warnings, b, o.TaskShots, o.Format)
		if err != nil {
			return errors.Wrap(err, "report")
		}
		fmt.Fprint(w, md)
		fmt.Fprintf(log, "report: wrote %s/{summary.json,summary.md,shots.png,shots.svg}\n", dirs[i])
	}
	return nil
}
