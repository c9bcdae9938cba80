package step

import (
	"strings"
	"testing"

	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/internal/fixture"
	"github.com/softcpt/softcpt-go/kernels/backend"
	"github.com/softcpt/softcpt-go/softcpt"
	"github.com/softcpt/softcpt-go/softcpt/step/steptest"
	"github.com/softcpt/softcpt-go/tensor"
)

// sameTensors fails unless got and want hold the same names and
// bit-identical values.
func sameTensors(t *testing.T, what string, got, want map[string]*tensor.Tensor) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d tensors, want %d", what, len(got), len(want))
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("%s: no %s", what, k)
			continue
		}
		if !tensor.SameShape(g.Shape(), w.Shape()) {
			t.Errorf("%s: %s has shape %v, want %v", what, k, g.Shape(), w.Shape())
			continue
		}
		for i, v := range w.Data() {
			if g.Data()[i] != v {
				t.Errorf("%s: %s[%d] = %v, want %v", what, k, i, g.Data()[i], v)
				break
			}
		}
	}
}

// sameNextStep steps the uninterrupted step a and the restored step b on
// the batch and fails unless their losses, correct counts, tensors and
// momentum buffers are the same to the bit.
func sameNextStep[A comparable](t *testing.T, a, b *Step[A], batch softcpt.Batch) {
	t.Helper()
	la, ca, err := a.Step(batch)
	if err != nil {
		t.Fatal(err)
	}
	lb, cb, err := b.Step(batch)
	if err != nil {
		t.Fatal(err)
	}
	if la != lb || ca != cb {
		t.Errorf("resumed step's loss %v (%d correct), uninterrupted %v (%d correct)", lb, cb, la, ca)
	}
	wantP, _ := a.Params()
	wantM, _ := a.Momentum()
	gotP, _ := b.Params()
	gotM, _ := b.Momentum()
	sameTensors(t, "params after the resumed step", gotP, wantP)
	sameTensors(t, "momentum after the resumed step", gotM, wantM)
}

// TestRestoreResumes checks, for every method on the Host backend, that
// Momentum and Params after two steps, restored into a fresh step, round
// trip bit for bit, and that the restored step's third step gives the
// same tensors and loss as the uninterrupted step's. Bad restores are
// errors that leave the step unchanged.
func TestRestoreResumes(t *testing.T) {
	m := fixture.RN(t)
	for _, method := range steptest.Methods {
		t.Run(method, func(t *testing.T) { restoreResumes(t, backend.Host{}, m, method) })
	}
}

// restoreResumes is TestRestoreResumes's check of method on backend be.
func restoreResumes[A comparable](t *testing.T, be backend.Backend[A], m *clip.Model, method string) {
	tok := steptest.WordTokenizer{Vocab: m.Config.VocabSize}
	bs := steptest.Batches(m.Config.EmbedDim)
	l := steptest.MethodLearner(t, m, method, 0)
	newStep := func() *Step[A] {
		st, err := New(be, l, m, tok, softcpt.Defaults())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(st.Free)
		return st
	}
	a := newStep()
	if mom, err := a.Momentum(); err != nil || len(mom) != 0 {
		t.Fatalf("momentum before the first step: %d buffers, %v", len(mom), err)
	}
	for _, b := range bs[:2] {
		if _, _, err := a.Step(b); err != nil {
			t.Fatal(err)
		}
	}
	params, err := a.Params()
	if err != nil {
		t.Fatal(err)
	}
	mom, err := a.Momentum()
	if err != nil {
		t.Fatal(err)
	}
	if len(mom) != len(params) {
		t.Fatalf("%d momentum buffers for %d tensors", len(mom), len(params))
	}

	b := newStep()
	initial, err := b.Params()
	if err != nil {
		t.Fatal(err)
	}
	var name string
	for k := range params {
		name = k
	}
	without := map[string]*tensor.Tensor{}
	for k, v := range params {
		if k != name {
			without[k] = v
		}
	}
	wrong := map[string]*tensor.Tensor{}
	for k, v := range mom {
		wrong[k] = v
	}
	wrong[name] = tensor.New(1, 2)
	for _, c := range []struct {
		what      string
		params    map[string]*tensor.Tensor
		mom       map[string]*tensor.Tensor
		steps     int
		wantInErr string
	}{
		{"missing tensor", without, mom, 2, name},
		{"momentum shape", params, wrong, 2, "momentum of " + name},
		{"foreign buffer", params, map[string]*tensor.Tensor{"prompt_learner.other": tensor.New(1)}, 2, "prompt_learner.other"},
		{"buffers at step 0", params, mom, 0, "0 steps"},
	} {
		if err := b.Restore(c.params, c.mom, c.steps); err == nil || !strings.Contains(err.Error(), c.wantInErr) {
			t.Errorf("%s: error %v, want one naming %q", c.what, err, c.wantInErr)
		}
	}
	got, _ := b.Params()
	sameTensors(t, "after failed restores", got, initial)
	if b.Steps() != 0 {
		t.Errorf("failed restores set Steps to %d", b.Steps())
	}

	extra := map[string]*tensor.Tensor{"prompt_learner.unused": tensor.New(3)}
	for k, v := range params {
		extra[k] = v
	}
	if err := b.Restore(extra, mom, a.Steps()); err != nil {
		t.Fatal(err)
	}
	gotP, err := b.Params()
	if err != nil {
		t.Fatal(err)
	}
	gotM, err := b.Momentum()
	if err != nil {
		t.Fatal(err)
	}
	sameTensors(t, "restored params", gotP, params)
	sameTensors(t, "restored momentum", gotM, mom)

	sameNextStep(t, a, b, bs[2])
}

