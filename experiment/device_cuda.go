//go:build cuda

package experiment

import (
	"context"
	"fmt"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/cuda"
	"github.com/softcpt/softcpt-go/softcpt"
	"github.com/softcpt/softcpt-go/tensor"
)

// cudaBackend runs CLIP's towers (cuda.CLIP: ResNet or ViT image tower,
// text tower) and the training steps of the SoftCPT variants and CoOp-MT,
// -CA and -CS (cuda.TrainStep) on a GPU, writing and resuming softcpt's
// training checkpoints. What cuda.CanTrain refuses (class sampling) and
// repeated optimiser steps run on the CPU (softcpt.TrainFeatures) on the
// device's image features.
type cudaBackend struct {
	cpu cpuBackend
	dev *cuda.Device
	net *cuda.CLIP
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
	net, err := cuda.NewCLIP(dev, m)
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
	why := optionTrainingReason(opt)
	if err := cuda.CanTrain(l); why == "" && err != nil {
		why = err.Error()
	}
	if why != "" {
		Logf("%s: training on the CPU (%s); image features from %s", l.Cfg.Name, why, b)
		return b.cpu.trainFeatures(ctx, l, tok, feats, train, opt)
	}
	st, err := cuda.NewTrainStep(b.dev, l, b.cpu.m, tok, opt)
	if err != nil {
		return nil, errors.Wrapf(err, "%s on %s", l.Cfg.Name, b)
	}
	defer st.Free()
	return softcpt.TrainWith(ctx, l, gpuTrainStep{st}, feats, train, opt)
}

// gpuTrainStep is softcpt.Stepper over cuda.TrainStep.
type gpuTrainStep struct{ s *cuda.TrainStep }

func (n gpuTrainStep) SetLR(lr float64) { n.s.SetLR(lr) }

func (n gpuTrainStep) Step(b softcpt.Batch) (float64, int, error) {
	loss, err := n.s.Step(b)
	return float64(loss), n.s.LastCorrect, err
}

func (n gpuTrainStep) Snapshot() (params, momentum map[string]*tensor.Tensor, err error) {
	if params, err = n.s.Download(); err != nil {
		return nil, nil, err
	}
	if momentum, err = n.s.DownloadMomentum(); err != nil {
		return nil, nil, err
	}
	return params, momentum, nil
}

func (n gpuTrainStep) Restore(params, momentum map[string]*tensor.Tensor, steps int) error {
	return n.s.Upload(params, momentum, steps)
}
