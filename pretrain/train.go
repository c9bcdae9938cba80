package pretrain

import (
	"context"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/autograd"
	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/clip/imageproc"
	"github.com/softcpt/softcpt-go/clip/tokenizer"
	"github.com/softcpt/softcpt-go/optim"
	"github.com/softcpt/softcpt-go/tensor"
)

// StepStats records one optimiser step.
type StepStats struct {
	Step       int     `json:"step"` // 1-based
	Loss       float64 `json:"loss"`
	LR         float64 `json:"lr"`
	LogitScale float64 `json:"logit_scale"` // exp(logit_scale) after the step
}

// EvalRecord is an evaluation at a step.
type EvalRecord struct {
	Step    int          `json:"step"`
	Results []EvalResult `json:"results"`
}

// Progress is reported after every step.
type Progress struct {
	Step, Steps int     // steps completed, total
	Loss        float64 // this step's loss
	AvgLoss     float64 // exponential moving average of the loss (0.98)
	LR          float64
	LogitScale  float64       // exp(logit_scale)
	ImagesPerS  float64       // throughput of the steps run in this session
	Elapsed     time.Duration // since this session started
	ETA         time.Duration // for the remaining steps at the session's rate
}

// Result is what Train returns.
type Result struct {
	// Model is the trained model (trainable, BatchNorm in eval mode).
	Model *clip.Model
	// History has one entry per step since the start of training
	// (including steps restored from a checkpoint).
	History []StepStats
	// Evals are the evaluations run, in order.
	Evals []EvalRecord
}

// trainer holds one training run.
type trainer struct {
	pairs Pairs
	multi MultiCaptioned
	tok   *tokenizer.Tokenizer
	opt   Options
	m     *clip.Model

	decay, noDecay *optim.AdamW
	logitScale     *autograd.Var
	st             State

	permEpoch int
	perm      []int
}

// Train pretrains a CLIP from random initialisation (or from the
// checkpoint in opt.CheckpointDir with opt.Resume) on pairs, with
// captions tokenised by tok (whose vocabulary size must equal the
// model's). It returns the model and the loss history.
//
// A NaN or infinite loss stops training with an error naming the step.
// Cancelling ctx stops before the next step; the state after the last
// completed step is checkpointed (when CheckpointDir is set) and the
// error wraps ctx.Err(). The returned Result is non-nil whenever a model
// exists, also with an error.
func Train(ctx context.Context, pairs Pairs, tok *tokenizer.Tokenizer, opt Options) (*Result, error) {
	if err := opt.validate(pairs.Len()); err != nil {
		return nil, err
	}
	t := &trainer{pairs: pairs, tok: tok, opt: opt, permEpoch: -1}
	t.multi, _ = pairs.(MultiCaptioned)
	resumed := false
	if opt.Resume && opt.CheckpointDir != "" {
		ok, err := t.load()
		if err != nil {
			return nil, err
		}
		resumed = ok
	}
	if !resumed {
		if opt.Model.IsViT() {
			return nil, errors.New("pretrain: the model must be a ModifiedResNet (Config.VisionLayers set)")
		}
		if opt.Model.VocabSize != tok.VocabSize() {
			return nil, errors.Errorf("pretrain: model vocabulary %d differs from the tokenizer's %d", opt.Model.VocabSize, tok.VocabSize())
		}
		if tok.EOT() != tok.VocabSize()-1 {
			return nil, errors.Errorf("pretrain: the tokenizer's EOT id %d is not the largest (%d): CLIP pools the text at the argmax id", tok.EOT(), tok.VocabSize()-1)
		}
		t.m = clip.NewRandom(opt.Model, opt.Seed)
		t.st = State{Steps: opt.Steps, BatchSize: opt.BatchSize, Seed: opt.Seed, Pairs: pairs.Len(), Config: opt.Model}
		t.newOptimizers()
	} else if opt.Log != nil {
		opt.Log("resumed from %s at step %d/%d", opt.CheckpointDir, t.st.Step, opt.Steps)
	}
	t.logitScale, _ = t.m.Param("logit_scale")
	res, err := t.run(ctx)
	t.m.Train(false)
	return res, err
}

