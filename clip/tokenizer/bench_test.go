package tokenizer

import (
	"testing"
)

// BenchmarkEncode encodes the reference case texts (warm: with the BPE
// cache filled, as in steady use; cold: the cache emptied before each
// text, so every word runs BPE) and reports texts per second.
func BenchmarkEncode(b *testing.B) {
	tok := clipTokenizer(b)
	cases := loadCases(b)
	texts := make([]string, len(cases))
	nbytes := 0
	for i, c := range cases {
		texts[i] = c.Text
		nbytes += len(c.Text)
	}
	run := func(b *testing.B, cold bool) {
		b.SetBytes(int64(nbytes))
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			for _, s := range texts {
				if cold {
					tok.mu.Lock()
					clear(tok.cache)
					tok.mu.Unlock()
				}
				tok.Encode(s)
			}
		}
		b.ReportMetric(float64(b.N*len(texts))/b.Elapsed().Seconds(), "items/s")
	}
	b.Run("warm", func(b *testing.B) { run(b, false) })
	b.Run("cold", func(b *testing.B) { run(b, true) })
}

// BenchmarkTokenize measures clip.tokenize-style batches of CoOp prompts.
func BenchmarkTokenize(b *testing.B) {
	tok := clipTokenizer(b)
	prompts := []string{
		"a photo of a dog.", "a photo of a cat.", "a centered satellite photo of forest.",
		"banded texture.", "a photo of a person doing yoga.", "a photo of a airliner, a type of aircraft.",
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := tok.Tokenize(prompts, DefaultContextLength, false); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(prompts))/b.Elapsed().Seconds(), "items/s")
}
