package clip_test

import (
	"fmt"
	"path/filepath"

	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/tensor"
)

// Example loads a CLIP checkpoint (here a tiny test model saved in the
// safetensors format; OpenAI's RN50.pt or ViT-B-32.pt load the same way),
// encodes a batch of preprocessed images and a batch of token ids, and
// compares them with cosine similarity. Real inputs come from
// imageproc.CLIPTransform and tokenizer.Tokenize.
func Example() {
	// The fixture is narrower than one 64-channel head, so its head counts
	// are given; released checkpoints need no options (clip.Load).
	m, err := clip.LoadWith(filepath.Join("..", "testdata", "clip", "rn.safetensors"),
		clip.Options{VisionHeads: 2, TransformerHeads: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	r := m.Config.ImageResolution
	images := tensor.RandN(tensor.NewRNG(1), 0, 1, 2, 3, r, r)
	img := m.EncodeImage(images)

	// Two prompts of token ids: SOT, a few tokens, EOT, zero padding.
	ids := []int{
		49406, 320, 1125, 539, 320, 2368, 49407, 0,
		49406, 320, 1125, 539, 320, 1929, 269, 49407,
	}
	txt := m.EncodeText(ids, 2, 8)
	fmt.Println("image features", img.Shape(), "text features", txt.Shape())
	fmt.Println("logit scale", m.LogitScale() > 1)
	// Output:
	// image features [2 32] text features [2 32]
	// logit scale true
}
