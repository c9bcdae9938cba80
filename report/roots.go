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
