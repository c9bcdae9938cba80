package main

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/softcpt/softcpt-go/report"
)

const sharedBPE = "../../../shared/data/bpe_simple_vocab_16e6.txt.gz"

// writeShapes writes a folder-of-class-folders dataset of small images:
// class c is a square of colour c on a grey background, jittered.
func writeShapes(t *testing.T, dir string, classes []string, cols []color.RGBA, perClass int) {
	t.Helper()
	for c, name := range classes {
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < perClass; i++ {
			img := image.NewRGBA(image.Rect(0, 0, 40, 36))
			for y := 0; y < 36; y++ {
				for x := 0; x < 40; x++ {
					img.Set(x, y, color.RGBA{120, 120, 120, 255})
					if x >= 8+i%5 && x < 28+i%5 && y >= 6+i%4 && y < 26+i%4 {
						img.Set(x, y, cols[c])
					}
				}
			}
			f, err := os.Create(filepath.Join(d, fmt.Sprintf("img%02d.png", i)))
			if err != nil {
				t.Fatal(err)
			}
			png.Encode(f, img)
			f.Close()
		}
	}
}

// toyFolderBenchmark writes a tiny two-task folder benchmark into a
// temporary folder and returns it with the common flags of a run on it
// with a fixture CLIP file (output into ROOT/out).
func toyFolderBenchmark(t *testing.T, model string) (string, []string) {
	t.Helper()
	if _, err := os.Stat(sharedBPE); err != nil {
		t.Skip("CLIP's BPE file is not in ../shared/data; skipping the end-to-end driver test")
	}
	root := t.TempDir()
	writeShapes(t, filepath.Join(root, "colours"), []string{"red", "green", "blue"},
		[]color.RGBA{{220, 20, 20, 255}, {20, 200, 20, 255}, {20, 20, 220, 255}}, 10)
	writeShapes(t, filepath.Join(root, "tones"), []string{"dark", "light"},
		[]color.RGBA{{10, 10, 10, 255}, {250, 250, 250, 255}}, 10)
	def := `{"name": "toy", "tasks": [
 {"name": "colours", "task_name": "colour image classification", "reader": "folder", "dir": "colours", "metric": "accuracy", "template": "a {} square."},
 {"name": "tones", "task_name": "tone image classification", "reader": "folder", "dir": "tones", "metric": "mean_per_class", "template": "a {} square."}]}`
	defPath := filepath.Join(root, "toy.json")
	if err := os.WriteFile(defPath, []byte(def), 0o644); err != nil {
		t.Fatal(err)
	}
	return root, []string{"--benchmark", defPath, "--data-root", root, "--model", model,
		"--vision-heads", "2", "--text-heads", "2", "--bpe", sharedBPE, "--out", filepath.Join(root, "out")}
}

