package experiment

import (
	"slices"
	"testing"
)

// TestDemoGrid: the demo's grid takes the defaults of its mode where
// shots, seeds or epochs are not set and the given ones elsewhere, with
// N_CTX and CTX_INIT on every learned method, and passes validation.
func TestDemoGrid(t *testing.T) {
	full, quick := DefaultDemo(false), DefaultDemo(true)
	if quick.Epochs >= full.Epochs || len(quick.Shots)*len(quick.Seeds) >= len(full.Shots)*len(full.Seeds) || !quick.Quick || full.Quick {
		t.Errorf("quick demo %+v is not smaller than the demo %+v", quick, full)
	}
	o := full
	o.Quick, o.Shots, o.Seeds, o.Epochs, o.CtxInit = true, nil, []int{7}, 0, "a photo of a"
	g := o.Grid()
	if !slices.Equal(g.Shots, quick.Shots) || !slices.Equal(g.Seeds, []int{7}) || g.Train.Epochs != quick.Epochs {
		t.Errorf("quick grid: shots %v, seeds %v, epochs %d; want the quick shots %v, the given seed 7, the quick epochs %d",
			g.Shots, g.Seeds, g.Train.Epochs, quick.Shots, quick.Epochs)
	}
	if g.Train.LR != full.LR || g.Train.BatchSize != full.BatchSize || g.StepsPerEpoch != full.StepsPerEpoch ||
		g.Probe.LBFGS.MaxIter != full.ProbeMaxIter || !g.AutoResume || !slices.Equal(g.Methods, full.Methods) {
		t.Errorf("grid %+v does not carry the demo's settings %+v", g, full)
	}
	cfg, err := g.Config("coop-ca")
	if err != nil || cfg.NCtx != DemoNCtx || cfg.CtxInit != "a photo of a" {
		t.Errorf("coop-ca: %v (%v), want N_CTX %d and the given CTX_INIT", cfg, err, DemoNCtx)
	}
	if err := g.Validate(); err != nil {
		t.Error(err)
	}
	if err := full.ShippedOptions.Validate(); err != nil {
		t.Error(err)
	}
	// --batch-size 0 alone (the help's "0: the training set divided into
	// --steps-per-epoch batches") must give a valid grid.
	o = full
	o.BatchSize = 0
	if err := o.Grid().Validate(); err != nil || o.Grid().StepsPerEpoch <= 0 {
		t.Errorf("batch size 0: steps per epoch %d, %v", o.Grid().StepsPerEpoch, err)
	}
}
