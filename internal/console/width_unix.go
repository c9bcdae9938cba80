//go:build linux || darwin

package console

import (
	"os"

	"golang.org/x/sys/unix"
)

// termWidth returns the terminal's width in columns (80 when unknown).
func termWidth(f *os.File) int {
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil || ws.Col == 0 {
		return 80
	}
	return int(ws.Col)
}