// TestTrainZeroShotEndToEnd runs the driver's train and zeroshot commands
// on a tiny two-task folder benchmark with the fixture CLIP and checks the
// results files.
func TestTrainZeroShotEndToEnd(t *testing.T) {
	root, common := toyFolderBenchmark(t, "../../testdata/clip/rn.safetensors")
	out := filepath.Join(root, "out")
	ctx := context.Background()
	if err := cmdZeroShot(ctx, common); err != nil {
		t.Fatal(err)
	}
	for _, method := range []string{"coop-ca", "nata"} {
		args := append(append([]string{}, common...), "--method", method, "--shots", "2", "--seed", "1", "--epochs", "3", "--batch-size", "4")
		if err := cmdTrain(ctx, args); err != nil {
			t.Fatalf("%s: %v", method, err)
		}
	}
	// The OpenAI-style fixture records no N_CTX: train takes 16.
	for _, rel := range []string{"toy/ZeroShot/templates1-*/shots_0/seed_0", "toy/CoOp-CA/nctx16_ep3_bs4_lr0.002-*/shots_2/seed_1", "toy/SoftCPT-NATA/nctx16_*/shots_2/seed_1"} {
		r, err := report.ReadResult(resultIn(t, out, rel))
		if err != nil {
			t.Fatal(err)
		}
		if r.Benchmark != "toy" || len(r.Tasks) != 2 || r.Tasks[0].Name != "colours" || r.Tasks[1].Metric != "mean_per_class" {
			t.Fatalf("%s: unexpected results %+v", rel, r)
		}
		mean := (r.Tasks[0].Value + r.Tasks[1].Value) / 2
		if math.Abs(mean-r.Overall) > 1e-9 || r.Overall < 0 || r.Overall > 100 || len(r.Config) == 0 {
			t.Fatalf("%s: overall %v for tasks %+v", rel, r.Overall, r.Tasks)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(resultIn(t, out, "toy/SoftCPT-NATA/*/shots_2/seed_1")), "checkpoint.safetensors")); err != nil {
		t.Fatalf("no checkpoint: %v", err)
	}
	// eval re-scores the trained prompts from the checkpoint: the same
	// results without training.
	evalOut := filepath.Join(root, "eval")
	evalArgs := append(append([]string{}, common...), "--method", "nata", "--shots", "2", "--seed", "1", "--from", out)
	evalArgs = append(evalArgs, "--out", evalOut) // the last --out wins
	if err := cmdEval(ctx, evalArgs); err != nil {
		t.Fatalf("eval: %v", err)
	}
	trained, err := report.ReadResult(resultIn(t, out, "toy/SoftCPT-NATA/*/shots_2/seed_1"))
	if err != nil {
		t.Fatal(err)
	}
	evaluated, err := report.ReadResult(resultIn(t, evalOut, "toy/SoftCPT-NATA/*/shots_2/seed_1"))
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(trained.Overall-evaluated.Overall) > 1e-9 {
		t.Fatalf("eval from the checkpoint gives %.4f, training gave %.4f", evaluated.Overall, trained.Overall)
	}
	if err := cmdEval(ctx, append(append([]string{}, common...), "--method", "coop-ca", "--shots", "4", "--seed", "1", "--from", filepath.Join(root, "none"))); err == nil {
		t.Fatal("eval without a checkpoint succeeded")
	}
	// Base-to-new: prompts learned on the base classes are rebuilt from the
	// new class names; class-specific contexts cannot transfer.
	b2n := append(append([]string{}, common...), "--shots", "2", "--seed", "1", "--epochs", "2", "--batch-size", "2", "--base2new")
	if err := cmdTrain(ctx, append(b2n, "--method", "nata")); err != nil {
		t.Fatalf("base2new: %v", err)
	}
	for _, rel := range []string{"toy/SoftCPT-NATA-new/*/shots_2/seed_1", "toy/SoftCPT-NATA-base/*/shots_2/seed_1"} {
		resultIn(t, out, rel)
	}
	if err := cmdTrain(ctx, append(b2n, "--method", "coop-cs")); err == nil {
		t.Fatal("CoOp-CS base-to-new should fail: class-specific contexts do not transfer")
	}
	// --resume of a finished run skips it.
	args := append(append([]string{}, common...), "--method", "nata", "--shots", "2", "--seed", "1", "--epochs", "3", "--batch-size", "4", "--resume")
	if err := cmdTrain(ctx, args); err != nil {
		t.Fatalf("resume: %v", err)
	}
}

// resultIn returns the one results.json in the folder that pattern
// (filepath.Glob's, under out) matches.
func resultIn(t *testing.T, out, pattern string) string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(out, pattern, "results.json"))
	if err != nil || len(m) != 1 {
		t.Fatalf("results.json in %s: %v (%v)", pattern, m, err)
	}
	return m[0]
}

func TestTrainMissingData(t *testing.T) {
	if _, err := os.Stat(sharedBPE); err != nil {
		t.Skip("CLIP's BPE file is not in ../shared/data")
	}
	root := t.TempDir()
	def := `{"name": "toy", "tasks": [{"name": "a", "task_name": "a", "reader": "folder", "dir": "missing", "metric": "accuracy", "template": "{}"}]}`
	p := filepath.Join(root, "d.json")
	os.WriteFile(p, []byte(def), 0o644)
	err := cmdTrain(context.Background(), []string{"--benchmark", p, "--data-root", root, "--model", "../../testdata/clip/rn.safetensors",
		"--vision-heads", "2", "--text-heads", "2", "--bpe", sharedBPE, "--epochs", "1", "--shots", "1", "--seed", "1", "--out", filepath.Join(root, "o")})
	if err == nil {
		t.Fatal("missing dataset folder gave no error")
	}
	t.Logf("error: %v", err)
}
