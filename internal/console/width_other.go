//go:build !(linux || darwin)

package console

import "os"

// termWidth returns 80: the terminal's width is not asked for here.
func termWidth(*os.File) int { return 80 }
