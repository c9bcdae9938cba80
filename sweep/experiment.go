package sweep

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/data"
	"github.com/softcpt/softcpt-go/experiment"
	"github.com/softcpt/softcpt-go/realdata/assets"
	"github.com/softcpt/softcpt-go/shipped"
	"github.com/softcpt/softcpt-go/softcpt"
)

// Experiments is the Runner of real sweeps: it runs the cache and the
// cells with the experiment layer. It opens the sweep's model, device and
// benchmark once (on the first call) and shares them, and the in-memory
// feature cache, between the calls; Close releases the device. It runs one
// sweep: a call for another sweep folder is an error.
//
// Cache computes the image features of every draw (shots, seed) that a
// cell reads, and the test sets, into the experiment's on-disk feature
// cache (Experiment.CacheFeatures), so that no cell encodes an image. Run
// runs one cell as a one-cell grid of the experiment (Experiment.Run),
// into its run folder under the sweep's output root; a training cell
// resumes from its checkpoint. Run runs one cell at a time (a process
// trains one model at a time: the CPU path's autograd arena is
// process-wide): RunProcesses runs cells in parallel processes.
type Experiments struct {
	mu   sync.Mutex
	dir  string
	open *opened
	err  error
	run  sync.Mutex // held by Run
}

// opened is what Experiments opens for a sweep.
type opened struct {
	model *shipped.Model
	dev   experiment.Backend
	draw  func(shots, seed int) (*data.Benchmark, error)
	key   string // DataKey of a packed benchmark
	out   string
	// exps are the experiments by FullPrompts (a setting of the cell).
	mu   sync.Mutex
	exps map[bool]*experiment.Experiment
}

var _ Runner = (*Experiments)(nil)

// Close releases the device of the opened sweep.
func (r *Experiments) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.open != nil {
		r.open.dev.Close()
		r.open = nil
	}
}

// opened opens s's model, device and benchmark on the first call.
func (r *Experiments) opened(s *Sweep) (*opened, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.dir == "":
		r.dir = s.Dir
		r.open, r.err = openSweep(s)
	case r.dir != s.Dir:
		return nil, errors.Errorf("sweep: this runner runs the sweep in %s, not %s", r.dir, s.Dir)
	}
	return r.open, r.err
}

// openSweep opens the model, the device and the benchmark of s.
func openSweep(s *Sweep) (*opened, error) {
	o := &opened{out: s.Output, exps: map[bool]*experiment.Experiment{}}
	modelPath := s.Model
	if modelPath == Shipped {
		modelPath = ""
	}
	m, err := shipped.OpenModel(modelPath, s.BPE)
	if err != nil {
		return nil, errors.Wrap(err, "sweep: model")
	}
	o.model = m
	if s.Packed() {
		err = o.openPack(s)
	} else {
		err = o.openDefinition(s)
	}
	if err != nil {
		return nil, err
	}
	if o.dev, err = experiment.Open(s.Device, m.CLIP); err != nil {
		return nil, errors.Wrap(err, "sweep")
	}
	return o, nil
}

// openPack opens a packed benchmark: the draws are its group's tasks
// (those of s.Tasks when set) with the cell's training shots and the
// linear probe's validation shots, as 'softcpt demo' draws them.
func (o *opened) openPack(s *Sweep) error {
	path := s.Benchmark
	if path == Shipped {
		path = ""
	}
	rb, src, err := shipped.OpenBenchmark(path)
	if err != nil {
		return errors.Wrap(err, "sweep: benchmark")
	}
	if len(rb.TasksIn(s.Group)) == 0 {
		return errors.Errorf("sweep: benchmark %s has no task group %q (groups: %s)", src, s.Group, strings.Join(rb.Groups, ", "))
	}
	var ids []string
	for _, t := range rb.TasksIn(s.Group) {
		ids = append(ids, t.ID)
	}
	for _, t := range s.Tasks {
		if !slices.Contains(ids, t) {
			return errors.Errorf("sweep: tasks: group %s of benchmark %s has no task %q (tasks: %s)", s.Group, src, t, strings.Join(ids, ", "))
		}
	}
	if o.key, err = packKey(path); err != nil {
		return err
	}
	o.draw = func(k, seed int) (*data.Benchmark, error) {
		b := rb.FewShot(s.Group, k, softcpt.ProbeValShots(k), uint64(seed))
		if len(s.Tasks) > 0 {
			b.Tasks = slices.DeleteFunc(b.Tasks, func(t *data.Task) bool { return !slices.Contains(s.Tasks, t.Name) })
		}
		return b, nil
	}
	return nil
}