// newOptimizers builds the two AdamW parameter groups: weights with
// decay, everything else without.
func (t *trainer) newOptimizers() {
	var dec, nodec []*autograd.Var
	for _, k := range t.m.Keys() {
		p, _ := t.m.Param(k)
		if Decayed(k, p.Value.NDim()) {
			dec = append(dec, p)
		} else {
			nodec = append(nodec, p)
		}
	}
	mk := func(ps []*autograd.Var, wd float64) *optim.AdamW {
		return &optim.AdamW{Params: ps, LR: t.opt.LR, Beta1: t.opt.Beta1, Beta2: t.opt.Beta2, Eps: t.opt.Eps, WeightDecay: wd}
	}
	t.decay, t.noDecay = mk(dec, t.opt.WeightDecay), mk(nodec, 0)
}

// Decayed reports whether the parameter under a CLIP state-dict key with
// ndim dimensions gets weight decay: weight matrices and convolution
// kernels do; biases, norm parameters, embeddings and logit_scale do not.
func Decayed(key string, ndim int) bool {
	return ndim >= 2 && !strings.Contains(key, "embedding")
}

func (t *trainer) result() *Result {
	return &Result{Model: t.m, History: t.st.History, Evals: t.st.Evals}
}

func (t *trainer) logf(format string, args ...any) {
	if t.opt.Log != nil {
		t.opt.Log(format, args...)
	}
}

func (t *trainer) run(ctx context.Context) (*Result, error) {
	opt := t.opt
	sched := opt.Schedule()
	cfg := t.m.Config
	B := opt.BatchSize
	start := time.Now()
	first := t.st.Step
	avg := math.NaN()
	if n := len(t.st.History); n > 0 {
		avg = t.st.History[n-1].Loss
	}
	for step := t.st.Step; step < opt.Steps; step++ {
		if err := ctx.Err(); err != nil {
			if opt.CheckpointDir != "" {
				if serr := t.save(); serr != nil {
					return t.result(), errors.Wrapf(serr, "interrupted at step %d", step)
				}
				t.logf("interrupted: checkpoint of step %d saved in %s", step, opt.CheckpointDir)
			}
			return t.result(), errors.Wrapf(err, "pretrain: interrupted after step %d of %d", step, opt.Steps)
		}
		x, ids, err := t.batch(step)
		if err != nil {
			return t.result(), err
		}
		t.m.Train(true)
		img := t.m.ImageFeatures(autograd.Const(x))
		txt := t.m.TextFeatures(ids, B, cfg.ContextLength)
		loss := ContrastiveLoss(img, txt, t.logitScale)
		lv := float64(loss.Value.Item())
		if math.IsNaN(lv) || math.IsInf(lv, 0) {
			return t.result(), errors.Errorf("pretrain: loss is %v at step %d", lv, step+1)
		}
		loss.Backward()
		lr := sched.LR(step)
		t.decay.LR, t.noDecay.LR = lr, lr
		t.decay.Step()
		t.noDecay.Step()
		t.decay.ZeroGrad()
		t.noDecay.ZeroGrad()
		// CLIP clamps the log-temperature after every update.
		ls := t.logitScale.Value.Data()
		ls[0] = min(max(ls[0], 0), MaxLogitScale)

		t.st.Step = step + 1
		scale := math.Exp(float64(ls[0]))
		t.st.History = append(t.st.History, StepStats{Step: step + 1, Loss: lv, LR: lr, LogitScale: scale})
		if math.IsNaN(avg) {
			avg = lv
		} else {
			avg = 0.98*avg + 0.02*lv
		}
		if opt.Progress != nil {
			el := time.Since(start)
			done := step + 1 - first
			rate := float64(done) / el.Seconds()
			opt.Progress(Progress{Step: step + 1, Steps: opt.Steps, Loss: lv, AvgLoss: avg, LR: lr, LogitScale: scale,
				ImagesPerS: rate * float64(B), Elapsed: el, ETA: time.Duration(float64(opt.Steps-step-1) / rate * float64(time.Second))})
		}
		last := step+1 == opt.Steps
		if opt.Eval != nil && (last || opt.EvalEvery > 0 && (step+1)%opt.EvalEvery == 0) {
			if err := t.eval(); err != nil {
				return t.result(), err
			}
		}
		if opt.CheckpointDir != "" && (last || opt.CheckpointEvery > 0 && (step+1)%opt.CheckpointEvery == 0) {
			if err := t.save(); err != nil {
				return t.result(), err
			}
			t.logf("step %d/%d: checkpoint saved in %s", step+1, opt.Steps, opt.CheckpointDir)
		}
	}
	return t.result(), nil
}

