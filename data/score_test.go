package data

import (
	"math"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestScoreKnownConfusion(t *testing.T) {
	// Confusion matrix (rows = true class):
	//   class 0: 3 right, 1 → class 1
	//   class 1: 1 right, 1 → class 0
	//   class 2: 2 right, 1 → class 1, 1 → class 0
	labels := []int{0, 0, 0, 0, 1, 1, 2, 2, 2, 2}
	preds := []int{0, 0, 0, 1, 1, 0, 2, 2, 1, 0}
	if got := Score(Accuracy, 3, preds, labels); !near(got, 60) {
		t.Errorf("accuracy = %v, want 60", got)
	}
	want := 100 * (3.0/4 + 1.0/2 + 2.0/4) / 3
	if got := Score(MeanPerClass, 3, preds, labels); !near(got, want) {
		t.Errorf("mean per class = %v, want %v", got, want)
	}
	cm := ConfusionMatrix(3, preds, labels)
	wantCM := [][]int{{3, 1, 0}, {1, 1, 0}, {1, 1, 2}}
	for i := range wantCM {
		for j := range wantCM[i] {
			if cm[i][j] != wantCM[i][j] {
				t.Fatalf("confusion matrix %v, want %v", cm, wantCM)
			}
		}
	}
}

func TestScoreImbalancedDiffers(t *testing.T) {
	// 9 samples of class 0 all right, 1 sample of class 1 wrong:
	// accuracy 90%, mean per-class recall 50%.
	labels := []int{0, 0, 0, 0, 0, 0, 0, 0, 0, 1}
	preds := []int{0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if got := Score(Accuracy, 2, preds, labels); !near(got, 90) {
		t.Errorf("accuracy = %v, want 90", got)
	}
	if got := Score(MeanPerClass, 2, preds, labels); !near(got, 50) {
		t.Errorf("mean per class = %v, want 50", got)
	}
}

func TestScoreClassWithoutTestSamples(t *testing.T) {
	// Class 3 has no samples (but is predicted once). Its empty row is left
	// out of the mean, so the result equals the 3-class one.
	labels := []int{0, 0, 0, 0, 1, 1, 2, 2, 2, 2}
	preds := []int{0, 0, 0, 3, 1, 0, 2, 2, 1, 0}
	want := 100 * (3.0/4 + 1.0/2 + 2.0/4) / 3
	if got := Score(MeanPerClass, 4, preds, labels); !near(got, want) {
		t.Errorf("mean per class = %v, want %v (rows present only)", got, want)
	}
	if got := Score(Accuracy, 4, preds, labels); !near(got, 60) {
		t.Errorf("accuracy = %v, want 60", got)
	}
}

func TestScoreEdgeCases(t *testing.T) {
	if got := Score(Accuracy, 2, nil, nil); !math.IsNaN(got) {
		t.Errorf("empty accuracy = %v, want NaN", got)
	}
	if got := Score(MeanPerClass, 2, []int{1, 1}, []int{1, 1}); !near(got, 100) {
		t.Errorf("perfect = %v", got)
	}
	for name, f := range map[string]func(){
		"length":   func() { Score(Accuracy, 2, []int{0}, []int{0, 1}) },
		"label":    func() { Score(Accuracy, 2, []int{0}, []int{2}) },
		"metric":   func() { Score("f1", 2, []int{0}, []int{0}) },
		"negative": func() { Score(MeanPerClass, 2, []int{-1}, []int{0}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: want panic", name)
				}
			}()
			f()
		}()
	}
	if got := MeanScore([]float64{50, 70, 90}); !near(got, 70) {
		t.Errorf("MeanScore = %v", got)
	}
}

func TestParseMetric(t *testing.T) {
	for in, want := range map[string]Metric{
		"accuracy": Accuracy, "overall_acc": Accuracy,
		"mean_per_class": MeanPerClass, "mean_acc": MeanPerClass,
	} {
		got, err := ParseMetric(in)
		if err != nil || got != want {
			t.Errorf("ParseMetric(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseMetric("macro_f1"); err == nil {
		t.Error("ParseMetric(macro_f1): want error")
	}
}
