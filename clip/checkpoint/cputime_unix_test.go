//go:build unix

package checkpoint_test

import (
	"syscall"
	"time"
)

// processTimes returns the user and system CPU time of this process so
// far (the load benchmark reports both: on a shared machine they are
// disturbed far less than wall time, and system time is where touching
// fresh memory goes).
func processTimes() (user, sys time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}
