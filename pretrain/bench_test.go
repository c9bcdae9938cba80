package pretrain

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/softcpt/softcpt-go/clip/tokenizer"
	"github.com/softcpt/softcpt-go/tensor"
)

// cpuSeconds returns the process's user+system CPU time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// BenchmarkTrainStep measures pretraining steps (batch preparation,
// forward, backward, AdamW) of SmallConfig with a 4096-token vocabulary at
// batch 256 on 32×32 images, after one warm-up step. It reports wall and
// CPU seconds per step (CPU time / 2 estimates the wall time on two idle
// cores when the machine is shared) and images/s.
func BenchmarkTrainStep(b *testing.B) {
	pairs, _ := synthPairs(512, 32, 1)
	// Captions of random words, so that a realistic vocabulary is learned.
	rng := tensor.NewRNG(2)
	words := make([]string, 3000)
	for i := range words {
		var sb strings.Builder
		for k := 0; k < 3+rng.IntN(6); k++ {
			sb.WriteByte(byte('a' + rng.IntN(26)))
		}
		words[i] = sb.String()
	}
	for i := range pairs.captions {
		var c []string
		for k := 0; k < 6+rng.IntN(8); k++ {
			c = append(c, words[rng.IntN(len(words))])
		}
		pairs.captions[i] = []string{strings.Join(c, " ")}
	}
	merges, err := tokenizer.Learn(Captions(pairs), 4096)
	if err != nil {
		b.Fatal(err)
	}
	tok, err := tokenizer.New(merges)
	if err != nil {
		b.Fatal(err)
	}
	opt := DefaultOptions(SmallConfig(tok.VocabSize(), 32))
	opt.Steps = b.N + 1
	opt.WarmupSteps = 0
	var cpu0 float64
	opt.Progress = func(p Progress) {
		if p.Step == 1 {
			b.ResetTimer()
			cpu0 = cpuSeconds()
		}
	}
	if _, err := Train(context.Background(), pairs, tok, opt); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	cpu := cpuSeconds() - cpu0
	b.ReportMetric(float64(b.N*opt.BatchSize)/b.Elapsed().Seconds(), "images/s")
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/step")
	b.ReportMetric(cpu/float64(b.N), "cpu-s/step")
}
