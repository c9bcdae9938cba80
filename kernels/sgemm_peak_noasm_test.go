//go:build !amd64 || purego

package kernels

import "testing"

// BenchmarkFMAPeak needs the assembly FMA loops, absent from this build.
func BenchmarkFMAPeak(b *testing.B) {
	b.Skip("FMA peak loop needs amd64 assembly (built with purego or on another arch)")
}
