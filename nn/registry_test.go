package nn

import (
	"errors"
	"strings"
	"testing"

	"github.com/softcpt/softcpt-go/autograd"
	"github.com/softcpt/softcpt-go/tensor"
)

func TestRegistryLoadReportsEveryProblem(t *testing.T) {
	net := newTestNet(1)
	r := Collect(net)
	sd := map[string]*tensor.Tensor{}
	for k, v := range r.StateDict() {
		sd[k] = v.Clone()
	}
	delete(sd, "visual.0.weight")
	delete(sd, "head.bias")
	sd["visual.1.num_batches_tracked"] = tensor.Scalar(7)
	sd["extra.weight"] = tensor.New(2)
	sd["attn.bias_k"] = tensor.New(1, 1, 8)
	sd["ln.weight"] = tensor.New(9)
	sd["attn.in_proj_weight"] = tensor.New(8, 24)
	sd["tok.weight"].Fill(42) // valid entry: must not be copied when Load fails
	before := net.Tok.Weight.Value.Clone()

	err := r.Load(sd, true)
	if err == nil {
		t.Fatal("Load accepted a broken state dict")
	}
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("error %T does not wrap *LoadError: %v", err, err)
	}
	if strings.Join(le.Missing, ",") != "visual.0.weight,head.bias" {
		t.Errorf("missing %v", le.Missing)
	}
	if strings.Join(le.Unexpected, ",") != "attn.bias_k,extra.weight" {
		t.Errorf("unexpected %v", le.Unexpected)
	}
	if len(le.Mismatched) != 2 || le.Mismatched[0].Key != "attn.in_proj_weight" || le.Mismatched[1].Key != "ln.weight" {
		t.Fatalf("mismatched %+v", le.Mismatched)
	}
	msg := err.Error()
	for _, want := range []string{
		"2 missing keys: visual.0.weight, head.bias",
		"2 unexpected keys: attn.bias_k, extra.weight",
		"shape mismatch for attn.in_proj_weight: expected [24 8], got [8 24]",
		"shape mismatch for ln.weight: expected [8], got [9]",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if net.Tok.Weight.Value.Data()[0] != before.Data()[0] {
		t.Fatal("a failed Load copied some entries")
	}

	// Non-strict: missing and unexpected keys are tolerated, shape
	// mismatches are not.
	err = r.Load(sd, false)
	if err == nil || !strings.Contains(err.Error(), "ln.weight") || strings.Contains(err.Error(), "missing") {
		t.Fatalf("non-strict Load with mismatches: %v", err)
	}
	sd["ln.weight"] = tensor.Ones(8)
	sd["attn.in_proj_weight"] = tensor.Full(0.5, 24, 8)
	w := net.Attn.InProjWeight
	if err := r.Load(sd, false); err != nil {
		t.Fatalf("non-strict Load: %v", err)
	}
	if net.Attn.InProjWeight != w || w.Value.Data()[3] != 0.5 || net.Tok.Weight.Value.Data()[0] != 42 {
		t.Fatal("non-strict Load did not copy in place")
	}
	if net.Visual[1].(*BatchNorm2d).NumBatchesTracked.Item() != 7 {
		t.Fatal("num_batches_tracked not loaded")
	}

	// Nil tensors are reported, not dereferenced.
	sd2 := r.StateDict()
	sd2["head.weight"] = nil
	if err := r.Load(sd2, true); err == nil || !strings.Contains(err.Error(), "head.weight") {
		t.Fatalf("nil tensor: %v", err)
	}
}

func TestRegistryRoundTripAndOptionalBuffer(t *testing.T) {
	src, dst := newTestNet(1), newTestNet(2)
	rs, rd := Collect(src), Collect(dst)
	sd := rs.StateDict()
	delete(sd, "visual.1.num_batches_tracked") // optional: absent is fine
	if err := rd.Load(sd, true); err != nil {
		t.Fatalf("Load: %v", err)
	}
	for k, v := range rs.StateDict() {
		got := rd.StateDict()[k].Contiguous().Data()
		for i, x := range v.Contiguous().Data() {
			if got[i] != x {
				t.Fatalf("%s[%d] = %v after round trip, want %v", k, i, got[i], x)
			}
		}
	}
	// StateDict shares storage.
	rs.StateDict()["head.bias"].Fill(3)
	if src.Head.Bias.Value.Data()[0] != 3 {
		t.Fatal("StateDict does not share storage")
	}
}

func TestRegistryFreezeAndCounts(t *testing.T) {
	net := newTestNet(1)
	r := Collect(net)
	want := 3*4*9 + 4 + 4 + 4*2 + 2 + 24*8 + 24 + 8*8 + 8 + 8 + 8 + 10*8 + 3*8 + 3
	if n := r.NumParams(); n != want {
		t.Fatalf("NumParams = %d, want %d", n, want)
	}
	if r.NumTrainable() != want || len(r.Trainable()) != len(r.Params()) || len(r.Params()) != 14 {
		t.Fatalf("all parameters should start trainable: %d/%d", len(r.Trainable()), len(r.Params()))
	}
	net.Head.Weight.Grad = tensor.New(3, 8)
	if n := r.Freeze(); n != 14 || r.NumTrainable() != 0 || net.Head.Weight.Grad != nil {
		t.Fatalf("Freeze() matched %d, %d trainable left, grad %v", n, r.NumTrainable(), net.Head.Weight.Grad)
	}
	if n := r.Unfreeze("attn", "head"); n != 6 {
		t.Fatalf("Unfreeze(attn, head) matched %d, want 6", n)
	}
	for _, np := range r.NamedParams() {
		on := strings.HasPrefix(np.Name, "attn.") || strings.HasPrefix(np.Name, "head.")
		if np.Var.RequiresGrad() != on {
			t.Fatalf("%s requires grad = %v", np.Name, np.Var.RequiresGrad())
		}
	}
	if n := r.Freeze("attn.out_proj"); n != 2 || len(r.Trainable()) != 4 {
		t.Fatalf("Freeze(attn.out_proj) matched %d, trainable %d", n, len(r.Trainable()))
	}
	if n := r.Freeze("att"); n != 0 {
		t.Fatalf("prefix must match whole name components; matched %d", n)
	}
	// A frozen model records no graph.
	r.Freeze()
	x := autograd.Const(tensor.Ones(1, 8))
	if net.Head.Forward(x).RequiresGrad() {
		t.Fatal("frozen layer output requires grad")
	}
}

func TestRegistryDuplicateNamePanics(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), `"a.weight"`) {
			t.Fatalf("recovered %v", r)
		}
	}()
	r := NewRegistry()
	l := NewLinear(2, 2, false, tensor.NewRNG(1))
	l.Register(r, "a")
	l.Register(r, "a")
}
