// Command stepbench times one SoftCPT-NATA training step (forward,
// backward, SGD update) on cached image features with the full-size RN50
// text tower, for bench/step-vs-pytorch.
//
// Usage:
//
//	stepbench [-full] [-reps N] [-precision fp32|bf16] [-arena=false] [-cpuprofile F] [-write-tasks F] [-write-weights F]
//
// The tasks are synthetic: class names of 2–4 tokens and task names of 3–4
// tokens with random ids in [1, 49405] (seeded), spelled "t<id>" and read
// back by a word tokenizer stand-in (one token per word, "." is 269,
// SOT 49406, EOT 49407), so both sides of the comparison see the same token
// lengths. The default shape is 2 tasks × 100 classes; -full uses the class
// counts of the authors' General-10 (10 tasks, 1191 classes). The batch has
// 32 samples whose global class is drawn uniformly (as from a K-shot
// training set) and random image features. -write-tasks writes the tasks
// and the batch as JSON for the PyTorch reference (bench/py/stepbench.py);
// -write-weights writes, as float32 safetensors, the text-tower weights
// (OpenAI keys), the learner's initial tensors ("task_ctx" [M, W],
// "prompt_gen.P" [E, N·W]) and the batch's image features ("features"
// [32, E]), so that the reference starts from the same state. Either flag
// makes the program exit after writing.
//
// Each run does one untimed warm-up step, then N timed steps; it prints
// "seconds/step X" (mean), "cpu-s/step X" (the process's CPU time per
// step) and the loss of every step.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/autograd"
	"github.com/softcpt/softcpt-go/bench/internal/cputime"
	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/clip/checkpoint"
	"github.com/softcpt/softcpt-go/kernels"
	"github.com/softcpt/softcpt-go/optim"
	"github.com/softcpt/softcpt-go/softcpt"
	"github.com/softcpt/softcpt-go/tensor"
)

const (
	batchSize = 32
	dotID     = 269 // "." in CLIP's BPE vocabulary
	sotID     = 49406
	eotID     = 49407
	maxWordID = 49405
)

// general10 holds the class counts of the authors' General-10 tasks
// (Caltech101, DTD, EuroSAT, FGVCAircraft, Food101, OxfordFlowers,
// OxfordPets, StanfordCars, SUN397, UCF101).
var general10 = []int{100, 47, 10, 100, 101, 102, 37, 196, 397, 101}

// idTokenizer is the word tokenizer stand-in: "t<id>" is token id, "." is
// dotID.
type idTokenizer struct{}

// Encode implements softcpt.Tokenizer. Words other than "t<id>" and "."
// are a programming error of this benchmark.
func (idTokenizer) Encode(text string) []int {
	text = strings.ReplaceAll(text, ".", " . ")
	var ids []int
	for _, f := range strings.Fields(text) {
		if f == "." {
			ids = append(ids, dotID)
			continue
		}
		id, err := strconv.Atoi(strings.TrimPrefix(f, "t"))
		if err != nil || !strings.HasPrefix(f, "t") || id < 1 || id > maxWordID {
			panic(fmt.Sprintf("stepbench: word %q is not t<id> with id in [1, %d]", f, maxWordID))
		}
		ids = append(ids, id)
	}
	return ids
}

// SOT implements softcpt.Tokenizer.
func (idTokenizer) SOT() int { return sotID }

// EOT implements softcpt.Tokenizer.
func (idTokenizer) EOT() int { return eotID }

// words returns n random words "t<id>" joined by spaces and their ids.
func words(rng *rand.Rand, n int) (string, []int) {
	ws := make([]string, n)
	ids := make([]int, n)
	for i := range ws {
		ids[i] = 1 + rng.IntN(maxWordID)
		ws[i] = "t" + strconv.Itoa(ids[i])
	}
	return strings.Join(ws, " "), ids
}

// taskJSON is one task as the PyTorch reference reads it.
type taskJSON struct {
	Name    string  `json:"name"`
	TaskIDs []int   `json:"task_ids"` // tokens of the task name
	Classes [][]int `json:"classes"`  // tokens of each class name
}

// setup is the synthetic benchmark shape and batch.
type setup struct {
	Shape  string     `json:"shape"`
	Tasks  []taskJSON `json:"tasks"`
	Batch  []int      `json:"batch_tasks"`
	Labels []int      `json:"batch_labels"`

	specs []softcpt.TaskSpec
}

func makeSetup(full bool) *setup {
	counts := []int{100, 100}
	s := &setup{Shape: "2 tasks x 100 classes (200 classes)"}
	if full {
		counts = general10
		s.Shape = "General-10 shape: 10 tasks, 1191 classes"
	}
	rng := tensor.NewRNG(2024)
	var global [][2]int // (task, label) of every class
	for t, n := range counts {
		name, tids := words(rng, 3+rng.IntN(2))
		spec := softcpt.TaskSpec{Name: "task" + strconv.Itoa(t), TaskName: name}
		tj := taskJSON{Name: spec.Name, TaskIDs: tids}
		for c := 0; c < n; c++ {
			cname, cids := words(rng, 2+rng.IntN(3))
			spec.Classes = append(spec.Classes, cname)
			tj.Classes = append(tj.Classes, cids)
			global = append(global, [2]int{t, c})
		}
		s.specs = append(s.specs, spec)
		s.Tasks = append(s.Tasks, tj)
	}
	for i := 0; i < batchSize; i++ {
		g := global[rng.IntN(len(global))]
		s.Batch = append(s.Batch, g[0])
		s.Labels = append(s.Labels, g[1])
	}
	return s
}

