// Package cputime reads the process's CPU time for the bench commands,
// which print it beside wall-clock figures: on a machine shared with
// other jobs the CPU time of a run is far less disturbed than its
// wall-clock time.
package cputime

import (
	"math"
	"syscall"
	"time"
)

// Seconds returns the process's user + system CPU time in seconds (NaN
// if the system does not report it).
func Seconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return math.NaN()
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
