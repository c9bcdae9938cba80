package experiment

import (
	"math"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/clip/imageproc"
	"github.com/softcpt/softcpt-go/clip/tokenizer"
	"github.com/softcpt/softcpt-go/tensor"
)

// EncodeOptions say what Encode encodes, with which model and where.
type EncodeOptions struct {
	// Model is the CLIP checkpoint; VisionHeads and TextHeads override
	// its inferred attention heads (0: inferred).
	Model                  string
	VisionHeads, TextHeads int
	// BPE is the tokenizer's merges file, required with Texts.
	BPE string
	// Device is a --device value (ParseDevice).
	Device string
	// Images are image files (JPEG, PNG) and Texts strings to encode.
	Images, Texts []string
	// Normalize L2-normalises the returned features.
	Normalize bool
}

// Encoded are the features of Encode ('softcpt encode' writes them as
// JSON); Similarity is the cosine similarity, images × texts.
type Encoded struct {
	ImageFeatures [][]float32 `json:"image_features"`
	TextFeatures  [][]float32 `json:"text_features"`
	Similarity    [][]float32 `json:"similarity"`
}

// Encode encodes images (CLIP's preprocessing: bicubic resize of the
// short side, centre crop, normalisation) and texts with a CLIP model.
func Encode(o EncodeOptions) (*Encoded, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	m, err := clip.LoadWith(o.Model, clip.Options{VisionHeads: o.VisionHeads, TransformerHeads: o.TextHeads})
	if err != nil {
		return nil, err
	}
	dev, err := Open(o.Device, m)
	if err != nil {
		return nil, err
	}
	defer dev.Close()
	res := &Encoded{ImageFeatures: [][]float32{}, TextFeatures: [][]float32{}, Similarity: [][]float32{}}
	if len(o.Images) > 0 {
		r := m.Config.ImageResolution
		pix := tensor.New(len(o.Images), 3, r, r)
		for i, path := range o.Images {
			img, err := imageproc.LoadRGB(path)
			if err != nil {
				return nil, err
			}
			copy(pix.Data()[i*3*r*r:], imageproc.CLIPTransformRGB(img, r))
		}
		f, err := dev.encodeImages(pix)
		if err != nil {
			return nil, errors.Wrap(err, "encode: images")
		}
		res.ImageFeatures = rows(f)
	}
	if len(o.Texts) > 0 {
		if o.BPE == "" {
			return nil, errors.New("encode: --bpe is required to encode --text")
		}
		tok, err := tokenizer.Load(o.BPE)
		if err != nil {
			return nil, err
		}
		b, err := tok.Tokenize(o.Texts, m.Config.ContextLength, false)
		if err != nil {
			return nil, err
		}
		ids := make([]int, len(b.IDs))
		for i, v := range b.IDs {
			ids[i] = int(v)
		}
		f, err := dev.encodeTexts(ids, b.Rows, b.ContextLength)
		if err != nil {
			return nil, errors.Wrap(err, "encode: texts")
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
	if o.Normalize {
		for _, set := range [][][]float32{res.ImageFeatures, res.TextFeatures} {
			for _, v := range set {
				n := norm(v)
				for i := range v {
					v[i] /= n
				}
			}
		}
	}
	return res, nil
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