// TestMomentumWithoutMomentum checks that a step without momentum has no
// buffers to save and resumes from none.
func TestMomentumWithoutMomentum(t *testing.T) {
	m := fixture.RN(t)
	tok := steptest.WordTokenizer{Vocab: m.Config.VocabSize}
	opt := softcpt.Defaults()
	opt.Momentum = 0
	spec, err := SpecFromLearner(steptest.Learner(t, m, 0), m, tok, opt)
	if err != nil {
		t.Fatal(err)
	}
	st, err := fromSpec[*backend.HostArray](backend.Host{}, m, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Free()
	b := steptest.Batches(m.Config.EmbedDim)[0]
	if _, _, err := st.Step(b); err != nil {
		t.Fatal(err)
	}
	mom, err := st.Momentum()
	if err != nil || len(mom) != 0 {
		t.Errorf("momentum without momentum: %d buffers, %v", len(mom), err)
	}
	p, _ := st.Params()
	if err := st.Restore(p, nil, 1); err != nil {
		t.Error(err)
	}
}

// TestRestoreLinclsTaskContext checks that under the meta network lincls
// (the task context gets no gradient, so optim.SGD keeps no buffer for it)
// the step saves no momentum for the task context, refuses one on
// Restore, and resumes bit for bit from the others.
func TestRestoreLinclsTaskContext(t *testing.T) {
	m := fixture.RN(t)
	tok := steptest.WordTokenizer{Vocab: m.Config.VocabSize}
	bs := steptest.Batches(m.Config.EmbedDim)
	l := steptest.PGLearner(t, m, "SoftCPT-CATS", "lincls", 0)
	spec, err := SpecFromLearner(l, m, tok, softcpt.Defaults())
	if err != nil {
		t.Fatal(err)
	}
	newStep := func() *Step[*backend.HostArray] {
		st, err := fromSpec[*backend.HostArray](backend.Host{}, m, spec)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(st.Free)
		return st
	}
	a := newStep()
	for _, b := range bs[:2] {
		if _, _, err := a.Step(b); err != nil {
			t.Fatal(err)
		}
	}
	params, _ := a.Params()
	mom, err := a.Momentum()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := mom[l.TaskCtx.Name]; ok || len(mom) != 2 || len(params) != 3 {
		t.Fatalf("lincls: %d tensors, momentum buffers %v; want 3 tensors and no buffer for %s", len(params), keys(mom), l.TaskCtx.Name)
	}
	sameTensors(t, "task context after two steps", map[string]*tensor.Tensor{"t": params[l.TaskCtx.Name]},
		map[string]*tensor.Tensor{"t": l.TaskCtx.Value})

	b := newStep()
	bad := map[string]*tensor.Tensor{l.TaskCtx.Name: params[l.TaskCtx.Name]}
	for k, v := range mom {
		bad[k] = v
	}
	if err := b.Restore(params, bad, a.Steps()); err == nil || !strings.Contains(err.Error(), l.TaskCtx.Name) {
		t.Errorf("restoring a task-context buffer under lincls: error %v, want one naming %s", err, l.TaskCtx.Name)
	}
	if err := b.Restore(params, mom, a.Steps()); err != nil {
		t.Fatal(err)
	}
	sameNextStep(t, a, b, bs[2])
}

func keys(m map[string]*tensor.Tensor) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
