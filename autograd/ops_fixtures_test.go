package autograd

import (
	"encoding/binary"
	"encoding/json"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/softcpt/softcpt-go/tensor"
)

// opsFixture is one case of testdata/ops/index.json, written by
// testdata/gen_ops_fixtures.py from PyTorch 1.13.
type opsFixture struct {
	Name    string           `json:"name"`
	Op      string           `json:"op"`
	Params  map[string]any   `json:"params"`
	Tensors map[string][]int `json:"tensors"`
}

// fixtureTol is the allowed error relative to the largest magnitude of the
// reference tensor.
const fixtureTol = 1e-5

func loadOpsFixtures(t *testing.T) []opsFixture {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "ops", "index.json"))
	if err != nil {
		t.Fatalf("reading fixture index: %v", err)
	}
	var idx struct {
		Cases []opsFixture `json:"cases"`
	}
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatalf("parsing fixture index: %v", err)
	}
	if len(idx.Cases) == 0 {
		t.Fatal("fixture index lists no cases")
	}
	return idx.Cases
}

// tensor reads one stored tensor of the case.
func (f opsFixture) tensor(t *testing.T, name string) *tensor.Tensor {
	t.Helper()
	shape, ok := f.Tensors[name]
	if !ok {
		t.Fatalf("%s: no tensor %q in fixture", f.Name, name)
	}
	path := filepath.Join("testdata", "ops", f.Name+"_"+name+".bin")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v", f.Name, err)
	}
	n := tensor.Numel(shape)
	if len(raw) != 4*n {
		t.Fatalf("%s: %d bytes for shape %v", path, len(raw), shape)
	}
	d := make([]float32, n)
	for i := range d {
		d[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return tensor.FromSlice(d, shape...)
}

func (f opsFixture) num(name string) float64 { return f.Params[name].(float64) }
func (f opsFixture) int(name string) int     { return int(f.Params[name].(float64)) }
func (f opsFixture) flag(name string) bool   { return f.Params[name].(bool) }

// compare fails unless got matches the stored tensor want within
// fixtureTol·max|want|, and returns that relative error.
func (f opsFixture) compare(t *testing.T, what string, got *tensor.Tensor, want *tensor.Tensor) float64 {
	t.Helper()
	if got == nil {
		t.Errorf("%s/%s: no value (gradient not computed)", f.Name, what)
		return math.Inf(1)
	}
	if !tensor.SameShape(got.Shape(), want.Shape()) {
		t.Errorf("%s/%s: shape %v, want %v", f.Name, what, got.Shape(), want.Shape())
		return math.Inf(1)
	}
	g, w := got.Contiguous().Data(), want.Data()
	var scale, maxErr float64
	worst := 0
	for i := range w {
		scale = math.Max(scale, math.Abs(float64(w[i])))
		if e := math.Abs(float64(g[i]) - float64(w[i])); e > maxErr || math.IsNaN(e) {
			maxErr, worst = e, i
		}
	}
	rel := maxErr / math.Max(scale, 1e-30)
	if !(rel <= fixtureTol) {
		t.Errorf("%s/%s: element %d = %v, want %v (error %.3g relative to max |ref| %.3g)", f.Name, what, worst, g[worst], w[worst], rel, scale)
	}
	return rel
}

// TestOpsTorchFixtures replays PyTorch's outputs and gradients for
// conv2d, batch_norm (train and eval, with running statistics), max/avg
// pooling and multi_head_attention_forward.
func TestOpsTorchFixtures(t *testing.T) {
	worst := map[string]float64{}
	for _, f := range loadOpsFixtures(t) {
		ts := func(name string) *tensor.Tensor { return f.tensor(t, name) }
		var y *Var
		grads := map[string]*Var{}
		param := func(name string) *Var {
			v := Param(ts(name))
			grads[name] = v
			return v
		}
		extra := map[string]*tensor.Tensor{} // further outputs to compare
		switch f.Op {
		case "conv2d":
			var b *Var
			if _, ok := f.Tensors["b"]; ok {
				b = param("b")
			}
			s, p, d := f.int("stride"), f.int("padding"), f.int("dilation")
			opt := Conv2dOptions{StrideH: s, StrideW: s, PadH: p, PadW: p, DilationH: d, DilationW: d, Groups: f.int("groups")}
			y = Conv2d(param("x"), param("w"), b, opt)
		case "batchnorm2d":
			rm, rv := ts("rm"), ts("rv")
			y = BatchNorm2d(param("x"), param("gamma"), param("beta"), rm, rv, f.flag("train"), float32(f.num("momentum")), float32(f.num("eps")))
			extra["rm_after"], extra["rv_after"] = rm, rv
		case "maxpool2d":
			y = MaxPool2d(param("x"), f.int("kernel"), f.int("stride"), f.int("padding"))
		case "avgpool2d":
			y = AvgPool2d(param("x"), f.int("kernel"), f.int("stride"), f.int("padding"))
		case "mha":
			xq := param("xq")
			xkv := xq
			if !f.flag("self") {
				xkv = param("xkv")
			}
			var mask *tensor.Tensor
			if _, ok := f.Tensors["mask"]; ok {
				mask = ts("mask")
			}
			y = MultiHeadAttention(xq, xkv, param("w"), param("bi"), param("ow"), param("ob"), f.int("heads"), mask, f.flag("causal"))
		default:
			t.Fatalf("%s: unknown op %q", f.Name, f.Op)
		}
		y.BackwardWith(ts("gy"))
		worst[f.Op] = math.Max(worst[f.Op], f.compare(t, "y", y.Value, ts("y")))
		for name, v := range grads {
			worst[f.Op] = math.Max(worst[f.Op], f.compare(t, "d"+name, v.Grad, ts("d"+name)))
		}
		for name, got := range extra {
			worst[f.Op] = math.Max(worst[f.Op], f.compare(t, name, got, ts(name)))
		}
	}
	for _, op := range slices.Sorted(maps.Keys(worst)) {
		t.Logf("%s: max error relative to max |reference| %.3g", op, worst[op])
	}
}