func main() {
	full := flag.Bool("full", false, "use the General-10 shape (10 tasks, 1191 classes)")
	reps := flag.Int("reps", 1, "timed steps after one warm-up step")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the timed steps to this file")
	writeTasks := flag.String("write-tasks", "", "write the tasks and batch as JSON to this file and exit")
	writeWeights := flag.String("write-weights", "", "write the text-tower weights, initial learner tensors and image features as safetensors to this file and exit")
	precision := flag.String("precision", "fp32", "number format of the frozen text tower: fp32 or bf16 (clip.Model.SetPrecision)")
	flag.BoolVar(&useArena, "arena", true, "take the step's activations from a tensor.Arena, as softcpt's training loop does")
	flag.Parse()
	p, err := autograd.ParsePrecision(*precision)
	if err != nil {
		fmt.Fprintln(os.Stderr, "stepbench: -precision:", err)
		os.Exit(2)
	}
	prec = p
	if err := run(*full, *reps, *cpuprofile, *writeTasks, *writeWeights); err != nil {
		fmt.Fprintln(os.Stderr, "stepbench:", err)
		os.Exit(1)
	}
}

// isTextKey reports whether an OpenAI state-dict key belongs to the text
// tower (or is logit_scale).
func isTextKey(k string) bool {
	switch k {
	case "token_embedding.weight", "positional_embedding", "text_projection", "logit_scale":
		return true
	}
	return strings.HasPrefix(k, "transformer.resblocks.") || strings.HasPrefix(k, "ln_final.")
}

// writeState writes the text-tower weights of m, the learner's tensors and
// the batch's image features to path as safetensors.
func writeState(path string, m *clip.Model, l *softcpt.Learner, feats *tensor.Tensor) error {
	out := map[string]*tensor.Tensor{}
	for k, t := range m.StateDict() {
		if isTextKey(k) {
			out[k] = t
		}
	}
	for k, t := range l.State() {
		if _, dup := out[k]; dup {
			return errors.Errorf("learner tensor %q collides with a model key", k)
		}
		out[k] = t
	}
	for _, k := range []string{"task_ctx", "prompt_gen.P"} {
		if out[k] == nil {
			return errors.Errorf("learner state lacks %q", k)
		}
	}
	out["features"] = feats
	return errors.Wrapf(checkpoint.WriteSafetensors(path, out, nil, nil), "writing %s", path)
}

// useArena is the -arena flag.
var useArena bool

// prec is the -precision flag's number format for the frozen text tower.
var prec autograd.Precision

func run(full bool, reps int, cpuprofile, writeTasks, writeWeights string) error {
	s := makeSetup(full)
	if writeTasks != "" {
		b, err := json.Marshal(s)
		if err != nil {
			return errors.Wrap(err, "encoding the tasks")
		}
		if err := os.WriteFile(writeTasks, b, 0o644); err != nil {
			return errors.Wrapf(err, "writing %s", writeTasks)
		}
	}
	if reps < 1 {
		return errors.Errorf("reps %d < 1", reps)
	}
	if writeTasks == "" && writeWeights == "" {
		fmt.Printf("go %s GOMAXPROCS %d shape %s precision %s bf16-kernels %v\n", runtime.Version(), runtime.GOMAXPROCS(0), s.Shape, prec, kernels.BF16Supported())
	}
	m := clip.NewRandom(clip.RN50(), 1)
	m.SetTrainable(false)
	m.SetPrecision(prec)
	cfg, err := softcpt.MethodConfig("nata")
	if err != nil {
		return err
	}
	l, err := softcpt.NewLearner(cfg, m, idTokenizer{}, s.specs, 1)
	if err != nil {
		return err
	}
	b := softcpt.Batch{Features: tensor.RandN(tensor.NewRNG(7), 0, 1, batchSize, m.Config.EmbedDim), Tasks: s.Batch, Labels: s.Labels}
	if writeWeights != "" {
		return writeState(writeWeights, m, l, b.Features)
	}
	if writeTasks != "" {
		return nil
	}
	// The authors' optimiser (softcpt.md §3.1), one step per batch.
	sgd := &optim.SGD{Params: l.Parameters(), LR: 0.002, Momentum: 0.9, WeightDecay: 5e-4}
	// With -arena (the default) the step's activations and gradients come
	// from a tensor.Arena, recycled after the update, as softcpt's
	// training loop runs its steps: after the warm-up step no large
	// buffer is allocated (and no fresh page is faulted in).
	arena := tensor.NewArena()
	step := func() float32 {
		var lv float32
		run := func() {
			loss, _ := l.Loss(b, nil)
			sgd.ZeroGrad()
			loss.Backward()
			lv = loss.Value.Item()
		}
		if useArena {
			arena.Do(run)
		} else {
			run()
		}
		sgd.Step()
		sgd.ZeroGrad()
		arena.Reset()
		return lv
	}
	fmt.Printf("warm-up loss %.6f\n", step())
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			return errors.Wrapf(err, "creating the CPU profile %s", cpuprofile)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return errors.Wrap(err, "starting the CPU profile")
		}
		defer pprof.StopCPUProfile()
	}
	var total time.Duration
	cpu0 := cputime.Seconds()
	for i := 0; i < reps; i++ {
		t := time.Now()
		loss := step()
		total += time.Since(t)
		fmt.Printf("step %d loss %.6f\n", i+1, loss)
	}
	fmt.Printf("cpu-s/step %.4f\n", (cputime.Seconds()-cpu0)/float64(reps))
	fmt.Printf("seconds/step %.4f\n", total.Seconds()/float64(reps))
	return nil
}
