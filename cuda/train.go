//go:build cuda

package cuda

import (
	"fmt"
	"strings"

	"github.com/pkg/errors"
	"gorgonia.org/cu"

	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/cuda/internal/natanet"
	"github.com/softcpt/softcpt-go/cuda/kernels"
	"github.com/softcpt/softcpt-go/softcpt"
	"github.com/softcpt/softcpt-go/tensor"
)

// TrainStep is a prompt learner's training on a Device, for SoftCPT-NATA,
// SoftCPT-NATS, the class-feature SoftCPT-CATA, -CSTA, -CATS and -CSTS
// (meta network lin, linmean or lincls), CoOp-MT, CoOp-CA and CoOp-CS on
// cached image features: the frozen text tower of a clip.Model, the
// learner's trainable tensors (task context, meta network and, with class
// features, the class-feature context; or CoOp's class context) and their
// SGD momentum buffers live on the device, and Step runs the CPU learner's
// Loss + Backward + optim.SGD step there (every prompt encoded in full,
// padded to the longest prompt of the step, causal mask). Methods may be
// called from any goroutine, one at a time.
type TrainStep struct {
	d    *Device
	step *natanet.Step[*Array]
	// LastCorrect is the number of samples the last Step's logits
	// classified correctly (before the update).
	LastCorrect int
}

// CanTrain returns nil when a TrainStep can train l, else an error saying
// why not: the step implements SoftCPT's six variants (NATA, NATS, CATA,
// CSTA, CATS, CSTS; the class-feature ones with the meta network lin,
// linmean or lincls) and CoOp's hard-sharing baselines (CoOp-MT, CoOp-CA,
// CoOp-CS), with the class token at the end, contexts (class, task and
// class-feature) of at least one token and no class sampling.
func CanTrain(l *softcpt.Learner) error {
	if _, err := natanet.MethodOf(l); err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "natanet: "))
	}
	return nil
}

// NewTrainStep uploads the text tower of m, the prompts of learner l
// (built with m and tok, as softcpt.NewLearner was) and l's current
// trainable tensors. opt gives the SGD settings (LR, Momentum,
// WeightDecay; softcpt.Defaults for the paper's). l's method must be one
// CanTrain accepts. The learner itself is not changed.
func NewTrainStep(dev *Device, l *softcpt.Learner, m *clip.Model, tok softcpt.Tokenizer, opt softcpt.TrainOptions) (*TrainStep, error) {
	spec, err := natanet.SpecFromLearner(l, m, tok, opt)
	if err != nil {
		return nil, err
	}
	st, err := natanet.New[*Array](devBackend{dev}, m, spec)
	if err != nil {
		return nil, err
	}
	return &TrainStep{d: dev, step: st}, nil
}

// Step runs one training step on a batch and returns its loss (before the
// update). Bad task or label indices are errors.
func (s *TrainStep) Step(b softcpt.Batch) (float32, error) {
	if b.Features == nil {
		return 0, errors.New("cuda.TrainStep: batch without features")
	}
	l, err := s.step.Step(b.Features, b.Tasks, b.Labels)
	if err != nil {
		return 0, err
	}
	s.LastCorrect = l.Correct
	return l.Value, nil
}

// SetLR sets the learning rate of the following steps (an epoch's value
// of softcpt.TrainOptions.Schedule); the momentum buffers are kept.
func (s *TrainStep) SetLR(lr float64) { s.step.SetLR(float32(lr)) }

// Steps returns the number of SGD steps taken.
func (s *TrainStep) Steps() int { return s.step.Steps }

// Download returns the current trainable tensors named as in the learner's
// State (Learner.LoadState accepts them).
func (s *TrainStep) Download() (map[string]*tensor.Tensor, error) { return s.step.Params() }

// DownloadMomentum returns the SGD momentum buffers named as in Download;
// like optim.SGD's state it holds none without momentum or before the first
// step.
func (s *TrainStep) DownloadMomentum() (map[string]*tensor.Tensor, error) { return s.step.Momentum() }

