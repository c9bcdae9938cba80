package console

import (
	"bytes"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the bar's ticker goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var logLine = regexp.MustCompile(`^\d\d:\d\d:\d\d `)

// screen replays terminal output (\r, ESC[K, \n) into the lines a
// terminal would show.
func screen(out string) []string {
	var lines []string
	var cur []rune
	col := 0
	for i := 0; i < len(out); {
		switch {
		case strings.HasPrefix(out[i:], "\x1b[K"):
			cur = cur[:col]
			i += 3
		case out[i] == '\r':
			col = 0
			i++
		case out[i] == '\n':
			lines = append(lines, string(cur))
			cur, col = nil, 0
			i++
		default:
			r := []rune(out[i:])[0]
			if col < len(cur) {
				cur[col] = r
			} else {
				cur = append(cur, r)
			}
			col++
			i += len(string(r))
		}
	}
	return append(lines, string(cur))
}

// TestTerminalLogClearsBar checks that on a terminal a log line never
// shares a line with the bar: the bar is erased, the line printed, the
// bar redrawn, and nested bars hand the line back to the outer one.
func TestTerminalLogClearsBar(t *testing.T) {
	var buf syncBuffer
	c := New(&buf, true)
	c.SetInterval(0)
	b := c.Bar("train", 10, "steps")
	for i := 1; i <= 5; i++ {
		b.Set(i, "loss 0.5")
		time.Sleep(110 * time.Millisecond)
	}
	c.Logf("epoch %d done", 1)
	inner := c.Bar("encoding", 3, "images")
	inner.Add(3)
	c.Logf("encoded")
	inner.Done()
	b.Set(10, "")
	c.Logf("finished")
	b.Done()
	lines := screen(buf.String())
	var logs int
	for _, l := range lines {
		if logLine.MatchString(l) {
			logs++
			if strings.Contains(l, "█") || strings.Contains(l, "░") || strings.Contains(l, "steps") {
				t.Errorf("log line shares the bar's line: %q", l)
			}
		}
	}
	if logs != 3 {
		t.Errorf("%d log lines on the screen, want 3:\n%s", logs, strings.Join(lines, "\n"))
	}
	if last := lines[len(lines)-1]; last != "" {
		t.Errorf("the bar is left on the screen after Done: %q", last)
	}
	if !strings.Contains(buf.String(), "train ██████░░░░░░ 5/10 steps (50%) ETA ") {
		t.Errorf("no half-way bar drawn:\n%q", buf.String())
	}
	if !strings.Contains(buf.String(), "encoding") {
		t.Errorf("inner bar never drawn")
	}
}

// TestPlainProgressLines checks the output without a terminal: no
// carriage return or escape, a plain progress line every interval even
// with no progress reported, none for a phase shorter than the interval.
func TestPlainProgressLines(t *testing.T) {
	var buf syncBuffer
	c := New(&buf, false)
	c.SetInterval(50 * time.Millisecond)
	short := c.Bar("short", 2, "fits")
	short.Add(2)
	short.Done()
	b := c.Bar("probe", 4, "fits")
	b.Set(1, "C=1")
	time.Sleep(180 * time.Millisecond) // no progress reported meanwhile
	c.Logf("a log line")
	b.Done()
	out := buf.String()
	if strings.ContainsAny(out, "\r\x1b") {
		t.Errorf("carriage return or escape without a terminal: %q", out)
	}
	if strings.Contains(out, "short") {
		t.Errorf("a phase shorter than the interval printed progress: %q", out)
	}
	n := strings.Count(out, "probe 1/4 fits (25%)")
	if n < 2 || n > 4 {
		t.Errorf("%d progress lines in 180 ms at a 50 ms interval, want 2-4:\n%s", n, out)
	}
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if !logLine.MatchString(l) {
			t.Errorf("line without a timestamp: %q", l)
		}
		if strings.Contains(l, "probe") && !strings.Contains(l, "C=1") {
			t.Errorf("progress line without its note: %q", l)
		}
	}
}

// TestWriterLines checks that Writer output ends on its own line and
// clears the bar first.
func TestWriterLines(t *testing.T) {
	var buf syncBuffer
	c := New(&buf, true)
	c.SetInterval(0)
	b := c.Bar("x", 2, "steps")
	c.Writer().Write([]byte("| table |"))
	b.Done()
	lines := screen(buf.String())
	if lines[0] != "| table |" {
		t.Errorf("screen %q", lines)
	}
}

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "00:00", 61 * time.Second: "01:01", 3723 * time.Second: "1:02:03"} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestPlainNestedBars checks that short inner phases (each shorter than
// the interval) do not silence the outer phase's progress lines, and that
// a line shows both.
func TestPlainNestedBars(t *testing.T) {
	var buf syncBuffer
	c := New(&buf, false)
	c.SetInterval(60 * time.Millisecond)
	outer := c.Bar("LinearProbe", 3, "fits")
	for i := 0; i < 6; i++ {
		inner := c.Bar("encoding images", 10, "images")
		time.Sleep(40 * time.Millisecond)
		inner.Add(10)
		inner.Done()
	}
	outer.Done()
	time.Sleep(150 * time.Millisecond) // no line once every bar is done
	out := buf.String()
	n := strings.Count(out, "LinearProbe 0/3 fits")
	if n < 2 {
		t.Errorf("%d progress lines of the outer phase in 240 ms at a 60 ms interval:\n%s", n, out)
	}
	if !strings.Contains(out, "LinearProbe 0/3 fits (0%) elapsed 00:00 | encoding images") {
		t.Errorf("no line shows the outer and the inner bar:\n%s", out)
	}
	if got := strings.Count(out, "\n"); got > 6 {
		t.Errorf("%d lines for 240 ms at a 60 ms interval:\n%s", got, out)
	}
}
