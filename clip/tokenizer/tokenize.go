package tokenizer

import (
	"github.com/pkg/errors"
)

// Batch is the result of Tokenize: Rows rows of ContextLength token ids,
// stored row-major in IDs, as the int tensor clip.tokenize returns. IDs has
// the type clip.Model's EncodeText and TextFeatures take, so a batch is
// encoded without a copy: m.EncodeText(b.IDs, b.Rows, b.ContextLength).
type Batch struct {
	// IDs holds Rows*ContextLength ids: SOT, the text's ids, EOT, then zeros.
	IDs []int
	// Rows is the number of texts.
	Rows int
	// ContextLength is the length of each row.
	ContextLength int
	// EOTPos[i] is the position of the first largest id of row i, the
	// reference's text.argmax(dim=-1): the EOT token, where CLIP pools the
	// text features (unless the text itself contains "<|endoftext|>").
	EOTPos []int
}

// Row returns row i of the batch (a slice of IDs, not a copy).
func (b *Batch) Row(i int) []int {
	return b.IDs[i*b.ContextLength : (i+1)*b.ContextLength]
}

// Tokenize encodes texts as clip.tokenize(texts, context_length, truncate):
// each row is SOT + Encode(text) + EOT, zero-padded to contextLength. A text
// whose tokens do not fit is an error naming it, unless truncate is set, in
// which case the row is cut to contextLength and its last token set to EOT.
func (t *Tokenizer) Tokenize(texts []string, contextLength int, truncate bool) (*Batch, error) {
	if contextLength < 1 {
		return nil, errors.Errorf("tokenizer: context length %d must be positive", contextLength)
	}
	b := &Batch{
		IDs:           make([]int, len(texts)*contextLength),
		Rows:          len(texts),
		ContextLength: contextLength,
		EOTPos:        make([]int, len(texts)),
	}
	for i, text := range texts {
		ids := t.Encode(text)
		n := len(ids) + 2
		if n > contextLength {
			if !truncate {
				return nil, errors.Errorf("tokenizer: input %d %q is too long for context length %d (%d tokens)", i, text, contextLength, n)
			}
			n = contextLength
		}
		row := b.Row(i)
		row[0] = t.sot
		for j := 1; j < n-1; j++ {
			row[j] = ids[j-1]
		}
		row[n-1] = t.eot
		best := 0
		for j, id := range row {
			if id > row[best] {
				best = j
			}
		}
		b.EOTPos[i] = best
	}
	return b, nil
}
