package tokenizer

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// learnCorpus returns templated captions with some free text, digits,
// punctuation and non-ASCII characters.
func learnCorpus() []string {
	colours := []string{"red", "green", "blue", "yellow", "purple", "orange"}
	shapes := []string{"square", "circle", "triangle", "star", "heart"}
	var texts []string
	for i, c := range colours {
		for j, s := range shapes {
			texts = append(texts, fmt.Sprintf("a photo of a %s %s.", c, s))
			texts = append(texts, fmt.Sprintf("A %s %s, number %d!", strings.ToUpper(c), s, i*5+j))
		}
	}
	texts = append(texts, "the queen of hearts in the café style", "flag of Côte d'Ivoire", "It's a <b>bold</b> &amp; italic glyph",
		"handwritten digit seven", "naïve émoji 😀 face",
		"Tux the penguin juggles oranges while a zebra watches quietly from the meadow",
		"bold italic serif capital letter G", "the seven of clubs in the anglo-american deck",
		"Sunflowers, tulips and daffodils bloom beside the wooden fence near the lighthouse",
		"grumpy smiling cat with heart-shaped eyes; thumbs up, waving hand (medium skin tone)")
	return texts
}

func TestLearnTiny(t *testing.T) {
	// "ab" three times, "cd" once: the pairs are (a, b</w>) ×3 and
	// (c, d</w>) ×1.
	m, err := Learn([]string{"ab ab ab cd"}, BaseVocabSize+2)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a b</w>", "c d</w>"}; !reflect.DeepEqual(m, want) {
		t.Fatalf("merges %q, want %q", m, want)
	}
	// Equal counts: the lexicographically smaller pair first.
	m, err = Learn([]string{"cd ab"}, BaseVocabSize+2)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a b</w>", "c d</w>"}; !reflect.DeepEqual(m, want) {
		t.Fatalf("tie-break: merges %q, want %q", m, want)
	}
	// "aaa" holds (a,a) twice and the merge is applied left to right:
	// a a a</w> -> aa a</w> -> aaa</w>.
	m, err = Learn([]string{"aaa"}, BaseVocabSize+2)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a a", "aa a</w>"}; !reflect.DeepEqual(m, want) {
		t.Fatalf("repeated symbol: merges %q, want %q", m, want)
	}
	// The corpus runs out of pairs.
	if _, err := Learn([]string{"ab ab ab cd"}, BaseVocabSize+3); err == nil || !strings.Contains(err.Error(), "support only 2 merges") {
		t.Fatalf("exhausted corpus: err %v", err)
	}
	if _, err := Learn([]string{"ab"}, BaseVocabSize); err == nil {
		t.Fatal("vocabulary without merges: no error")
	}
}

func TestLearnRoundTrip(t *testing.T) {
	texts := learnCorpus()
	const vocab = 600
	merges, err := Learn(texts, vocab)
	if err != nil {
		t.Fatal(err)
	}
	if len(merges) != vocab-BaseVocabSize {
		t.Fatalf("%d merges, want %d", len(merges), vocab-BaseVocabSize)
	}
	var buf bytes.Buffer
	if err := WriteMerges(&buf, merges); err != nil {
		t.Fatal(err)
	}
	if buf.Len() < 2 || buf.Bytes()[0] != 0x1f || buf.Bytes()[1] != 0x8b {
		t.Fatal("WriteMerges did not write gzip")
	}
	tok, err := LoadReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() != vocab {
		t.Fatalf("vocabulary %d, want %d", tok.VocabSize(), vocab)
	}
	if tok.EOT() != vocab-1 || tok.SOT() != vocab-2 {
		t.Fatalf("SOT %d EOT %d, want %d %d", tok.SOT(), tok.EOT(), vocab-2, vocab-1)
	}
	direct, err := New(merges)
	if err != nil {
		t.Fatal(err)
	}
	learned := 0
	for _, text := range append(texts, "an unseen caption: zebra 42 ∑") {
		ids := tok.Encode(text)
		if !reflect.DeepEqual(ids, direct.Encode(text)) {
			t.Fatalf("%q: loaded and direct tokenizers differ", text)
		}
		// decode(encode(x)) is the cleaned text with one space after
		// every pre-token (the "</w>" markers).
		var want strings.Builder
		for _, p := range preTokenize(CleanText(text)) {
			want.WriteString(p + " ")
		}
		if got := tok.Decode(ids); got != want.String() {
			t.Fatalf("round trip of %q: got %q, want %q", text, got, want.String())
		}
		for _, id := range ids {
			if id >= 512 {
				learned++
			}
		}
	}
	// Words-only captions come back exactly (up to the final space).
	if got := strings.TrimSuffix(tok.Decode(tok.Encode("A Photo  of a RED square")), " "); got != "a photo of a red square" {
		t.Fatalf("round trip: %q", got)
	}
	// Frequent words become single tokens.
	for _, w := range []string{"photo</w>", "square</w>", "of</w>"} {
		if _, ok := tok.ID(w); !ok {
			t.Errorf("frequent word %q is not a token", w)
		}
	}
	if ids := tok.Encode("a photo of a red square"); len(ids) != 6 {
		t.Errorf("caption of 6 frequent words takes %d tokens: %v", len(ids), ids)
	}
	if learned == 0 {
		t.Fatal("no merged token used")
	}
}

// TestLearnSegmentation checks that the tokenizer, applying the merges by
// rank, segments every training word exactly as the learner's final state
// (BPE replay is consistent with training).
func TestLearnSegmentation(t *testing.T) {
	texts := learnCorpus()
	merges, err := Learn(texts, 640)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := New(merges)
	if err != nil {
		t.Fatal(err)
	}
	l := newLearner()
	for _, text := range texts {
		for _, p := range preTokenize(CleanText(text)) {
			l.addWord(p)
		}
	}
	l.countPairs()
	for range merges {
		p, ok := l.best()
		if !ok {
			t.Fatal("learner ran out of pairs")
		}
		l.merge(p)
	}
	for piece, wi := range l.index {
		var want []string
		for _, s := range l.words[wi] {
			want = append(want, l.syms[s])
		}
		var got []string
		for _, id := range tok.bpe([]byte(piece)) {
			got = append(got, tok.Token(id))
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("word %q: tokenizer %q, learner %q", piece, got, want)
		}
	}
}

func TestLearnDeterministic(t *testing.T) {
	texts := learnCorpus()
	a, err := Learn(texts, 700)
	if err != nil {
		t.Fatal(err)
	}
	// Counts do not depend on the order of the texts.
	shuffled := append([]string(nil), texts...)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for range 3 {
		b, err := Learn(shuffled, 700)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatal("Learn is not deterministic")
		}
	}
	// A prefix of the merges of a larger vocabulary.
	c, err := Learn(texts, 650)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, a[:len(c)]) {
		t.Fatal("smaller vocabulary is not a prefix of the larger one")
	}
}

func BenchmarkLearn(b *testing.B) {
	texts := learnCorpus()
	for range 20 {
		texts = append(texts, texts[:30]...)
	}
	for b.Loop() {
		if _, err := Learn(texts, 700); err != nil {
			b.Fatal(err)
		}
	}
}
