package softcpt

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/softcpt/softcpt-go/data"
	"github.com/softcpt/softcpt-go/tensor"
)

// lpData returns n samples of k Gaussian classes in e dims: class c has
// mean means[c] and per-dimension noise std[j]; labels cycle 0..k-1.
func lpData(rng *rand.Rand, n int, means [][]float64, std []float64) (*tensor.Tensor, []int) {
	k, e := len(means), len(std)
	x := tensor.New(n, e)
	d := x.Data()
	y := make([]int, n)
	for i := range n {
		c := i % k
		y[i] = c
		for j := range e {
			d[i*e+j] = float32(means[c][j] + std[j]*rng.NormFloat64())
		}
	}
	return x, y
}

func lpMeans(rng *rand.Rand, k, e int, scale float64) [][]float64 {
	m := make([][]float64, k)
	for c := range m {
		m[c] = make([]float64, e)
		for j := range m[c] {
			m[c][j] = scale * rng.NormFloat64()
		}
	}
	return m
}

func constStd(e int, s float64) []float64 {
	v := make([]float64, e)
	for j := range v {
		v[j] = s
	}
	return v
}

// TestLogRegGradient checks the analytic gradient of the objective
// against central finite differences, multinomial and binary.
func TestLogRegGradient(t *testing.T) {
	rng := tensor.NewRNG(1)
	for _, tc := range []struct {
		name   string
		k      int
		binary bool
	}{{"multinomial", 5, false}, {"binary", 2, true}} {
		t.Run(tc.name, func(t *testing.T) {
			n, e := 23, 7
			x, y := lpData(rng, n, lpMeans(rng, tc.k, e, 1), constStd(e, 1))
			rows := tc.k
			if tc.binary {
				rows = 1
			}
			ob := newLogRegObjective(x.Data(), n, e, rows, y, 1/0.7, tc.binary)
			theta := make([]float64, rows*(e+1))
			for j := range theta {
				theta[j] = 0.5 * rng.NormFloat64()
			}
			// Products relative to θ: plain float32 products (round-off
			// ~1e-7 of f) would swamp central differences with h = 1e-6.
			// TestLogRegSGEMMProducts checks the plain ones.
			ob.setReference(theta)
			g := make([]float64, len(theta))
			ob.eval(theta, g)
			tmp := make([]float64, len(theta))
			worst := 0.0
			for j := range theta {
				const h = 1e-6
				old := theta[j]
				theta[j] = old + h
				fp := ob.eval(theta, tmp)
				theta[j] = old - h
				fm := ob.eval(theta, tmp)
				theta[j] = old
				fd := (fp - fm) / (2 * h)
				rel := math.Abs(fd-g[j]) / math.Max(1, math.Abs(g[j]))
				worst = math.Max(worst, rel)
				if rel > 1e-6 {
					t.Errorf("param %d: analytic %.10g, finite difference %.10g", j, g[j], fd)
				}
			}
			t.Logf("worst relative gradient error %.2e over %d parameters", worst, len(theta))
		})
	}
}

type lpFixture struct {
	Datasets []struct {
		Name    string    `json:"name"`
		Classes int       `json:"classes"`
		Dim     int       `json:"dim"`
		X       []float64 `json:"x"`
		Y       []int     `json:"y"`
		Probe   []float64 `json:"probe"`
		Cases   []struct {
			C          float64   `json:"c"`
			Binary     bool      `json:"binary"`
			Objective  float64   `json:"objective"`
			W          []float64 `json:"w"`
			B          []float64 `json:"b"`
			TrainPreds []int     `json:"train_preds"`
			ProbePreds []int     `json:"probe_preds"`
		} `json:"cases"`
	} `json:"datasets"`
}

func f32Tensor(v []float64, e int) *tensor.Tensor {
	d := make([]float32, len(v))
	for i, x := range v {
		d[i] = float32(x)
	}
	return tensor.FromSlice(d, len(v)/e, e)
}

