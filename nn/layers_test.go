package nn

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/softcpt/softcpt-go/autograd"
	"github.com/softcpt/softcpt-go/tensor"
)

// jsonTensor is a tensor in testdata/layers.json.
type jsonTensor struct {
	Key   string    `json:"key"`
	Shape []int     `json:"shape"`
	Data  []float64 `json:"data"`
}

func (j jsonTensor) tensor() *tensor.Tensor { return tensor.FromSlice(toF32(j.Data), j.Shape...) }

type layersFixture struct {
	State      []jsonTensor         `json:"state"`
	X          jsonTensor           `json:"x"`
	Q          jsonTensor           `json:"q"`
	IDs        [][]int              `json:"ids"`
	VisTrain   jsonTensor           `json:"visual_train"`
	StatsAfter map[string][]float64 `json:"stats_after_train"`
	VisEval    jsonTensor           `json:"visual_eval"`
	Attn       jsonTensor           `json:"attn"`
	AttnCausal jsonTensor           `json:"attn_causal"`
	LN         jsonTensor           `json:"ln"`
	Tok        jsonTensor           `json:"tok"`
	Head       jsonTensor           `json:"head"`
}

func loadLayersFixture(t *testing.T) *layersFixture {
	t.Helper()
	b, err := os.ReadFile("testdata/layers.json")
	if err != nil {
		t.Fatalf("reading fixture: %v", err)
	}
	var f layersFixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("parsing fixture: %v", err)
	}
	return &f
}

// testNet mirrors the PyTorch Net of gen_layers.py.
type testNet struct {
	Visual Sequential
	Attn   *MultiheadAttention
	LN     *LayerNorm
	Tok    *Embedding
	Head   *Linear
}

func newTestNet(seed uint64) *testNet {
	rng := tensor.NewRNG(seed)
	return &testNet{
		Visual: Sequential{
			NewConv2d(3, 4, 3, autograd.Conv2dOptions{PadH: 1, PadW: 1}, false, rng),
			NewBatchNorm2d(4),
			Func{autograd.Relu},
			NewConv2d(4, 2, 1, autograd.Conv2dOptions{}, true, rng),
		},
		Attn: NewMultiheadAttention(8, 2, rng),
		LN:   NewLayerNorm(8),
		Tok:  NewEmbedding(10, 8, rng),
		Head: NewLinear(8, 3, true, rng),
	}
}

func (n *testNet) Register(r *Registry, prefix string) {
	n.Visual.Register(r, Join(prefix, "visual"))
	n.Attn.Register(r, Join(prefix, "attn"))
	n.LN.Register(r, Join(prefix, "ln"))
	n.Tok.Register(r, Join(prefix, "tok"))
	n.Head.Register(r, Join(prefix, "head"))
}

func (n *testNet) Train(on bool) { TrainAll(on, n.Visual, n.Attn, n.LN, n.Tok, n.Head) }

func (f *layersFixture) stateDict() map[string]*tensor.Tensor {
	sd := map[string]*tensor.Tensor{}
	for _, e := range f.State {
		sd[e.Key] = e.tensor()
	}
	return sd
}

func assertClose(t *testing.T, what string, got *tensor.Tensor, want jsonTensor, tol float64) {
	t.Helper()
	if !tensor.SameShape(got.Shape(), want.Shape) {
		t.Fatalf("%s: shape %v, PyTorch %v", what, got.Shape(), want.Shape)
	}
	gd := got.Contiguous().Data()
	for i, w := range want.Data {
		if !relClose(float64(gd[i]), w, tol, tol) {
			t.Fatalf("%s: element %d = %.7g, PyTorch %.7g", what, i, gd[i], w)
		}
	}
}

func TestRegistryNamesMatchPyTorch(t *testing.T) {
	f := loadLayersFixture(t)
	r := Collect(newTestNet(1))
	names := r.Names()
	if len(names) != len(f.State) {
		t.Fatalf("%d names %v, PyTorch has %d", len(names), names, len(f.State))
	}
	for i, e := range f.State {
		if names[i] != e.Key {
			t.Fatalf("name %d = %q, PyTorch %q (all: %v)", i, names[i], e.Key, names)
		}
		if e.Key == "visual.1.num_batches_tracked" {
			continue // int64 scalar in PyTorch
		}
		got := r.StateDict()[e.Key].Shape()
		if !tensor.SameShape(got, e.Shape) {
			t.Errorf("%s: shape %v, PyTorch %v", e.Key, got, e.Shape)
		}
	}
	if p, ok := r.Param("attn.out_proj.weight"); !ok || p.Name != "attn.out_proj.weight" {
		t.Fatalf("Param lookup / Var.Name: %v %v", ok, p)
	}
	if _, ok := r.Buffer("visual.1.running_var"); !ok {
		t.Fatal("running_var buffer not found")
	}
	if _, ok := r.Param("visual.1.running_var"); ok {
		t.Fatal("buffer returned as a parameter")
	}
}

