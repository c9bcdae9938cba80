package shipped_test

import (
	"fmt"

	"github.com/softcpt/softcpt-go/shipped"
)

// ExampleOpenModel opens the shipped small CLIP from the copy embedded in
// the binary (a path, such as OpenAI's RN50.pt with its
// bpe_simple_vocab_16e6.txt.gz, would be read instead) and asks it for its
// default prompt context length.
func ExampleOpenModel() {
	m, err := shipped.OpenModel("", "")
	if err != nil {
		fmt.Println(err)
		return
	}
	n, _, err := m.DefaultNCtx()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.ModelSource)
	fmt.Println("context length", m.CLIP.Config.ContextLength, "vocabulary", m.Tokenizer.VocabSize(), "n-ctx", n)
	// Output:
	// embedded pretrained/model.safetensors
	// context length 32 vocabulary 4096 n-ctx 4
}

// ExampleOpenBenchmark opens the shipped benchmark embedded in the binary.
func ExampleOpenBenchmark() {
	b, src, err := shipped.OpenBenchmark("")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(src)
	fmt.Println(len(b.Tasks), "tasks in", b.Groups, "first:", b.Tasks[0].ID)
	// Output:
	// embedded realdata/assets/benchmark.bin
	// 20 tasks in [general nature attributes] first: general/fashion-products
}
