// Package cmdline builds command lines for a POSIX shell: quoting, and
// the words that call the running program again (a binary found on PATH,
// a path, or 'go run' of its package).
package cmdline

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// plain matches the words a POSIX shell reads as they are.
var plain = regexp.MustCompile(`^[A-Za-z0-9_./:=@%+,-]+$`)

// Quote returns w as one word for a POSIX shell: unchanged when it needs
// no quoting, otherwise in single quotes (an empty word becomes two single quotes).
func Quote(w string) string {
	if plain.MatchString(w) {
		return w
	}
	return "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
}

// Join quotes each word (Quote) and joins them with blanks.
func Join(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = Quote(w)
	}
	return strings.Join(q, " ")
}

// IsGoRun reports whether path is a binary that 'go run' built in its
// temporary folder (gone when it exits).
func IsGoRun(path string) bool {
	return strings.Contains(path, string(filepath.Separator)+"go-build")
}

// Program returns the words that call the program started as arg0
// again: "go run PKG" for a 'go run' binary, its base name when that is
// what PATH finds, otherwise arg0 as given.
func Program(arg0, pkg string) []string {
	if IsGoRun(arg0) {
		return []string{"go", "run", pkg}
	}
	base := filepath.Base(arg0)
	if p, err := exec.LookPath(base); err == nil && base != arg0 {
		if a, err1 := os.Stat(p); err1 == nil {
			if b, err2 := os.Stat(arg0); err2 == nil && os.SameFile(a, b) {
				return []string{base}
			}
		}
	}
	return []string{arg0}
}

// HasFlag reports whether args set the flag name (-name, --name,
// --name=...) before the first non-flag argument or "--".
func HasFlag(args []string, name string) bool {
	for _, a := range args {
		if a == "--" || !strings.HasPrefix(a, "-") {
			return false
		}
		a = strings.TrimLeft(a, "-")
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

// Again returns the shell command line that runs argv (program,
// subcommand, arguments) again, the program called as Program(argv[0],
// pkg). A non-empty flag is added as --flag after the subcommand unless
// the arguments set it already (HasFlag).
func Again(argv []string, pkg, flag string) string {
	words := Program(argv[0], pkg)
	if len(argv) > 1 {
		words = append(words, argv[1])
		if flag != "" && !HasFlag(argv[2:], flag) {
			words = append(words, "--"+flag)
		}
		words = append(words, argv[2:]...)
	}
	return Join(words)
}