// TestLogRegMatchesReference compares fits with the optima computed by
// testdata/gen_linprobe_fixture.py (numpy Newton, cross-checked against
// torch float64 L-BFGS): objective within 1e-6 relative with the default
// solver options, parameters within 1e-6 with a tight tolerance, and
// identical predictions.
func TestLogRegMatchesReference(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "linprobe", "fixture.json"))
	if err != nil {
		t.Fatalf("fixture (regenerate with testdata/gen_linprobe_fixture.py): %v", err)
	}
	var fx lpFixture
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatal(err)
	}
	if len(fx.Datasets) != 2 {
		t.Fatalf("fixture has %d datasets, want 2", len(fx.Datasets))
	}
	for _, ds := range fx.Datasets {
		x := f32Tensor(ds.X, ds.Dim)
		probe := f32Tensor(ds.Probe, ds.Dim)
		for _, cs := range ds.Cases {
			for _, tight := range []bool{false, true} {
				opt := LBFGSOptions{}
				if tight {
					opt = LBFGSOptions{GradTol: 1e-11, FTol: -1, MaxIter: 10000}
				}
				m, err := FitLogReg(x, ds.Y, ds.Classes, cs.C, opt, nil)
				if err != nil {
					t.Fatal(err)
				}
				rel := math.Abs(m.Objective-cs.Objective) / math.Abs(cs.Objective)
				t.Logf("%s C=%g tight=%v: J=%.12g ref %.12g rel %.1e, %d iters %d evals, stop %q",
					ds.Name, cs.C, tight, m.Objective, cs.Objective, rel, m.Iter, m.Evals, m.Stop)
				if m.Binary != cs.Binary {
					t.Errorf("binary=%v, want %v", m.Binary, cs.Binary)
				}
				// The tight fits run into round-off, where the line search
				// stops making progress (not "converged" by the tolerances).
				if rel > 1e-6 || (!tight && !m.Converged) {
					t.Errorf("%s C=%g: objective %.12g vs reference %.12g (rel %.1e), converged %v", ds.Name, cs.C, m.Objective, cs.Objective, rel, m.Converged)
				}
				if tight {
					if rel > 1e-12 {
						t.Errorf("tight fit: objective rel diff %.1e", rel)
					}
					scale := 1.0
					for _, v := range cs.W {
						scale = math.Max(scale, math.Abs(v))
					}
					for j := range cs.W {
						if math.Abs(m.W[j]-cs.W[j]) > 1e-6*scale {
							t.Errorf("W[%d] = %.10g, want %.10g", j, m.W[j], cs.W[j])
						}
					}
					for k := range cs.B {
						if math.Abs(m.B[k]-cs.B[k]) > 1e-6*scale {
							t.Errorf("B[%d] = %.10g, want %.10g", k, m.B[k], cs.B[k])
						}
					}
				}
				for _, p := range []struct {
					x    *tensor.Tensor
					want []int
				}{{x, cs.TrainPreds}, {probe, cs.ProbePreds}} {
					got := m.Predict(p.x)
					for i := range got {
						if got[i] != p.want[i] {
							t.Errorf("%s C=%g: prediction %d = %d, want %d", ds.Name, cs.C, i, got[i], p.want[i])
						}
					}
				}
			}
		}
	}
}

