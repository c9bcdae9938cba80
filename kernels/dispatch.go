// Package kernels holds the numeric inner loops of the engine: an SGEMM, a
// bf16 GEMM for frozen weights (GemmBF16, Conv2dForwardBF16: AVX512-BF16,
// with an fp32 fallback elsewhere) and vectorised element-wise, softmax and
// layer-norm kernels.
//
// Every kernel has a readable pure-Go reference (the "generic" level). Fast
// paths written in Go assembly sit beside it and are chosen once at start-up
// from the CPU's features (github.com/klauspost/cpuid/v2). The environment
// variable SOFTCPT_CPU forces a level ("generic", "avx2" or "avx512"); the
// build tag purego removes all assembly.
package kernels

import (
	"fmt"
	"os"
	"strings"

	"github.com/klauspost/cpuid/v2"
)

// Level names a family of kernel implementations.
type Level int

const (
	// Generic is the pure-Go reference implementation, always available.
	Generic Level = iota
	// AVX2 uses 256-bit AVX2 and FMA3 instructions.
	AVX2
	// AVX512 uses 512-bit AVX-512F (with DQ, BW and VL) instructions.
	AVX512
)

// String returns the level's name as accepted by SOFTCPT_CPU.
func (l Level) String() string {
	switch l {
	case Generic:
		return "generic"
	case AVX2:
		return "avx2"
	case AVX512:
		return "avx512"
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

// EnvVar is the environment variable that forces a kernel level.
const EnvVar = "SOFTCPT_CPU"

// ParseLevel parses a level name as accepted by SOFTCPT_CPU.
func ParseLevel(s string) (Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "generic", "go", "purego":
		return Generic, nil
	case "avx2":
		return AVX2, nil
	case "avx512", "avx-512":
		return AVX512, nil
	}
	return Generic, fmt.Errorf("kernels: unknown %s level %q (want generic, avx2 or avx512)", EnvVar, s)
}

// Supported reports whether this binary and this CPU can run level l.
func Supported(l Level) bool {
	switch l {
	case Generic:
		return true
	case AVX2:
		return haveAsm && cpuid.CPU.Supports(cpuid.AVX, cpuid.AVX2, cpuid.FMA3)
	case AVX512:
		return haveAsm && cpuid.CPU.Supports(cpuid.AVX512F, cpuid.AVX512DQ, cpuid.AVX512BW, cpuid.AVX512VL, cpuid.FMA3)
	}
	return false
}

// Best returns the fastest level this binary and CPU support.
func Best() Level {
	for _, l := range []Level{AVX512, AVX2} {
		if Supported(l) {
			return l
		}
	}
	return Generic
}

// current is the level in use; set once at start-up by init and changed
// only by SetLevel (tests and benchmarks).
var current = initialLevel()

func initialLevel() Level {
	s := os.Getenv(EnvVar)
	if s == "" {
		return Best()
	}
	l, err := ParseLevel(s)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return Best()
	}
	if !Supported(l) {
		fmt.Fprintf(os.Stderr, "kernels: %s=%s is not supported on this CPU/build; using %s\n", EnvVar, s, Best())
		return Best()
	}
	return l
}

// Current returns the kernel level in use.
func Current() Level { return current }

// SetLevel switches the kernel level and returns the previous one. It is
// meant for tests and benchmarks that compare levels; it must not be called
// while kernels run on other goroutines. It returns an error if l is not
// supported.
func SetLevel(l Level) (Level, error) {
	if !Supported(l) {
		return current, fmt.Errorf("kernels: level %s not supported on this CPU/build", l)
	}
	prev := current
	current = l
	return prev, nil
}

// Levels returns every level this binary and CPU support, generic first.
func Levels() []Level {
	ls := []Level{Generic}
	for _, l := range []Level{AVX2, AVX512} {
		if Supported(l) {
			ls = append(ls, l)
		}
	}
	return ls
}
