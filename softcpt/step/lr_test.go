package step

import (
	"testing"

	"github.com/softcpt/softcpt-go/internal/fixture"
	"github.com/softcpt/softcpt-go/kernels/backend"
	"github.com/softcpt/softcpt-go/softcpt"
	"github.com/softcpt/softcpt-go/softcpt/step/steptest"
	"github.com/softcpt/softcpt-go/tensor"
)

// TestSetLR checks that SetLR changes the rate of the following steps and
// keeps the momentum: steps at 0.05 then 0.01 from a step built with 0.05
// match those of a step built with 0.002 whose rate is set before each
// step, and differ from a step left at 0.002.
func TestSetLR(t *testing.T) {
	m := fixture.RN(t)
	l := steptest.Learner(t, m, 0.5)
	tok := steptest.WordTokenizer{Vocab: m.Config.VocabSize}
	newStep := func(lr float64) *Step[*backend.HostArray] {
		opt := softcpt.Defaults()
		opt.LR = lr
		spec, err := SpecFromLearner(l, m, tok, opt)
		if err != nil {
			t.Fatal(err)
		}
		st, err := fromSpec[*backend.HostArray](backend.Host{}, m, spec)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	batches := steptest.Batches(m.Config.EmbedDim)[:2]
	run := func(st *Step[*backend.HostArray], lrs []float64) map[string]*tensor.Tensor {
		defer st.Free()
		for i, b := range batches {
			if lrs != nil {
				st.SetLR(lrs[i])
			}
			if _, _, err := st.Step(b); err != nil {
				t.Fatal(err)
			}
		}
		p, err := st.Params()
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	ref := newStep(0.05)
	for i, lr := range []float64{0.05, 0.01} {
		ref.SetLR(lr)
		if _, _, err := ref.Step(batches[i]); err != nil {
			t.Fatal(err)
		}
	}
	want, err := ref.Params()
	if err != nil {
		t.Fatal(err)
	}
	ref.Free()
	got := run(newStep(0.002), []float64{0.05, 0.01})
	fixed := run(newStep(0.002), nil)
	for k, w := range want {
		if d := steptest.NormRel(got[k].Data(), w.Data()); d != 0 {
			t.Errorf("%s: SetLR run differs from the reference by %g (relative)", k, d)
		}
		if d := steptest.NormRel(fixed[k].Data(), w.Data()); d < 1e-4 {
			t.Errorf("%s: a step left at lr 0.002 matches the reference (relative difference %g): SetLR is not observable", k, d)
		}
	}
}
