package main

import (
	"bytes"
	"context"
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/clip/tokenizer"
	"github.com/softcpt/softcpt-go/experiment"
	"github.com/softcpt/softcpt-go/realdata"
	"github.com/softcpt/softcpt-go/shipped"
	"github.com/softcpt/softcpt-go/tensor"
)

// writeTinyPacks writes a pairs pack of n 32×32 images, each a flat colour
// with a caption naming it, and a benchmark whose one task classifies
// those colours.
func writeTinyPacks(t *testing.T, dir string, n int) (pairsPath, benchPath string) {
	colours := []string{"red", "green", "blue"}
	rgb := [][3]uint8{{220, 20, 20}, {20, 200, 30}, {30, 40, 220}}
	rng := tensor.NewRNG(4)
	imgs := &realdata.Images{W: 32, H: 32}
	var captions [][]string
	var labels []int
	for i := 0; i < n; i++ {
		c := rng.IntN(len(colours))
		for p := 0; p < 32*32; p++ {
			for k := 0; k < 3; k++ {
				imgs.Pix = append(imgs.Pix, uint8(int(rgb[c][k])*(200+rng.IntN(56))/255))
			}
		}
		captions = append(captions, []string{"a " + colours[c] + " picture", "something " + colours[c]})
		labels = append(labels, c)
	}
	src := []realdata.Source{{ID: "synthetic", Name: "synthetic colours", License: "CC0-1.0"}}
	p := &realdata.Pairs{ImageSize: 32, Sources: src, ImageSources: make([]int, n), Captions: captions, Images: imgs}
	pairsPath = filepath.Join(dir, "pairs.pack")
	if err := realdata.WritePairs(pairsPath, p); err != nil {
		t.Fatal(err)
	}
	task := realdata.Task{ID: "g/colours", Group: "g", Phrase: "colour recognition", Classes: colours, Template: "a {} picture", Metric: realdata.MetricAccuracy}
	for i := 0; i < n; i++ {
		task.Test = append(task.Test, realdata.Item{Image: i, Label: labels[i]})
	}
	b := &realdata.Benchmark{ImageSize: 32, Sources: src, ImageSources: make([]int, n), Groups: []string{"g"}, Tasks: []realdata.Task{task}, Images: imgs}
	benchPath = filepath.Join(dir, "bench.pack")
	if err := realdata.WriteBenchmark(benchPath, b); err != nil {
		t.Fatal(err)
	}
	return pairsPath, benchPath
}

func TestCmdPretrain(t *testing.T) {
	dir := t.TempDir()
	pairs, bench := writeTinyPacks(t, dir, 48)
	out := filepath.Join(dir, "run")
	args := []string{"--pairs", pairs, "--benchmark", bench, "--out", out, "--steps", "6", "--batch", "16", "--warmup", "2",
		"--vision-width", "8", "--width", "32", "--heads", "2", "--layers", "1", "--embed-dim", "16", "--context", "8", "--vocab", "530",
		"--checkpoint-every", "3", "--eval-every", "3", "--log-every", "2"}
	var log bytes.Buffer
	f, err := parsePretrainFlags(args)
	if err != nil {
		t.Fatal(err)
	}
	if err := experiment.Pretrain(context.Background(), f, &log); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	for _, want := range []string{"learned 16 merges", "step 2/6 loss", "step 6/6 loss", "eval zeroshot/g/colours", "checkpoint saved", "done: final loss"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
	tok, err := tokenizer.Load(filepath.Join(out, experiment.PretrainBPEFile))
	if err != nil {
		t.Fatal(err)
	}
	m, err := clip.Load(filepath.Join(out, experiment.PretrainModelFile))
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.VocabSize != tok.VocabSize() || m.Config.TransformerHeads != 2 || m.Config.ContextLength != 8 {
		t.Fatalf("saved model config %+v, vocabulary %d", m.Config, tok.VocabSize())
	}
	// The model records what it was pretrained on and its prompt context
	// length (4 for a short text context), which train takes as default.
	sm, err := shipped.OpenModel(filepath.Join(out, experiment.PretrainModelFile), "")
	if err != nil {
		t.Fatal(err)
	}
	n, why, err := sm.DefaultNCtx()
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 || !strings.Contains(sm.Metadata[shipped.MetaPretrainedOn], "48 ") {
		t.Errorf("pretrained model: default n-ctx %d (%s), pretrained on %q; want 4 and the 48 pairs", n, why, sm.Metadata[shipped.MetaPretrainedOn])
	}
	// Running again without --resume refuses to overwrite the checkpoint;
	// with --resume the finished run just writes the model again.
	if err := experiment.Pretrain(context.Background(), f, &log); err == nil || !strings.Contains(err.Error(), "--resume") {
		t.Fatalf("rerun without --resume: %v", err)
	}
	f.Resume = true
	log.Reset()
	if err := experiment.Pretrain(context.Background(), f, &log); err != nil || !strings.Contains(log.String(), "resumed from") {
		t.Fatalf("resume: %v\n%s", err, log.String())
	}
}

func TestCmdPretrainErrors(t *testing.T) {
	if err := cmdPretrain(context.Background(), []string{"--help"}); err != flag.ErrHelp {
		t.Fatalf("--help: %v", err)
	}
	if err := cmdPretrain(context.Background(), []string{"--out", t.TempDir()}); err == nil || !strings.Contains(err.Error(), "--pairs") {
		t.Fatalf("missing --pairs: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "nope.pack")
	if err := cmdPretrain(context.Background(), []string{"--pairs", missing, "--out", t.TempDir()}); err == nil || !strings.Contains(err.Error(), "nope.pack") {
		t.Fatalf("missing pairs file: %v", err)
	}
	for _, bad := range [][]string{{"--vision-layers", "1,1,1"}, {"--image-size", "48"}, {"--width", "100", "--heads", "3"}} {
		args := append([]string{"--pairs", missing, "--out", t.TempDir()}, bad...)
		if err := cmdPretrain(context.Background(), args); err == nil || strings.Contains(err.Error(), "nope.pack") {
			t.Errorf("%v: err %v, want a flag error", bad, err)
		}
	}
	dir := t.TempDir()
	pairs, _ := writeTinyPacks(t, dir, 20)
	if err := cmdPretrain(context.Background(), []string{"--pairs", pairs, "--out", filepath.Join(dir, "o"), "--vocab", "100000"}); err == nil || !strings.Contains(err.Error(), "--vocab") {
		t.Fatalf("too large a vocabulary: %v", err)
	}
}
