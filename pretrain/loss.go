package pretrain

import (
	"fmt"
	"math"

	"github.com/softcpt/softcpt-go/autograd"
)

// MaxLogitScale is the clamp of the learnable log-temperature, log(100):
// CLIP never scales the cosine similarities by more than 100.
var MaxLogitScale = float32(math.Log(100))

// InitLogitScale is the initial log-temperature, log(1/0.07), as in CLIP.
var InitLogitScale = float32(math.Log(1 / 0.07))

// ContrastiveLoss is CLIP's symmetric InfoNCE loss on a batch of N
// matching pairs: with L2-normalised image features I [N,E] and text
// features T [N,E] and logits = exp(logitScale)·I·Tᵀ, it is
//
//	(CE(logits, 0..N−1) + CE(logitsᵀ, 0..N−1)) / 2
//
// where CE is the mean softmax cross-entropy over rows: image i must pick
// caption i among the batch's captions and vice versa. logitScale is the
// scalar log-temperature (CLIP's logit_scale parameter). Gradients flow
// to all three inputs. It panics on mismatched shapes (a programming
// error).
func ContrastiveLoss(img, txt, logitScale *autograd.Var) *autograd.Var {
	is, ts := img.Shape(), txt.Shape()
	if len(is) != 2 || len(ts) != 2 || is[0] != ts[0] || is[1] != ts[1] || is[0] == 0 || logitScale.Value.Numel() != 1 {
		panic(fmt.Sprintf("pretrain.ContrastiveLoss: image features %v, text features %v, logit scale %v", is, ts, logitScale.Shape()))
	}
	n := is[0]
	in := autograd.L2Normalize(img, 1, normEps)
	tn := autograd.L2Normalize(txt, 1, normEps)
	scale := autograd.Exp(autograd.Reshape(logitScale, 1, 1))
	logits := autograd.Mul(autograd.MatMul(in, tn, false, true), scale) // [N,N], row i = image i
	targets := make([]int, n)
	for i := range targets {
		targets[i] = i
	}
	li := autograd.CrossEntropy(logits, targets, autograd.ReduceMean)
	lt := autograd.CrossEntropy(autograd.Transpose(logits, 0, 1), targets, autograd.ReduceMean)
	return autograd.Scale(autograd.Add(li, lt), 0.5)
}

// normEps guards the L2 normalisation against an all-zero feature row
// (CLIP divides by the norm; for nonzero rows this is the same).
const normEps = 1e-12
