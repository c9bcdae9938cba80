//go:build !unix

package checkpoint_test

import "time"

// processTimes is not measured on this platform; the load benchmark then
// omits its CPU-time metrics.
func processTimes() (user, sys time.Duration) { return 0, 0 }
