package experiment

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/softcpt/softcpt-go/data"
	"github.com/softcpt/softcpt-go/kernels"
	"github.com/softcpt/softcpt-go/realdata"
	"github.com/softcpt/softcpt-go/softcpt"
)

// Paths of the shipped assets from this package's directory.
var (
	testBenchmark = filepath.Join("..", ShippedBenchmark)
	testModel     = filepath.Join("..", ShippedModel)
	testBPE       = filepath.Join("..", ShippedBPE)
)

// TestShippedZeroShot loads the shipped small CLIP and benchmark and checks
// that zero-shot accuracy on every held-out task is clearly above chance:
// at least 2.5 standard errors of a chance-level score on the task's test
// set above chance (a one-sided binomial test at p < 0.01; the figures are
// logged), and, averaged over all tasks, at least 3× chance (a group of
// mostly binary tasks cannot reach 3× chance on its own).
func TestShippedZeroShot(t *testing.T) {
	b, m, tok, err := OpenShipped(testBenchmark, testModel, testBPE)
	if err != nil {
		t.Fatal(err)
	}
	var accSum, chanceSum float64
	var tasks int
	for _, g := range b.Groups {
		exp := &Experiment{Model: m, Tok: tok, Out: t.TempDir()}
		db := b.FewShot(g, 0, 0, 0)
		scores, overall, err := exp.zeroShot(context.Background(), db, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range scores {
			n := len(db.Tasks[i].Classes)
			chance := 100 / float64(n)
			chanceSum += chance
			t.Logf("%s: zero-shot %.2f%% (chance %.2f%%, %.1f×)", s.Name, s.Value, chance, s.Value/chance)
			accSum += s.Value
			tasks++
			se := math.Sqrt(chance * (100 - chance) / float64(len(db.Tasks[i].Test)))
			if s.Value < chance+2.5*se {
				t.Errorf("%s: zero-shot %.2f%% is not clearly above chance %.2f%% (+2.5 × %.2f)", s.Name, s.Value, chance, se)
			}
		}
		t.Logf("group %s: mean zero-shot %.2f%%", g, overall)
	}
	acc, chance := accSum/float64(tasks), chanceSum/float64(tasks)
	t.Logf("all %d tasks: mean zero-shot %.2f%%, mean chance %.2f%% (%.1f×)", tasks, acc, chance, acc/chance)
	if acc < 3*chance {
		t.Errorf("mean zero-shot %.2f%% over all tasks is below 3× chance (%.2f%%)", acc, chance)
	}
}

// TestShippedSoftCPTLearns trains SoftCPT-NATA (the demo's schedule and
// N_CTX, 4 shots, one seed) on the general set and checks that it learns:
// the training loss falls by at least a tenth and test accuracy is far
// above chance. It logs the comparison with zero-shot CLIP;
// TestShippedSoftCPTBeatsZeroShot checks that at 16 shots.
func TestShippedSoftCPTLearns(t *testing.T) {
	skipLongTraining(t)
	ctx := context.Background()
	b, zs, zsOverall := shippedZeroShot(t, "general")
	db := b.FewShot("general", 4, softcpt.ProbeValShots(4), 1)
	scores, overall, hist, err := trainDemoNATA(ctx, zs, db, 1)
	if err != nil {
		t.Fatal(err)
	}
	var chance float64
	for _, tk := range db.Tasks {
		chance += 100 / float64(len(tk.Classes))
	}
	chance /= float64(len(scores))
	first, last := hist[0].Loss, hist[len(hist)-1].Loss
	t.Logf("SoftCPT-NATA 4-shot %.2f%% (zero-shot %.2f%%, chance %.2f%%), training loss %.3f -> %.3f", overall, zsOverall, chance, first, last)
	if last > first*9/10 {
		t.Errorf("training loss %.3f -> %.3f did not fall by a tenth", first, last)
	}
	if overall < 5*chance {
		t.Errorf("SoftCPT-NATA %.2f%% is not far above chance %.2f%%", overall, chance)
	}
}

// shippedZeroShot opens the shipped assets and evaluates zero-shot CLIP
// on one task group; the experiment it returns caches the image
// features for training runs on the same group.
func shippedZeroShot(t *testing.T, group string) (*realdata.Benchmark, *Experiment, float64) {
	t.Helper()
	b, m, tok, err := OpenShipped(testBenchmark, testModel, testBPE)
	if err != nil {
		t.Fatal(err)
	}
	zs := &Experiment{Model: m, Tok: tok, Out: t.TempDir()}
	_, overall, err := zs.zeroShot(context.Background(), b.FewShot(group, 0, 0, 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	return b, zs, overall
}

// skipLongTraining skips a test that trains the shipped model on the
// demo's schedule with -short, or on the pure-Go kernels (the purego
// build, where it takes many minutes; the same code runs on the assembly
// kernels in the default build and the kernels are checked against their
// Go twins in package kernels).
func skipLongTraining(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("trains for a while; skipped with -short")
	}
	if kernels.Current() == kernels.Generic {
		t.Skip("trains for minutes on the pure-Go kernels; runs in the default build")
	}
}

// trainDemoNATA trains SoftCPT-NATA on b with the demo's settings
// (DefaultDemo).
func trainDemoNATA(ctx context.Context, exp *Experiment, b *data.Benchmark, seed int) ([]TaskScore, float64, []softcpt.EpochStats, error) {
	d := DefaultDemo(false)
	cfg, _ := softcpt.MethodConfig("nata")
	cfg.NCtx = d.NCtx
	opt := softcpt.Defaults()
	opt.Epochs, opt.LR, opt.BatchSize, opt.Seed = d.Epochs, d.LR, d.BatchSize, uint64(seed)
	scores, overall, hist, _, err := exp.train(ctx, b, cfg, opt, uint64(seed))
	return scores, overall, hist, err
}

// TestShippedSoftCPTBeatsZeroShot checks issue 16's target on the shipped
// benchmark's general set: SoftCPT-NATA with the demo's schedule at 16
// shots (seed 1) scores at least 3 points above zero-shot CLIP with the
// tasks' hand-written templates.
func TestShippedSoftCPTBeatsZeroShot(t *testing.T) {
	skipLongTraining(t)
	ctx := context.Background()
	b, zs, zsOverall := shippedZeroShot(t, "general")
	_, overall, _, err := trainDemoNATA(ctx, zs, b.FewShot("general", 16, softcpt.ProbeValShots(16), 1), 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("general set: SoftCPT-NATA 16-shot %.2f%% (seed 1), zero-shot %.2f%%", overall, zsOverall)
	if overall < zsOverall+3 {
		t.Errorf("SoftCPT-NATA %.2f%% is not 3 points above zero-shot %.2f%%", overall, zsOverall)
	}
}

// TestShippedFilesErrors checks that missing or corrupt shipped files give
// an error that says how to regenerate them.
func TestShippedFilesErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.bin")
	corrupt := filepath.Join(dir, "corrupt.safetensors")
	b, err := os.ReadFile(testModel)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(corrupt, b[:len(b)/3], 0o644)
	for _, c := range []struct{ bench, model, bpe string }{
		{missing, testModel, testBPE},
		{testBenchmark, missing, testBPE},
		{testBenchmark, corrupt, testBPE},
		{testBenchmark, testModel, missing},
	} {
		_, _, _, err := OpenShipped(c.bench, c.model, c.bpe)
		if err == nil || !strings.Contains(err.Error(), "regenerate") {
			t.Errorf("%+v: error %v does not say how to regenerate", c, err)
		}
	}
}

// TestShippedTaskFeaturesDistinct checks that the demo's SoftCPT start
// (DemoTaskCtxInit before the shipped task names) gives the general set's
// unrelated tasks distinct task features, the meta network's only view of
// them: every pair's cosine below 0.8 (from random task contexts the
// animal, food and vehicle tasks had 0.98–0.99).
func TestShippedTaskFeaturesDistinct(t *testing.T) {
	b, m, tok, err := OpenShipped(testBenchmark, testModel, testBPE)
	if err != nil {
		t.Fatal(err)
	}
	db := b.FewShot("general", 1, 1, 1)
	cfg, err := softcpt.MethodConfig("nata")
	if err != nil {
		t.Fatal(err)
	}
	cfg.NCtx, cfg.TaskCtxInit = DemoNCtx, DemoTaskCtxInit
	l, err := softcpt.NewLearner(cfg, m, tok, specs(db), 1)
	if err != nil {
		t.Fatal(err)
	}
	f := l.TaskFeatures().Value
	T, E := f.Dim(0), f.Dim(1)
	d := f.Contiguous().Data()
	row := func(i int) []float32 { return d[i*E : (i+1)*E] }
	for i := 0; i < T; i++ {
		for j := i + 1; j < T; j++ {
			c := cosine(row(i), row(j))
			if c >= 0.8 {
				t.Errorf("task features of %s and %s: cosine %.3f", db.Tasks[i].Name, db.Tasks[j].Name, c)
			}
		}
	}
}
