//go:build cuda

package cuda

// The training step on the device: each train.cu kernel against its Go
// reference in cuda/kernels, then TrainStep against the CPU learner's
// Loss + Backward + nn.SGD step on the fixture CLIP (three steps) for
// every method it implements, and benchmarks on a reduced General-10
// shape with the RN50 text tower (bench/py/gpu_step_peer.py is the
// PyTorch peer of the NATA step).

import (
	"fmt"
	"math/rand"
	"os"
	"strings"
	"testing"

	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/cuda/internal/natanet/natatest"
	"github.com/softcpt/softcpt-go/cuda/kernels"
	"github.com/softcpt/softcpt-go/softcpt"
	"github.com/softcpt/softcpt-go/tensor"
)

// normClose fails unless max|got-want| <= tol·max|want|.
func normClose(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if rel := natatest.NormRel(got, want); !(rel <= tol) {
		t.Fatalf("%s: relative error %.3g > %g", what, rel, tol)
	}
}

func TestTrainKernels(t *testing.T) {
	rng := rand.New(rand.NewSource(31))
	// Row kernels on widths below, at and above one block.
	for _, s := range [][2]int{{3, 7}, {5, 512}, {2, 1500}} {
		rows, cols := s[0], s[1]
		n := rows * cols
		x, dy, gamma := randVec(rng, n, 2), randVec(rng, n, 1), randVec(rng, cols, 1)
		mean, rstd := make([]float32, rows), make([]float32, rows)
		for r := 0; r < rows; r++ {
			mean[r] = 0.1 * float32(r)
			rstd[r] = 0.5 + 0.1*float32(r)
		}
		prev := randVec(rng, n, 1)
		dx, ddy, dX, dg, dm, dr := upload(t, prev, n), upload(t, dy, n), upload(t, x, n), upload(t, gamma, cols), upload(t, mean, rows), upload(t, rstd, rows)
		for _, acc := range []bool{false, true} {
			if err := dx.CopyFromHost(prev); err != nil {
				t.Fatal(err)
			}
			if err := dev.LayerNormBackward(dx, ddy, dX, dg, dm, dr, rows, cols, acc); err != nil {
				t.Fatal(err)
			}
			want := append([]float32(nil), prev...)
			kernels.LayerNormBackward(want, dy, x, gamma, mean, rstd, rows, cols, acc)
			normClose(t, fmt.Sprintf("layer norm backward %dx%d accumulate=%v", rows, cols, acc), download(t, dx), want, tol)
		}
		y, inv := make([]float32, n), make([]float32, rows)
		kernels.L2NormRows(y, inv, x, rows, cols)
		dy2, _ := dev.Alloc(n)
		dinvA, _ := dev.Alloc(rows)
		if err := dev.L2NormRows(dy2, dinvA, dX, rows, cols); err != nil {
			t.Fatal(err)
		}
		rowRel(t, fmt.Sprintf("l2 normalise %dx%d", rows, cols), download(t, dy2), y, cols)
		elemRel(t, "l2 normalise inverse norms", download(t, dinvA), inv)
		dxl := make([]float32, n)
		kernels.L2NormRowsBackward(dxl, dy, y, inv, rows, cols)
		if err := dev.L2NormRowsBackward(dx, ddy, dy2, dinvA, rows, cols); err != nil {
			t.Fatal(err)
		}
		rowRel(t, fmt.Sprintf("l2 normalise backward %dx%d", rows, cols), download(t, dx), dxl, cols)
		for _, a := range []*Array{dx, ddy, dX, dg, dm, dr, dy2, dinvA} {
			a.Free()
		}
	}

	n := 10007
	x, dy := randVec(rng, n, 3), randVec(rng, n, 1)
	dX, ddy := upload(t, x, n), upload(t, dy, n)
	if err := dev.QuickGeluBackward(ddy, ddy, dX, n); err != nil {
		t.Fatal(err)
	}
	want := make([]float32, n)
	kernels.QuickGeluBackward(want, dy, x, n)
	elemRel(t, "quickgelu backward", download(t, ddy), want)
	dX.Free()
	ddy.Free()

	// Row scatter-add and segmented sums.
	cols := 37
	src, dst := randVec(rng, 9*cols, 1), randVec(rng, 12*cols, 1)
	dS, dD := upload(t, src, 9, cols), upload(t, dst, 12, cols)
	dstIdx, srcIdx := []int{11, 0, 5, 6}, []int{8, 8, 0, 3}
	if err := dev.ScatterAddRows(dD, dS, dstIdx, srcIdx, cols); err != nil {
		t.Fatal(err)
	}
	kernels.ScatterAddRows(dst, src, dstIdx, srcIdx, cols)
	exact(t, "scatter add rows", download(t, dD), dst)
	idx, offsets := []int{3, 1, 1, 8, 0}, []int{0, 2, 2, 5, 5}
	if err := dev.SegmentSumRows(dD, dS, idx, offsets, cols); err != nil {
		t.Fatal(err)
	}
	seg := make([]float32, 4*cols)
	kernels.SegmentSumRows(seg, src, idx, offsets, cols)
	exact(t, "segment sum rows", download(t, dD)[:4*cols], seg)
	if err := dev.Clear(dD, 12*cols); err != nil {
		t.Fatal(err)
	}
	exact(t, "clear", download(t, dD), make([]float32, 12*cols))
	dS.Free()
	dD.Free()

	// Attention backward with heads read in place from a packed q|k|v
	// [B, T, 3W] as in the text tower, d above one thread's group.
	for _, c := range []struct {
		b, h, tq, d int
		causal      bool
	}{{2, 3, 7, 40, true}, {3, 2, 20, 64, true}, {1, 2, 5, 16, false}} {
		w := c.h * c.d
		rows := c.b * c.tq
		p := kernels.AttnParams{Batch: c.b, Heads: c.h, Tq: c.tq, Tk: c.tq, D: c.d, QRow: 3 * w, KRow: 3 * w, VRow: 3 * w, ORow: w,
			QBatch: c.tq * 3 * w, KBatch: c.tq * 3 * w, VBatch: c.tq * 3 * w, OBatch: c.tq * w, Causal: c.causal, Scale: 0.125}
		qkv, gout := randVec(rng, rows*3*w, 1), randVec(rng, rows*w, 1)
		out := make([]float32, rows*w)
		kernels.Attention(out, qkv, qkv[w:], qkv[2*w:], p)
		dqkv := make([]float32, rows*3*w)
		lse, dsum := make([]float32, p.StatRows()), make([]float32, p.StatRows())
		kernels.AttentionBackward(dqkv, dqkv[w:], dqkv[2*w:], qkv, qkv[w:], qkv[2*w:], out, gout, lse, dsum, p)
		dQKV, dOut, dG := upload(t, qkv, rows, 3*w), upload(t, out, rows, w), upload(t, gout, rows, w)
		dGrad, _ := dev.Alloc(rows, 3*w)
		dl, _ := dev.Alloc(p.StatRows())
		ds, _ := dev.Alloc(p.StatRows())
		n1, n2 := rows*3*w-w, rows*3*w-2*w
		if err := dev.AttentionBackward(dGrad, dGrad.View(w, n1), dGrad.View(2*w, n2), dQKV, dQKV.View(w, n1), dQKV.View(2*w, n2), dOut, dG, dl, ds, p); err != nil {
			t.Fatal(err)
		}
		rowRel(t, fmt.Sprintf("attention backward %+v", c), download(t, dGrad), dqkv, 3*w)
		for _, a := range []*Array{dQKV, dOut, dG, dGrad, dl, ds} {
			a.Free()
		}
	}
}

