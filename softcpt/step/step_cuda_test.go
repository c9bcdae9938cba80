//go:build cuda

package step

// The training step on the GPU (backend cuda.Device.Backend) against the
// CPU learner's Loss + Backward + optim.SGD step on the fixture CLIP
// (three steps) for every method it implements, resuming on the device,
// and benchmarks on a reduced General-10 shape with the RN50 text tower
// (bench/py/gpu_step_peer.py is the PyTorch peer of the NATA step). The
// kernels themselves are tested in package cuda.

import (
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"testing"

	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/cuda/cudatest"
	"github.com/softcpt/softcpt-go/internal/fixture"
	"github.com/softcpt/softcpt-go/softcpt"
	"github.com/softcpt/softcpt-go/softcpt/step/steptest"
	"github.com/softcpt/softcpt-go/tensor"
)

// TestTrainStepFixture runs three steps of every method (SoftCPT-NATA,
// SoftCPT-NATS, CoOp-MT, CoOp-CA, CoOp-CS, SoftCPT-CATA, SoftCPT-CSTA,
// SoftCPT-CATS, SoftCPT-CSTS: steptest.Methods) on the device and on the CPU
// learner (every prompt encoded in full) on the fixture CLIP, with the
// default and a large initialisation.
func TestTrainStepFixture(t *testing.T) {
	m := fixture.RN(t)
	for _, method := range steptest.Methods {
		for _, initStd := range []float32{0, 0.5} {
			t.Run(fmt.Sprintf("%s,init=%v", method, initStd), func(t *testing.T) {
				l := steptest.MethodLearner(t, m, method, initStd)
				l.FullPrompts = true
				matchesLearner(t, cudatest.Device(t).Backend(), m, l)
			})
		}
	}
}

// generalLike returns a reduced General-10 shape: 2 tasks × 100 classes
// whose names have 1 to 4 words.
func generalLike() []softcpt.TaskSpec {
	var tasks []softcpt.TaskSpec
	for t := 0; t < 2; t++ {
		ts := softcpt.TaskSpec{Name: fmt.Sprintf("task%d", t), TaskName: fmt.Sprintf("task %d image classification", t)}
		for c := 0; c < 100; c++ {
			words := make([]string, c%4+1)
			for i := range words {
				words[i] = fmt.Sprintf("w%d_%d_%d", t, c, i)
			}
			ts.Classes = append(ts.Classes, strings.Join(words, " "))
		}
		tasks = append(tasks, ts)
	}
	return tasks
}

// rn50 returns a random frozen RN50, built once.
var rn50 = sync.OnceValue(func() *clip.Model {
	m := clip.NewRandom(clip.RN50(), 1)
	m.SetTrainable(false)
	return m
})

// benchStep runs one training step of method (N_CTX 16, TASK_N_CTX 4)
// on 2 tasks × 100 classes with the RN50 text tower (random weights) and
// a batch of 32 random image features: seconds per step (loss read back,
// so each step ends synchronised).
func benchStep(b *testing.B, method string) {
	m := rn50()
	tok := steptest.WordTokenizer{Vocab: m.Config.VocabSize}
	cfg, err := softcpt.MethodConfig(method)
	if err != nil {
		b.Fatal(err)
	}
	l, err := softcpt.NewLearner(cfg, m, tok, generalLike(), 1)
	if err != nil {
		b.Fatal(err)
	}
	st, err := New(cudatest.Device(b).Backend(), l, m, tok, softcpt.Defaults())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Free()
	rng := tensor.NewRNG(2)
	r := rand.New(rand.NewSource(3))
	batch := softcpt.Batch{Features: tensor.RandN(rng, 0, 1, 32, m.Config.EmbedDim)}
	for i := 0; i < 32; i++ {
		batch.Tasks = append(batch.Tasks, r.Intn(2))
		batch.Labels = append(batch.Labels, r.Intn(100))
	}
	if _, _, err := st.Step(batch); err != nil { // warm-up: allocator cache, JIT
		b.Fatal(err)
	}
	b.ResetTimer()
	var loss float64
	for i := 0; i < b.N; i++ {
		if loss, _, err = st.Step(batch); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/step")
	b.ReportMetric(loss, "loss")
}

// BenchmarkNATAStepRN50 is one SoftCPT-NATA step (benchStep);
// bench/py/gpu_step_peer.py is its PyTorch peer.
func BenchmarkNATAStepRN50(b *testing.B) { benchStep(b, "SoftCPT-NATA") }

// BenchmarkNATSStepRN50 is one SoftCPT-NATS step (benchStep).
func BenchmarkNATSStepRN50(b *testing.B) { benchStep(b, "SoftCPT-NATS") }

// BenchmarkCoOpMTStepRN50 is one CoOp-MT step (benchStep).
func BenchmarkCoOpMTStepRN50(b *testing.B) { benchStep(b, "CoOp-MT") }

// BenchmarkCoOpCAStepRN50 is one CoOp-CA step (benchStep).
func BenchmarkCoOpCAStepRN50(b *testing.B) { benchStep(b, "CoOp-CA") }

// TestTrainStepResume is TestRestoreResumes on the device: for every
// method, Momentum and Params after two steps, restored into a fresh
// Step, round trip bit for bit, and the restored step's third step gives
// the same tensors and loss as the uninterrupted step's; bad restores are
// errors that leave the step unchanged.
func TestTrainStepResume(t *testing.T) {
	m := fixture.RN(t)
	for _, method := range steptest.Methods {
		t.Run(method, func(t *testing.T) { restoreResumes(t, cudatest.Device(t).Backend(), m, method) })
	}
}