// TestLayersMatchPyTorch loads PyTorch's state dict into the Go model and
// compares every layer's output, BatchNorm's running statistics after a
// training pass, and eval mode.
func TestLayersMatchPyTorch(t *testing.T) {
	f := loadLayersFixture(t)
	net := newTestNet(2)
	r := Collect(net)
	if err := r.Load(f.stateDict(), true); err != nil {
		t.Fatalf("Load: %v", err)
	}
	bn := net.Visual[1].(*BatchNorm2d)
	if bn.NumBatchesTracked.Item() != 0 {
		t.Fatalf("num_batches_tracked loaded as %v", bn.NumBatchesTracked.Item())
	}
	x := autograd.Const(f.X.tensor())
	assertClose(t, "visual (train)", net.Visual.Forward(x).Value, f.VisTrain, 1e-5)
	for _, k := range []string{"running_mean", "running_var"} {
		buf, _ := r.Buffer("visual.1." + k)
		assertClose(t, k+" after a training pass", buf, jsonTensor{Shape: []int{4}, Data: f.StatsAfter[k]}, 1e-5)
	}
	if bn.NumBatchesTracked.Item() != 1 {
		t.Fatalf("num_batches_tracked = %v after one training pass", bn.NumBatchesTracked.Item())
	}
	net.Train(false)
	if bn.Training {
		t.Fatal("Train(false) did not reach the BatchNorm inside Sequential")
	}
	before := bn.RunningMean.Clone()
	assertClose(t, "visual (eval)", net.Visual.Forward(x).Value, f.VisEval, 1e-5)
	for i, v := range bn.RunningMean.Data() {
		if v != before.Data()[i] {
			t.Fatal("eval pass changed the running mean")
		}
	}
	if bn.NumBatchesTracked.Item() != 1 {
		t.Fatal("eval pass counted a batch")
	}

	q := autograd.Const(f.Q.tensor())
	assertClose(t, "attention", net.Attn.Forward(q, q, nil, false).Value, f.Attn, 1e-5)
	assertClose(t, "causal attention", net.Attn.Forward(q, q, nil, true).Value, f.AttnCausal, 1e-5)
	ln := net.LN.Forward(q)
	assertClose(t, "layer norm", ln.Value, f.LN, 1e-5)
	assertClose(t, "linear", net.Head.Forward(ln).Value, f.Head, 1e-5)
	var ids []int
	for _, row := range f.IDs {
		ids = append(ids, row...)
	}
	assertClose(t, "embedding", net.Tok.Forward(ids, len(f.IDs), len(f.IDs[0])).Value, f.Tok, 0)
}

// TestLayersForwardIsTheirOp checks that each layer calls its op with its
// own weights and options (stride/padding reach Conv2d).
func TestLayersForwardIsTheirOp(t *testing.T) {
	rng := tensor.NewRNG(3)
	conv := NewConv2d(2, 6, 3, autograd.Conv2dOptions{StrideH: 2, StrideW: 2, PadH: 1, PadW: 1, Groups: 2}, true, rng)
	x := autograd.Const(tensor.RandN(rng, 0, 1, 1, 2, 7, 7))
	got := conv.Forward(x)
	want := autograd.Conv2d(x, conv.Weight, conv.Bias, conv.Options)
	if !tensor.SameShape(got.Shape(), []int{1, 6, 4, 4}) {
		t.Fatalf("conv output %v, want [1 6 4 4]", got.Shape())
	}
	for i, v := range want.Value.Data() {
		if got.Value.Data()[i] != v {
			t.Fatal("Conv2d layer differs from autograd.Conv2d")
		}
	}
	if !tensor.SameShape(conv.Weight.Shape(), []int{6, 1, 3, 3}) {
		t.Fatalf("grouped conv weight %v", conv.Weight.Shape())
	}
	lin := NewLinear(5, 3, false, rng)
	if lin.Bias != nil || len(Collect(lin).Names()) != 1 {
		t.Fatal("bias-free Linear registered a bias")
	}
	xl := autograd.Const(tensor.RandN(rng, 0, 1, 2, 4, 5))
	if s := lin.Forward(xl).Shape(); !tensor.SameShape(s, []int{2, 4, 3}) {
		t.Fatalf("linear output %v", s)
	}
	mha := NewMultiheadAttention(8, 4, rng)
	xq := autograd.Const(tensor.RandN(rng, 0, 1, 2, 1, 8))
	xkv := autograd.Const(tensor.RandN(rng, 0, 1, 2, 5, 8))
	if s := mha.Forward(xq, xkv, nil, false).Shape(); !tensor.SameShape(s, []int{2, 1, 8}) {
		t.Fatalf("cross-attention output %v", s)
	}
}

