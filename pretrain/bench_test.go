package pretrain

import (
	"context"
	"testing"

	"github.com/softcpt/softcpt-go/clip/tokenizer"
)

// BenchmarkTrainStep measures one pretraining step (batch preparation,
// forward, backward, AdamW) of SmallConfig at batch 256 on 32×32 images.
func BenchmarkTrainStep(b *testing.B) {
	pairs, _ := synthPairs(512, 32, 1)
	merges, err := tokenizer.Learn(Captions(pairs), 530)
	if err != nil {
		b.Fatal(err)
	}
	tok, err := tokenizer.New(merges)
	if err != nil {
		b.Fatal(err)
	}
	opt := DefaultOptions(SmallConfig(tok.VocabSize(), 32))
	opt.Steps = 1
	opt.WarmupSteps = 0
	opt.Eval = nil
	b.ResetTimer()
	for b.Loop() {
		if _, err := Train(context.Background(), pairs, tok, opt); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*opt.BatchSize)/b.Elapsed().Seconds(), "images/s")
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/step")
}
