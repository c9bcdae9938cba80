// Command clipbench times our CLIP RN50 towers for bench/clip-vs-pytorch.
//
// Usage:
//
//	clipbench -mode image [-reps N] [-cpuprofile F]  RN50 image tower, batch 32, 224×224, frozen: "images/s X"
//	clipbench -mode text  [-reps N] [-cpuprofile F]  RN50 text tower, 100 prompts × 77 tokens: "prompts/s X"
//	clipbench -mode mem                              one RN50 batch-32 forward: "rss_model_kb", "peak_kb" (VmHWM)
//	clipbench -mode load -path F [-reps N]           clip.Load of a checkpoint (no warm-up): "load_s X"
//
// Timed modes also print "cpu-s/call X", the process's CPU time per call.
//
// Weights are random (clip.NewRandom, seeded) and frozen (BatchNorm
// folded); each timed mode runs one warm-up pass first. The thread count
// is GOMAXPROCS (the script sets 2).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/autograd"
	"github.com/softcpt/softcpt-go/bench/internal/cputime"
	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/kernels"
	"github.com/softcpt/softcpt-go/tensor"
)

const (
	batch, res   = 32, 224
	prompts, ctx = 100, 77
	eot          = 49407
)

func main() {
	mode := flag.String("mode", "image", "image, text, mem or load")
	reps := flag.Int("reps", 1, "timed repetitions after one warm-up")
	path := flag.String("path", "", "checkpoint for -mode load")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the timed repetitions to this file")
	precision := flag.String("precision", "fp32", "number format of the frozen towers: fp32 or bf16 (clip.Model.SetPrecision)")
	flag.Parse()
	p, err := autograd.ParsePrecision(*precision)
	if err != nil {
		fmt.Fprintln(os.Stderr, "clipbench: -precision:", err)
		os.Exit(2)
	}
	prec = p
	fmt.Printf("go %s GOMAXPROCS %d precision %s bf16-kernels %v\n", runtime.Version(), runtime.GOMAXPROCS(0), prec, kernels.BF16Supported())
	if err := run(*mode, *reps, *path, *cpuprofile); err != nil {
		fmt.Fprintln(os.Stderr, "clipbench:", err)
		os.Exit(1)
	}
}

func run(mode string, reps int, path, cpuprofile string) error {
	switch mode {
	case "image":
		m := frozenRN50()
		x := tensor.RandN(tensor.NewRNG(2), 0, 1, batch, 3, res, res)
		if err := finite(m.EncodeImage(x)); err != nil { // warm-up and sanity check
			return err
		}
		dt, err := timed(reps, cpuprofile, func() { m.EncodeImage(x) })
		if err != nil {
			return err
		}
		fmt.Printf("seconds/batch %.4f\nimages/s %.3f\n", dt, batch/dt)
	case "text":
		m := frozenRN50()
		ids := textIDs()
		if err := finite(m.EncodeText(ids, prompts, ctx)); err != nil {
			return err
		}
		dt, err := timed(reps, cpuprofile, func() { m.EncodeText(ids, prompts, ctx) })
		if err != nil {
			return err
		}
		fmt.Printf("seconds/batch %.4f\nprompts/s %.3f\n", dt, prompts/dt)
	case "mem":
		m := frozenRN50() // the whole CLIP model, as the Python peer builds
		rss, err := procStatus("VmHWM")
		if err != nil {
			return err
		}
		fmt.Printf("rss_model_kb %d\n", rss)
		out := m.EncodeImage(tensor.RandN(tensor.NewRNG(2), 0, 1, batch, 3, res, res))
		if out.Dim(0) != batch {
			return errors.Errorf("image features %v, want %d rows", out.Shape(), batch)
		}
		hwm, err := procStatus("VmHWM")
		if err != nil {
			return err
		}
		fmt.Printf("peak_kb %d\n", hwm)
	case "load":
		if path == "" {
			return errors.New("-mode load needs -path")
		}
		var loadErr error
		dt, err := timed(reps, cpuprofile, func() {
			m, err := clip.Load(path)
			if err == nil && len(m.Keys()) == 0 {
				err = errors.Errorf("%s: no parameters", path)
			}
			if loadErr == nil {
				loadErr = err
			}
		})
		if err != nil {
			return err
		}
		if loadErr != nil {
			return loadErr
		}
		fmt.Printf("load_s %.4f\n", dt)
	default:
		return errors.Errorf("unknown mode %q", mode)
	}
	return nil
}

// frozenRN50 returns a random full-size RN50 with frozen, folded weights.
// prec is the -precision flag's number format for the frozen towers.
var prec autograd.Precision

func frozenRN50() *clip.Model {
	m := clip.NewRandom(clip.RN50(), 1)
	m.SetTrainable(false)
	m.SetPrecision(prec)
	return m
}

// textIDs returns 100 prompts of 77 random tokens each ending in EOT, so
// every position is used (as BenchmarkRN50Text).
func textIDs() []int {
	ids := make([]int, prompts*ctx)
	rng := tensor.NewRNG(3)
	for i := range ids {
		ids[i] = 1 + rng.IntN(40000)
	}
	for r := 0; r < prompts; r++ {
		ids[r*ctx+ctx-1] = eot
	}
	return ids
}

// timed runs fn reps times (profiled when cpuprofile is set) and returns
// the mean seconds per call. It also prints "cpu-s/call X": the process's
// CPU time (user + system) per call, which other jobs on a shared machine
// disturb far less than the wall-clock time.
func timed(reps int, cpuprofile string, fn func()) (float64, error) {
	if reps < 1 {
		return 0, errors.Errorf("reps %d < 1", reps)
	}
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			return 0, errors.Wrapf(err, "creating the CPU profile %s", cpuprofile)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return 0, err
		}
		defer pprof.StopCPUProfile()
	}
	c0 := cputime.Seconds()
	t := time.Now()
	for i := 0; i < reps; i++ {
		fn()
	}
	dt := time.Since(t).Seconds() / float64(reps)
	fmt.Printf("cpu-s/call %.4f\n", (cputime.Seconds()-c0)/float64(reps))
	return dt, nil
}

func finite(t *tensor.Tensor) error {
	for i, v := range t.Contiguous().Data() {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return errors.Errorf("output element %d is %v", i, v)
		}
	}
	return nil
}

// procStatus returns a kB field of /proc/self/status (VmHWM, VmRSS).
func procStatus(field string) (int, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, errors.Wrap(err, "reading the peak RSS")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, field+":") {
			var kb int
			if _, err := fmt.Sscanf(strings.TrimSpace(line[len(field)+1:]), "%d kB", &kb); err != nil {
				return 0, errors.Errorf("/proc/self/status %q: %v", line, err)
			}
			return kb, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, errors.Wrap(err, "reading /proc/self/status")
	}
	return 0, errors.Errorf("/proc/self/status has no %s", field)
}
