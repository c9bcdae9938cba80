package softcpt

import (
	"math"
	"slices"
	"strings"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/autograd"
	"github.com/softcpt/softcpt-go/tensor"
)

// CtxInitTemplate, as Config.CtxInit, starts each task's class-prompt
// context from the words of that task's zero-shot template before the
// class name (TaskSpec.Template): "a photo of a" for "a photo of a {}.".
// At the first step every class prompt then reads exactly like the
// zero-shot prompt, up to what follows the class name (the learned
// prompts always end with "<class>."), and up to the context slots that
// the words do not fill (below). This holds with the class name at the
// end of the prompt (Position End).
const CtxInitTemplate = "template"

// templatePrefix returns the words of a zero-shot template before its
// "{}" placeholder.
func templatePrefix(tmpl string) (string, error) {
	i := strings.Index(tmpl, "{}")
	if i < 0 {
		return "", errors.Errorf("zero-shot template %q has no {} placeholder", tmpl)
	}
	return strings.TrimSpace(tmpl[:i]), nil
}

// initTokens returns, per task, the token ids that its contexts start
// from (Config.CtxInit), or nil for the random initialisation.
func (l *Learner) initTokens(tok Tokenizer) ([][]int, error) {
	if l.Cfg.CtxInit == "" {
		return nil, nil
	}
	out := make([][]int, len(l.tasks))
	for t, ts := range l.tasks {
		words := l.Cfg.CtxInit
		if words == CtxInitTemplate {
			var err error
			if words, err = templatePrefix(ts.Template); err != nil {
				return nil, errors.Wrapf(err, "ctx init from the template of task %q", ts.Name)
			}
		}
		ids := tok.Encode(strings.ReplaceAll(words, "_", " "))
		if len(ids) > l.Cfg.NCtx {
			return nil, errors.Errorf("ctx init %q of task %q has %d tokens, more than n_ctx %d", words, ts.Name, len(ids), l.Cfg.NCtx)
		}
		out[t] = ids
	}
	if l.Cfg.Hard && l.Cfg.Sharing == ShareAll {
		for t := range out {
			if !slices.Equal(out[t], out[0]) {
				return nil, errors.Errorf("%s shares one context over all tasks, but the ctx init words of tasks %q and %q differ (give words, not %q)",
					l.Cfg.Name, l.tasks[0].Name, l.tasks[t].Name, CtxInitTemplate)
			}
		}
	}
	return out, nil
}

// initContexts applies Config.CtxInit (CoOp's CTX_INIT, extended). The
// words' token embeddings fill the last context slots, next to the class
// name when it comes at the end (Position End; with Middle or Front the
// slots are placed as for any context, as in CoOp). CoOp requires as many words as slots; we allow fewer, so that
// templates of different lengths can share one NCtx, and fill the first
// slots with the start-of-text token's embedding: the prompt then reads
// "[SOS] [SOS]… words <class>.". On the shipped small CLIP this padding
// kept the most zero-shot accuracy of those we measured (general set,
// five slots: SOS 45.1%, random N(0, 0.02) 38.4%, zeros 21.1%; the
// unpadded templates score 50.9%).
//
// The hard baselines' contexts are set directly. SoftCPT generates its
// contexts with the meta network, which has no bias (§1.4 of the
// reference), so there the meta matrix P is moved, from its random
// initialisation P0, by the smallest change (in Frobenius norm, up to a
// tiny ridge) for which the generated contexts equal these targets at
// the initial task (and class) contexts: P = P0 + Xᵀ(XXᵀ+λI)⁻¹(Y−XP0),
// X being the meta-network inputs (one row per task for NA, per class
// for CA/CS) and Y the targets. With more rows than input dimensions the
// fit is the least-squares one.
func (l *Learner) initContexts(tok Tokenizer) error {
	ids, err := l.initTokens(tok)
	if err != nil || ids == nil {
		return err
	}
	N, W := l.Cfg.NCtx, l.model.Config.TransformerWidth
	emb := make([][]float32, len(ids))
	var sos []float32
	autograd.NoGrad(func() {
		for t, id := range ids {
			if len(id) > 0 {
				emb[t] = l.model.TokenEmbeddings(id, 1, len(id)).Value.Contiguous().Data()
			}
		}
		sos = l.model.TokenEmbeddings([]int{tok.SOT()}, 1, 1).Value.Contiguous().Data()
	})
	// place writes task t's initial context into dst [N*W].
	place := func(dst []float32, t int) {
		pad := N - len(ids[t])
		for i := 0; i < pad; i++ {
			copy(dst[i*W:(i+1)*W], sos)
		}
		copy(dst[(N-len(ids[t]))*W:], emb[t])
	}
	if l.Cfg.Hard {
		d := l.Ctx.Value.Data()
		switch l.Cfg.Sharing {
		case ShareAll:
			place(d, 0)
		case SharePerTask:
			for t := range l.tasks {
				place(d[t*N*W:(t+1)*N*W], t)
			}
		case SharePerClass:
			for c := 0; c < l.numClasses; c++ {
				place(d[c*N*W:(c+1)*N*W], l.taskOfClass[c])
			}
		}
		return nil
	}
	var x *tensor.Tensor
	var rowTask []int
	autograd.NoGrad(func() {
		f := l.TaskFeatures()
		if !l.Cfg.CSC {
			x = f.Value.Contiguous()
			rowTask = make([]int, len(l.tasks))
			for t := range rowTask {
				rowTask[t] = t
			}
			return
		}
		all := make([]int, l.numClasses)
		for c := range all {
			all[c] = c
		}
		x = l.metaInput(f, all).Value.Contiguous()
		rowTask = l.taskOfClass
	})
	if err := fitMeta(l.Meta.Value.Data(), x.Data(), x.Dim(0), x.Dim(1), N*W, rowTask, place); err != nil {
		return errors.Wrapf(err, "%s: ctx init %q", l.Cfg.Name, l.Cfg.CtxInit)
	}
	return nil
}

