//go:build cuda

package main

import (
	"context"
	"fmt"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/cuda"
	"github.com/softcpt/softcpt-go/softcpt"
	"github.com/softcpt/softcpt-go/tensor"
)

// cudaBackend runs CLIP's towers (cuda.CLIP) and SoftCPT-NATA training
// steps (cuda.NATAStep) on a GPU. The ViT image tower is not implemented
// on the device: a ViT model's images are encoded by the CPU model.
// Training methods other than NATA run on the CPU (softcpt.TrainFeatures)
// on the device's image features.
type cudaBackend struct {
	cpu cpuBackend
	dev *cuda.Device
	net *cuda.CLIP
}

// openCUDA opens GPU ordinal and uploads m.
func openCUDA(ordinal int, m *clip.Model) (backend, error) {
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
	b := &cudaBackend{cpu: cpuBackend{m}, dev: dev, net: net}
	if m.Config.IsViT() {
		logf("%s: the ViT image tower is not implemented on the GPU; images are encoded on the CPU, texts on the GPU", b)
	}
	return b, nil
}

func (b *cudaBackend) String() string { return fmt.Sprintf("cuda:%d (%s)", b.dev.Ordinal, b.dev.Name) }

func (b *cudaBackend) close() {
	b.net.Free()
	if err := b.dev.Close(); err != nil {
		logf("closing %s: %v", b, err)
	}
}

func (b *cudaBackend) encodeImages(pix *tensor.Tensor) (*tensor.Tensor, error) {
	if b.cpu.m.Config.IsViT() {
		return b.cpu.encodeImages(pix)
	}
	return b.net.EncodeImage(pix)
}

func (b *cudaBackend) encodeTexts(ids []int, batch, length int) (*tensor.Tensor, error) {
	return b.net.EncodeText(ids, batch, length)
}

func (b *cudaBackend) imageFeatures(ctx context.Context, f *softcpt.Featurizer, exs []softcpt.Example) (*tensor.Tensor, error) {
	cfg := b.cpu.m.Config
	return encodeExamples(ctx, exs, cfg.ImageResolution, cfg.EmbedDim, f.BatchSize, f.Workers, b.encodeImages)
}

func (b *cudaBackend) zeroShotFeatures(tok softcpt.Tokenizer, tasks []softcpt.TaskSpec, templates [][]string) (*tensor.Tensor, error) {
	return zeroShotWith(b.encodeTexts, b.cpu.m.Config, tok, tasks, templates)
}

func (b *cudaBackend) trainFeatures(ctx context.Context, l *softcpt.Learner, tok softcpt.Tokenizer, feats *tensor.Tensor, train []softcpt.Example, opt softcpt.TrainOptions) ([]softcpt.EpochStats, error) {
	if why := cpuTrainingReason(l, opt); why != "" {
		logf("%s: training on the CPU (%s); image features from %s", l.Cfg.Name, why, b)
		return b.cpu.trainFeatures(ctx, l, tok, feats, train, opt)
	}
	st, err := cuda.NewNATAStep(b.dev, l, b.cpu.m, tok, opt)
	if err != nil {
		return nil, errors.Wrapf(err, "%s on %s", l.Cfg.Name, b)
	}
	defer st.Free()
	if opt.CheckpointDir != "" {
		logf("%s: training on %s; no checkpoints are written (the optimiser state stays on the device)", l.Cfg.Name, b)
	}
	return trainWithStep(ctx, l, gpuNATAStep{st}, feats, train, opt)
}

// gpuNATAStep is featureStep over cuda.NATAStep.
type gpuNATAStep struct{ s *cuda.NATAStep }

func (n gpuNATAStep) setLR(lr float64) { n.s.SetLR(lr) }

func (n gpuNATAStep) step(b softcpt.Batch) (float64, int, error) {
	loss, err := n.s.Step(b)
	return float64(loss), n.s.LastCorrect, err
}

func (n gpuNATAStep) state() (map[string]*tensor.Tensor, error) { return n.s.Download() }
