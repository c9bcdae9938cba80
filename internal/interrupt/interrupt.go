// Package interrupt turns SIGINT and SIGTERM into the cancellation of a
// context, with the policy of a long-running command: the first signal
// cancels (the running phase stops, keeping what was saved), a second one,
// or a phase that does not stop within a grace period, exits at once with
// 128 + the signal's number.
package interrupt

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// AbandonAfter bounds how long the driver waits, after the first SIGINT
// or SIGTERM, for the running phase to stop on its own. The library
// checks for cancellation between encoding batches, training steps and
// L-BFGS iterations (a fraction of a second each) and between
// pretraining steps (1–4 s each on two busy cores), and then saves what
// it can (pretraining writes a checkpoint); this is the backstop for work
// that cannot be interrupted (reading a model file, a hostile input). Every
// file the driver writes is written atomically, so exiting at any instant
// leaves only whole files.
const AbandonAfter = 10 * time.Second

// Watcher turns SIGINT and SIGTERM into the cancellation of a context:
// the first cancels it (the running phase stops within a second or two,
// keeping what was saved: see README, "Interrupting a run"), a second
// one, or the phase not stopping within Grace, exits at once with 128 +
// the signal's number (130 for SIGINT, 143 for SIGTERM). Its messages
// start with Prog.
type Watcher struct {
	Prog   string
	Stderr io.Writer
	Exit   func(code int)
	Grace  time.Duration // AbandonAfter
	mu     sync.Mutex
	sig    os.Signal // the first signal, nil before
}

// Context returns a context that the first SIGINT or SIGTERM cancels,
// the Watcher of the signals (messages to standard error, prefixed with
// prog), and a function that stops listening.
func Context(parent context.Context, prog string) (context.Context, *Watcher, func()) {
	in := &Watcher{Prog: prog, Stderr: os.Stderr, Exit: os.Exit, Grace: AbandonAfter}
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go in.Watch(ch, cancel, done)
	return ctx, in, func() {
		signal.Stop(ch)
		close(done)
		cancel()
	}
}

// Watch handles the signals that arrive on ch until done is closed,
// calling cancel on the first.
func (in *Watcher) Watch(ch <-chan os.Signal, cancel func(), done <-chan struct{}) {
	var abandon <-chan time.Time
	for {
		select {
		case <-done:
			return
		case s := <-ch:
			in.mu.Lock()
			first := in.sig == nil
			if first {
				in.sig = s
			}
			in.mu.Unlock()
			if !first {
				fmt.Fprintf(in.Stderr, "%s: second %s, exiting now\n", in.Prog, signalName(s))
				in.Exit(ExitCode(s))
				return
			}
			fmt.Fprintf(in.Stderr, "%s: %s: stopping (again to exit at once)\n", in.Prog, signalName(s))
			cancel()
			abandon = time.After(in.Grace)
		case <-abandon:
			s := in.Signal()
			fmt.Fprintf(in.Stderr, "%s: %s: the current phase did not stop within %s, exiting now\n", in.Prog, signalName(s), in.Grace)
			in.Exit(ExitCode(s))
			return
		}
	}
}

// Signal returns the first signal received (nil if none).
func (in *Watcher) Signal() os.Signal {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.sig
}

// ExitCode is the shell's status of a process ended by s: 128 + its number.
func ExitCode(s os.Signal) int {
	if n, ok := s.(syscall.Signal); ok {
		return 128 + int(n)
	}
	return 1
}

// signalName is the conventional name of s.
func signalName(s os.Signal) string {
	switch s {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}
