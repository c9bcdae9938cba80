package sweep

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/softcpt"
)

// Cell is one run of a sweep: a method (or zero-shot, or the linear
// probe) at one shot count and seed, with its resolved settings. Its
// Index is its array task id under Slurm.
type Cell struct {
	// Index is the cell's place in the expansion (0, 1, ...).
	Index int `json:"index"`
	// ID is a readable name and a hash of the settings, e.g.
	// "nata-16shot-seed1-3f2a9c1b"; it names the cell's markers.
	ID string `json:"id"`
	// Method is a canonical method name, ZeroShot or LinProbe.
	Method string `json:"method"`
	// Shots and Seed are 0 for the zero-shot cell.
	Shots int `json:"shots"`
	Seed  int `json:"seed"`
	// Train holds a training cell's settings (nil for zero-shot and the
	// linear probe).
	Train *Settings `json:"train,omitempty"`
	// MaxIter is the linear probe's L-BFGS iterations per fit.
	MaxIter int `json:"max_iter,omitempty"`
	// Templates are the zero-shot cell's extra templates.
	Templates []string `json:"templates,omitempty"`
}

// Settings are a training cell's resolved settings: the paper's defaults
// (softcpt.Defaults, softcpt.MethodConfig), then the sweep's params, then
// the method's overrides. The training settings and the method's knobs
// are softcpt's (their JSON keys inline).
type Settings struct {
	softcpt.TrainSettings
	softcpt.MethodSettings
	FullPrompts bool `json:"full_prompts"`
}

// Config returns the method configuration of a training cell
// (softcpt.MethodSettings.Config).
func (c Cell) Config() (softcpt.Config, error) {
	if c.Train == nil {
		return softcpt.Config{}, errors.Errorf("sweep: cell %s is not a training cell", c.ID)
	}
	cfg, err := c.Train.MethodSettings.Config(c.Method)
	return cfg, errors.Wrapf(err, "sweep: cell %s", c.ID)
}

// TrainOptions returns the training options of a training cell (seed
// included; no checkpoint folder, no logging).
func (c Cell) TrainOptions() softcpt.TrainOptions {
	o := softcpt.Defaults()
	if c.Train != nil {
		o = c.Train.Apply(o)
	}
	o.Seed = uint64(c.Seed)
	return o
}

// trainSettings resolves the settings of method m.
func (s *Spec) trainSettings(m string) (*Settings, error) {
	cfg, err := softcpt.MethodConfig(m)
	if err != nil {
		return nil, err
	}
	t := &Settings{TrainSettings: softcpt.Defaults().Settings(), MethodSettings: cfg.Settings()}
	// The settings share Params' JSON keys; Params encodes only the set
	// ones, and the linear-probe and zero-shot keys are not Settings'.
	b, err := json.Marshal(s.Params.merge(s.Overrides[m]))
	if err == nil {
		err = json.Unmarshal(b, t)
	}
	if err != nil {
		return nil, errors.Wrapf(err, "method %s: settings", m)
	}
	c := Cell{Method: m, Train: t}
	if _, err := c.Config(); err != nil {
		return nil, errors.Wrapf(errors.Cause(err), "method %s", m)
	}
	return t, nil
}

// Cells expands the sweep into its cells, in a fixed order: the
// zero-shot cell, the linear probe (shots × seeds), then each method in
// the file's order (shots × seeds, seeds innermost).
func (s *Spec) Cells() ([]Cell, error) {
	var out []Cell
	add := func(c Cell) error {
		c.Index = len(out)
		id, err := s.cellID(c)
		if err != nil {
			return err
		}
		c.ID = id
		out = append(out, c)
		return nil
	}
	if s.ZeroShot {
		p := s.Params.merge(s.Overrides[ZeroShot])
		if err := add(Cell{Method: ZeroShot, Templates: p.Templates}); err != nil {
			return nil, err
		}
	}
	if s.LinProbe {
		p := s.Params.merge(s.Overrides[LinProbe])
		it := 1000
		if p.MaxIter != nil {
			it = *p.MaxIter
		}
		for _, k := range s.Shots {
			for _, seed := range s.Seeds {
				if err := add(Cell{Method: LinProbe, Shots: k, Seed: seed, MaxIter: it}); err != nil {
					return nil, err
				}
			}
		}
	}
	for _, m := range s.Methods {
		t, err := s.trainSettings(m)
		if err != nil {
			return nil, err
		}
		for _, k := range s.Shots {
			for _, seed := range s.Seeds {
				if err := add(Cell{Method: m, Shots: k, Seed: seed, Train: t}); err != nil {
					return nil, err
				}
			}
		}
	}
	return out, nil
}

// cellID names a cell by its method, shots and seed, plus the first 8
// hex digits of the SHA-256 of everything that determines its result
// (benchmark, group, tasks, data, model and the cell's settings).
func (s *Spec) cellID(c Cell) (string, error) {
	c.Index, c.ID = 0, ""
	key := struct {
		Benchmark, DataRoot, CacheDir, Model, BPE string
		Group                                     string `json:",omitempty"`
		Tasks                                     []string
		Cell                                      Cell
	}{s.Benchmark, s.DataRoot, s.CacheDir, s.Model, s.BPE, s.Group, s.Tasks, c}
	b, err := json.Marshal(key)
	if err != nil {
		return "", errors.Wrap(err, "sweep: hash cell")
	}
	h := sha256.Sum256(b)
	name := c.Method
	if c.Method != ZeroShot {
		name = fmt.Sprintf("%s-%dshot-seed%d", c.Method, c.Shots, c.Seed)
	}
	return name + "-" + hex.EncodeToString(h[:4]), nil
}
