package experiment

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/clip/checkpoint"
	"github.com/softcpt/softcpt-go/clip/imageproc"
	"github.com/softcpt/softcpt-go/clip/tokenizer"
	"github.com/softcpt/softcpt-go/internal/atomicfile"
	"github.com/softcpt/softcpt-go/internal/console"
	"github.com/softcpt/softcpt-go/shipped"
	"github.com/softcpt/softcpt-go/softcpt"
	"github.com/softcpt/softcpt-go/tensor"
)

// EncodeOptions say what Encode encodes, with which model and where.
type EncodeOptions struct {
	// Model is the CLIP checkpoint ("": the shipped model embedded in the
	// binary); VisionHeads and TextHeads override its inferred attention
	// heads (0: inferred).
	Model                  string
	VisionHeads, TextHeads int
	// BPE is the tokenizer's merges file, required with Texts and a Model
	// path ("" with the embedded model: its embedded tokenizer).
	BPE string
	// Device is a --device value (ParseDevice).
	Device string
	// Precision is a --precision value (Options.Precision).
	Precision string
	// Images are image files (PNG, JPEG, GIF; ListImages) and Texts
	// strings (ReadTexts) to encode.
	Images, Texts []string
	// BatchSize is the number of images or texts encoded at once
	// (default 64).
	BatchSize int
	// Truncate cuts texts too long for the model's context (as
	// clip.tokenize(truncate=True)); without it they are an error.
	Truncate bool
	// Normalize L2-normalises the returned features.
	Normalize bool
}

// Encoded are the features of Encode, row i of ImageFeatures being
// Images[i]'s and row j of TextFeatures Texts[j]'s; Similarity is the
// cosine similarity, images × texts. WriteFile writes them as JSON, .npy
// or safetensors.
type Encoded struct {
	Images        []string    `json:"images"`
	Texts         []string    `json:"texts"`
	ImageFeatures [][]float32 `json:"image_features"`
	TextFeatures  [][]float32 `json:"text_features"`
	Similarity    [][]float32 `json:"similarity"`
	// Model says where the model was read from; Precision is the number
	// format its towers ran in ("fp32" or "bf16").
	Model     string `json:"model"`
	Precision string `json:"precision"`
}