// Upload replaces the trainable tensors (named as in Download; other
// names are ignored) and the momentum buffers (a tensor without one gets a
// new buffer on the next step) and sets the number of steps taken, as
// resuming from a training checkpoint does (softcpt.LoadTrainCheckpoint).
// On an error the step is unchanged.
func (s *TrainStep) Upload(params, momentum map[string]*tensor.Tensor, steps int) error {
	return s.step.Restore(params, momentum, steps)
}

// Free returns the step's device memory to the allocator.
func (s *TrainStep) Free() { s.step.Free() }

// The natanet.Backend operations of devBackend beyond clipnet's.

func (b devBackend) Zero(a *Array, n int) error { return b.d.Clear(a, n) }

func (b devBackend) LayerNormSave(dst, mean, rstd, src, gamma, beta *Array, rows, cols int, eps float32) error {
	return b.d.LayerNormRows(dst.View(0, rows, cols), mean.View(0, rows), rstd.View(0, rows), src.View(0, rows, cols),
		gamma.View(0, cols), beta.View(0, cols), eps)
}

func (b devBackend) LayerNormBackward(dx, dy, x, gamma, mean, rstd *Array, rows, cols int, accumulate bool) error {
	return b.d.LayerNormBackward(dx, dy, x, gamma, mean, rstd, rows, cols, accumulate)
}

func (b devBackend) QuickGeluBackward(dx, dy, x *Array, n int) error {
	return b.d.QuickGeluBackward(dx, dy, x, n)
}

func (b devBackend) L2NormRows(y, inv, x *Array, rows, cols int) error {
	return b.d.L2NormRows(y, inv, x, rows, cols)
}

func (b devBackend) L2NormRowsBackward(dx, dy, y, inv *Array, rows, cols int) error {
	return b.d.L2NormRowsBackward(dx, dy, y, inv, rows, cols)
}

func (b devBackend) ScatterAddRows(dst, src *Array, dstIdx, srcIdx []int, cols int) error {
	return b.d.ScatterAddRows(dst, src, dstIdx, srcIdx, cols)
}

func (b devBackend) SegmentSumRows(dst, src *Array, idx, offsets []int, cols int) error {
	return b.d.SegmentSumRows(dst, src, idx, offsets, cols)
}

func (b devBackend) AttentionBackward(dq, dk, dv, q, k, v, out, dout, lse, dsum *Array, p kernels.AttnParams) error {
	return b.d.AttentionBackward(dq, dk, dv, q, k, v, out, dout, lse, dsum, p)
}

func (b devBackend) CrossEntropy(loss, logits *Array, targets []int, rows, cols int) error {
	return b.d.CrossEntropy(loss.View(0, rows), logits.View(0, rows, cols), targets)
}

func (b devBackend) CrossEntropyBackward(dx, logits *Array, targets []int, rows, cols int, scale float32) error {
	return b.d.CrossEntropyBackward(dx.View(0, rows, cols), logits.View(0, rows, cols), targets, nil, scale)
}

func (b devBackend) SGD(p, g, buf *Array, n int, lr, wd, momentum float32, first bool) error {
	var bv *Array
	if momentum != 0 {
		bv = buf.View(0, n)
	}
	return b.d.SGD(p.View(0, n), g.View(0, n), bv, lr, wd, momentum, 0, first, false)
}

// Clear sets the first n elements of a to zero, on the current stream.
func (d *Device) Clear(a *Array, n int) error {
	need("Clear", "a", a, n)
	if n == 0 {
		return nil
	}
	return d.Do(func() error {
		return errors.Wrapf(cu.MemsetD32Async(a.Ptr, 0, int64(n), d.stream), "cuda: zeroing %d elements", n)
	})
}

// LayerNormBackward writes (accumulate: adds) to dx the input gradient of
// a row layer norm over rows × cols with weight gamma (nil: 1), given the
// output gradient dy, the input x and the forward's mean and rstd
// (kernels.LayerNormBackward). dx may be dy.
func (d *Device) LayerNormBackward(dx, dy, x, gamma, mean, rstd *Array, rows, cols int, accumulate bool) error {
	for _, c := range []struct {
		name string
		a    *Array
		n    int
	}{{"dx", dx, rows * cols}, {"dy", dy, rows * cols}, {"x", x, rows * cols}, {"mean", mean, rows}, {"rstd", rstd, rows}} {
		need("LayerNormBackward", c.name, c.a, c.n)
	}
	if gamma != nil {
		need("LayerNormBackward", "gamma", gamma, cols)
	}
	return d.launch("layernorm_bwd_rows_f32", kernels.RowBlock(rows, cols), ptrArg(dx), ptrArg(dy), ptrArg(x), ptrArg(gamma),
		ptrArg(mean), ptrArg(rstd), intArg(rows), intArg(cols), boolArg(accumulate))
}

