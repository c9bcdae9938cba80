package clip

import (
	"strconv"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/clip/checkpoint"
)

// Load reads a CLIP checkpoint (an OpenAI TorchScript archive such as
// RN50.pt or ViT-B-32.pt, a torch.save state dict, or safetensors; the
// format is detected from the content) and builds a frozen model. fp16
// and bf16 weights are widened to float32.
func Load(path string) (*Model, error) { return LoadWith(path, Options{}) }

// LoadWith is Load with head counts from opt; for safetensors files the
// metadata entries "vision_heads" and "transformer_heads" are used when
// opt leaves them unset.
func LoadWith(path string, opt Options) (*Model, error) {
	sd, err := checkpoint.Load(path)
	if err != nil {
		return nil, err
	}
	return FromCheckpoint(sd, path, opt)
}

// FromCheckpoint builds a frozen model from a checkpoint read with package
// checkpoint (checkpoint.Read reads one from memory, such as an embedded
// copy), with head counts from opt or, where opt leaves them unset, from the
// metadata entries "vision_heads" and "transformer_heads"; name identifies
// the checkpoint in errors.
func FromCheckpoint(sd *checkpoint.StateDict, name string, opt Options) (*Model, error) {
	if opt.VisionHeads == 0 {
		opt.VisionHeads, _ = strconv.Atoi(sd.Metadata["vision_heads"])
	}
	if opt.TransformerHeads == 0 {
		opt.TransformerHeads, _ = strconv.Atoi(sd.Metadata["transformer_heads"])
	}
	m, err := FromStateDictWith(sd.Tensors, opt)
	if err != nil {
		return nil, errors.Wrapf(err, "clip: %s", name)
	}
	return m, nil
}

// Save writes the model's parameters and buffers under OpenAI's key names
// to a safetensors file (atomically).
func (m *Model) Save(path string, metadata map[string]string) error {
	keys, _ := m.Config.ParamShapes()
	sd := m.StateDict()
	md := map[string]string{"vision_heads": strconv.Itoa(m.Config.VisionHeads), "transformer_heads": strconv.Itoa(m.Config.TransformerHeads)}
	for k, v := range metadata {
		md[k] = v
	}
	metadata = md
	if err := checkpoint.WriteSafetensors(path, sd, keys, metadata); err != nil {
		return errors.Wrapf(err, "clip: saving %s", path)
	}
	return nil
}