// TestLogRegWarmStartAndAbsentClass checks that a warm start reaches the
// same optimum, and that a class absent from the training labels gets no
// row (as in sklearn) so the fit equals the fit without it.
func TestLogRegWarmStartAndAbsentClass(t *testing.T) {
	rng := tensor.NewRNG(3)
	x, y := lpData(rng, 40, lpMeans(rng, 4, 6, 1), constStd(6, 1))
	tight := LBFGSOptions{GradTol: 1e-10, FTol: -1, MaxIter: 5000}
	cold, err := FitLogReg(x, y, 4, 2, tight, nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := FitLogReg(x, y, 4, 1e-3, tight, nil)
	if err != nil {
		t.Fatal(err)
	}
	warm, err := FitLogReg(x, y, 4, 2, tight, other)
	if err != nil {
		t.Fatal(err)
	}
	if rel := math.Abs(warm.Objective-cold.Objective) / cold.Objective; rel > 1e-12 {
		t.Errorf("warm start objective %.15g vs cold %.15g", warm.Objective, cold.Objective)
	}
	for j := range cold.W {
		if math.Abs(warm.W[j]-cold.W[j]) > 1e-7 {
			t.Fatalf("warm W[%d]=%g cold %g", j, warm.W[j], cold.W[j])
		}
	}
	again, err := FitLogReg(x, y, 4, 2, LBFGSOptions{}, cold)
	if err != nil {
		t.Fatal(err)
	}
	if again.Iter != 0 {
		t.Errorf("refit from its own optimum took %d iterations, want 0", again.Iter)
	}

	six, err := FitLogReg(x, y, 6, 2, tight, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(six.Labels) != 4 || six.Labels[3] != 3 {
		t.Fatalf("labels %v, want [0 1 2 3]", six.Labels)
	}
	if rel := math.Abs(six.Objective-cold.Objective) / cold.Objective; rel > 1e-12 {
		t.Errorf("6-class fit with 2 absent: objective %.15g vs %.15g", six.Objective, cold.Objective)
	}
	// Labels {1, 4} of 5: a binary model predicting only those.
	var yb []int
	for _, l := range y {
		yb = append(yb, []int{1, 4}[l%2])
	}
	bin, err := FitLogReg(x, yb, 5, 1, LBFGSOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bin.Binary {
		t.Error("two present labels: want the binary objective")
	}
	for _, p := range bin.Predict(x) {
		if p != 1 && p != 4 {
			t.Fatalf("binary model predicted %d", p)
		}
	}
	multi, err := FitLogReg(x, yb, 5, 1, LBFGSOptions{BinaryAsMultinomial: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if multi.Binary || math.Abs(multi.Objective-bin.Objective) < 1e-6*bin.Objective {
		t.Errorf("BinaryAsMultinomial: binary=%v objective %g (binary objective %g)", multi.Binary, multi.Objective, bin.Objective)
	}
}

// TestLogRegSeparable: well separated classes are fitted and predicted
// perfectly with a large C.
func TestLogRegSeparable(t *testing.T) {
	rng := tensor.NewRNG(4)
	means := lpMeans(rng, 6, 10, 4)
	x, y := lpData(rng, 60, means, constStd(10, 0.5))
	xt, yt := lpData(rng, 300, means, constStd(10, 0.5))
	m, err := FitLogReg(x, y, 6, 1e6, LBFGSOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		name string
		x    *tensor.Tensor
		y    []int
	}{{"train", x, y}, {"test", xt, yt}} {
		acc := data.Score(data.Accuracy, 6, m.Predict(s.x), s.y)
		if acc != 100 {
			t.Errorf("%s accuracy %.2f%%, want 100", s.name, acc)
		}
	}
	t.Logf("C=1e6: %d iterations, %d evals, stop %q, J=%.3g", m.Iter, m.Evals, m.Stop, m.Objective)
}

// TestProbeSearchBisection checks the reconstruction of the authors'
// bisection on a synthetic validation curve peaked at C = 10^2.3.
func TestProbeSearchBisection(t *testing.T) {
	var seen []string
	var cs []float64
	val := func(phase string, c float64) (float64, error) {
		seen = append(seen, phase)
		cs = append(cs, c)
		return -math.Abs(math.Log10(c) - 2.3), nil
	}
	final, err := probeSearch(DefaultProbeGrid, 8, val)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 7+16 {
		t.Fatalf("%d evaluations, want 23", len(cs))
	}
	// Grid peak is 1e2; the first step compares 10 and 1e3.
	if math.Abs(cs[7]-10) > 1e-12 || math.Abs(cs[8]-1000) > 1e-9 || seen[7] != "step 0 left" || seen[8] != "step 0 right" {
		t.Fatalf("first step evaluated %s=%g, %s=%g; want left 10, right 1000", seen[7], cs[7], seen[8], cs[8])
	}
	// Step 1: right won → [10^2, 10^3].
	if math.Abs(math.Log10(cs[9])-2) > 1e-12 || math.Abs(math.Log10(cs[10])-3) > 1e-12 {
		t.Fatalf("second step [%g, %g], want [100, 1000]", cs[9], cs[10])
	}
	// After 8 halvings of the 2-decade interval the final end lies
	// within 2/2^8 decades of the peak... and is an end of the last interval.
	if d := math.Abs(math.Log10(final) - 2.3); d > 2.0/256 {
		t.Errorf("final C = 10^%.4f, want within %.4f of 10^2.3", math.Log10(final), 2.0/256)
	}
	if final != cs[len(cs)-1] && final != cs[len(cs)-2] {
		t.Errorf("final C %g is not an end of the last step (%g, %g)", final, cs[len(cs)-2], cs[len(cs)-1])
	}
	// Ties: equal scores go to the left (smaller C) end, and to the first
	// (largest) grid value.
	cs = nil
	final, _ = probeSearch(DefaultProbeGrid, 3, func(_ string, c float64) (float64, error) {
		cs = append(cs, c)
		return 50, nil
	})
	if cs[7] != 1e5 || cs[8] != 1e7 {
		t.Errorf("all-tied grid: first step (%g, %g), want (1e5, 1e7) around the first grid value", cs[7], cs[8])
	}
	if math.Abs(math.Log10(final)-5) > 1e-12 {
		t.Errorf("all ties: final %g, want the left end 1e5", final)
	}
	for k, want := range map[int]int{1: 1, 2: 2, 4: 4, 8: 4, 16: 4} {
		if got := ProbeValShots(k); got != want {
			t.Errorf("ProbeValShots(%d) = %d, want %d", k, got, want)
		}
	}
	// No steps: the grid peak is final.
	final, _ = probeSearch(DefaultProbeGrid, 0, val)
	if final != 1e2 {
		t.Errorf("no steps: final %g, want the grid peak 100", final)
	}
}

// probeTask builds a task where regularisation matters: 4 classes, 16
// shots in 60 dims, 30% of the training labels replaced by random ones,
// and a shared noise factor of large variance along a direction v that
// the class means also differ along. A nearly unregularised fit (C=1e6)
// memorises the label noise; a tiny C reduces to a dot product with the
// class means, which picks up the factor noise along v.
func probeTask(seed uint64, shots, valPer, testPer int) (train, val, test ProbeSplit, k int) {
	rng := tensor.NewRNG(seed)
	k, e := 4, 60
	v := make([]float64, e)
	for j := range v {
		v[j] = rng.NormFloat64()
	}
	means := lpMeans(rng, k, e, 0.5)
	for c := range k {
		a := 2 * rng.NormFloat64()
		for j := range e {
			means[c][j] += a * v[j]
		}
	}
	gen := func(n int) ProbeSplit {
		x, y := lpData(rng, n, means, constStd(e, 1))
		d := x.Data()
		for i := range n {
			f := 5 * rng.NormFloat64()
			for j := range e {
				d[i*e+j] += float32(f * v[j])
			}
		}
		return ProbeSplit{x, y}
	}
	train = gen(shots * k)
	for i := range train.Y {
		if rng.Float64() < 0.3 {
			train.Y[i] = rng.IntN(k)
		}
	}
	return train, gen(valPer * k), gen(testPer * k), k
}

// TestLinearProbeSearch: on data where regularisation matters the search
// picks a moderate C, whose test score beats both grid extremes.
func TestLinearProbeSearch(t *testing.T) {
	train, val, test, k := probeTask(11, 16, 40, 400)
	res, err := LinearProbe(train, val, test, k, data.Accuracy, ProbeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Trace {
		t.Logf("%-13s C=%-12.5g val %.2f%%  iters %d converged %v", f.Phase, f.C, f.ValScore, f.Iter, f.Converged)
	}
	t.Logf("final C=%.5g val %.2f%% test %.2f%%, %d fits", res.C, res.ValScore, res.TestScore, res.Fits)
	if len(res.Trace) != 7+16 {
		t.Errorf("trace has %d entries, want 23", len(res.Trace))
	}
	if res.C >= 1e5 || res.C <= 1e-5 {
		t.Errorf("final C %g is at an extreme of the grid", res.C)
	}
	for _, c := range []float64{1e6, 1e-6} {
		m, err := FitLogReg(train.X, train.Y, k, c, LBFGSOptions{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		s := data.Score(data.Accuracy, k, m.Predict(test.X), test.Y)
		t.Logf("C=%g: test %.2f%%", c, s)
		if s >= res.TestScore-5 {
			t.Errorf("C=%g test %.2f%% not 5 points below the searched C's %.2f%%", c, s, res.TestScore)
		}
	}
	// The result is the final model's.
	got := data.Score(data.Accuracy, k, res.Model.Predict(test.X), test.Y)
	if got != res.TestScore || math.Abs(res.Model.C/res.C-1) > 1e-12 {
		t.Errorf("model C %g test %.2f, result C %g test %.2f", res.Model.C, got, res.C, res.TestScore)
	}
}

// TestProbeMetric: the probe scores with data.Score under the right
// names. On an imbalanced known confusion (class 0: 90 samples, all
// right; class 1: 10 samples, 2 right) accuracy is 92% and mean per-class
// recall 60% (the authors' lpclip compute_metric would return them the
// other way round); and LinearProbe's test score on an imbalanced test
// set is the requested metric of its final model's predictions.
func TestProbeMetric(t *testing.T) {
	var preds, labels []int
	for range 90 {
		preds, labels = append(preds, 0), append(labels, 0)
	}
	for i := range 10 {
		p := 0
		if i < 2 {
			p = 1
		}
		preds, labels = append(preds, p), append(labels, 1)
	}
	for _, tc := range []struct {
		metric data.Metric
		want   float64
	}{{data.Accuracy, 92}, {data.MeanPerClass, 60}} {
		// Class 2 has no samples: left out of the mean.
		if got := data.Score(tc.metric, 3, preds, labels); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s = %v, want %v", tc.metric, got, tc.want)
		}
	}

	train, val, test, k := probeTask(12, 16, 20, 200)
	// Keep all of class 0 but a tenth of the others in the test split.
	var rows []int
	var y []int
	for i, l := range test.Y {
		if l == 0 || i%10 == 0 {
			rows = append(rows, i)
			y = append(y, l)
		}
	}
	e := test.X.Dim(1)
	xs := tensor.New(len(rows), e)
	for r, i := range rows {
		copy(xs.Data()[r*e:(r+1)*e], test.X.Data()[i*e:(i+1)*e])
	}
	imb := ProbeSplit{xs, y}
	scores := map[data.Metric]float64{}
	for _, m := range []data.Metric{data.Accuracy, data.MeanPerClass} {
		res, err := LinearProbe(train, val, imb, k, m, ProbeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want := data.Score(m, k, res.Model.Predict(imb.X), imb.Y)
		if res.TestScore != want {
			t.Errorf("%s: TestScore %.4f, data.Score of the model %.4f", m, res.TestScore, want)
		}
		scores[m] = res.TestScore
		t.Logf("%s: C=%.4g val %.2f test %.2f", m, res.C, res.ValScore, res.TestScore)
	}
	if scores[data.Accuracy] == scores[data.MeanPerClass] {
		t.Errorf("accuracy and mean per-class agree (%.4f) on an imbalanced test set", scores[data.Accuracy])
	}
}

// TestLinearProbeBadInput: malformed input returns errors, not panics.
func TestLinearProbeBadInput(t *testing.T) {
	rng := tensor.NewRNG(5)
	x, y := lpData(rng, 12, lpMeans(rng, 3, 4, 1), constStd(4, 1))
	ok := ProbeSplit{x, y}
	nan := x.Clone()
	nan.Data()[5] = float32(math.NaN())
	x3 := tensor.New(12, 5)
	cases := []struct {
		name             string
		train, val, test ProbeSplit
		classes          int
		metric           data.Metric
		want             string
	}{
		{"label out of range", ProbeSplit{x, append(append([]int{}, y[:11]...), 3)}, ok, ok, 3, data.Accuracy, "label 3"},
		{"negative label", ok, ProbeSplit{x, append([]int{-1}, y[1:]...)}, ok, 3, data.Accuracy, "label -1"},
		{"length mismatch", ProbeSplit{x, y[:10]}, ok, ok, 3, data.Accuracy, "12 feature rows but 10 labels"},
		{"empty train", ProbeSplit{tensor.New(0, 4), nil}, ok, ok, 3, data.Accuracy, "train split is empty"},
		{"empty test", ok, ok, ProbeSplit{tensor.New(0, 4), nil}, 3, data.Accuracy, "test split is empty"},
		{"nil features", ProbeSplit{nil, y}, ok, ok, 3, data.Accuracy, "no feature tensor"},
		{"1-D features", ProbeSplit{tensor.New(12), y}, ok, ok, 3, data.Accuracy, "want [N E]"},
		{"dims differ", ok, ProbeSplit{x3, y}, ok, 3, data.Accuracy, "feature dims differ"},
		{"non-finite", ProbeSplit{nan, y}, ok, ok, 3, data.Accuracy, "non-finite"},
		{"one class", ProbeSplit{x, make([]int, 12)}, ok, ok, 3, data.Accuracy, "need at least 2"},
		{"unknown metric", ok, ok, ok, 3, "top5", "unknown metric"},
		{"one class total", ok, ok, ok, 1, data.Accuracy, "need at least 2"},
	}
	for _, tc := range cases {
		_, err := LinearProbe(tc.train, tc.val, tc.test, tc.classes, tc.metric, ProbeOptions{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	if _, err := FitLogReg(x, y, 3, 0, LBFGSOptions{}, nil); err == nil {
		t.Error("C=0: no error")
	}
	if _, err := FitLogReg(x, y, 3, math.Inf(1), LBFGSOptions{}, nil); err == nil {
		t.Error("C=Inf: no error")
	}
	other, _ := FitLogReg(x3, y, 3, 1, LBFGSOptions{}, nil)
	if _, err := FitLogReg(x, y, 3, 1, LBFGSOptions{}, other); err == nil {
		t.Error("warm start of another dimension: no error")
	}
}

// BenchmarkLinearProbe runs the full C search (7 grid values + 8
// bisection steps) on 16 shots × 100 classes of random 1024-d features
// (class means plus noise), 4 validation shots per class, 20 test
// samples per class.
func BenchmarkLinearProbe(b *testing.B) {
	train, val, test := benchProbeTask()
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		res, err := LinearProbe(train, val, test, 100, data.Accuracy, ProbeOptions{})
		if err != nil {
			b.Fatal(err)
		}
		iters := 0
		for _, f := range res.Trace {
			iters += f.Iter
		}
		b.ReportMetric(time.Since(start).Seconds(), "s/search")
		b.ReportMetric(float64(res.Fits), "fits")
		b.ReportMetric(float64(iters), "lbfgs-iters")
		b.ReportMetric(res.TestScore, "test%")
	}
}

// BenchmarkLogRegEval measures one objective+gradient evaluation at the
// benchmark's size (1600×1024 features, 100 classes): two products of
// 1600·1024·100 multiply-adds, on float32 SGEMM.
func BenchmarkLogRegEval(b *testing.B) {
	train, _, _ := benchProbeTask()
	n, e, k := 1600, 1024, 100
	ob := newLogRegObjective(train.X.Data(), n, e, k, train.Y, 1, false)
	theta := make([]float64, k*(e+1))
	g := make([]float64, len(theta))
	b.ResetTimer()
	for b.Loop() {
		ob.eval(theta, g)
	}
	b.ReportMetric(4*float64(n*e*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func benchProbeTask() (train, val, test ProbeSplit) {
	rng := tensor.NewRNG(7)
	const k, e = 100, 1024
	means := lpMeans(rng, k, e, 0.1)
	std := constStd(e, 1)
	train.X, train.Y = lpData(rng, 16*k, means, std)
	val.X, val.Y = lpData(rng, 4*k, means, std)
	test.X, test.Y = lpData(rng, 20*k, means, std)
	return
}

// TestLogRegSGEMMProducts checks the objective's SGEMM products on odd
// shapes (n crosses the gradient's sample blocks): plain products agree
// with the float64 evaluation (an evaluation at the reference point
// itself) to float32 accuracy, and products relative to a nearby
// reference agree with it to float64 accuracy.
func TestLogRegSGEMMProducts(t *testing.T) {
	rng := tensor.NewRNG(9)
	for _, tc := range []struct {
		name      string
		n, e, k   int
		binary    bool
		plainTolF float64
	}{{"multinomial", 301, 37, 13, false, 1e-6}, {"binary", 517, 29, 2, true, 1e-6}, {"tiny", 3, 1, 3, false, 1e-6}} {
		t.Run(tc.name, func(t *testing.T) {
			x, y := lpData(rng, tc.n, lpMeans(rng, tc.k, tc.e, 1), constStd(tc.e, 2))
			rows := tc.k
			if tc.binary {
				rows = 1
			}
			theta := make([]float64, rows*(tc.e+1))
			for j := range theta {
				theta[j] = rng.NormFloat64()
			}
			exact := func(at []float64) (float64, []float64) {
				ob := newLogRegObjective(x.Data(), tc.n, tc.e, rows, y, 0.3, tc.binary)
				ob.setReference(at)
				g := make([]float64, len(at))
				return ob.eval(at, g), g
			}
			f64, g64 := exact(theta)
			// The gradient's scale: Σ_i |D_i|·|x_i| is at most n·max|x|.
			xMax := 0.0
			for _, v := range x.Data() {
				xMax = math.Max(xMax, math.Abs(float64(v)))
			}
			gScale := float64(tc.n) * xMax

			plain := newLogRegObjective(x.Data(), tc.n, tc.e, rows, y, 0.3, tc.binary)
			g := make([]float64, len(theta))
			f := plain.eval(theta, g)
			relF, worstG := math.Abs(f-f64)/math.Abs(f64), 0.0
			for j := range g {
				worstG = math.Max(worstG, math.Abs(g[j]-g64[j]))
			}
			t.Logf("plain SGEMM: f rel err %.1e, max grad err %.1e (scale %.3g)", relF, worstG, gScale)
			if relF > tc.plainTolF || worstG > 1e-6*gScale {
				t.Errorf("plain SGEMM: f %.15g vs %.15g, max gradient error %.3g", f, f64, worstG)
			}

			// Reference at θ − δ, evaluated at θ.
			near := append([]float64(nil), theta...)
			for j := range near {
				near[j] -= 1e-3 * rng.NormFloat64()
			}
			refd := newLogRegObjective(x.Data(), tc.n, tc.e, rows, y, 0.3, tc.binary)
			refd.setReference(near)
			f = refd.eval(theta, g)
			relF, worstG = math.Abs(f-f64)/math.Abs(f64), 0.0
			for j := range g {
				worstG = math.Max(worstG, math.Abs(g[j]-g64[j]))
			}
			t.Logf("near a reference: f rel err %.1e, max grad err %.1e", relF, worstG)
			if relF > 1e-13 || worstG > 1e-10*gScale {
				t.Errorf("near a reference: f %.17g vs %.17g, max gradient error %.3g", f, f64, worstG)
			}
		})
	}
}

// BenchmarkLogRegReference measures setReference at the benchmark's size:
// the two float64 products of a refinement.
func BenchmarkLogRegReference(b *testing.B) {
	train, _, _ := benchProbeTask()
	n, e, k := 1600, 1024, 100
	ob := newLogRegObjective(train.X.Data(), n, e, k, train.Y, 1, false)
	theta := make([]float64, k*(e+1))
	for b.Loop() {
		ob.setReference(theta)
	}
	b.ReportMetric(4*float64(n*e*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
