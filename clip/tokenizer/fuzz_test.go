package tokenizer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzTokenizer returns CLIP's tokenizer when the merges file is available,
// otherwise the small test vocabulary, so the fuzz targets always run.
func fuzzTokenizer(tb testing.TB) *Tokenizer {
	tb.Helper()
	if _, err := os.Stat(filepath.Join(sharedDataDir(), "bpe_simple_vocab_16e6.txt.gz")); err == nil {
		return clipTokenizer(tb)
	}
	return smallTokenizer(tb)
}

var fuzzSeeds = []string{
	"", " ", "a photo of a cat.", "A PHOTO OF A CAT", "don't 'S 'LL 'ſ",
	"Ã©tÃ©", "â€œquotedâ€\u009d", "&amp;amp;lt;", "<b>&amp;</b>", "&#x41;&#0;&#99999999;",
	"İSTANBUL ΑΣ ΣΑ", "<|startoftext|>x<|endoftext|>", "a.<|endoftext|>",
	"\xff\xfe\xe2\x82", "\xed\xa0\x80\xed\xb0\x80", "\x1b[31mred\x1b[0m", "ＬＯＵＤ　ＮＯＩＳＥＳ",
	"👍🏽🇺🇳👨‍👩‍👧", "e\u0301\u0308", "日本語のテキスト", "١٢٣ ½ ²", "\u2028\u2029\u0085\r\n",
	"\u0345\u200b\ufeff", "http://example.com/a?b=c&d=e", strings.Repeat("dog ", 40),
	"Ãƒâ€šÃ‚Â", "ÐŸÑ€Ð¸Ð²ÐµÑ‚", "\u0080\u0081\u009f",
}

// expectedDecode is what Decode(Encode(text)) must return: every piece of
// the cleaned text followed by a space (the "</w>" of its last token),
// except the literal special tokens, which have no "</w>".
func expectedDecode(text string) string {
	var b strings.Builder
	for _, p := range preTokenize(CleanText(text)) {
		b.WriteString(p)
		if p != StartOfText && p != EndOfText {
			b.WriteByte(' ')
		}
	}
	return b.String()
}

func FuzzEncode(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	tok := fuzzTokenizer(f)
	f.Fuzz(func(t *testing.T, text string) {
		clean := CleanText(text)
		if !utf8.ValidString(clean) {
			t.Fatalf("CleanText(%q) = %q is not valid UTF-8", text, clean)
		}
		ids := tok.Encode(text)
		for _, id := range ids {
			if id < 0 || id >= tok.VocabSize() {
				t.Fatalf("Encode(%q): id %d outside the vocabulary", text, id)
			}
		}
		if got, want := tok.Decode(ids), expectedDecode(text); got != want {
			t.Fatalf("Decode(Encode(%q)) = %q, want %q", text, got, want)
		}
		// Modulo whitespace, the decoded text is the cleaned text.
		squash := func(s string) string { return strings.Join(strings.FieldsFunc(s, isSkipped), "") }
		if got, want := squash(tok.Decode(ids)), squash(clean); got != want {
			t.Fatalf("Decode(Encode(%q)) without spaces = %q, want %q", text, got, want)
		}
		again := tok.Encode(text) // now from the BPE cache
		if len(again) != len(ids) {
			t.Fatalf("Encode(%q) not deterministic: %v then %v", text, ids, again)
		}
		for i := range ids {
			if again[i] != ids[i] {
				t.Fatalf("Encode(%q) not deterministic: %v then %v", text, ids, again)
			}
		}
	})
}

// isSkipped reports whether the pre-tokenizer drops r (the regex module's
// whitespace, and the rare characters no alternative matches).
func isSkipped(r rune) bool { return !isLetter(r) && !isNumber(r) && !isOther(r) }

func FuzzTokenize(f *testing.F) {
	for i, s := range fuzzSeeds {
		f.Add(s, uint8(i*7), i%2 == 0)
	}
	tok := fuzzTokenizer(f)
	f.Fuzz(func(t *testing.T, text string, ctx uint8, truncate bool) {
		contextLength := int(ctx%80) + 1
		n := len(tok.Encode(text)) + 2
		b, err := tok.Tokenize([]string{text, "a"}, contextLength, truncate)
		tooLong := n > contextLength || 3 > contextLength
		if !truncate && tooLong {
			if err == nil {
				t.Fatalf("Tokenize(%q, %d): %d tokens and no error", text, contextLength, n)
			}
			return
		}
		if err != nil {
			t.Fatalf("Tokenize(%q, %d, %v): %v", text, contextLength, truncate, err)
		}
		if b.Rows != 2 || len(b.IDs) != 2*contextLength || len(b.EOTPos) != 2 {
			t.Fatalf("shape: rows %d ids %d eot %d", b.Rows, len(b.IDs), len(b.EOTPos))
		}
		row := b.Row(0)
		end := min(n, contextLength)
		if contextLength > 1 && row[0] != tok.SOT() {
			t.Fatalf("row starts with %d", row[0])
		}
		if row[end-1] != tok.EOT() {
			t.Fatalf("row %v: no EOT at %d", row, end-1)
		}
		for j := end; j < contextLength; j++ {
			if row[j] != 0 {
				t.Fatalf("row %v not zero-padded after %d", row, end)
			}
		}
		if p := b.EOTPos[0]; p >= end || row[p] != tok.EOT() {
			t.Fatalf("EOTPos %d in row %v", p, row)
		}
	})
}
