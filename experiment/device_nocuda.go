//go:build !cuda

package experiment

import (
	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/clip"
)

// errNoCUDA is the error of --device cuda in a binary built without the
// cuda tag.
var errNoCUDA = errors.New("this binary was built without CUDA support; build with -tags cuda (see scripts/setup-cuda.sh)")

// openCUDA fails: this binary has no CUDA backend.
func openCUDA(int, *clip.Model) (Backend, error) { return nil, errNoCUDA }
