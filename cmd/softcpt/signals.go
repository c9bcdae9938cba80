package main

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

// abandonAfter bounds how long the driver waits, after the first SIGINT
// or SIGTERM, for the running phase to stop on its own. The library
// checks for cancellation between encoding batches, training steps and
// L-BFGS iterations (a fraction of a second each) and between
// pretraining steps (1–4 s each on two busy cores), and then saves what
// it can (pretraining writes a checkpoint); this is the backstop for work
// that cannot be interrupted (reading a model file, a hostile input). Every
// file the driver writes is written atomically, so exiting at any instant
// leaves only whole files.
const abandonAfter = 10 * time.Second

// interrupts turns SIGINT and SIGTERM into the cancellation of a
// context: the first cancels it (the running phase stops within a second
// or two, keeping what was saved: see README, "Interrupting a run"), a
// second one, or the phase not stopping within grace, exits at
// once with 128 + the signal's number (130 for SIGINT, 143 for SIGTERM).
type interrupts struct {
	stderr io.Writer
	exit   func(code int)
	grace  time.Duration // abandonAfter
	mu     sync.Mutex
	sig    os.Signal // the first signal, nil before
}

// signalContext returns a context that the first SIGINT or SIGTERM
// cancels, and a function that stops listening.
func signalContext(parent context.Context) (context.Context, *interrupts, func()) {
	in := &interrupts{stderr: os.Stderr, exit: os.Exit, grace: abandonAfter}
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go in.watch(ch, cancel, done)
	return ctx, in, func() {
		signal.Stop(ch)
		close(done)
		cancel()
	}
}

// watch handles the signals that arrive on ch until done is closed.
func (in *interrupts) watch(ch <-chan os.Signal, cancel func(), done <-chan struct{}) {
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
				fmt.Fprintf(in.stderr, "softcpt: second %s, exiting now\n", signalName(s))
				in.exit(exitCode(s))
				return
			}
			fmt.Fprintf(in.stderr, "softcpt: %s: stopping (again to exit at once)\n", signalName(s))
			cancel()
			abandon = time.After(in.grace)
		case <-abandon:
			s := in.signal()
			fmt.Fprintf(in.stderr, "softcpt: %s: the current phase did not stop within %s, exiting now\n", signalName(s), in.grace)
			in.exit(exitCode(s))
			return
		}
	}
}

// signal returns the first signal received (nil if none).
func (in *interrupts) signal() os.Signal {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.sig
}

// exitCode is the shell's status of a process ended by s: 128 + its number.
func exitCode(s os.Signal) int {
	if n, ok := s.(syscall.Signal); ok {
		return 128 + int(n)
	}
	return 1
}

func signalName(s os.Signal) string {
	switch s {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}