// QuickGeluBackward writes dx = dy·QuickGELU'(x) over n elements
// (kernels.QuickGeluBackward). dx may be dy.
func (d *Device) QuickGeluBackward(dx, dy, x *Array, n int) error {
	need("QuickGeluBackward", "dx", dx, n)
	need("QuickGeluBackward", "dy", dy, n)
	need("QuickGeluBackward", "x", x, n)
	return d.launch("quickgelu_bwd_f32", kernels.Grid1D(n), ptrArg(dx), ptrArg(dy), ptrArg(x), intArg(n))
}

// L2NormRows writes y = x/|x| per row of rows × cols and inv = 1/|x| (rows
// elements; nil for none), kernels.L2NormRows. y may be x.
func (d *Device) L2NormRows(y, inv, x *Array, rows, cols int) error {
	need("L2NormRows", "y", y, rows*cols)
	need("L2NormRows", "x", x, rows*cols)
	if inv != nil {
		need("L2NormRows", "inv", inv, rows)
	}
	return d.launch("l2norm_rows_f32", kernels.RowBlock(rows, cols), ptrArg(y), ptrArg(inv), ptrArg(x), intArg(rows), intArg(cols))
}

// L2NormRowsBackward writes dx = (dy - y (dy·y))·inv per row
// (kernels.L2NormRowsBackward). dx may be dy.
func (d *Device) L2NormRowsBackward(dx, dy, y, inv *Array, rows, cols int) error {
	need("L2NormRowsBackward", "dx", dx, rows*cols)
	need("L2NormRowsBackward", "dy", dy, rows*cols)
	need("L2NormRowsBackward", "y", y, rows*cols)
	need("L2NormRowsBackward", "inv", inv, rows)
	return d.launch("l2norm_bwd_rows_f32", kernels.RowBlock(rows, cols), ptrArg(dx), ptrArg(dy), ptrArg(y), ptrArg(inv), intArg(rows), intArg(cols))
}

// indexBuffer runs launch with the device address of the int64 copy of
// lists concatenated (one address per list); the buffer is freed after the
// launch (stream-ordered reuse).
func (d *Device) indexBuffer(lists [][]int, launch func(ptrs []uint64) error) error {
	var all []int64
	for _, l := range lists {
		for _, v := range l {
			all = append(all, int64(v))
		}
	}
	if len(all) == 0 {
		return nil
	}
	return d.Do(func() error {
		p, err := d.int64Buffer(all)
		if err != nil {
			return err
		}
		ptrs := make([]uint64, len(lists))
		off := uint64(0)
		for i, l := range lists {
			ptrs[i] = uint64(p) + 8*off
			off += uint64(len(l))
		}
		err = launch(ptrs)
		if ferr := d.cache.Free(uint64(p)); err == nil {
			err = ferr
		}
		return err
	})
}

// ScatterAddRows adds row srcIdx[r] of src to row dstIdx[r] of dst, for
// rows of cols elements (kernels.ScatterAddRows). It panics on indices
// outside the arrays or a repeated destination row.
func (d *Device) ScatterAddRows(dst, src *Array, dstIdx, srcIdx []int, cols int) error {
	if cols <= 0 || len(dstIdx) != len(srcIdx) {
		panic(fmt.Sprintf("cuda.ScatterAddRows: %d columns, %d destination and %d source rows", cols, len(dstIdx), len(srcIdx)))
	}
	if err := kernels.CheckRowIndices("cuda.ScatterAddRows dst", dstIdx, dst.Numel()/cols, true); err != nil {
		panic(err.Error())
	}
	if err := kernels.CheckRowIndices("cuda.ScatterAddRows src", srcIdx, src.Numel()/cols, false); err != nil {
		panic(err.Error())
	}
	n := len(dstIdx)
	return d.indexBuffer([][]int{dstIdx, srcIdx}, func(p []uint64) error {
		return d.launchLocked("scatter_add_rows_f32", kernels.Grid1D(n*cols), ptrArg(dst), ptrArg(src), p[0], p[1], intArg(n), intArg(cols))
	})
}

