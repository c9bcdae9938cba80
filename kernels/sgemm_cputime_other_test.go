//go:build !unix

package kernels

import "time"

// processCPUTime is not measured on this platform; benchmarks then omit
// their per-CPU-second metric.
func processCPUTime() time.Duration { return 0 }