// TestDefaultInit checks PyTorch's default initialisation bounds and
// statistics.
func TestDefaultInit(t *testing.T) {
	rng := tensor.NewRNG(4)
	stats := func(d []float32) (lo, hi, mean, std float64) {
		lo, hi = math.Inf(1), math.Inf(-1)
		for _, v := range d {
			lo, hi = math.Min(lo, float64(v)), math.Max(hi, float64(v))
			mean += float64(v)
		}
		mean /= float64(len(d))
		for _, v := range d {
			std += (float64(v) - mean) * (float64(v) - mean)
		}
		return lo, hi, mean, math.Sqrt(std / float64(len(d)))
	}
	checkUniform := func(name string, d []float32, bound float64) {
		lo, hi, mean, std := stats(d)
		if lo < -bound || hi > bound || hi < 0.9*bound || lo > -0.9*bound ||
			math.Abs(mean) > 0.05*bound || math.Abs(std-bound/math.Sqrt(3)) > 0.05*bound {
			t.Errorf("%s: range [%g, %g] mean %g std %g, want U(±%g)", name, lo, hi, mean, std, bound)
		}
	}
	lin := NewLinear(64, 128, true, rng)
	checkUniform("linear weight", lin.Weight.Value.Data(), 1/8.0)
	checkUniform("linear bias", lin.Bias.Value.Data(), 1/8.0)
	conv := NewConv2d(16, 64, 3, autograd.Conv2dOptions{}, true, rng)
	checkUniform("conv weight", conv.Weight.Value.Data(), 1/12.0)
	mha := NewMultiheadAttention(64, 8, rng)
	checkUniform("in_proj_weight", mha.InProjWeight.Value.Data(), math.Sqrt(6.0/256))
	checkUniform("out_proj.weight", mha.OutProj.Weight.Value.Data(), 1/8.0)
	for _, v := range append(mha.InProjBias.Value.Data(), mha.OutProj.Bias.Value.Data()...) {
		if v != 0 {
			t.Fatal("attention biases not zero")
		}
	}
	emb := NewEmbedding(100, 64, rng)
	if _, _, mean, std := stats(emb.Weight.Value.Data()); math.Abs(mean) > 0.05 || math.Abs(std-1) > 0.05 {
		t.Errorf("embedding mean %g std %g, want N(0, 1)", mean, std)
	}
	ln := NewLayerNorm(5)
	bn := NewBatchNorm2d(5)
	for i := 0; i < 5; i++ {
		if ln.Weight.Value.Data()[i] != 1 || ln.Bias.Value.Data()[i] != 0 || bn.Weight.Value.Data()[i] != 1 ||
			bn.Bias.Value.Data()[i] != 0 || bn.RunningMean.Data()[i] != 0 || bn.RunningVar.Data()[i] != 1 {
			t.Fatal("norm layers not initialised to ones/zeros")
		}
	}
	if ln.Eps != 1e-5 || bn.Eps != 1e-5 || bn.Momentum != 0.1 || !bn.Training {
		t.Fatal("norm layer defaults")
	}
	// Same seed, same weights.
	a, b := NewLinear(3, 2, true, tensor.NewRNG(9)), NewLinear(3, 2, true, tensor.NewRNG(9))
	for i, v := range a.Weight.Value.Data() {
		if b.Weight.Value.Data()[i] != v {
			t.Fatal("initialisation not deterministic for a seed")
		}
	}
}

func TestDropoutModeSwitch(t *testing.T) {
	d := NewDropout(0.5, tensor.NewRNG(5))
	seq := Sequential{d}
	x := autograd.Const(tensor.Ones(1000))
	zeros := 0
	for _, v := range seq.Forward(x).Value.Data() {
		if v == 0 {
			zeros++
		} else if v != 2 {
			t.Fatalf("kept value %v, want 2", v)
		}
	}
	if zeros < 400 || zeros > 600 {
		t.Fatalf("%d of 1000 dropped with p=0.5", zeros)
	}
	seq.Train(false)
	for _, v := range seq.Forward(x).Value.Data() {
		if v != 1 {
			t.Fatal("eval-mode dropout changed the input")
		}
	}
}
