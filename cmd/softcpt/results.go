package main

import (
	"encoding/json"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/softcpt"
)

// result is the content of a run's results.json.
type result struct {
	Benchmark string      `json:"benchmark"`
	Method    string      `json:"method"`
	Shots     int         `json:"shots"`
	Seed      int         `json:"seed"`
	Overall   float64     `json:"overall"`
	Tasks     []taskScore `json:"tasks"`
	Config    any         `json:"config,omitempty"`
	Created   string      `json:"created"`
	Version   string      `json:"version"`
}

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

// writeResult writes DIR/results.json atomically.
func writeResult(dir, benchmark, method string, shots, seed int, overall float64, tasks []taskScore, config any) error {
	r := result{Benchmark: benchmark, Method: method, Shots: shots, Seed: seed, Overall: overall, Tasks: tasks,
		Config: config, Created: time.Now().UTC().Format(time.RFC3339), Version: version()}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return errors.Wrap(err, "encoding results")
	}
	return softcpt.WriteFileAtomic(filepath.Join(dir, "results.json"), b)
}
