//go:build !cuda

package cuda

import "errors"

// ErrNoCUDA is returned by Available in builds without the cuda tag.
var ErrNoCUDA = errors.New("cuda: built without CUDA support (rebuild with -tags cuda; see scripts/setup-cuda.sh)")

// Available reports whether a CUDA device can be used. Without the cuda
// build tag it always returns ErrNoCUDA.
func Available() error { return ErrNoCUDA }
