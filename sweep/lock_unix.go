//go:build unix

package sweep

import (
	"os"
	"syscall"

	"github.com/pkg/errors"
)

// lock takes an exclusive lock on path (flock), failing at once when
// another process holds it; unlock releases it.
func lock(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, errors.Wrap(err, "lock")
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if err == syscall.EWOULDBLOCK {
			return nil, errors.WithStack(&busyError{path})
		}
		return nil, errors.Wrapf(err, "lock %s", path)
	}
	return func() { f.Close() }, nil
}

// locked says whether another process holds the lock on path.
func locked(path string) bool {
	if _, err := os.Stat(path); err != nil {
		return false
	}
	unlock, err := lock(path)
	if err != nil {
		return true
	}
	unlock()
	return false
}
