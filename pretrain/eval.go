package pretrain

import (
	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/autograd"
	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/clip/imageproc"
	"github.com/softcpt/softcpt-go/clip/tokenizer"
	"github.com/softcpt/softcpt-go/tensor"
)

// EvalResult is one named metric of an evaluation.
type EvalResult struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
}

// EvalFunc evaluates the model during training (BatchNorm in eval mode,
// no graph recorded) and returns named metrics to log.
type EvalFunc func(m *clip.Model) ([]EvalResult, error)

// evalBatch bounds the images encoded at once during evaluation.
const evalBatch = 256

// ZeroShotAccuracy returns the top-1 accuracy (in [0,1]) of zero-shot
// classification on task: CLIP's test-time preprocessing of each image
// (bicubic resize of the short side, centre crop), cosine similarity with
// the class prompts, argmax. The model's BatchNorm mode is left as it is;
// call m.Train(false) first for running statistics.
func ZeroShotAccuracy(m *clip.Model, tok *tokenizer.Tokenizer, task *ZeroShotTask) (float64, error) {
	if err := task.Validate(); err != nil {
		return 0, err
	}
	ctxLen := m.Config.ContextLength
	b, err := tok.Tokenize(task.Prompts(), ctxLen, true)
	if err != nil {
		return 0, errors.Wrapf(err, "zero-shot task %q", task.Name)
	}
	ids := b.IDs
	for _, id := range ids {
		if id >= m.Config.VocabSize {
			return 0, errors.Errorf("zero-shot task %q: token id %d outside the model's vocabulary of %d (tokenizer and model do not match)", task.Name, id, m.Config.VocabSize)
		}
	}
	var correct int
	autograd.NoGrad(func() {
		txt := autograd.L2Normalize(m.TextFeatures(ids, b.Rows, ctxLen), 1, normEps).Value
		R := m.Config.ImageResolution
		for lo := 0; lo < len(task.Images); lo += evalBatch {
			hi := min(lo+evalBatch, len(task.Images))
			x := tensor.New(hi-lo, 3, R, R)
			xd := x.Data()
			for i := lo; i < hi; i++ {
				copy(xd[(i-lo)*3*R*R:], imageproc.CLIPTransformRGB(task.Images[i], R))
			}
			img := autograd.L2Normalize(m.ImageFeatures(autograd.Const(x)), 1, normEps)
			sim := autograd.MatMul(img, autograd.Const(txt), false, true).Value
			pred := autograd.ArgMax(sim, 1)
			for i, p := range pred {
				if p == task.Labels[lo+i] {
					correct++
				}
			}
		}
	})
	return float64(correct) / float64(len(task.Images)), nil
}

// ZeroShotEval returns an EvalFunc that reports the zero-shot accuracy of
// every task (named "zeroshot/<task>") and their mean ("zeroshot/mean").
func ZeroShotEval(tok *tokenizer.Tokenizer, tasks []ZeroShotTask) EvalFunc {
	return func(m *clip.Model) ([]EvalResult, error) {
		var out []EvalResult
		var sum float64
		for i := range tasks {
			acc, err := ZeroShotAccuracy(m, tok, &tasks[i])
			if err != nil {
				return nil, err
			}
			out = append(out, EvalResult{Name: "zeroshot/" + tasks[i].Name, Value: acc})
			sum += acc
		}
		if len(tasks) > 1 {
			out = append(out, EvalResult{Name: "zeroshot/mean", Value: sum / float64(len(tasks))})
		}
		return out, nil
	}
}
