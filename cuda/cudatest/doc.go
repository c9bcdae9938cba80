// Package cudatest opens the GPU for the device tests (build tag cuda) of
// the packages whose code runs on a backend.Backend (clip/frozen,
// softcpt/step): Device returns device 0, opened once per test binary.
// Without the cuda tag the package is empty.
package cudatest
