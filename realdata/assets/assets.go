// Package assets embeds the shipped real-image few-shot benchmark
// (benchmark.bin, written by cmd/builddata) in every binary that imports it,
// so that it needs no file at run time; package shipped opens it. The
// pretraining pairs (pairs.bin) are not embedded: only pretraining reads
// them, from a path.
package assets

import _ "embed" // for go:embed

//go:embed benchmark.bin
var benchmark string

// Benchmark returns the bytes of benchmark.bin (shared and immutable; read
// them with strings.NewReader).
func Benchmark() string { return benchmark }
