//go:build unix

package kernels

import (
	"syscall"
	"time"
)

// processCPUTime returns the user plus system CPU time of this process so
// far (benchmarks report work per CPU-second, which other processes on a
// shared machine disturb far less than wall time).
func processCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
