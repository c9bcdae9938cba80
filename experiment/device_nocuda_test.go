//go:build !cuda

package experiment

import (
	"strings"
	"testing"
)

// TestDeviceCUDAWithoutTag checks that --device cuda in a binary built
// without the cuda tag fails with an error that says how to build one.
func TestDeviceCUDAWithoutTag(t *testing.T) {
	m := loadFixtureModel(t)
	if _, err := Open("cuda", m); err == nil || !strings.Contains(err.Error(), "built without CUDA support; build with -tags cuda") {
		t.Errorf("Open(cuda): error %v", err)
	}
}
