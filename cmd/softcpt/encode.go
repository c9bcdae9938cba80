package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/clip/imageproc"
	"github.com/softcpt/softcpt-go/clip/tokenizer"
	"github.com/softcpt/softcpt-go/tensor"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return fmt.Sprint(*s) }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// encodeOutput is the JSON written by `softcpt encode`.
type encodeOutput struct {
	ImageFeatures [][]float32 `json:"image_features"`
	TextFeatures  [][]float32 `json:"text_features"`
	Similarity    [][]float32 `json:"similarity"`
}

func cmdEncode(args []string) error {
	fs := flag.NewFlagSet("encode", flag.ContinueOnError)
	model := fs.String("model", "", "CLIP checkpoint: OpenAI TorchScript archive (RN50.pt, ViT-B-32.pt, ...), torch.save state dict or safetensors (required)")
	bpe := fs.String("bpe", "", "BPE merges file (bpe_simple_vocab_16e6.txt.gz); required with --text")
	out := fs.String("out", "", "output JSON file (default: standard output)")
	normalize := fs.Bool("normalize", false, "L2-normalise the features in the output")
	visionHeads := fs.Int("vision-heads", 0, "override the inferred number of vision attention heads (models narrower than 64 per head)")
	textHeads := fs.Int("text-heads", 0, "override the inferred number of text attention heads")
	var device deviceFlag
	device.register(fs)
	var images, texts stringList
	fs.Var(&images, "image", "image file (JPEG or PNG); repeatable")
	fs.Var(&texts, "text", "text to encode; repeatable")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `usage: softcpt encode --model FILE [--bpe FILE] [--image FILE ...] [--text STRING ...] [--out FILE] [--normalize] [--device cpu|cuda]

Encodes images (CLIP's preprocessing: bicubic resize of the short side,
centre crop, normalisation) and texts with a CLIP model and writes
{"image_features", "text_features", "similarity"} as JSON; similarity is
the cosine similarity, images × texts.`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *model == "" {
		fs.Usage()
		return errors.New("encode: --model is required")
	}
	if len(images) == 0 && len(texts) == 0 {
		return errors.New("encode: nothing to encode: give --image and/or --text")
	}
	m, err := clip.LoadWith(*model, clip.Options{VisionHeads: *visionHeads, TransformerHeads: *textHeads})
	if err != nil {
		return err
	}
	dev, err := openBackend(string(device), m)
	if err != nil {
		return err
	}
	defer dev.close()
	var res encodeOutput
	res.ImageFeatures, res.TextFeatures, res.Similarity = [][]float32{}, [][]float32{}, [][]float32{}
	if len(images) > 0 {
		r := m.Config.ImageResolution
		pix := tensor.New(len(images), 3, r, r)
		for i, path := range images {
			img, err := imageproc.LoadRGB(path)
			if err != nil {
				return err
			}
			copy(pix.Data()[i*3*r*r:], imageproc.CLIPTransformRGB(img, r))
		}
		f, err := dev.encodeImages(pix)
		if err != nil {
			return errors.Wrap(err, "encode: images")
		}
		res.ImageFeatures = rows(f)
	}
	if len(texts) > 0 {
		if *bpe == "" {
			return errors.New("encode: --bpe is required to encode --text")
		}
		tok, err := tokenizer.Load(*bpe)
		if err != nil {
			return err
		}
		b, err := tok.Tokenize(texts, m.Config.ContextLength, false)
		if err != nil {
			return err
		}
		ids := make([]int, len(b.IDs))
		for i, v := range b.IDs {
			ids[i] = int(v)
		}
		f, err := dev.encodeTexts(ids, b.Rows, b.ContextLength)
		if err != nil {
			return errors.Wrap(err, "encode: texts")
		}
		res.TextFeatures = rows(f)
	}
	for _, v := range res.ImageFeatures {
		sims := make([]float32, len(res.TextFeatures))
		for j, w := range res.TextFeatures {
			sims[j] = cosine(v, w)
		}
		res.Similarity = append(res.Similarity, sims)
	}
	if *normalize {
		for _, set := range [][][]float32{res.ImageFeatures, res.TextFeatures} {
			for _, v := range set {
				n := norm(v)
				for i := range v {
					v[i] /= n
				}
			}
		}
	}
	var w io.Writer = os.Stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return errors.Wrapf(err, "encode: creating %s", *out)
		}
		defer f.Close()
		w = f
	}
	enc := json.NewEncoder(w)
	if err := enc.Encode(res); err != nil {
		return errors.Wrap(err, "encode: writing JSON")
	}
	return nil
}

func rows(t *tensor.Tensor) [][]float32 {
	n, d := t.Dim(0), t.Dim(1)
	out := make([][]float32, n)
	for i := range out {
		out[i] = append([]float32(nil), t.Data()[i*d:(i+1)*d]...)
	}
	return out
}

func norm(v []float32) float32 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return float32(math.Sqrt(s))
}

func cosine(a, b []float32) float32 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return float32(s / (float64(norm(a)) * float64(norm(b))))
}
