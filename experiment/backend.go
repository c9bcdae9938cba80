package experiment

import (
	"context"
	"strconv"
	"strings"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/softcpt"
	"github.com/softcpt/softcpt-go/tensor"
)

// ParseDevice parses a --device value: "cpu" (or empty), "cuda" or
// "cuda:N". It returns whether the device is a GPU and its ordinal.
func ParseDevice(s string) (gpu bool, ordinal int, err error) {
	s = strings.ToLower(strings.TrimSpace(s))
	switch {
	case s == "" || s == "cpu":
		return false, 0, nil
	case s == "cuda" || s == "gpu":
		return true, 0, nil
	case strings.HasPrefix(s, "cuda:"):
		n, err := strconv.Atoi(s[len("cuda:"):])
		if err != nil || n < 0 {
			return false, 0, errors.Errorf("--device %q: want cuda:N with a device number N >= 0", s)
		}
		return true, n, nil
	}
	return false, 0, errors.Errorf("--device %q: want cpu, cuda or cuda:N", s)
}

// Backend runs the frozen CLIP of an experiment: image and text
// encoding, and training on cached image features. The CPU backend is
// clip.Model and the softcpt package; the CUDA backend (device_cuda.go,
// build tag cuda) runs the towers and the training steps of SoftCPT-NATA,
// SoftCPT-NATS and the CoOp baselines on a GPU and hands the rest to the
// CPU.
type Backend interface {
	// String names the device for log lines.
	String() string
	// Close releases the device.
	Close()

	// encodeImages returns the image features [N, E] of preprocessed
	// images [N, 3, R, R].
	encodeImages(pix *tensor.Tensor) (*tensor.Tensor, error)
	// encodeTexts returns the text features [batch, E] of token ids
	// [batch, length], as clip.Model.EncodeText.
	encodeTexts(ids []int, batch, length int) (*tensor.Tensor, error)
	// trainFeatures is softcpt.TrainFeatures on the device: l (built
	// with the backend's model and tok) ends up with the trained state.
	trainFeatures(ctx context.Context, l *softcpt.Learner, tok softcpt.Tokenizer, feats *tensor.Tensor, train []softcpt.Example, opt softcpt.TrainOptions) ([]softcpt.EpochStats, error)
}

// Open opens the backend of a --device value for model m.
func Open(device string, m *clip.Model) (Backend, error) {
	gpu, ordinal, err := ParseDevice(device)
	if err != nil {
		return nil, err
	}
	if !gpu {
		return cpuBackend{m}, nil
	}
	b, err := openCUDA(ordinal, m)
	if err != nil {
		return nil, errors.Wrapf(err, "--device %s", device)
	}
	Logf("CLIP on %s", b)
	return b, nil
}

// cpuBackend is clip.Model and the softcpt package on the CPU.
type cpuBackend struct{ m *clip.Model }

func (cpuBackend) String() string { return "cpu" }

// Close does nothing: the CPU holds no device.
func (cpuBackend) Close() {}

func (b cpuBackend) encodeImages(pix *tensor.Tensor) (*tensor.Tensor, error) {
	return b.m.EncodeImage(pix), nil
}

func (b cpuBackend) encodeTexts(ids []int, batch, length int) (*tensor.Tensor, error) {
	return b.m.EncodeText(ids, batch, length), nil
}

func (b cpuBackend) trainFeatures(ctx context.Context, l *softcpt.Learner, _ softcpt.Tokenizer, feats *tensor.Tensor, train []softcpt.Example, opt softcpt.TrainOptions) ([]softcpt.EpochStats, error) {
	return softcpt.TrainFeatures(ctx, l, feats, train, opt)
}