// eval runs the evaluation hook with BatchNorm in eval mode.
func (t *trainer) eval() error {
	t.m.Train(false)
	defer t.m.Train(true)
	res, err := t.opt.Eval(t.m)
	if err != nil {
		return errors.Wrapf(err, "pretrain: evaluation at step %d", t.st.Step)
	}
	t.st.Evals = append(t.st.Evals, EvalRecord{Step: t.st.Step, Results: res})
	var b strings.Builder
	for i, r := range res {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(r.Name + " " + formatFloat(r.Value))
	}
	t.logf("step %d/%d: eval %s", t.st.Step, t.opt.Steps, b.String())
	return nil
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'f', 4, 64) }

// splitmix is SplitMix64's finaliser, used to derive independent seeds.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// indices returns the pair indices of a step's batch: slice step%spe of
// the shuffle of epoch step/spe, where spe = ⌊pairs/B⌋.
func (t *trainer) indices(step int) []int {
	n, B := t.pairs.Len(), t.opt.BatchSize
	spe := n / B
	epoch := step / spe
	if epoch != t.permEpoch {
		t.perm = tensor.NewRNG(splitmix(t.opt.Seed^0x5eed) + uint64(epoch)).Perm(n)
		t.permEpoch = epoch
	}
	k := step % spe
	return t.perm[k*B : (k+1)*B]
}

// batch prepares the images [B,3,R,R] and token ids [B,ContextLength] of
// a step. Each sample has its own generator seeded from (seed, step,
// position), so the result does not depend on the number of workers.
func (t *trainer) batch(step int) (*tensor.Tensor, []int, error) {
	idx := t.indices(step)
	B, R, L := len(idx), t.m.Config.ImageResolution, t.m.Config.ContextLength
	x := tensor.New(B, 3, R, R)
	xd := x.Data()
	ids := make([]int, B*L)
	errs := make([]error, B)
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < t.opt.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs[i] = t.sample(step, i, idx[i], xd[i*3*R*R:(i+1)*3*R*R], ids[i*L:(i+1)*L])
			}
		}()
	}
	for i := range idx {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, nil, err
		}
	}
	return x, ids, nil
}

// sample prepares batch position i (pair j) of a step into dst and row.
func (t *trainer) sample(step, i, j int, dst []float32, row []int) error {
	rng := tensor.NewRNG(splitmix(splitmix(t.opt.Seed) ^ uint64(step)<<20 ^ uint64(i)))
	var caption string
	if t.multi != nil {
		cs := t.multi.Captions(j)
		if len(cs) == 0 {
			return errors.Errorf("pretrain: pair %d has no caption", j)
		}
		caption = cs[rng.IntN(len(cs))]
	} else {
		caption = t.pairs.Caption(j)
	}
	img, err := t.pairs.Image(j)
	if err != nil {
		return errors.Wrapf(err, "pretrain: image of pair %d", j)
	}
	if img == nil || img.W <= 0 || img.H <= 0 {
		return errors.Errorf("pretrain: image of pair %d is empty", j)
	}
	R := t.m.Config.ImageResolution
	crop, _ := imageproc.RandomResizedCrop(rng, img, R, t.opt.CropScale, imageproc.DefaultCropRatio)
	if t.opt.Flip {
		crop, _ = imageproc.RandomHorizontalFlip(rng, crop, 0.5)
	}
	imageproc.Normalize(crop, imageproc.CLIPMean, imageproc.CLIPStd, dst)
	b, err := t.tok.Tokenize([]string{caption}, len(row), true)
	if err != nil {
		return errors.Wrapf(err, "pretrain: caption of pair %d", j)
	}
	copy(row, b.IDs)
	return nil
}
