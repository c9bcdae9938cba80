// Package cuda is the CUDA backend of softcpt-go: device memory, host <->
// device copies, streams and the PTX kernels of package cuda/kernels,
// driven through gorgonia.org/cu v0.9.6 (CUDA driver API, no cuBLAS).
//
// Everything that touches the driver is behind the cuda build tag. A build
// without the tag compiles only Available, which reports that CUDA support
// is missing, so CPU-only binaries never link libcuda. Building with
// -tags cuda needs cuda.h and libcuda.so (scripts/setup-cuda.sh fetches
// both into .cuda/ and prints the CGO_CFLAGS/CGO_LDFLAGS to use).
//
// Note gorgonia.org/cu's init: a binary built with -tags cuda calls
// cuInit when it starts and exits with status 1 on a machine without a
// GPU (status 127 without libcuda.so.1), so such binaries, test binaries
// included, run only on GPU hosts (scripts/gpu-check.sh).
//
// Design (tag cuda): a Device owns one goroutine locked to an OS thread on
// which the device's primary context is current; every driver call runs
// there (Device.Do). Device memory comes from a caching allocator (size
// classes, free lists, statistics: package cuda/internal/alloc). An Array
// is a contiguous float32 device array with a shape; ToDevice and
// Array.ToHost convert from and to *tensor.Tensor with synchronous copies
// (cgo forbids handing Go memory to asynchronous copies). Kernels run on
// the device's current stream (the default stream unless SetStream).
//
// Device.Backend (tag cuda) is the device as a backend.Backend: the model
// code written once against that interface runs on it, frozen.New(
// dev.Backend(), m) (package clip/frozen: CLIP's image and text towers)
// and step.New(dev.Backend(), l, m, tok, opt) (package softcpt/step: the
// prompt learners' training step). The same code runs on backend.Host,
// the Go references of the kernels, where its tests run without a GPU.
// The package imports nothing above tensor, kernels and backend.
package cuda
