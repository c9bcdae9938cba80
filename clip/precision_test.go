package clip_test

import (
	"math"
	"os"
	"testing"

	"github.com/softcpt/softcpt-go/autograd"
	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/clip/imageproc"
	"github.com/softcpt/softcpt-go/clip/tokenizer"
	"github.com/softcpt/softcpt-go/data"
	"github.com/softcpt/softcpt-go/kernels"
	"github.com/softcpt/softcpt-go/realdata"
	"github.com/softcpt/softcpt-go/softcpt"
	"github.com/softcpt/softcpt-go/tensor"
)

const (
	shippedModel     = "../pretrained/model.safetensors"
	shippedBPE       = "../pretrained/bpe.txt.gz"
	shippedBenchmark = "../realdata/assets/benchmark.bin"
)

// rowCosines returns the cosine similarity of each row of a and b ([N, E]).
func rowCosines(a, b *tensor.Tensor) []float64 {
	n, e := a.Dim(0), a.Dim(1)
	ad, bd := a.Contiguous().Data(), b.Contiguous().Data()
	out := make([]float64, n)
	for i := range out {
		var ab, aa, bb float64
		for j := 0; j < e; j++ {
			x, y := float64(ad[i*e+j]), float64(bd[i*e+j])
			ab += x * y
			aa += x * x
			bb += y * y
		}
		out[i] = ab / math.Sqrt(aa*bb)
	}
	return out
}

// worst returns the smallest value.
func worst(xs []float64) float64 {
	w := math.Inf(1)
	for _, x := range xs {
		w = min(w, x)
	}
	return w
}

// TestBF16AccuracyShipped is the accuracy gate of the bf16 towers on the
// shipped model and benchmark: the image features of every benchmark test
// image and the zero-shot class features of every task, computed at
// precision BF16, against FP32: the cosine similarity of each row (the
// worst case is logged and must exceed 0.999), each task's zero-shot score
// (its own metric; logged), and the predictions: at least 99% of all test
// predictions unchanged, and the mean over tasks of the absolute score
// difference at most 0.5 points.
//
// The stricter gate, every task within 0.3 points, is logged
// (largest difference) but not asserted because it does not hold (see
// bench/RESULTS.md ("bf16 frozen towers")): on the shipped benchmark a single changed
// prediction moves a task of fewer than 334 test images by more than 0.3
// points (one of nature/flowers' 66 images is 1.5 points).
func TestBF16AccuracyShipped(t *testing.T) {
	if !kernels.BF16Supported() {
		t.Skip("no AVX512-BF16 kernels on this CPU/build: bf16 runs in fp32")
	}
	if testing.Short() {
		t.Skip("encodes the whole shipped benchmark twice")
	}
	for _, p := range []string{shippedModel, shippedBPE, shippedBenchmark} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("shipped file missing: %v", err)
		}
	}
	m, err := clip.Load(shippedModel)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(shippedBPE)
	if err != nil {
		t.Fatal(err)
	}
	b, err := realdata.OpenBenchmark(shippedBenchmark)
	if err != nil {
		t.Fatal(err)
	}
	// Every test image once.
	index := map[int]int{}
	var imgs []int
	var specs []softcpt.TaskSpec
	var templates [][]string
	for _, rt := range b.Tasks {
		specs = append(specs, softcpt.TaskSpec{Name: rt.ID, TaskName: rt.Phrase, Classes: rt.Classes, Template: rt.Template})
		templates = append(templates, []string{rt.Template})
		for _, it := range rt.Test {
			if _, ok := index[it.Image]; !ok {
				index[it.Image] = len(imgs)
				imgs = append(imgs, it.Image)
			}
		}
	}
	R := m.Config.ImageResolution
	pix := tensor.New(len(imgs), 3, R, R)
	for i, idx := range imgs {
		copy(pix.Data()[i*3*R*R:(i+1)*3*R*R], imageproc.CLIPTransformRGB(b.Image(idx), R))
	}
	encode := func(p autograd.Precision) (img, cls *tensor.Tensor) {
		m.SetPrecision(p)
		img = m.EncodeImage(pix)
		cls, err := softcpt.ZeroShotFeatures(m, nil, tok, specs, templates)
		if err != nil {
			t.Fatal(err)
		}
		return img, cls
	}
	img32, cls32 := encode(autograd.FP32)
	img16, cls16 := encode(autograd.BF16)
	m.SetPrecision(autograd.FP32)
	wi, wt := worst(rowCosines(img16, img32)), worst(rowCosines(cls16, cls32))
	t.Logf("worst cosine bf16 vs fp32: image features %.6f (%d images), text (class) features %.6f (%d classes)", wi, len(imgs), wt, cls32.Dim(0))
	if wi < 0.999 || wt < 0.999 {
		t.Errorf("bf16 features too far from fp32: worst cosine image %.6f, text %.6f (gate 0.999)", wi, wt)
	}

	var sizes []int
	for _, s := range specs {
		sizes = append(sizes, len(s.Classes))
	}
	score := func(img, cls *tensor.Tensor) (out []float64, preds [][]int) {
		c, err := softcpt.NewClassifier(cls, sizes)
		if err != nil {
			t.Fatal(err)
		}
		E := img.Dim(1)
		for ti, rt := range b.Tasks {
			feats := tensor.New(len(rt.Test), E)
			labels := make([]int, len(rt.Test))
			tasks := make([]int, len(rt.Test))
			for i, it := range rt.Test {
				j := index[it.Image]
				copy(feats.Data()[i*E:(i+1)*E], img.Data()[j*E:(j+1)*E])
				labels[i], tasks[i] = it.Label, ti
			}
			metric := data.Accuracy
			if rt.Metric == realdata.MetricMeanPerClass {
				metric = data.MeanPerClass
			}
			p := c.Predict(feats, tasks)
			out = append(out, data.Score(metric, len(rt.Classes), p, labels))
			preds = append(preds, p)
		}
		return out, preds
	}
	s32, p32 := score(img32, cls32)
	s16, p16 := score(img16, cls16)
	var maxDiff, sumDiff float64
	changed, total := 0, 0
	for i, rt := range b.Tasks {
		d := s16[i] - s32[i]
		maxDiff = max(maxDiff, math.Abs(d))
		sumDiff += math.Abs(d)
		ch := 0
		for j := range p32[i] {
			if p32[i][j] != p16[i][j] {
				ch++
			}
		}
		changed += ch
		total += len(p32[i])
		t.Logf("%-28s zero-shot fp32 %6.2f bf16 %6.2f (%+.2f; %d of %d predictions changed)", rt.ID, s32[i], s16[i], d, ch, len(rt.Test))
	}
	meanDiff := sumDiff / float64(len(b.Tasks))
	t.Logf("largest per-task zero-shot difference %.2f points, mean %.3f; %d of %d predictions changed", maxDiff, meanDiff, changed, total)
	if meanDiff > 0.5 {
		t.Errorf("mean per-task zero-shot difference %.3f points above 0.5", meanDiff)
	}
	if float64(changed) > 0.01*float64(total) {
		t.Errorf("%d of %d zero-shot predictions changed (more than 1%%)", changed, total)
	}
}