// Encode encodes images (CLIP's preprocessing: bicubic resize of the
// short side, centre crop, normalisation) and texts with a CLIP model, in
// batches, with a progress bar on the console.
func Encode(ctx context.Context, o EncodeOptions) (*Encoded, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	m, tok, src, err := openEncodeModel(o)
	if err != nil {
		return nil, err
	}
	pr, err := setPrecision(o.Precision, m, o.Device)
	if err != nil {
		return nil, err
	}
	dev, err := Open(o.Device, m)
	if err != nil {
		return nil, err
	}
	defer dev.Close()
	bs := o.BatchSize
	if bs <= 0 {
		bs = 64
	}
	res := &Encoded{Images: o.Images, Texts: o.Texts, ImageFeatures: [][]float32{}, TextFeatures: [][]float32{}, Similarity: [][]float32{}, Model: src, Precision: pr.String()}
	if res.Images == nil {
		res.Images = []string{}
	}
	if res.Texts == nil {
		res.Texts = []string{}
	}
	if len(o.Images) > 0 {
		exs := make([]softcpt.Example, len(o.Images))
		for i, path := range o.Images {
			exs[i] = softcpt.Example{Name: path, Load: func() (*imageproc.RGB, error) { return imageproc.LoadRGB(path) }}
		}
		bar := console.Stderr().Bar("encoding images", len(exs), "images")
		fz := &softcpt.Featurizer{Model: m, BatchSize: bs, Encode: func(pix *tensor.Tensor) (*tensor.Tensor, error) {
			f, err := dev.encodeImages(pix)
			bar.Add(pix.Dim(0))
			return f, err
		}}
		f, err := fz.Features(ctx, exs, false, 0)
		bar.Done()
		if err != nil {
			return nil, errors.Wrap(err, "encode: images")
		}
		res.ImageFeatures = rows(f)
	}
	if len(o.Texts) > 0 {
		bar := console.Stderr().Bar("encoding texts", len(o.Texts), "texts")
		for start := 0; start < len(o.Texts); start += bs {
			if err := ctx.Err(); err != nil {
				bar.Done()
				return nil, errors.Wrapf(err, "encode: texts, at text %d", start)
			}
			texts := o.Texts[start:min(start+bs, len(o.Texts))]
			b, err := tok.Tokenize(texts, m.Config.ContextLength, o.Truncate)
			if err == nil {
				var f *tensor.Tensor
				if f, err = dev.encodeTexts(b.IDs, b.Rows, b.ContextLength); err == nil {
					res.TextFeatures = append(res.TextFeatures, rows(f)...)
				}
			}
			if err != nil {
				bar.Done()
				return nil, errors.Wrapf(err, "encode: texts %d to %d (counting from 0; --truncate cuts long texts)", start, start+len(texts)-1)
			}
			bar.Add(len(texts))
		}
		bar.Done()
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

// openEncodeModel opens the model of o (the embedded shipped one when
// o.Model is empty) and, when there are texts, its tokenizer; it logs
// where the model was read from and returns it.
func openEncodeModel(o EncodeOptions) (*clip.Model, *tokenizer.Tokenizer, string, error) {
	if o.Model == "" {
		sm, err := shipped.OpenModel("", o.BPE)
		if err != nil {
			return nil, nil, "", errors.Wrap(err, "encode")
		}
		Logf("model %s, tokenizer %s", sm.ModelSource, sm.BPESource)
		return sm.CLIP, sm.Tokenizer, sm.ModelSource, nil
	}
	m, err := clip.LoadWith(o.Model, clip.Options{VisionHeads: o.VisionHeads, TransformerHeads: o.TextHeads})
	if err != nil {
		return nil, nil, "", err
	}
	Logf("model %s", o.Model)
	if len(o.Texts) == 0 {
		return m, nil, o.Model, nil
	}
	if o.BPE == "" {
		return nil, nil, "", errors.New("encode: --bpe is required to encode texts with --model")
	}
	tok, err := tokenizer.Load(o.BPE)
	if err != nil {
		return nil, nil, "", err
	}
	if tok.VocabSize() != m.Config.VocabSize {
		return nil, nil, "", errors.Errorf("encode: tokenizer %s has %d tokens but model %s expects %d", o.BPE, tok.VocabSize(), o.Model, m.Config.VocabSize)
	}
	return m, tok, o.Model, nil
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

// WriteJSON writes the features as one JSON object (the fields of
// Encoded).
func (r *Encoded) WriteJSON(w io.Writer) error {
	return errors.Wrap(json.NewEncoder(w).Encode(r), "encode: writing JSON")
}

// WriteFile writes the features to path, in the format of its extension:
//
//   - .npy: the features of the one kind encoded (images or texts), float32
//     [N, E], with their row names in PATH-without-.npy + ".rows.json"
//     ({"kind": "images"|"texts", "rows": [...], "model": ..., "precision": ...});
//   - .safetensors: tensors "image_features" and "text_features" (those
//     encoded) and "similarity" (with both), the row names as JSON arrays
//     in the metadata keys "images" and "texts", "model" and "precision";
//   - anything else: JSON (WriteJSON).
//
// Files are written atomically.
func (r *Encoded) WriteFile(path string) error {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".npy":
		feats, names, kind := r.ImageFeatures, r.Images, "images"
		switch {
		case len(r.Images) > 0 && len(r.Texts) > 0:
			return errors.Errorf("encode: %s: a .npy file holds one array; encode images and texts into separate .npy files, or write .safetensors or .json", path)
		case len(r.Texts) > 0:
			feats, names, kind = r.TextFeatures, r.Texts, "texts"
		}
		side := strings.TrimSuffix(path, filepath.Ext(path)) + ".rows.json"
		rowsJSON, err := json.Marshal(map[string]any{"kind": kind, "rows": names, "model": r.Model, "precision": r.Precision})
		if err != nil {
			return errors.Wrap(err, "encode: row names")
		}
		if err := atomicfile.Write(side, append(rowsJSON, '\n')); err != nil {
			return errors.Wrapf(err, "encode: writing %s", side)
		}
		err = atomicfile.WriteFunc(path, func(w io.Writer) error { return WriteNPY(w, flatten(feats)) })
		return errors.Wrapf(err, "encode: writing %s", path)
	case ".safetensors":
		ts := map[string]*tensor.Tensor{}
		md := map[string]string{"model": r.Model, "precision": r.Precision}
		for _, s := range []struct {
			key, names string
			feats      [][]float32
			rows       []string
		}{{"image_features", "images", r.ImageFeatures, r.Images}, {"text_features", "texts", r.TextFeatures, r.Texts}} {
			if len(s.rows) == 0 {
				continue
			}
			ts[s.key] = flatten(s.feats)
			b, err := json.Marshal(s.rows)
			if err != nil {
				return errors.Wrap(err, "encode: row names")
			}
			md[s.names] = string(b)
		}
		if len(r.Images) > 0 && len(r.Texts) > 0 {
			ts["similarity"] = flatten(r.Similarity)
		}
		return errors.Wrapf(checkpoint.WriteSafetensors(path, ts, nil, md), "encode: writing %s", path)
	default:
		err := atomicfile.WriteFunc(path, r.WriteJSON)
		return errors.Wrapf(err, "encode: writing %s", path)
	}
}

// flatten returns rows of equal length as a tensor [len(rows), E].
func flatten(rows [][]float32) *tensor.Tensor {
	e := 0
	if len(rows) > 0 {
		e = len(rows[0])
	}
	t := tensor.New(len(rows), e)
	for i, r := range rows {
		copy(t.Data()[i*e:], r)
	}
	return t
}

// WriteNPY writes a float32 tensor in NumPy's .npy format (version 1.0,
// little-endian '<f4', C order), readable with numpy.load.
func WriteNPY(w io.Writer, t *tensor.Tensor) error {
	shape := make([]string, t.NDim())
	for i, d := range t.Shape() {
		shape[i] = fmt.Sprint(d)
	}
	tuple := strings.Join(shape, ", ")
	if len(shape) == 1 {
		tuple += ","
	}
	header := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", tuple)
	// Pad with spaces and end with a newline so that the data starts at a
	// multiple of 64 bytes (magic 6 + version 2 + length 2 + header).
	pad := 64 - (10+len(header)+1)%64
	header += strings.Repeat(" ", pad%64) + "\n"
	if len(header) > math.MaxUint16 {
		return errors.Errorf("npy: header of %d bytes", len(header))
	}
	buf := make([]byte, 0, 10+len(header)+4*t.Numel())
	buf = append(buf, "\x93NUMPY\x01\x00"...)
	buf = append(buf, byte(len(header)), byte(len(header)>>8))
	buf = append(buf, header...)
	for _, v := range t.Contiguous().Data() {
		b := math.Float32bits(v)
		buf = append(buf, byte(b), byte(b>>8), byte(b>>16), byte(b>>24))
	}
	_, err := w.Write(buf)
	return errors.Wrap(err, "npy")
}

// ReadTexts reads the texts of a file ("-": stdin): a JSON array of
// strings, JSON lines of objects {"text": ...}, or one text per line (the
// line break, "\n" or "\r\n", removed; a last empty line ignored). A .txt
// file is read as lines; .json, .jsonl and .ndjson files and other files as
// JSON when their first non-blank character is '[' (an array) or '{' (JSON
// lines), as lines otherwise. JSON carries any string (line breaks,
// leading dashes); a plain line carries any bytes but a line break
// (invalid UTF-8 included).
func ReadTexts(path string, stdin io.Reader) ([]string, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(stdin)
		path = "standard input"
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, errors.Wrap(err, "encode: reading texts")
	}
	trimmed := strings.TrimLeft(string(data), " \t\r\n\ufeff")
	asLines := strings.EqualFold(filepath.Ext(path), ".txt")
	switch {
	case asLines:
	case strings.HasPrefix(trimmed, "["):
		var texts []string
		if err := json.Unmarshal([]byte(trimmed), &texts); err != nil {
			return nil, errors.Wrapf(err, "encode: texts %s: not a JSON array of strings", path)
		}
		return texts, nil
	case strings.HasPrefix(trimmed, "{"):
		dec := json.NewDecoder(strings.NewReader(trimmed))
		var texts []string
		for i := 1; dec.More(); i++ {
			var rec struct {
				Text *string `json:"text"`
			}
			if err := dec.Decode(&rec); err != nil {
				return nil, errors.Wrapf(err, "encode: texts %s: JSON record %d", path, i)
			}
			if rec.Text == nil {
				return nil, errors.Errorf("encode: texts %s: JSON record %d has no \"text\" string", path, i)
			}
			texts = append(texts, *rec.Text)
		}
		return texts, nil
	}
	s := strings.TrimSuffix(string(data), "\n")
	if s == "" {
		return nil, nil
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	return lines, nil
}

// imageExts are the extensions ListImages takes from a folder.
var imageExts = map[string]bool{".png": true, ".jpg": true, ".jpeg": true, ".gif": true}

// ListImages returns the images to encode of path: for a folder, its PNG,
// JPEG and GIF files (by extension, any case) at any depth, in sorted
// order; for a file, the paths it lists, one a line (blank lines and lines
// starting with '#' skipped; relative paths are relative to the list
// file's folder).
func ListImages(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, errors.Wrap(err, "encode: images")
	}
	var out []string
	if st.IsDir() {
		err := filepath.WalkDir(path, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && imageExts[strings.ToLower(filepath.Ext(p))] {
				out = append(out, p)
			}
			return nil
		})
		if err != nil {
			return nil, errors.Wrapf(err, "encode: listing images under %s", path)
		}
		if len(out) == 0 {
			return nil, errors.Errorf("encode: no PNG, JPEG or GIF file under %s", path)
		}
		sort.Strings(out)
		return out, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, errors.Wrap(err, "encode: image list")
	}
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimRight(l, "\r")
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if !filepath.IsAbs(l) {
			l = filepath.Join(filepath.Dir(path), l)
		}
		out = append(out, l)
	}
	if len(out) == 0 {
		return nil, errors.Errorf("encode: image list %s names no image", path)
	}
	return out, nil
}

// Inputs returns the rows of an encoding in the order given: images, then
// the images of each set (ListImages); texts, then the texts of each file
// (ReadTexts, "-" for stdin).
func Inputs(images, imageSets, texts, textFiles []string, stdin io.Reader) ([]string, []string, error) {
	images, texts = slices.Clone(images), slices.Clone(texts)
	for _, set := range imageSets {
		paths, err := ListImages(set)
		if err != nil {
			return nil, nil, err
		}
		images = append(images, paths...)
	}
	for _, file := range textFiles {
		t, err := ReadTexts(file, stdin)
		if err != nil {
			return nil, nil, err
		}
		texts = append(texts, t...)
	}
	return images, texts, nil
}