// packKey returns a short hash of a benchmark pack ("": the embedded
// one), which keys its images in the feature cache.
func packKey(path string) (string, error) {
	h := sha256.New()
	if path == "" {
		io.WriteString(h, assets.Benchmark())
	} else {
		f, err := os.Open(path)
		if err != nil {
			return "", errors.Wrap(err, "sweep: hashing the benchmark")
		}
		defer f.Close()
		if _, err := io.Copy(h, f); err != nil {
			return "", errors.Wrapf(err, "sweep: hashing the benchmark %s", path)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// openDefinition opens a benchmark definition whose datasets lie under
// s.DataRoot: each draw loads them and draws the shots.
func (o *opened) openDefinition(s *Sweep) error {
	def, err := data.LoadDefinition(s.Benchmark)
	if err != nil {
		return errors.Wrap(err, "sweep: benchmark")
	}
	cache := s.CacheDir
	if cache == "" {
		cache = data.DefaultCacheDir(s.DataRoot)
	}
	o.draw = func(k, seed int) (*data.Benchmark, error) {
		b, err := data.LoadBenchmark(def, data.Options{Root: s.DataRoot, CacheDir: s.CacheDir, Only: s.Tasks})
		if err != nil || k <= 0 {
			return b, err
		}
		return b.FewShot(k, uint64(seed), cache)
	}
	return nil
}

// experiment returns the experiment of the cells with this FullPrompts
// setting.
func (o *opened) experiment(fullPrompts bool) *experiment.Experiment {
	o.mu.Lock()
	defer o.mu.Unlock()
	e := o.exps[fullPrompts]
	if e == nil {
		e = &experiment.Experiment{Benchmark: o.draw, Model: o.model.CLIP, Tok: o.model.Tokenizer, Backend: o.dev,
			Out: o.out, DataKey: o.key, FullPrompts: fullPrompts}
		o.exps[fullPrompts] = e
	}
	return e
}

// Cache computes the image features of every draw of s's cells into the
// feature cache: the test sets, the training sets of the training cells
// (without augmentation) and the training, validation and test sets of
// each task for the linear-probe cells.
func (r *Experiments) Cache(ctx context.Context, s *Sweep) error {
	o, err := r.opened(s)
	if err != nil {
		return err
	}
	type draw struct{ shots, seed int }
	type need struct{ train, probe bool }
	needs := map[draw]*need{}
	var order []draw
	for _, c := range s.Cells {
		d := draw{c.Shots, c.Seed}
		if needs[d] == nil {
			needs[d] = &need{}
			order = append(order, d)
		}
		switch {
		case c.Method == LinProbe:
			needs[d].probe = true
		case c.Train != nil && !c.Train.Augment:
			needs[d].train = true
		}
	}
	e := o.experiment(false)
	for i, d := range order {
		b, err := o.draw(d.shots, d.seed)
		if err != nil {
			return errors.Wrapf(err, "sweep: feature cache: %d shots, seed %d", d.shots, d.seed)
		}
		experiment.Logf("feature cache: draw %d of %d (%d shots, seed %d)", i+1, len(order), d.shots, d.seed)
		if err := e.CacheFeatures(ctx, b, needs[d].train, needs[d].probe); err != nil {
			return errors.Wrapf(err, "sweep: feature cache: %d shots, seed %d", d.shots, d.seed)
		}
	}
	return nil
}

// Run runs cell c of s into its run folder (a training cell resumes from
// its checkpoint there).
func (r *Experiments) Run(ctx context.Context, s *Sweep, c Cell) error {
	r.run.Lock()
	defer r.run.Unlock()
	o, err := r.opened(s)
	if err != nil {
		return err
	}
	g := experiment.Grid{Methods: []string{c.Method}, Shots: []int{c.Shots}, Seeds: []int{c.Seed}}
	full := false
	switch c.Method {
	case ZeroShot:
		g.Templates = c.Templates
	case LinProbe:
		g.Probe = softcpt.ProbeOptions{LBFGS: softcpt.LBFGSOptions{MaxIter: c.MaxIter}}
	default:
		cfg, err := c.Config()
		if err != nil {
			return err
		}
		g.Config = func(string) (softcpt.Config, error) { return cfg, nil }
		g.Train = c.TrainOptions()
		g.Train.Resume = true
		full = c.Train.FullPrompts
	}
	return o.experiment(full).Run(ctx, g)
}
