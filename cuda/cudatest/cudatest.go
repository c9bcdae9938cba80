//go:build cuda

package cudatest

import (
	"sync"
	"testing"

	"github.com/softcpt/softcpt-go/cuda"
)

var (
	once sync.Once
	dev  *cuda.Device
	err  error
)

// Device returns GPU 0, opened on the first call and left open until the
// test binary exits; it fails tb when no device can be opened.
func Device(tb testing.TB) *cuda.Device {
	tb.Helper()
	once.Do(func() {
		if err = cuda.Available(); err == nil {
			dev, err = cuda.Open(0)
		}
	})
	if err != nil {
		tb.Fatalf("cuda: %v", err)
	}
	return dev
}
