// Package console is where the log lines and progress bars of a run go, as
// tqdm and Dassl's logs show them: every log line is timestamped
// (15:04:05), and progress is shown the way the output stream can show it.
//
// On a terminal, the active progress bar is one line redrawn in place (a
// carriage return and an erase-line sequence, at most ten times a second);
// a log line first erases the bar's line, is printed on its own line, and
// the bar is redrawn below it, so log lines and the bar never share a line.
// Without a terminal (a file, a pipe, CI), no carriage return is written:
// while bars are active, a plain timestamped progress line is printed every
// interval (DefaultInterval, 10 s), even when no progress is reported in
// between, so a phase shorter than the interval prints nothing and a long
// one is never silent for longer.
//
// Bars nest: a bar started while another is active (image encoding inside a
// linear probe) is the one drawn on a terminal until it is done, then the
// outer one is drawn again; a plain progress line shows every active bar,
// outermost first. A Console is safe for concurrent use.
package console

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// DefaultInterval is how often a bar prints a plain progress line when the
// output is not a terminal.
const DefaultInterval = 10 * time.Second

// TimeFormat is the timestamp format of log lines.
const TimeFormat = "15:04:05"

// Console writes log lines and progress bars to one stream.
type Console struct {
	mu       sync.Mutex
	w        io.Writer
	terminal bool
	interval time.Duration
	width    func() int
	bars     []*Bar // active bars, innermost last
	tick     *ticker
	drawn    bool // a bar's line is on the screen (terminal)
}

// New returns a console writing to w; terminal says whether w is a
// terminal (IsTerminal).
func New(w io.Writer, terminal bool) *Console {
	c := &Console{w: w, terminal: terminal, interval: DefaultInterval, width: func() int { return 80 }}
	if f, ok := w.(*os.File); ok && terminal {
		c.width = func() int { return termWidth(f) }
	}
	return c
}

var (
	stderrOnce sync.Once
	stderr     *Console
)

// Stderr returns the process's console on standard error.
func Stderr() *Console {
	stderrOnce.Do(func() { stderr = New(os.Stderr, IsTerminal(os.Stderr)) })
	return stderr
}

// For returns the console of w: Stderr() for os.Stderr, otherwise a new
// console on w.
func For(w io.Writer) *Console {
	if w == io.Writer(os.Stderr) {
		return Stderr()
	}
	return New(w, IsTerminal(w))
}

// Logf prints a timestamped log line on the process's console (Stderr).
func Logf(format string, args ...any) { Stderr().Logf(format, args...) }

// IsTerminal reports whether w is a terminal: a character device other
// than /dev/null, with TERM not "dumb". It needs no dependency beyond the
// standard library.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || f == nil || os.Getenv("TERM") == "dumb" {
		return false
	}
	st, err := f.Stat()
	if err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	if null, err := os.Stat(os.DevNull); err == nil && os.SameFile(st, null) {
		return false
	}
	return true
}

// Terminal reports whether the console draws bars in place.
func (c *Console) Terminal() bool { return c.terminal }

// SetInterval sets how often a plain progress line is printed while bars
// are active without a terminal (DefaultInterval by default).
func (c *Console) SetInterval(d time.Duration) {
	c.mu.Lock()
	c.interval = d
	c.mu.Unlock()
}

// Logf prints a timestamped log line ("15:04:05 message"); on a terminal it
// erases the bar's line first and redraws the bar after it.
func (c *Console) Logf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clearLocked()
	for _, line := range strings.Split(strings.TrimRight(msg, "\n"), "\n") {
		fmt.Fprintf(c.w, "%s %s\n", time.Now().Format(TimeFormat), line)
	}
	c.redrawLocked()
}

// Writer returns a writer whose lines are printed as they are (no
// timestamp added) on their own lines, the bar erased first and redrawn
// after, for output that does not come through Logf (a report, another
// library's logger).
func (c *Console) Writer() io.Writer { return lineWriter{c} }

type lineWriter struct{ c *Console }

func (l lineWriter) Write(p []byte) (int, error) {
	c := l.c
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clearLocked()
	n, err := c.w.Write(p)
	if err == nil && len(p) > 0 && p[len(p)-1] != '\n' {
		_, err = io.WriteString(c.w, "\n")
	}
	c.redrawLocked()
	return n, err
}

// clearLocked erases the drawn bar's line.
func (c *Console) clearLocked() {
	if c.drawn {
		io.WriteString(c.w, "\r\x1b[K")
		c.drawn = false
	}
}

// redrawLocked draws the innermost bar on a terminal.
func (c *Console) redrawLocked() {
	if !c.terminal || len(c.bars) == 0 {
		return
	}
	b := c.bars[len(c.bars)-1]
	line := truncate(b.lineLocked(time.Now()), c.width()-1)
	io.WriteString(c.w, "\r"+line+"\x1b[K")
	c.drawn = true
}

// truncate cuts s to at most n runes.
func truncate(s string, n int) string {
	if n < 1 {
		n = 1
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n])
}

// Bar is the progress of one phase (encoding images, training a run,
// fitting a probe): done of total units, with a note (e.g. the loss).
type Bar struct {
	c      *Console
	label  string
	unit   string
	total  int
	done   int
	base   int  // units already done when the phase started (a resumed run)
	seen   bool // Set has been called
	note   string
	start  time.Time
	drawAt time.Time // last terminal redraw
	ended  bool
}

