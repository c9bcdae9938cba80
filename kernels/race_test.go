//go:build race

package kernels

// raceEnabled reports a -race build, in which sync.Pool drops items at
// random by design, so allocation counts are not meaningful.
const raceEnabled = true
