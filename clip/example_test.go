package clip_test

import (
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strings"

	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/clip/imageproc"
	"github.com/softcpt/softcpt-go/shipped"
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

// Example_zeroShot classifies one shipped test image zero-shot with the
// shipped small CLIP (embedded in every binary that imports package
// shipped; shipped.OpenModel("RN50.pt", "bpe_simple_vocab_16e6.txt.gz") or
// clip.Load open OpenAI's): it encodes the image and one prompt per class
// of its task, and prints the three most similar prompts with their cosine
// similarity and CLIP's probability.
func Example_zeroShot() {
	m, err := shipped.OpenModel("", "")
	if err != nil {
		fmt.Println(err)
		return
	}
	bench, _, err := shipped.OpenBenchmark("")
	if err != nil {
		fmt.Println(err)
		return
	}
	task := bench.Task("nature/birds")
	item := task.Test[0]
	R := m.CLIP.Config.ImageResolution
	x := tensor.FromSlice(imageproc.CLIPTransformRGB(bench.Image(item.Image), R), 1, 3, R, R)
	img := m.CLIP.EncodeImage(x).Data()

	prompts := make([]string, len(task.Classes))
	for i, c := range task.Classes {
		prompts[i] = strings.ReplaceAll(task.Template, "{}", c)
	}
	b, err := m.Tokenizer.Tokenize(prompts, m.CLIP.Config.ContextLength, false)
	if err != nil {
		fmt.Println(err)
		return
	}
	txt := m.CLIP.EncodeText(b.IDs, b.Rows, b.ContextLength)

	// Cosine similarity with each prompt, and CLIP's probabilities:
	// softmax of LogitScale() times the similarities.
	E := m.CLIP.Config.EmbedDim
	sims := make([]float64, len(prompts))
	probs := make([]float64, len(prompts))
	var sum float64
	for i := range prompts {
		sims[i] = cosine(img, txt.Data()[i*E:(i+1)*E])
		probs[i] = math.Exp(float64(m.CLIP.LogitScale()) * sims[i])
		sum += probs[i]
	}
	order := make([]int, len(prompts))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return sims[order[a]] > sims[order[b]] })
	fmt.Println("image of a", task.Classes[item.Label])
	for _, i := range order[:3] {
		fmt.Printf("%.2f %.2f %s\n", sims[i], probs[i]/sum, prompts[i])
	}
	// Output:
	// image of a rooster
	// 0.63 0.82 a picture of a rooster.
	// 0.54 0.09 a picture of a dodo.
	// 0.52 0.05 a picture of a duck.
}

// cosine returns the cosine similarity of a and b.
func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}
