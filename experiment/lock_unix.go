//go:build unix

package experiment

import (
	"os"
	"syscall"

	"github.com/pkg/errors"
)

// lockFile takes an exclusive lock on path (created if absent), waiting
// for another process that holds it; the returned function releases it.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, errors.Wrap(err, "feature cache lock")
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, errors.Wrapf(err, "feature cache lock %s", path)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
