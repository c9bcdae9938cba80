package experiment

import (
	"fmt"

	"github.com/softcpt/softcpt-go/internal/console"
	"github.com/softcpt/softcpt-go/softcpt"
)

// Logf prints a timestamped log line on standard error, through the
// process's console (package internal/console), which keeps it off the
// progress bar's line.
func Logf(format string, args ...any) { console.Logf(format, args...) }

// trainBar starts the progress bar of a training run labelled label and
// routes opt's per-epoch log lines and per-step progress to the console;
// the caller ends it with Done.
func trainBar(label string, opt *softcpt.TrainOptions) *console.Bar {
	bar := console.Stderr().Bar(label, 0, "steps")
	opt.Log = Logf
	opt.Progress = func(epoch, step, steps int, loss float64) {
		bar.SetTotal(opt.Epochs * steps)
		bar.Set((epoch-1)*steps+step, fmt.Sprintf("epoch %d/%d loss %.3f", epoch, opt.Epochs, loss))
	}
	return bar
}

// probeBar starts the progress bar of the linear probe on tasks tasks,
// counting probe's fits (at most perTask a task: the coarse grid and two a
// bisection step); the caller sets the bar to ti·perTask at task ti and
// ends it with Done.
func probeBar(label string, tasks int, probe *softcpt.ProbeOptions) (bar *console.Bar, perTask int) {
	grid, steps := len(probe.Grid), probe.Steps
	if grid == 0 {
		grid = len(softcpt.DefaultProbeGrid)
	}
	if steps == 0 {
		steps = 8
	}
	perTask = grid + 2*max(0, steps)
	bar = console.Stderr().Bar(label, tasks*perTask, "fits")
	probe.Fitted = func(c float64) { bar.Add(1) }
	return bar, perTask
}
