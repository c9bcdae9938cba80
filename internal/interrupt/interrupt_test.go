package interrupt

import (
	"bytes"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestInterruptsBackstop checks the watcher without a process: a first
// signal cancels, a phase that does not stop is abandoned after the
// grace period, and a second signal exits with 128 + signo.
func TestInterruptsBackstop(t *testing.T) {
	for _, second := range []bool{false, true} {
		var buf bytes.Buffer
		var mu sync.Mutex
		exited := make(chan int, 1)
		const grace = 300 * time.Millisecond
		in := &Watcher{Prog: "softcpt", Stderr: &syncWriter{w: &buf, mu: &mu}, Exit: func(c int) { exited <- c }, Grace: grace}
		ch := make(chan os.Signal, 2)
		cancelled := make(chan struct{})
		done := make(chan struct{})
		go in.Watch(ch, func() { close(cancelled) }, done)
		start := time.Now()
		ch <- syscall.SIGINT
		<-cancelled
		if second {
			ch <- syscall.SIGINT
		}
		code := <-exited
		took := time.Since(start)
		close(done)
		mu.Lock()
		msg := buf.String()
		mu.Unlock()
		if code != 130 {
			t.Errorf("second=%v: exit %d, want 130", second, code)
		}
		want, slow := "did not stop within", true
		if second {
			want, slow = "second SIGINT, exiting now", false
		}
		if !strings.Contains(msg, want) {
			t.Errorf("second=%v: messages %q lack %q", second, msg, want)
		}
		if slow != (took >= grace) {
			t.Errorf("second=%v: exited after %v (backstop %v)", second, took, grace)
		}
	}
}

type syncWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
