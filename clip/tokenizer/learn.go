package tokenizer

import (
	"bufio"
	"compress/gzip"
	"container/heap"
	"io"

	"github.com/pkg/errors"
)

// MergesHeader is the header line Learn's merges files start with (the
// first line of OpenAI's bpe_simple_vocab_16e6.txt.gz; loaders skip it).
const MergesHeader = "#version: 0.2"

// BaseVocabSize is the number of tokens a vocabulary has without any
// merge: 256 byte symbols, the same with "</w>", SOT and EOT.
const BaseVocabSize = 256 + 256 + 2

// Learn trains byte-level BPE merges on texts the way CLIP's vocabulary
// is built: every text is cleaned (CleanText) and split by the reference
// pre-tokeniser, each piece becomes its UTF-8 bytes in the
// bytes_to_unicode alphabet with "</w>" on the last symbol, and the most
// frequent adjacent pair (counted over all pieces, weighted by how often
// each piece occurs) is merged repeatedly. Ties are broken by the pair's
// symbols in lexicographic order (left, then right), so the result is
// deterministic. Literal "<|startoftext|>"/"<|endoftext|>" pieces are
// special tokens and are not learned from.
//
// The vocabulary of New(merges) then has exactly vocabSize tokens: the
// 512 byte symbols, one per merge, SOT and EOT (the largest id). Learn
// returns an error when vocabSize leaves no room for a merge or when the
// corpus runs out of pairs before reaching it (the error says how large a
// vocabulary the texts support).
func Learn(texts []string, vocabSize int) ([]string, error) {
	want := vocabSize - BaseVocabSize
	if want < 1 {
		return nil, errors.Errorf("tokenizer.Learn: vocabulary size %d leaves no room for merges (minimum %d)", vocabSize, BaseVocabSize+1)
	}
	l := newLearner()
	for _, text := range texts {
		for _, piece := range preTokenize(CleanText(text)) {
			if matchLiteralFold(piece, StartOfText) == len(piece) || matchLiteralFold(piece, EndOfText) == len(piece) {
				continue
			}
			l.addWord(piece)
		}
	}
	l.countPairs()
	merges := make([]string, 0, want)
	for len(merges) < want {
		p, ok := l.best()
		if !ok {
			return nil, errors.Errorf("tokenizer.Learn: the %d texts support only %d merges (vocabulary %d), not the %d of vocabulary size %d",
				len(texts), len(merges), len(merges)+BaseVocabSize, want, vocabSize)
		}
		merges = append(merges, l.syms[p.a]+" "+l.syms[p.b])
		l.merge(p)
	}
	return merges, nil
}

// WriteMerges writes merges as a gzip-compressed merges file in the format
// of bpe_simple_vocab_16e6.txt.gz: the header line MergesHeader, then one
// "left right" merge per line. Load and LoadReader read it back.
func WriteMerges(w io.Writer, merges []string) error {
	zw := gzip.NewWriter(w)
	bw := bufio.NewWriter(zw)
	bw.WriteString(MergesHeader + "\n")
	for _, m := range merges {
		bw.WriteString(m)
		bw.WriteByte('\n')
	}
	if err := bw.Flush(); err != nil {
		return errors.Wrap(err, "tokenizer.WriteMerges")
	}
	if err := zw.Close(); err != nil {
		return errors.Wrap(err, "tokenizer.WriteMerges")
	}
	return nil
}

// pair is two adjacent symbol ids.
type pair struct{ a, b int32 }

// learner holds the BPE training state: distinct words as symbol-id
// sequences with their counts, pair counts, and for each pair the words
// it may occur in.
type learner struct {
	syms  []string         // symbol id -> text
	symID map[string]int32 // text -> symbol id
	words [][]int32        // distinct words
	count []int            // occurrences of each word
	index map[string]int   // word text -> index into words

	pairCount map[pair]int
	where     map[pair][]int32 // words that contained the pair when it was counted (may be stale or repeated)
	h         pairHeap
}

func newLearner() *learner {
	return &learner{symID: map[string]int32{}, index: map[string]int{}, pairCount: map[pair]int{}, where: map[pair][]int32{}}
}

