//go:build !cuda

package main

import (
	"context"
	"os"
	"strings"
	"testing"
)

const fixtureModel = "../../testdata/clip/rn.safetensors"

// TestDeviceCUDAWithoutTag checks that --device cuda in a binary built
// without the cuda tag fails with an error that says how to build one.
func TestDeviceCUDAWithoutTag(t *testing.T) {
	if _, err := os.Stat(fixtureModel); err != nil {
		t.Skip("fixture testdata/clip/rn.safetensors absent")
	}
	err := cmdEncode(context.Background(), []string{"--model", fixtureModel, "--vision-heads", "2", "--text-heads", "2", "--image", "../../testdata/imageproc/conv_gray.png", "--device", "cuda"})
	if err == nil || !strings.Contains(err.Error(), "scripts/setup-cuda.sh") {
		t.Errorf("encode --device cuda: error %v", err)
	}
	err = cmdDemo(context.Background(), []string{"--device", "tpu", "--out", t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "tpu") {
		t.Errorf("demo --device tpu: error %v", err)
	}
}
