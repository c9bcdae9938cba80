package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/internal/atomicfile"
)

// ResultFile is the name of the file every run writes into its directory.
const ResultFile = "results.json"

// OverallTolerance is the largest accepted difference, in percentage
// points, between a result's overall score and the unweighted mean of its
// task scores. It allows for task and overall values that were each
// rounded to two decimals.
const OverallTolerance = 0.015

// TaskResult is one task's score in a result.
type TaskResult struct {
	// Name is the task's name, e.g. "caltech101".
	Name string `json:"name"`
	// Metric names the per-task metric: "accuracy" or "mean_per_class".
	Metric string `json:"metric,omitempty"`
	// Value is the score in percent.
	Value float64 `json:"value"`
}

// Result is the content of one run's results.json.
type Result struct {
	// Benchmark is the benchmark's name, e.g. "general10".
	Benchmark string `json:"benchmark"`
	// Method is the method's name as it should appear in tables, e.g.
	// "SoftCPT-NATA" or "ZS-CLIP".
	Method string `json:"method"`
	// Run names the configuration of the run (experiment.RunConfig.Name,
	// e.g. "nctx4_ep10_bs32_lr0.002-1a2b3c4d"); results of one method
	// with different configurations are aggregated separately. Empty for
	// results that do not say.
	Run string `json:"run,omitempty"`
	// Shots is the number of training images per class; 0 is zero-shot
	// and AllShots (-1) all the training data.
	Shots int `json:"shots"`
	// Seed is the run's random seed.
	Seed int `json:"seed"`
	// Overall is the benchmark score in percent: the unweighted mean of
	// the task scores.
	Overall float64 `json:"overall"`
	// Tasks holds the per-task scores, in the benchmark's task order.
	Tasks []TaskResult `json:"tasks,omitempty"`
	// Config is the run's resolved configuration, free-form.
	Config json.RawMessage `json:"config,omitempty"`
	// Created is when the result was written.
	Created time.Time `json:"created,omitzero"`
	// Version identifies the program that wrote the result.
	Version string `json:"version,omitempty"`

	// Path is the file the result was read from; it is not serialized.
	Path string `json:"-"`
}

// AllShots in Result.Shots marks a run on all the training data
// (Dassl's NUM_SHOTS 0; data.AllShots): tables show it in an "all"
// column of its own, after the few-shot columns, and plots as a dotted
// horizontal line.
const AllShots = -1

// requiredKeys are the keys a results.json must contain.
var requiredKeys = []string{"benchmark", "method", "shots", "seed", "overall"}

// Validate reports the first inconsistency in r: missing names, negative
// shots, scores outside [0, 100] or not finite, empty or repeated task
// names, or an overall score that is not the mean of the task scores.
func (r *Result) Validate() error {
	if strings.TrimSpace(r.Benchmark) == "" {
		return errors.New("benchmark is empty")
	}
	if strings.TrimSpace(r.Method) == "" {
		return errors.New("method is empty")
	}
	if r.Shots < 0 && r.Shots != AllShots {
		return errors.Errorf("shots is %d, want >= 0 (or %d: all the training data)", r.Shots, AllShots)
	}
	if err := checkScore(r.Overall); err != nil {
		return errors.Wrap(err, "overall")
	}
	if len(r.Tasks) == 0 {
		return nil
	}
	seen := make(map[string]bool, len(r.Tasks))
	sum := 0.0
	for i, t := range r.Tasks {
		if strings.TrimSpace(t.Name) == "" {
			return errors.Errorf("tasks[%d]: name is empty", i)
		}
		if seen[t.Name] {
			return errors.Errorf("tasks[%d]: task %q appears twice", i, t.Name)
		}
		seen[t.Name] = true
		if err := checkScore(t.Value); err != nil {
			return errors.Wrapf(err, "tasks[%d] (%s)", i, t.Name)
		}
		sum += t.Value
	}
	if mean := sum / float64(len(r.Tasks)); math.Abs(mean-r.Overall) > OverallTolerance {
		return errors.Errorf("overall %.4f is not the mean of the %d task scores (%.4f)", r.Overall, len(r.Tasks), mean)
	}
	return nil
}

