package softcpt

import (
	"testing"

	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/optim"
	"github.com/softcpt/softcpt-go/tensor"
)

// BenchmarkTrainStep measures one SoftCPT-NATA training step (loss,
// backward, SGD) on a small CLIP, with the step's buffers recycled through
// a tensor.Arena as Train does (arena) and without (heap). B/op shows the
// allocation discipline: after warm-up the arena step allocates only small
// graph headers.
func BenchmarkTrainStep(b *testing.B) {
	m := clip.NewRandom(clip.Config{EmbedDim: 64, ImageResolution: 32, VisionLayers: []int{1, 1, 1, 1}, VisionWidth: 8, VisionHeads: 4,
		ContextLength: 40, VocabSize: 1000, TransformerWidth: 128, TransformerHeads: 2, TransformerLayers: 2}, 1)
	m.SetTrainable(false)
	tok := wordTokenizer{Vocab: m.Config.VocabSize}
	var tasks []TaskSpec
	words := []string{"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"}
	for t := 0; t < 4; t++ {
		ts := TaskSpec{Name: words[t], TaskName: words[t] + " image classification"}
		for c := 0; c < 25; c++ {
			ts.Classes = append(ts.Classes, words[c%8]+" "+words[(c/8+t)%8])
		}
		tasks = append(tasks, ts)
	}
	rng := tensor.NewRNG(2)
	batch := Batch{Features: tensor.RandN(rng, 0, 1, 32, m.Config.EmbedDim)}
	for i := 0; i < 32; i++ {
		batch.Tasks = append(batch.Tasks, i%4)
		batch.Labels = append(batch.Labels, rng.IntN(25))
	}
	for _, useArena := range []bool{true, false} {
		name := "heap"
		if useArena {
			name = "arena"
		}
		b.Run(name, func(b *testing.B) {
			cfg, _ := MethodConfig("nata")
			l, err := NewLearner(cfg, m, tok, tasks, 1)
			if err != nil {
				b.Fatal(err)
			}
			sgd := &optim.SGD{Params: l.Parameters(), LR: 0.002, Momentum: 0.9, WeightDecay: 5e-4}
			arena := tensor.NewArena()
			step := func() {
				run := func() {
					loss, _ := l.Loss(batch, nil)
					loss.Backward()
				}
				if useArena {
					arena.Do(run)
				} else {
					run()
				}
				sgd.Step()
				sgd.ZeroGrad()
				arena.Reset()
			}
			step() // warm-up
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				step()
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
		})
	}
}

// BenchmarkEvalTextFeatures measures the text features of every class of
// a General-10-shaped benchmark (10 tasks, 1191 classes, synthetic names of
// 2–4 tokens) through the full-size RN50 text tower with random weights,
// as computed once per evaluation by AllClassFeatures (SoftCPT-NATA).
func BenchmarkEvalTextFeatures(b *testing.B) {
	m := clip.NewRandom(clip.RN50(), 1)
	m.SetTrainable(false)
	tok := wordTokenizer{Vocab: m.Config.VocabSize}
	counts := []int{100, 47, 10, 100, 101, 102, 37, 196, 397, 101}
	rng := tensor.NewRNG(5)
	var tasks []TaskSpec
	for t, n := range counts {
		ts := TaskSpec{Name: "task" + string(rune('a'+t)), TaskName: "task " + string(rune('a'+t)) + " image classification"}
		for c := 0; c < n; c++ {
			var name string
			for w := 0; w < 2+rng.IntN(3); w++ {
				name += string(rune('a'+rng.IntN(26))) + string(rune('a'+rng.IntN(26))) + string(rune('a'+rng.IntN(26))) + " "
			}
			ts.Classes = append(ts.Classes, name)
		}
		tasks = append(tasks, ts)
	}
	cfg, _ := MethodConfig("nata")
	l, err := NewLearner(cfg, m, tok, tasks, 1)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l.AllClassFeatures()
	}
	b.ReportMetric(float64(l.NumClasses()*b.N)/b.Elapsed().Seconds(), "classes/s")
}