// TestBF16RN50Random measures the bf16 towers of a full-size RN50 with
// random weights (OpenAI's initialisation) against fp32: image features
// of a batch of random images and text features of random token
// sequences, and the gradient of the text features with respect to the
// input embeddings (the path to learned prompts); it logs the relative
// errors ‖bf16 − fp32‖/‖fp32‖ and requires each below 2%.
func TestBF16RN50Random(t *testing.T) {
	if !kernels.BF16Supported() {
		t.Skip("no AVX512-BF16 kernels on this CPU/build: bf16 runs in fp32")
	}
	if testing.Short() {
		t.Skip("runs a full-size RN50")
	}
	cfg := clip.RN50()
	m := clip.NewRandom(cfg, 7)
	m.SetTrainable(false)
	rng := tensor.NewRNG(8)
	R := cfg.ImageResolution
	imgs := tensor.RandN(rng, 0, 1, 2, 3, R, R)
	const B, T = 4, 16
	emb := tensor.RandN(rng, 0, 0.02, B, T, cfg.TransformerWidth)
	eot := []int{T - 1, T - 3, 5, T - 1}
	g := tensor.RandN(rng, 0, 1, B, cfg.EmbedDim)
	run := func(p autograd.Precision) (img, txt, grad *tensor.Tensor) {
		m.SetPrecision(p)
		img = m.EncodeImage(imgs)
		x := autograd.Param(emb.Clone())
		f := m.TextFeaturesFromEmbeddings(x, eot)
		f.BackwardWith(g)
		return img, f.Value, x.Grad
	}
	i32, t32, g32 := run(autograd.FP32)
	i16, t16, g16 := run(autograd.BF16)
	m.SetPrecision(autograd.FP32)
	for _, c := range []struct {
		name     string
		got, ref *tensor.Tensor
	}{{"image features", i16, i32}, {"text features", t16, t32}, {"embedding gradient", g16, g32}} {
		e := relNorm(c.got, c.ref)
		t.Logf("RN50 random weights, %s: relative error bf16 vs fp32 %.3g", c.name, e)
		if e > 0.02 || math.IsNaN(e) {
			t.Errorf("%s: relative error %.3g above 2%%", c.name, e)
		}
		if e == 0 {
			t.Errorf("%s: bf16 equal to fp32 (bf16 path not taken?)", c.name)
		}
	}
}

// relNorm returns ‖a − b‖/‖b‖.
func relNorm(a, b *tensor.Tensor) float64 {
	ad, bd := a.Contiguous().Data(), b.Contiguous().Data()
	var d, n float64
	for i := range bd {
		x := float64(ad[i]) - float64(bd[i])
		d += x * x
		n += float64(bd[i]) * float64(bd[i])
	}
	return math.Sqrt(d / n)
}