func checkScore(v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return errors.Errorf("score %v is not finite", v)
	}
	if v < 0 || v > 100 {
		return errors.Errorf("score %v is outside [0, 100] (scores are percentages)", v)
	}
	return nil
}

// WriteResult validates r and writes it as dir/results.json, creating dir
// if needed. The file is written to a temporary file in dir and renamed,
// so readers never see a partial file. A zero Created is set to the
// current time.
func WriteResult(dir string, r Result) error {
	if err := r.Validate(); err != nil {
		return errors.Wrapf(err, "result for %s", filepath.Join(dir, ResultFile))
	}
	if r.Created.IsZero() {
		r.Created = time.Now().UTC().Truncate(time.Second)
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return errors.Wrapf(err, "encoding result for %s", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return errors.Wrapf(err, "creating result directory %s", dir)
	}
	return atomicfile.Write(filepath.Join(dir, ResultFile), append(b, '\n'))
}

// ReadResult reads and validates one results.json. Errors name the file.
func ReadResult(path string) (Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Result{}, errors.Wrapf(err, "reading result %s", path)
	}
	r, err := parseResult(b)
	if err != nil {
		return Result{}, errors.Wrapf(err, "result %s", path)
	}
	r.Path = path
	return r, nil
}

func parseResult(b []byte) (Result, error) {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		return Result{}, errors.Wrap(err, "not a JSON object")
	}
	for _, k := range requiredKeys {
		if v, ok := keys[k]; !ok || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			return Result{}, errors.Errorf("missing key %q", k)
		}
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return Result{}, errors.Wrap(err, "decoding")
	}
	if err := r.Validate(); err != nil {
		return Result{}, err
	}
	return r, nil
}

// looksLikeResult reports whether b is a JSON object with every required
// result key.
func looksLikeResult(b []byte) bool {
	var keys map[string]json.RawMessage
	if json.Unmarshal(b, &keys) != nil {
		return false
	}
	for _, k := range requiredKeys {
		if _, ok := keys[k]; !ok {
			return false
		}
	}
	return true
}

// Scan is ScanWarn with warnings printed to standard error.
func Scan(root string) ([]Result, error) {
	return ScanWarn(root, func(msg string) { fmt.Fprintln(os.Stderr, "warning:", msg) })
}

// knownNonResults are JSON files the project writes next to results.
var knownNonResults = map[string]bool{"checkpoint.json": true, "state.json": true, "summary.json": true, "run.json": true}

// ScanWarn walks root recursively (root may also be a single file) and
// reads every result in it, in lexical path order:
//   - every file named results.json must be a valid result; the first
//     that is not stops the scan with an error naming the file;
//   - any other *.json file that has all the required result keys
//     (benchmark, method, shots, seed, overall) is read the same way, so
//     results copied under other names are found;
//   - the project's own non-result files (training checkpoint.json,
//     run configuration run.json, pretraining state.json, report
//     summary.json) are skipped silently;
//   - any other *.json file (configs, features) is skipped, and warn, if
//     not nil, is called with a message naming it.
//
// Symbolic links to directories are not followed.
func ScanWarn(root string, warn func(msg string)) ([]Result, error) {
	if warn == nil {
		warn = func(string) {}
	}
	var out []Result
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return errors.Wrapf(err, "scanning %s", path)
		}
		if d.IsDir() || !strings.EqualFold(filepath.Ext(path), ".json") {
			return nil
		}
		if knownNonResults[d.Name()] {
			return nil
		}
		if d.Name() == ResultFile {
			r, err := ReadResult(path)
			if err != nil {
				return err
			}
			out = append(out, r)
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return errors.Wrapf(err, "reading %s", path)
		}
		if !looksLikeResult(b) {
			warn(fmt.Sprintf("%s: not a result (no benchmark/method/shots/seed/overall keys), skipped", path))
			return nil
		}
		r, err := parseResult(b)
		if err != nil {
			return errors.Wrapf(err, "result %s", path)
		}
		r.Path = path
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