func (l *learner) sym(s string) int32 {
	if id, ok := l.symID[s]; ok {
		return id
	}
	id := int32(len(l.syms))
	l.syms = append(l.syms, s)
	l.symID[s] = id
	return id
}

// addWord counts one occurrence of a pre-tokenised piece.
func (l *learner) addWord(piece string) {
	if i, ok := l.index[piece]; ok {
		l.count[i]++
		return
	}
	w := make([]int32, len(piece))
	for i := 0; i < len(piece); i++ {
		s := string(byteEncoder[piece[i]])
		if i == len(piece)-1 {
			s += "</w>"
		}
		w[i] = l.sym(s)
	}
	l.index[piece] = len(l.words)
	l.words = append(l.words, w)
	l.count = append(l.count, 1)
}

// countPairs computes the initial pair counts and the heap.
func (l *learner) countPairs() {
	for wi, w := range l.words {
		for i := 0; i+1 < len(w); i++ {
			p := pair{w[i], w[i+1]}
			l.pairCount[p] += l.count[wi]
			l.where[p] = append(l.where[p], int32(wi))
		}
	}
	for p, c := range l.pairCount {
		l.push(p, c)
	}
}

func (l *learner) push(p pair, c int) {
	heap.Push(&l.h, heapItem{p: p, count: c, a: l.syms[p.a], b: l.syms[p.b]})
}

// best pops the most frequent pair (lexicographically first on ties),
// skipping heap entries whose count is stale.
func (l *learner) best() (pair, bool) {
	for l.h.Len() > 0 {
		it := heap.Pop(&l.h).(heapItem)
		if c := l.pairCount[it.p]; c == it.count && c > 0 {
			return it.p, true
		}
	}
	return pair{}, false
}

// merge replaces every occurrence of p (left to right, non-overlapping,
// as the tokenizer applies merges) by the merged symbol and updates the
// pair counts of the affected words.
func (l *learner) merge(p pair) {
	merged := l.sym(l.syms[p.a] + l.syms[p.b])
	changed := map[pair]bool{}
	seen := map[int32]bool{}
	for _, wi := range l.where[p] {
		if seen[wi] {
			continue
		}
		seen[wi] = true
		w := l.words[wi]
		has := false
		for i := 0; i+1 < len(w); i++ {
			if w[i] == p.a && w[i+1] == p.b {
				has = true
				break
			}
		}
		if !has {
			continue
		}
		c := l.count[wi]
		for i := 0; i+1 < len(w); i++ {
			q := pair{w[i], w[i+1]}
			l.pairCount[q] -= c
			changed[q] = true
		}
		out := w[:0:0]
		for i := 0; i < len(w); {
			if i+1 < len(w) && w[i] == p.a && w[i+1] == p.b {
				out = append(out, merged)
				i += 2
			} else {
				out = append(out, w[i])
				i++
			}
		}
		l.words[wi] = out
		for i := 0; i+1 < len(out); i++ {
			q := pair{out[i], out[i+1]}
			l.pairCount[q] += c
			changed[q] = true
			if out[i] == merged || out[i+1] == merged {
				l.where[q] = append(l.where[q], wi)
			}
		}
	}
	delete(l.where, p)
	// The heap orders entries totally by (count, left, right), so the
	// order of pushes does not matter.
	for q := range changed {
		if c := l.pairCount[q]; c > 0 {
			l.push(q, c)
		} else {
			delete(l.pairCount, q)
		}
	}
}

// heapItem is a pair with its count at the time it was pushed.
type heapItem struct {
	p     pair
	count int
	a, b  string
}

// pairHeap orders by count (descending), then left and right symbol text
// (ascending).
type pairHeap []heapItem

func (h pairHeap) Len() int { return len(h) }
func (h pairHeap) Less(i, j int) bool {
	if h[i].count != h[j].count {
		return h[i].count > h[j].count
	}
	if h[i].a != h[j].a {
		return h[i].a < h[j].a
	}
	return h[i].b < h[j].b
}
func (h pairHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pairHeap) Push(x any)   { *h = append(*h, x.(heapItem)) }
func (h *pairHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}
