// Package cliflag holds the command-line flags that the commands of
// cmd/softcpt and 'softcpt sweep' (package sweep) share: lists of
// integers, shot counts and strings, --device and --precision, the cell
// settings of a grid (training, method, linear probe, zero-shot), each
// registered once by Settings.Register, and the flag names of the
// library's settings, which Rename writes into errors.
package cliflag

import (
	"flag"
	"strconv"
	"strings"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/autograd"
	"github.com/softcpt/softcpt-go/data"
)

// IntList is a comma-separated list of integers flag ("1,2,4,8,16").
type IntList []int

// String returns the list as Set reads it.
func (l *IntList) String() string {
	s := make([]string, len(*l))
	for i, v := range *l {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ",")
}

// Set parses a comma-separated list of integers.
func (l *IntList) Set(v string) error {
	*l = nil
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return errors.Errorf("%q is not a comma-separated list of integers", v)
		}
		*l = append(*l, n)
	}
	return nil
}

// ShotList is the --shots flag of the driver's commands: comma-separated
// shot counts, "all" for all the training data (data.AllShots).
type ShotList []int

// String returns the list as Set reads it.
func (l *ShotList) String() string {
	if l == nil {
		return ""
	}
	s := make([]string, len(*l))
	for i, k := range *l {
		s[i] = strconv.Itoa(k)
		if k == data.AllShots {
			s[i] = "all"
		}
	}
	return strings.Join(s, ",")
}

// Set parses comma-separated shot counts and "all".
func (l *ShotList) Set(v string) error {
	*l = nil
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "all" {
			*l = append(*l, data.AllShots)
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			return errors.Errorf("%q is not a comma-separated list of shot counts (or \"all\")", v)
		}
		if n == data.AllShots { // the code of "all", not a count
			return errors.Errorf("%d is not a number of shots per class: want a positive count (or \"all\")", n)
		}
		*l = append(*l, n)
	}
	return nil
}

// StringList is a repeatable string flag.
type StringList []string

// String returns the values, space-separated in brackets.
func (s *StringList) String() string { return "[" + strings.Join(*s, " ") + "]" }

// Set appends v.
func (s *StringList) Set(v string) error { *s = append(*s, v); return nil }

// Device is the --device flag of the commands that run CLIP.
type Device string

// Register registers --device with its default, cpu.
func (d *Device) Register(fs *flag.FlagSet) {
	*d = "cpu"
	fs.StringVar((*string)(d), "device", "cpu", "where CLIP runs: cpu, or cuda (GPU 0) / cuda:N; cuda needs a binary built with -tags cuda (scripts/setup-cuda.sh)")
}

// Precision is the --precision flag of the commands that load a model:
// the number format of the frozen towers, checked when parsed.
type Precision string

// Register registers --precision with its default, fp32.
func (p *Precision) Register(fs *flag.FlagSet) {
	*p = "fp32"
	fs.Var(p, "precision", "number format of the frozen CLIP towers, `fp32|bf16`: bf16 multiplies by the frozen weights in bfloat16 with fp32 sums (CPUs with AVX512-BF16; about 1.5x less CPU time; learned prompts, optimiser and loss stay fp32; scores move by a few tenths of a point, so it has run folders and a feature cache of its own); without AVX512-BF16, or with --device cuda, the towers run in fp32, saying so")
}

// String returns the precision's name.
func (p *Precision) String() string { return string(*p) }

// Set parses fp32 or bf16.
func (p *Precision) Set(v string) error {
	pr, err := autograd.ParsePrecision(v)
	if err != nil {
		return errors.Errorf("%q: want fp32 or bf16", v)
	}
	*p = Precision(pr.String())
	return nil
}

// Given returns the names of the flags given on fs's command line.
func Given(fs *flag.FlagSet) []string {
	var names []string
	fs.Visit(func(f *flag.Flag) { names = append(names, f.Name) })
	return names
}

// ParseInterleaved parses flags that may follow positional arguments
// ("softcpt report runs/ --ci95") and returns the positional ones.
func ParseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
