//go:build cuda

package experiment

import (
	"context"
	"fmt"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/clip/frozen"
	"github.com/softcpt/softcpt-go/cuda"
	"github.com/softcpt/softcpt-go/softcpt"
	"github.com/softcpt/softcpt-go/softcpt/step"
	"github.com/softcpt/softcpt-go/tensor"
)

// cudaBackend runs CLIP's towers (frozen.Model on the device: ResNet or
// ViT image tower, text tower) and the training steps of the SoftCPT
// variants and CoOp-MT, -CA and -CS (step.Step on the device) on a GPU,
// writing and resuming softcpt's training checkpoints. What step.CanTrain
// refuses (class sampling, repeated optimiser steps) runs on the CPU
// (softcpt.TrainFeatures) on the device's image features.
type cudaBackend struct {
	cpu cpuBackend
	dev *cuda.Device
	net *frozen.Model[*cuda.Array]
}

// openCUDA opens GPU ordinal and uploads m.
func openCUDA(ordinal int, m *clip.Model) (Backend, error) {
	if err := cuda.Available(); err != nil {
		return nil, err
	}
	dev, err := cuda.Open(ordinal)
	if err != nil {
		return nil, err
	}
	net, err := frozen.New(dev.Backend(), m)
	if err != nil {
		dev.Close()
		return nil, errors.Wrap(err, "uploading CLIP to the GPU")
	}
	return &cudaBackend{cpu: cpuBackend{m}, dev: dev, net: net}, nil
}

func (b *cudaBackend) String() string { return fmt.Sprintf("cuda:%d (%s)", b.dev.Ordinal, b.dev.Name) }

func (b *cudaBackend) Close() {
	b.net.Free()
	if err := b.dev.Close(); err != nil {
		Logf("closing %s: %v", b, err)
	}
}

func (b *cudaBackend) encodeImages(pix *tensor.Tensor) (*tensor.Tensor, error) {
	return b.net.EncodeImage(pix)
}

func (b *cudaBackend) encodeTexts(ids []int, batch, length int) (*tensor.Tensor, error) {
	return b.net.EncodeText(ids, batch, length)
}

func (b *cudaBackend) trainFeatures(ctx context.Context, l *softcpt.Learner, tok softcpt.Tokenizer, feats *tensor.Tensor, train []softcpt.Example, opt softcpt.TrainOptions) ([]softcpt.EpochStats, error) {
	if err := step.CanTrain(l, opt); err != nil {
		Logf("%s: training on the CPU (%v); image features from %s", l.Cfg.Name, err, b)
		return b.cpu.trainFeatures(ctx, l, tok, feats, train, opt)
	}
	st, err := step.New(b.dev.Backend(), l, b.cpu.m, tok, opt)
	if err != nil {
		return nil, errors.Wrapf(err, "%s on %s", l.Cfg.Name, b)
	}
	defer st.Free()
	return softcpt.TrainWith(ctx, l, st, feats, train, opt)
}

// The device step is a softcpt.Stepper.
var _ softcpt.Stepper = (*step.Step[*cuda.Array])(nil)