// SegmentSumRows writes dst[r] = Σ src[idx[k]] over k in [offsets[r],
// offsets[r+1]) for rows of cols elements (kernels.SegmentSumRows; empty
// segments give zero rows). It panics on bad offsets or indices.
func (d *Device) SegmentSumRows(dst, src *Array, idx, offsets []int, cols int) error {
	rows := len(offsets) - 1
	if cols <= 0 || rows < 0 {
		panic(fmt.Sprintf("cuda.SegmentSumRows: %d columns, %d offsets", cols, len(offsets)))
	}
	if err := kernels.CheckSegments("cuda.SegmentSumRows", idx, offsets, rows); err != nil {
		panic(err.Error())
	}
	if err := kernels.CheckRowIndices("cuda.SegmentSumRows", idx, src.Numel()/cols, false); err != nil {
		panic(err.Error())
	}
	need("SegmentSumRows", "dst", dst, rows*cols)
	if rows == 0 {
		return nil
	}
	// idx may be empty (all segments empty): pass a dummy entry so the
	// buffer exists; it is never read.
	list := idx
	if len(list) == 0 {
		list = []int{0}
	}
	return d.indexBuffer([][]int{list, offsets}, func(p []uint64) error {
		return d.launchLocked("segment_sum_rows_f32", kernels.Grid1D(rows*cols), ptrArg(dst), ptrArg(src), p[0], p[1], intArg(rows), intArg(cols))
	})
}

// AttentionBackward writes dq, dk, dv (the layouts of q, k, v in p) for
// out = Attention(q, k, v, p) and its gradient dout (layout of out); lse
// and dsum (p.StatRows() elements) are scratch (kernels.AttentionBackward).
func (d *Device) AttentionBackward(dq, dk, dv, q, k, v, out, dout, lse, dsum *Array, p kernels.AttnParams) error {
	if err := p.Check(q.Numel(), k.Numel(), v.Numel(), out.Numel()); err != nil {
		panic("cuda.AttentionBackward: " + err.Error())
	}
	if err := p.Check(dq.Numel(), dk.Numel(), dv.Numel(), dout.Numel()); err != nil {
		panic("cuda.AttentionBackward: gradients: " + err.Error())
	}
	need("AttentionBackward", "lse", lse, p.StatRows())
	need("AttentionBackward", "dsum", dsum, p.StatRows())
	layout := []uint64{intArg(p.Batch), intArg(p.Heads), intArg(p.Tq), intArg(p.Tk), intArg(p.D),
		intArg(p.QRow), intArg(p.KRow), intArg(p.VRow), intArg(p.ORow),
		intArg(p.QBatch), intArg(p.KBatch), intArg(p.VBatch), intArg(p.OBatch), boolArg(p.Causal), floatArg(p.Scale)}
	args := func(head ...uint64) []uint64 { return append(head, layout...) }
	return d.Do(func() error {
		if err := d.launchLocked("attn_bwd_stats_f32", kernels.Grid1D(p.StatRows()),
			args(ptrArg(lse), ptrArg(dsum), ptrArg(q), ptrArg(k), ptrArg(out), ptrArg(dout))...); err != nil {
			return err
		}
		if err := d.launchLocked("attn_bwd_dq_f32", kernels.Grid1D(p.Threads()),
			args(ptrArg(dq), ptrArg(q), ptrArg(k), ptrArg(v), ptrArg(dout), ptrArg(lse), ptrArg(dsum))...); err != nil {
			return err
		}
		return d.launchLocked("attn_bwd_dkv_f32", kernels.Grid1D(p.KeyThreads()),
			args(ptrArg(dk), ptrArg(dv), ptrArg(q), ptrArg(k), ptrArg(v), ptrArg(dout), ptrArg(lse), ptrArg(dsum))...)
	})
}
