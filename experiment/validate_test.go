package experiment

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/softcpt/softcpt-go/data"
	"github.com/softcpt/softcpt-go/internal/setting"
	"github.com/softcpt/softcpt-go/softcpt"
)

// TestGridValidate: every bad setting of a grid is a *setting.Error with
// the library's name of the setting; good grids pass.
func TestGridValidate(t *testing.T) {
	good := Grid{Methods: []string{"zeroshot", "linprobe", "nata"}, Shots: []int{1, 16, AllShots}, Seeds: []int{0, 1}, Train: softcpt.Defaults()}
	if err := good.Validate(); err != nil {
		t.Fatalf("good grid: %v", err)
	}
	derived := good
	derived.Train.BatchSize, derived.StepsPerEpoch = 0, 6
	if err := derived.Validate(); err != nil {
		t.Errorf("batch size derived from StepsPerEpoch: %v", err)
	}
	evalOnly := good
	evalOnly.Train, evalOnly.From = softcpt.TrainOptions{}, "runs"
	if err := evalOnly.Validate(); err != nil {
		t.Errorf("evaluation from checkpoints needs no training settings: %v", err)
	}
	zs := Grid{Methods: []string{"zeroshot"}}
	if err := zs.Validate(); err != nil {
		t.Errorf("zero-shot needs no shots or seeds: %v", err)
	}
	for _, tc := range []struct {
		name, setting string
		edit          func(*Grid)
	}{
		{"no methods", "Grid.Methods", func(g *Grid) { g.Methods = nil }},
		{"unknown method", "Method", func(g *Grid) { g.Methods = []string{"fancy"} }},
		{"shots 0", "Grid.Shots", func(g *Grid) { g.Shots = []int{0} }},
		{"shots -4", "Grid.Shots", func(g *Grid) { g.Shots = []int{-4} }},
		{"no shots", "Grid.Shots", func(g *Grid) { g.Shots = nil }},
		{"shots twice", "Grid.Shots", func(g *Grid) { g.Shots = []int{4, 4} }},
		{"seed -1", "Grid.Seeds", func(g *Grid) { g.Seeds = []int{-1} }},
		{"epochs -1", "TrainOptions.Epochs", func(g *Grid) { g.Train.Epochs = -1 }},
		{"batch 0", "TrainOptions.BatchSize", func(g *Grid) { g.Train.BatchSize = 0 }},
		{"lr Inf", "TrainOptions.LR", func(g *Grid) { g.Train.LR = math.Inf(1) }},
		{"momentum -0.5", "TrainOptions.Momentum", func(g *Grid) { g.Train.Momentum = -0.5 }},
		{"warm-up past the end", "TrainOptions.WarmupEpochs", func(g *Grid) { g.Train.WarmupEpochs = 51 }},
		{"steps per epoch -1", "Grid.StepsPerEpoch", func(g *Grid) { g.StepsPerEpoch = -1 }},
		{"probe grid C 0", "ProbeOptions.Grid", func(g *Grid) { g.Probe.Grid = []float64{1, 0} }},
		{"probe max iter -1", "LBFGSOptions.MaxIter", func(g *Grid) { g.Probe.LBFGS.MaxIter = -1 }},
		{"config n-ctx -1", "Config.NCtx", func(g *Grid) {
			g.Config = func(m string) (softcpt.Config, error) {
				c, err := softcpt.MethodConfig(m)
				c.NCtx = -1
				return c, err
			}
		}},
	} {
		g := good
		g.Train = softcpt.Defaults()
		tc.edit(&g)
		err := g.Validate()
		var se *setting.Error
		if !errors.As(err, &se) || se.Name != tc.setting {
			t.Errorf("%s: err = %v, want a setting error for %s", tc.name, err, tc.setting)
		}
	}
}

// TestContextLengthCheckedBeforeEncoding: a context longer than the
// model's is refused by Experiment.Run before any cell draws its data.
func TestContextLengthCheckedBeforeEncoding(t *testing.T) {
	m := loadFixtureModel(t)
	L := m.Config.ContextLength
	g := Grid{Methods: []string{"zeroshot", "coop-ca"}, Shots: []int{1}, Seeds: []int{1}, Train: softcpt.Defaults(),
		Config: func(name string) (softcpt.Config, error) {
			c, err := softcpt.MethodConfig(name)
			c.NCtx = L - 3
			return c, err
		}}
	e := &Experiment{Model: m, Tok: wordTokenizer{Vocab: m.Config.VocabSize}, Out: t.TempDir(), Benchmark: func(int, int) (*data.Benchmark, error) {
		t.Fatal("the benchmark was drawn before the context length was checked")
		return nil, nil
	}}
	err := e.Run(context.Background(), g)
	var se *setting.Error
	if !errors.As(err, &se) || se.Name != "Config.NCtx" || !strings.Contains(err.Error(), "context is") {
		t.Fatalf("err = %v, want a Config.NCtx context-length error", err)
	}
	cfg, _ := softcpt.MethodConfig("nata")
	cfg.NCtx = L - 4
	if err := cfg.CheckContext(L); err != nil {
		t.Errorf("n-ctx %d in a context of %d: %v", L-4, L, err)
	}
	cfg.TaskNCtx = L
	if err := cfg.CheckContext(L); err == nil || !strings.Contains(err.Error(), "Config.TaskNCtx") {
		t.Errorf("task n-ctx %d in a context of %d: err = %v", L, L, err)
	}
}

// TestCheckOutDir: a folder is created and left without the probe file;
// a path under a regular file fails, naming the setting.
func TestCheckOutDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	if err := CheckOutDir("Options.Out", dir); err != nil {
		t.Fatal(err)
	}
	if es, err := os.ReadDir(dir); err != nil || len(es) != 0 {
		t.Errorf("after the check %s holds %v (%v), want nothing", dir, es, err)
	}
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o644)
	err := CheckOutDir("Options.Out", filepath.Join(file, "out"))
	if err == nil || !strings.Contains(err.Error(), "Options.Out") || !strings.Contains(err.Error(), "must be a writable folder") {
		t.Errorf("under a file: err = %v", err)
	}
}
