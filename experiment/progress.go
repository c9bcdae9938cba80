package experiment

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// isTerminal reports whether f is a character device (a terminal), using
// only the standard library.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progress draws a one-line progress bar with rate and ETA on a terminal
// and prints nothing otherwise (log lines carry the information there).
type progress struct {
	w       io.Writer
	label   string
	total   int
	start   time.Time
	last    time.Time
	enabled bool
}

func newProgress(label string, total int) *progress {
	return &progress{w: os.Stderr, label: label, total: total, start: time.Now(), enabled: isTerminal(os.Stderr)}
}

// set shows done of total with an extra note (e.g. the loss).
func (p *progress) set(done int, note string) {
	if !p.enabled || p.total <= 0 {
		return
	}
	now := time.Now()
	if done < p.total && now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	frac := float64(done) / float64(p.total)
	const width = 24
	bar := strings.Repeat("█", int(frac*width)) + strings.Repeat("·", width-int(frac*width))
	el := now.Sub(p.start).Seconds()
	rate, eta := 0.0, "?"
	if el > 0 && done > 0 {
		rate = float64(done) / el
		eta = (time.Duration(float64(p.total-done)/rate) * time.Second).Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "\r%s %s %d/%d %.1f/s ETA %s %s\x1b[K", p.label, bar, done, p.total, rate, eta, note)
	if done >= p.total {
		fmt.Fprintln(p.w)
	}
}

// done finishes the line.
func (p *progress) done() {
	if p.enabled {
		p.set(p.total, "")
	}
}

// Logf prints a timestamped log line to standard error.
func Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