// TestTrainStepFixture runs three steps of every method (SoftCPT-NATA,
// SoftCPT-NATS, CoOp-MT, CoOp-CA, CoOp-CS, SoftCPT-CATA, SoftCPT-CSTA,
// SoftCPT-CATS, SoftCPT-CSTS: natatest.Methods) on the device and on the CPU
// learner (every prompt encoded in full) on the fixture CLIP, with the
// default and a large initialisation.
func TestTrainStepFixture(t *testing.T) {
	const path = "../testdata/clip/rn.safetensors"
	if _, err := os.Stat(path); err != nil {
		t.Skip("fixture testdata/clip/rn.safetensors absent")
	}
	m, err := clip.LoadWith(path, clip.Options{VisionHeads: 2, TransformerHeads: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, method := range natatest.Methods {
		for _, initStd := range []float32{0, 0.5} {
			t.Run(fmt.Sprintf("%s,init=%v", method, initStd), func(t *testing.T) {
				l := natatest.MethodLearner(t, m, method, initStd)
				l.FullPrompts = true
				if err := CanTrain(l); err != nil {
					t.Fatal(err)
				}
				st, err := NewTrainStep(dev, l, m, natatest.WordTokenizer{Vocab: m.Config.VocabSize}, softcpt.Defaults())
				if err != nil {
					t.Fatal(err)
				}
				defer st.Free()
				natatest.Compare(t, l, func(b softcpt.Batch) (float32, int, map[string]*tensor.Tensor, error) {
					loss, err := st.Step(b)
					if err != nil {
						return 0, 0, nil, err
					}
					p, err := st.Download()
					return loss, st.LastCorrect, p, err
				}, natatest.Batches(m.Config.EmbedDim), 1e-5, 1e-4)
				if st.Steps() != 3 {
					t.Errorf("%d steps counted, want 3", st.Steps())
				}
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

// benchStep runs one training step of method (N_CTX 16, TASK_N_CTX 4)
// on 2 tasks × 100 classes with the RN50 text tower (random weights) and
// a batch of 32 random image features: seconds per step (loss read back,
// so each step ends synchronised).
func benchStep(b *testing.B, method string) {
	m := rn50()
	tok := natatest.WordTokenizer{Vocab: m.Config.VocabSize}
	cfg, err := softcpt.MethodConfig(method)
	if err != nil {
		b.Fatal(err)
	}
	l, err := softcpt.NewLearner(cfg, m, tok, generalLike(), 1)
	if err != nil {
		b.Fatal(err)
	}
	st, err := NewTrainStep(dev, l, m, tok, softcpt.Defaults())
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
	if _, err := st.Step(batch); err != nil { // warm-up: allocator cache, JIT
		b.Fatal(err)
	}
	b.ResetTimer()
	var loss float32
	for i := 0; i < b.N; i++ {
		if loss, err = st.Step(batch); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/step")
	b.ReportMetric(float64(loss), "loss")
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

// TestTrainStepResume checks Upload and DownloadMomentum on the device:
// after two steps, the parameters and momentum restored into a fresh
// TrainStep give the same third step (loss and tensors, bit for bit) as
// the uninterrupted step, for every method.
func TestTrainStepResume(t *testing.T) {
	const path = "../testdata/clip/rn.safetensors"
	if _, err := os.Stat(path); err != nil {
		t.Skip("fixture testdata/clip/rn.safetensors absent")
	}
	m, err := clip.LoadWith(path, clip.Options{VisionHeads: 2, TransformerHeads: 2})
	if err != nil {
		t.Fatal(err)
	}
	tok := natatest.WordTokenizer{Vocab: m.Config.VocabSize}
	bs := natatest.Batches(m.Config.EmbedDim)
	for _, method := range natatest.Methods {
		t.Run(method, func(t *testing.T) {
			l := natatest.MethodLearner(t, m, method, 0)
			newStep := func() *TrainStep {
				st, err := NewTrainStep(dev, l, m, tok, softcpt.Defaults())
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(st.Free)
				return st
			}
			a := newStep()
			for _, b := range bs[:2] {
				if _, err := a.Step(b); err != nil {
					t.Fatal(err)
				}
			}
			params, err := a.Download()
			if err != nil {
				t.Fatal(err)
			}
			mom, err := a.DownloadMomentum()
			if err != nil {
				t.Fatal(err)
			}
			b := newStep()
			if err := b.Upload(params, mom, a.Steps()); err != nil {
				t.Fatal(err)
			}
			la, err := a.Step(bs[2])
			if err != nil {
				t.Fatal(err)
			}
			lb, err := b.Step(bs[2])
			if err != nil {
				t.Fatal(err)
			}
			if la != lb {
				t.Errorf("third step loss %v after resuming, %v uninterrupted", lb, la)
			}
			pa, err := a.Download()
			if err != nil {
				t.Fatal(err)
			}
			pb, err := b.Download()
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range pa {
				w, ok := pb[k]
				if !ok {
					t.Errorf("resumed step has no %s", k)
					continue
				}
				for i, x := range v.Data() {
					if w.Data()[i] != x {
						t.Errorf("%s[%d] = %v after resuming, %v uninterrupted", k, i, w.Data()[i], x)
						break
					}
				}
			}
		})
	}
}
