//go:build !cuda

package cuda

import (
	"errors"
	"testing"
)

func TestAvailableWithoutTag(t *testing.T) {
	if err := Available(); !errors.Is(err, ErrNoCUDA) {
		t.Fatalf("Available() = %v, want ErrNoCUDA", err)
	}
}
