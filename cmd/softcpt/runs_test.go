package main

import (
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/softcpt/softcpt-go/clip/checkpoint"
	"github.com/softcpt/softcpt-go/report"
	"github.com/softcpt/softcpt-go/shipped"
)

// TestSettingsSaidOnce runs the driver on a fixture CLIP whose file
// records N_CTX 3: train without --n-ctx takes the model's 3; eval needs
// only --method (the rest comes from the trained run) and gives the
// trained scores; an eval --n-ctx that contradicts the checkpoint is named
// in one line; a rerun of train skips the finished run and --force reruns
// it.
func TestSettingsSaidOnce(t *testing.T) {
	sd, err := checkpoint.Load("../../testdata/clip/rn.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(t.TempDir(), "model.safetensors")
	md := map[string]string{shipped.MetaNCtx: "3"}
	if err := checkpoint.WriteSafetensors(model, sd.Tensors, nil, md); err != nil {
		t.Fatal(err)
	}
	root, common := toyFolderBenchmark(t, model)
	out := filepath.Join(root, "out")
	ctx := context.Background()
	train := append(append([]string{}, common...), "--method", "coop-ca", "--shots", "2", "--seed", "1", "--epochs", "2", "--batch-size", "4")
	if err := cmdTrain(ctx, train); err != nil {
		t.Fatal(err)
	}
	trained, err := report.ReadResult(resultIn(t, out, "toy/CoOp-CA/nctx3_ep2_bs4_lr0.002-*/shots_2/seed_1"))
	if err != nil {
		t.Fatal(err)
	}
	evalOut := filepath.Join(root, "eval")
	evalArgs := append(append([]string{}, common...), "--method", "coop-ca", "--shots", "2", "--seed", "1", "--from", out, "--out", evalOut)
	if err := cmdEval(ctx, evalArgs); err != nil {
		t.Fatal(err)
	}
	evaluated, err := report.ReadResult(resultIn(t, evalOut, "toy/CoOp-CA/nctx3_*/shots_2/seed_1"))
	if err != nil || evaluated.Overall != trained.Overall {
		t.Fatalf("eval without method flags: %+v (%v), trained %.4f", evaluated, err, trained.Overall)
	}
	err = cmdEval(ctx, append(evalArgs, "--n-ctx", "16", "--force"))
	if err == nil || !strings.HasPrefix(err.Error(), "eval: --n-ctx 16 given, the checkpoint was trained with 3 (") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("eval --n-ctx 16: error %v", err)
	}
	// A rerun skips the finished run; --force reruns it.
	if err := cmdTrain(ctx, train); err != nil {
		t.Fatal(err)
	}
	again, _ := report.ReadResult(trained.Path)
	if !again.Created.Equal(trained.Created) {
		t.Error("a rerun of train replaced the finished result")
	}
	if err := cmdTrain(ctx, append(train, "--force")); err != nil {
		t.Fatal(err)
	}
	forced, err := report.ReadResult(trained.Path)
	if err != nil || forced.Overall != trained.Overall {
		t.Errorf("--force rerun: %+v (%v), first run %.4f", forced, err, trained.Overall)
	}
}

// stderrOf runs f with standard error captured.
func stderrOf(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stderr
	os.Stderr = w
	done := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(r)
		done <- b
	}()
	f()
	os.Stderr = old
	w.Close()
	return string(<-done)
}

// TestHelpSlips checks the help fixes of the run commands: no "(default
// -1)" after a default said in words, zeroshot names the folder it
// writes and takes no --shots or --seed.
func TestHelpSlips(t *testing.T) {
	ctx := context.Background()
	help := stderrOf(t, func() {
		if err := cmdTrain(ctx, []string{"-h"}); err != flag.ErrHelp {
			t.Errorf("train -h: %v", err)
		}
	})
	for _, bad := range []string{"(default -1)", "(default 16)"} {
		if strings.Contains(help, bad) {
			t.Errorf("train -h prints %q", bad)
		}
	}
	if !strings.Contains(help, shipped.MetaNCtx) || !strings.Contains(help, "--force") {
		t.Errorf("train -h does not say where N_CTX's default comes from or lacks --force:\n%s", help)
	}
	help = stderrOf(t, func() { cmdZeroShot(ctx, []string{"-h"}) })
	if !strings.Contains(help, "OUT/<benchmark>/ZeroShot/") || strings.Contains(help, "zeroshot/") || strings.Contains(help, "-shots") {
		t.Errorf("zeroshot -h:\n%s", help)
	}
	stderrOf(t, func() {
		if err := cmdZeroShot(ctx, []string{"--shots", "4"}); err == nil || !strings.Contains(err.Error(), "-shots") {
			t.Errorf("zeroshot --shots 4: error %v", err)
		}
	})
}
