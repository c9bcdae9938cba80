package main

import (
	"encoding/json"
	"runtime/debug"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/report"
)

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
		return bi.Main.Version
	}
	return "unknown"
}

// writeResult writes DIR/results.json (report.Result, atomically); the
// task sizes go into the config beside the run's settings.
func writeResult(dir, benchmark, method string, shots, seed int, overall float64, tasks []taskScore, config map[string]any) error {
	r := report.Result{Benchmark: benchmark, Method: method, Shots: shots, Seed: seed, Overall: overall, Version: version()}
	sizes := map[string]int{}
	for _, t := range tasks {
		r.Tasks = append(r.Tasks, report.TaskResult{Name: t.Name, Metric: t.Metric, Value: t.Value})
		sizes[t.Name] = t.N
	}
	if config == nil {
		config = map[string]any{}
	}
	config["test_images"] = sizes
	b, err := json.Marshal(config)
	if err != nil {
		return errors.Wrap(err, "encoding the run's configuration")
	}
	r.Config = b
	return report.WriteResult(dir, r)
}
