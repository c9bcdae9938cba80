package tokenizer_test

import (
	"fmt"

	"github.com/softcpt/softcpt-go/clip/tokenizer"
)

// A tokenizer built from a few merges, as a small BPE learned from captions
// would be; CLIP's own comes from tokenizer.Load on OpenAI's
// bpe_simple_vocab_16e6.txt.gz.
func Example() {
	tok, err := tokenizer.New([]string{"c a", "ca t</w>", "a </w>"})
	if err != nil {
		panic(err)
	}
	ids := tok.Encode("A  CAT&amp;a cat!")
	fmt.Println("vocab:", tok.VocabSize(), "SOT:", tok.SOT(), "EOT:", tok.EOT())
	fmt.Println("ids:", ids)
	fmt.Printf("decoded: %q\n", tok.Decode(ids))

	batch, err := tok.Tokenize([]string{"a cat"}, 6, false)
	if err != nil {
		panic(err)
	}
	fmt.Println("row:", batch.Row(0), "EOT at", batch.EOTPos[0])
	// Output:
	// vocab: 517 SOT: 515 EOT: 516
	// ids: [514 513 261 514 513 256]
	// decoded: "a cat & a cat ! "
	// row: [515 514 513 516 0 0] EOT at 3
}

// Loading CLIP's vocabulary and tokenizing prompts as clip.tokenize does.
func ExampleLoad() {
	tok, err := tokenizer.Load("bpe_simple_vocab_16e6.txt.gz")
	if err != nil {
		fmt.Println(err)
		return
	}
	batch, err := tok.Tokenize([]string{"a photo of a dog."}, tokenizer.DefaultContextLength, false)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(batch.Row(0)[:8]) // [49406 320 1125 539 320 1929 269 49407]
}
