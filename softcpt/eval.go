package softcpt

import (
	"fmt"
	"math"
	"strings"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/kernels"
	"github.com/softcpt/softcpt-go/tensor"
)

// Classifier scores images against per-task class features: the
// prediction of a sample is the argmax of cosine similarity over the
// classes of its own task (the authors' evaluator; the softmax they apply
// first does not change the argmax).
type Classifier struct {
	weights []float32 // [ΣC, E], L2-normalised rows
	dim     int
	offsets []int // first class of each task
	sizes   []int // classes per task
}

// NewClassifier normalises class features [ΣC, E] laid out task by task
// with sizes[t] classes each.
func NewClassifier(classFeats *tensor.Tensor, sizes []int) (*Classifier, error) {
	total := 0
	offsets := make([]int, len(sizes))
	for t, n := range sizes {
		offsets[t] = total
		total += n
	}
	if classFeats.NDim() != 2 || classFeats.Dim(0) != total {
		return nil, errors.Errorf("class features %v for %d classes", classFeats.Shape(), total)
	}
	E := classFeats.Dim(1)
	w := append([]float32(nil), classFeats.Contiguous().Data()...)
	for c := 0; c < total; c++ {
		normalize(w[c*E : (c+1)*E])
	}
	return &Classifier{weights: w, dim: E, offsets: offsets, sizes: sizes}, nil
}

func normalize(v []float32) {
	n := math.Sqrt(float64(kernels.Dot(v, v)))
	if n > 0 {
		kernels.Scale(float32(1/n), v)
	}
}

// Predict returns the within-task prediction for each image feature row
// (features [N, E], tasks[i] the task of row i).
func (c *Classifier) Predict(feats *tensor.Tensor, tasks []int) []int {
	N := feats.Dim(0)
	if feats.Dim(1) != c.dim || len(tasks) != N {
		panic(fmt.Sprintf("softcpt.Classifier.Predict: features %v, %d tasks, dim %d", feats.Shape(), len(tasks), c.dim))
	}
	fd := feats.Contiguous().Data()
	row := make([]float32, c.dim)
	preds := make([]int, N)
	for i := 0; i < N; i++ {
		copy(row, fd[i*c.dim:(i+1)*c.dim])
		normalize(row)
		t := tasks[i]
		best, bestS := 0, float32(math.Inf(-1))
		for k := 0; k < c.sizes[t]; k++ {
			o := (c.offsets[t] + k) * c.dim
			if s := kernels.Dot(row, c.weights[o:o+c.dim]); s > bestS {
				best, bestS = k, s
			}
		}
		preds[i] = best
	}
	return preds
}

// Sizes returns the number of classes of each task.
func (c *Classifier) Sizes() []int { return c.sizes }

// Template fills a zero-shot template: "{}" is replaced by the class name
// (underscores become spaces); a template without "{}" gets the name
// appended after a space.
func Template(tmpl, class string) string {
	name := strings.ReplaceAll(class, "_", " ")
	if strings.Contains(tmpl, "{}") {
		return strings.ReplaceAll(tmpl, "{}", name)
	}
	return strings.TrimSpace(tmpl + " " + name)
}

// TextEncoder encodes token ids [batch, length] (zero-padded rows of
// [SOT] ids [EOT]) into text features [batch, E], as clip.Model.EncodeText
// does (e.g. on a GPU).
type TextEncoder func(ids []int, batch, length int) (*tensor.Tensor, error)

// ZeroShotFeatures returns zero-shot class features [ΣC, E] for tasks:
// each class's text features under every template of its task are
// L2-normalised and averaged (CLIP's prompt ensembling; a single template
// gives the plain zero-shot classifier). Texts are encoded with encode,
// or with m.EncodeText when it is nil; m gives the context length and
// the embedding width.
func ZeroShotFeatures(m *clip.Model, encode TextEncoder, tok Tokenizer, tasks []TaskSpec, templates [][]string) (*tensor.Tensor, error) {
	if len(templates) != len(tasks) {
		return nil, errors.Errorf("%d template lists for %d tasks", len(templates), len(tasks))
	}
	E := m.Config.EmbedDim
	var rows [][]float32
	for t, ts := range tasks {
		if len(templates[t]) == 0 {
			return nil, errors.Errorf("task %q has no zero-shot template", ts.Name)
		}
		acc := make([][]float32, len(ts.Classes))
		for i := range acc {
			acc[i] = make([]float32, E)
		}
		for _, tmpl := range templates[t] {
			texts := make([]string, len(ts.Classes))
			for i, c := range ts.Classes {
				texts[i] = Template(tmpl, c)
			}
			feats, err := EncodeTexts(m, encode, tok, texts)
			if err != nil {
				return nil, errors.Wrapf(err, "task %q template %q", ts.Name, tmpl)
			}
			fd := feats.Data()
			for i := range ts.Classes {
				row := append([]float32(nil), fd[i*E:(i+1)*E]...)
				normalize(row)
				kernels.Axpy(1, row, acc[i])
			}
		}
		rows = append(rows, acc...)
	}
	out := tensor.New(len(rows), E)
	for i, r := range rows {
		normalize(r)
		copy(out.Data()[i*E:], r)
	}
	return out, nil
}

// EncodeTexts tokenizes texts ([SOT] ids [EOT], padded) and returns their
// text features [len(texts), E], encoded 256 at a time (to bound memory)
// with encode, or with m.EncodeText when it is nil.
func EncodeTexts(m *clip.Model, encode TextEncoder, tok Tokenizer, texts []string) (*tensor.Tensor, error) {
	if encode == nil {
		encode = func(ids []int, batch, length int) (*tensor.Tensor, error) {
			return m.EncodeText(ids, batch, length), nil
		}
	}
	E := m.Config.EmbedDim
	out := tensor.New(len(texts), E)
	const chunk = 256
	for s := 0; s < len(texts); s += chunk {
		part := texts[s:min(len(texts), s+chunk)]
		var seqs [][]int
		L := 0
		for _, txt := range part {
			ids := append(append([]int{tok.SOT()}, tok.Encode(txt)...), tok.EOT())
			if len(ids) > m.Config.ContextLength {
				return nil, errors.Errorf("text %q needs %d tokens, more than the context length %d", txt, len(ids), m.Config.ContextLength)
			}
			seqs = append(seqs, ids)
			L = max(L, len(ids))
		}
		flat := make([]int, len(part)*L)
		for i, ids := range seqs {
			copy(flat[i*L:], ids)
		}
		f, err := encode(flat, len(part), L)
		if err != nil {
			return nil, err
		}
		if f.NDim() != 2 || f.Dim(0) != len(part) || f.Dim(1) != E {
			return nil, errors.Errorf("text encoder returned features %v for %d texts (embedding %d)", f.Shape(), len(part), E)
		}
		copy(out.Data()[s*E:], f.Contiguous().Data())
	}
	return out, nil
}