// ticker is the console's clock while bars are active.
type ticker struct {
	stop chan struct{}
	done chan struct{}
}

// Bar starts a progress bar of total units (0 when not known yet; see
// SetTotal); unit names them ("images", "steps", "fits"). Call Done when
// the phase ends, whatever its outcome.
func (c *Console) Bar(label string, total int, unit string) *Bar {
	b := &Bar{c: c, label: label, unit: unit, total: total, start: time.Now()}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clearLocked()
	c.bars = append(c.bars, b)
	c.redrawLocked()
	if len(c.bars) == 1 && c.interval > 0 {
		every := c.interval
		if c.terminal {
			every = min(every, time.Second)
		}
		c.tick = &ticker{stop: make(chan struct{}), done: make(chan struct{})}
		go c.run(c.tick, every)
	}
	return b
}

// run is the clock of a stretch of time with active bars: every interval
// it prints one plain progress line of the active bars, outermost first
// (no terminal), or redraws the bar so that its times move (terminal).
func (c *Console) run(t *ticker, every time.Duration) {
	defer close(t.done)
	tk := time.NewTicker(every)
	defer tk.Stop()
	for {
		select {
		case <-t.stop:
			return
		case now := <-tk.C:
			c.mu.Lock()
			if len(c.bars) > 0 {
				if c.terminal {
					c.clearLocked()
					c.redrawLocked()
				} else {
					parts := make([]string, len(c.bars))
					for i, b := range c.bars {
						parts[i] = b.lineLocked(now)
					}
					fmt.Fprintf(c.w, "%s %s\n", now.Format(TimeFormat), strings.Join(parts, " | "))
				}
			}
			c.mu.Unlock()
		}
	}
}

// SetTotal sets the number of units of the phase.
func (b *Bar) SetTotal(total int) {
	b.c.mu.Lock()
	b.total = total
	b.c.mu.Unlock()
}

// Set records done units and the note shown after the counts. The first
// call's done, less one unit, counts as done before the phase started (a
// resumed run), out of the rate and the ETA.
func (b *Bar) Set(done int, note string) {
	b.update(func() {
		if !b.seen {
			b.seen, b.base = true, max(0, done-1)
		}
		b.done, b.note = done, note
	})
}

// Add records n more units done.
func (b *Bar) Add(n int) {
	b.update(func() { b.done += n })
}

func (b *Bar) update(f func()) {
	c := b.c
	c.mu.Lock()
	defer c.mu.Unlock()
	f()
	if !c.terminal || len(c.bars) == 0 || c.bars[len(c.bars)-1] != b {
		return
	}
	now := time.Now()
	if now.Sub(b.drawAt) < 100*time.Millisecond && b.done < b.total {
		return
	}
	b.drawAt = now
	c.clearLocked()
	c.redrawLocked()
}

// Done ends the phase: the bar is erased (terminal) and the enclosing bar,
// if any, is shown again. Calling it again does nothing.
func (b *Bar) Done() {
	c := b.c
	c.mu.Lock()
	if b.ended {
		c.mu.Unlock()
		return
	}
	b.ended = true
	c.clearLocked()
	for i, x := range c.bars {
		if x == b {
			c.bars = append(c.bars[:i], c.bars[i+1:]...)
			break
		}
	}
	c.redrawLocked()
	var t *ticker
	if len(c.bars) == 0 {
		t, c.tick = c.tick, nil
	}
	c.mu.Unlock()
	if t != nil {
		close(t.stop)
		<-t.done
	}
}

// lineLocked renders the bar's state: the label, on a terminal a bar of
// block glyphs, the counts, the ETA, the elapsed time, the rate and the
// note (in that order, so that a narrow terminal cuts the least useful).
func (b *Bar) lineLocked(now time.Time) string {
	var s strings.Builder
	s.WriteString(b.label)
	el := now.Sub(b.start)
	if b.total > 0 {
		frac := min(1, float64(b.done)/float64(b.total))
		if b.c.terminal {
			const width = 12
			n := int(frac * width)
			s.WriteString(" " + strings.Repeat("█", n) + strings.Repeat("░", width-n))
		}
		fmt.Fprintf(&s, " %d/%d %s (%d%%)", b.done, b.total, b.unit, int(frac*100))
	} else {
		fmt.Fprintf(&s, " %d %s", b.done, b.unit)
	}
	rate := 0.0
	if b.done > b.base && el > 0 {
		rate = float64(b.done-b.base) / el.Seconds()
		if b.total > b.done {
			fmt.Fprintf(&s, " ETA %s", Duration(time.Duration(float64(b.total-b.done)/rate*float64(time.Second))))
		}
	}
	fmt.Fprintf(&s, " elapsed %s", Duration(el))
	if rate > 0 {
		fmt.Fprintf(&s, " %.3g %s/s", rate, b.unit)
	}
	if b.note != "" {
		s.WriteString(" " + b.note)
	}
	return s.String()
}

// Duration formats d as tqdm does: 1:02:03, 02:03 (seconds precision).
func Duration(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%02d:%02d", m, s)
}
