package main

import (
	"context"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/softcpt/softcpt-go/experiment"
	"github.com/softcpt/softcpt-go/kernels"
)

// TestPrecisionFlag checks --precision on every command that loads a
// model: its help shows it, a bad value is refused when the flags are
// parsed, and with encode (the embedded model) bf16 reaches the towers:
// the output says the precision that ran and its text features differ
// from fp32's within bf16's error.
func TestPrecisionFlag(t *testing.T) {
	ctx := context.Background()
	for name, cmd := range map[string]func(context.Context, []string) error{
		"encode": cmdEncode, "train": cmdTrain, "eval": cmdEval, "zeroshot": cmdZeroShot, "linprobe": cmdLinProbe, "demo": cmdDemo,
	} {
		help := stderrOf(t, func() {
			if err := cmd(ctx, []string{"-h"}); err != flag.ErrHelp {
				t.Errorf("%s -h: %v", name, err)
			}
		})
		if !strings.Contains(help, "-precision fp32|bf16") || !strings.Contains(help, "AVX512-BF16") {
			t.Errorf("%s -h does not show --precision fp32|bf16", name)
		}
		stderrOf(t, func() {
			if err := cmd(ctx, []string{"--precision", "fp16"}); err == nil || !strings.Contains(err.Error(), "-precision") || !strings.Contains(err.Error(), "want fp32 or bf16") {
				t.Errorf("%s --precision fp16: error %v", name, err)
			}
		})
	}

	dir := t.TempDir()
	texts := []string{"a photo of a red square", "a photo of a dog", "handwritten digit seven"}
	enc := map[string]experiment.Encoded{}
	for _, p := range []string{"fp32", "bf16"} {
		out := filepath.Join(dir, p+".json")
		args := []string{"--precision", p, "--out", out}
		for _, s := range texts {
			args = append(args, "--text", s)
		}
		var err error
		stderrOf(t, func() { err = cmdEncode(ctx, args) })
		if err != nil {
			t.Fatal(err)
		}
		var e experiment.Encoded
		b, _ := os.ReadFile(out)
		if err := json.Unmarshal(b, &e); err != nil || len(e.TextFeatures) != len(texts) {
			t.Fatalf("--precision %s: output %.200s (%v)", p, b, err)
		}
		enc[p] = e
	}
	want := "bf16"
	if !kernels.BF16Supported() {
		want = "fp32"
	}
	if enc["fp32"].Precision != "fp32" || enc["bf16"].Precision != want {
		t.Fatalf("precisions recorded %q and %q, want fp32 and %s", enc["fp32"].Precision, enc["bf16"].Precision, want)
	}
	if want != "bf16" {
		t.Skip("no AVX512-BF16 kernels here: bf16 ran fp32 (checked)")
	}
	differ := false
	for i := range texts {
		a, b := enc["fp32"].TextFeatures[i], enc["bf16"].TextFeatures[i]
		var ab, aa, bb float64
		for j := range a {
			ab += float64(a[j]) * float64(b[j])
			aa += float64(a[j]) * float64(a[j])
			bb += float64(b[j]) * float64(b[j])
			differ = differ || a[j] != b[j]
		}
		if c := ab / math.Sqrt(aa*bb); c < 0.999 {
			t.Errorf("text %q: bf16 features' cosine to fp32's %.6f < 0.999", texts[i], c)
		}
	}
	if !differ {
		t.Error("bf16 text features equal fp32's: --precision did not reach the model")
	}
}