// fitMeta moves p [in, out] (row-major) by the smallest change for which
// x·p [rows, out] equals y, whose row r is x·p's row r after
// place(row, rowTask[r]): p += xᵀ(xxᵀ+λI)⁻¹(y−x·p), in float64.
func fitMeta(p, x []float32, rows, in, out int, rowTask []int, place func([]float32, int)) error {
	// r = y − x·p, row by row.
	r := make([]float64, rows*out)
	row := make([]float32, out)
	cur := make([]float64, out)
	for i := 0; i < rows; i++ {
		for j := range cur {
			cur[j] = 0
		}
		for k := 0; k < in; k++ {
			a := float64(x[i*in+k])
			if a == 0 {
				continue
			}
			pk := p[k*out : (k+1)*out]
			for j, v := range pk {
				cur[j] += a * float64(v)
			}
		}
		for j, v := range cur {
			row[j] = float32(v)
		}
		place(row, rowTask[i])
		for j := range cur {
			r[i*out+j] = float64(row[j]) - cur[j]
		}
	}
	// k = xxᵀ + λI, with λ a tiny fraction of the mean diagonal.
	k := make([]float64, rows*rows)
	trace := 0.0
	for i := 0; i < rows; i++ {
		xi := x[i*in : (i+1)*in]
		for j := 0; j <= i; j++ {
			xj := x[j*in : (j+1)*in]
			s := 0.0
			for c := range xi {
				s += float64(xi[c]) * float64(xj[c])
			}
			k[i*rows+j], k[j*rows+i] = s, s
		}
		trace += k[i*rows+i]
	}
	if !(trace > 0) || math.IsInf(trace, 0) {
		return errors.Errorf("meta-network inputs have squared norm %g", trace)
	}
	lambda := 1e-9 * trace / float64(rows)
	for i := 0; i < rows; i++ {
		k[i*rows+i] += lambda
	}
	if err := choleskySolve(k, r, rows, out); err != nil {
		return err
	}
	// p += xᵀ z (z now in r).
	for i := 0; i < rows; i++ {
		zi := r[i*out : (i+1)*out]
		for c := 0; c < in; c++ {
			a := float64(x[i*in+c])
			if a == 0 {
				continue
			}
			pc := p[c*out : (c+1)*out]
			for j, z := range zi {
				pc[j] += float32(a * z)
			}
		}
	}
	return nil
}

// choleskySolve solves a·z = b in place (b becomes z) for a symmetric
// positive definite a [n, n] and b [n, m].
func choleskySolve(a, b []float64, n, m int) error {
	// a = L·Lᵀ, L stored in the lower triangle of a.
	for j := 0; j < n; j++ {
		d := a[j*n+j]
		for k := 0; k < j; k++ {
			d -= a[j*n+k] * a[j*n+k]
		}
		if !(d > 0) {
			return errors.Errorf("meta-network fit: matrix not positive definite at row %d", j)
		}
		d = math.Sqrt(d)
		a[j*n+j] = d
		for i := j + 1; i < n; i++ {
			s := a[i*n+j]
			for k := 0; k < j; k++ {
				s -= a[i*n+k] * a[j*n+k]
			}
			a[i*n+j] = s / d
		}
	}
	// Forward (L·y = b) then backward (Lᵀ·z = y) substitution, for all
	// m right-hand sides at once.
	for i := 0; i < n; i++ {
		bi := b[i*m : (i+1)*m]
		for k := 0; k < i; k++ {
			l, bk := a[i*n+k], b[k*m:(k+1)*m]
			for j := range bi {
				bi[j] -= l * bk[j]
			}
		}
		inv := 1 / a[i*n+i]
		for j := range bi {
			bi[j] *= inv
		}
	}
	for i := n - 1; i >= 0; i-- {
		bi := b[i*m : (i+1)*m]
		for k := i + 1; k < n; k++ {
			l, bk := a[k*n+i], b[k*m:(k+1)*m]
			for j := range bi {
				bi[j] -= l * bk[j]
			}
		}
		inv := 1 / a[i*n+i]
		for j := range bi {
			bi[j] *= inv
		}
	}
	return nil
}
