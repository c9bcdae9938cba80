//go:build cuda

package cuda

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/cuda/kernels"
	"github.com/softcpt/softcpt-go/kernels/backend"
)

// Kernel arguments: every parameter is passed as an 8-byte word (see
// kernels.Spec).
func ptrArg(a *Array) uint64 {
	if a == nil {
		return 0
	}
	return uint64(a.Ptr)
}
func intArg(v int) uint64       { return uint64(int64(v)) }
func floatArg(v float32) uint64 { return math.Float64bits(float64(v)) }
func boolArg(v bool) uint64 {
	if v {
		return 1
	}
	return 0
}

// launchLocked launches kernel name on the current stream. It runs on the
// context goroutine. Launch errors come back here; errors while the kernel
// runs show at the next synchronizing call.
func (d *Device) launchLocked(name string, l kernels.Launch, args ...uint64) error {
	if l.Grid.X == 0 || l.Grid.Y == 0 || l.Grid.Z == 0 {
		return nil
	}
	fn, ok := d.fns[name]
	if !ok {
		return errors.Errorf("cuda: kernel %s not loaded", name)
	}
	params := make([]unsafe.Pointer, len(args))
	for i := range args {
		params[i] = unsafe.Pointer(&args[i])
	}
	err := fn.Launch(l.Grid.X, l.Grid.Y, l.Grid.Z, l.Block.X, l.Block.Y, l.Block.Z, 0, d.stream, params)
	return errors.Wrapf(err, "cuda: launching %s grid %v block %v", name, l.Grid, l.Block)
}

func (d *Device) launch(name string, l kernels.Launch, args ...uint64) error {
	return d.Do(func() error { return d.launchLocked(name, l, args...) })
}

func sameNumel(op string, arrays ...*Array) int {
	n := arrays[0].Numel()
	for _, a := range arrays[1:] {
		if a.Numel() != n {
			shapes := make([][]int, len(arrays))
			for i, b := range arrays {
				shapes[i] = b.Shape
			}
			panic(fmt.Sprintf("cuda.%s: element counts differ, shapes %v", op, shapes))
		}
	}
	return n
}

// Add computes dst = a + b element-wise (dst may be a or b).
func (d *Device) Add(dst, a, b *Array) error {
	n := sameNumel("Add", dst, a, b)
	return d.launch("add_f32", kernels.Grid1D(n), ptrArg(dst), ptrArg(a), ptrArg(b), intArg(n))
}

// Mul computes dst = a * b element-wise.
func (d *Device) Mul(dst, a, b *Array) error {
	n := sameNumel("Mul", dst, a, b)
	return d.launch("mul_f32", kernels.Grid1D(n), ptrArg(dst), ptrArg(a), ptrArg(b), intArg(n))
}

// Scale computes dst = alpha * src.
func (d *Device) Scale(dst, src *Array, alpha float32) error {
	n := sameNumel("Scale", dst, src)
	return d.launch("scale_f32", kernels.Grid1D(n), ptrArg(dst), ptrArg(src), floatArg(alpha), intArg(n))
}

// Relu computes dst = max(src, 0).
func (d *Device) Relu(dst, src *Array) error {
	n := sameNumel("Relu", dst, src)
	return d.launch("relu_f32", kernels.Grid1D(n), ptrArg(dst), ptrArg(src), intArg(n))
}

// QuickGelu computes dst = x / (1 + exp(-1.702 x)).
func (d *Device) QuickGelu(dst, src *Array) error {
	n := sameNumel("QuickGelu", dst, src)
	return d.launch("quickgelu_f32", kernels.Grid1D(n), ptrArg(dst), ptrArg(src), intArg(n))
}

// Exp computes dst = exp(src).
func (d *Device) Exp(dst, src *Array) error {
	n := sameNumel("Exp", dst, src)
	return d.launch("exp_f32", kernels.Grid1D(n), ptrArg(dst), ptrArg(src), intArg(n))
}

// rowsCols splits a shape into rows (all leading dimensions) and cols (the
// last dimension).
func rowsCols(op string, a *Array) (int, int) {
	if len(a.Shape) == 0 {
		panic(fmt.Sprintf("cuda.%s: scalar array", op))
	}
	cols := a.Shape[len(a.Shape)-1]
	if cols == 0 {
		return 0, 0
	}
	return a.Numel() / cols, cols
}

// SoftmaxRows computes the softmax over the last dimension of src into dst
// (same shape; dst may be src).
func (d *Device) SoftmaxRows(dst, src *Array) error {
	sameNumel("SoftmaxRows", dst, src)
	rows, cols := rowsCols("SoftmaxRows", src)
	return d.launch("softmax_rows_f32", kernels.RowBlock(rows, cols), ptrArg(dst), ptrArg(src), intArg(rows), intArg(cols))
}

// LayerNormRows normalises src over its last dimension as
// kernels.LayerNormRows: dst = (x - mean) rstd gamma + beta. mean and rstd
// (rows elements) receive the statistics when not nil; gamma and beta (cols
// elements) nil mean 1 and 0.
func (d *Device) LayerNormRows(dst, mean, rstd, src, gamma, beta *Array, eps float32) error {
	sameNumel("LayerNormRows", dst, src)
	rows, cols := rowsCols("LayerNormRows", src)
	for _, c := range []struct {
		name string
		a    *Array
		n    int
	}{{"mean", mean, rows}, {"rstd", rstd, rows}, {"gamma", gamma, cols}, {"beta", beta, cols}} {
		if c.a != nil && c.a.Numel() != c.n {
			panic(fmt.Sprintf("cuda.LayerNormRows: %s of shape %v for src of shape %v", c.name, c.a.Shape, src.Shape))
		}
	}
	return d.launch("layernorm_rows_f32", kernels.RowBlock(rows, cols), ptrArg(dst), ptrArg(mean), ptrArg(rstd),
		ptrArg(src), ptrArg(gamma), ptrArg(beta), intArg(rows), intArg(cols), floatArg(eps))
}

func checkTargets(op string, logits *Array, targets []int) (rows, cols int, t64 []int64) {
	if len(logits.Shape) != 2 {
		panic(fmt.Sprintf("cuda.%s: logits of shape %v are not [N, C]", op, logits.Shape))
	}
	rows, cols = logits.Shape[0], logits.Shape[1]
	if len(targets) != rows {
		panic(fmt.Sprintf("cuda.%s: %d targets for logits of shape %v", op, len(targets), logits.Shape))
	}
	t64 = make([]int64, rows)
	for i, t := range targets {
		if t < 0 || t >= cols {
			panic(fmt.Sprintf("cuda.%s: target %d of sample %d out of range [0, %d)", op, t, i, cols))
		}
		t64[i] = int64(t)
	}
	return rows, cols, t64
}

// withTargets copies targets to a temporary device buffer, runs launch
// with its address and frees it (stream-ordered reuse).
func (d *Device) withTargets(t64 []int64, launch func(p uint64) error) error {
	if len(t64) == 0 {
		return nil
	}
	return d.Do(func() error {
		p, err := d.int64Buffer(t64)
		if err != nil {
			return err
		}
		err = launch(uint64(p))
		if ferr := d.cache.Free(uint64(p)); err == nil {
			err = ferr
		}
		return err
	})
}

// CrossEntropy writes loss[i] = logsumexp(logits_i) - logits_i[targets_i]
// for logits [N, C] and loss [N] (reduction "none" of
// torch.nn.functional.cross_entropy).
func (d *Device) CrossEntropy(loss, logits *Array, targets []int) error {
	rows, cols, t64 := checkTargets("CrossEntropy", logits, targets)
	if loss.Numel() != rows {
		panic(fmt.Sprintf("cuda.CrossEntropy: loss of shape %v for logits of shape %v", loss.Shape, logits.Shape))
	}
	return d.withTargets(t64, func(p uint64) error {
		return d.launchLocked("cross_entropy_fwd_f32", kernels.RowBlock(rows, cols), ptrArg(loss), ptrArg(logits), p, intArg(rows), intArg(cols))
	})
}

// CrossEntropyBackward writes dx = (softmax(logits_i) - onehot(t_i)) *
// g_i * scale, with g_i = grad[i] when grad (N elements) is not nil and 1
// otherwise: for a mean reduction pass grad nil and scale = upstream/N.
// dx must not overlap logits.
func (d *Device) CrossEntropyBackward(dx, logits *Array, targets []int, grad *Array, scale float32) error {
	rows, cols, t64 := checkTargets("CrossEntropyBackward", logits, targets)
	sameNumel("CrossEntropyBackward", dx, logits)
	if grad != nil && grad.Numel() != rows {
		panic(fmt.Sprintf("cuda.CrossEntropyBackward: grad of shape %v for logits of shape %v", grad.Shape, logits.Shape))
	}
	return d.withTargets(t64, func(p uint64) error {
		return d.launchLocked("cross_entropy_bwd_f32", kernels.RowBlock(rows, cols), ptrArg(dx), ptrArg(logits), p,
			ptrArg(grad), intArg(rows), intArg(cols), floatArg(scale))
	})
}

// SGD applies one torch.optim.SGD step to parameters p with gradient g as
// optim.SGD: d = g + wd p; with momentum, buf = d on the first step (first)
// and buf = momentum buf + (1-dampening) d later, then d = d + momentum buf
// (nesterov) or buf; p -= lr d. buf may be nil when momentum is 0.
func (d *Device) SGD(p, g, buf *Array, lr, wd, momentum, dampening float32, first, nesterov bool) error {
	n := sameNumel("SGD", p, g)
	if momentum != 0 {
		if buf == nil {
			panic("cuda.SGD: momentum without a buffer")
		}
		sameNumel("SGD", p, buf)
	}
	return d.launch("sgd_f32", kernels.Grid1D(n), ptrArg(p), ptrArg(g), ptrArg(buf), intArg(n),
		floatArg(lr), floatArg(wd), floatArg(momentum), floatArg(dampening), boolArg(first), boolArg(nesterov))
}

// Sgemm computes C = alpha op(A) op(B) + beta C with the arguments of the
// CPU kernels.Sgemm (row-major, leading dimensions in elements, beta == 0
// overwrites C). It panics on sizes that do not fit the arrays.
func (d *Device) Sgemm(transA, transB bool, m, n, k int, alpha float32, a *Array, lda int, b *Array, ldb int, beta float32, c *Array, ldc int) error {
	if err := backend.CheckSgemm(transA, transB, m, n, k, lda, ldb, ldc, a.Numel(), b.Numel(), c.Numel()); err != nil {
		panic(fmt.Sprintf("cuda.Sgemm: %v (a %v, b %v, c %v)", err, a.Shape, b.Shape, c.Shape))
	}
	if m == 0 || n == 0 {
		return nil
	}
	return d.launch("sgemm_f32", kernels.SgemmGeometry(m, n), boolArg(transA), boolArg(transB), intArg(m), intArg(n), intArg(k),
		floatArg(alpha), ptrArg(a), intArg(lda), ptrArg(b), intArg(ldb), floatArg(beta), ptrArg(c), intArg(ldc))
}

// MatMul returns a @ b for a [m, k] and b [k, n] as a new [m, n] array.
func (d *Device) MatMul(a, b *Array) (*Array, error) {
	if len(a.Shape) != 2 || len(b.Shape) != 2 || a.Shape[1] != b.Shape[0] {
		panic(fmt.Sprintf("cuda.MatMul: shapes %v and %v", a.Shape, b.Shape))
	}
	m, k, n := a.Shape[0], a.Shape[1], b.Shape[1]
	c, err := d.Alloc(m, n)
	if err != nil {
		return nil, err
	}
	// With k == 0 the kernel still runs and writes zeros.
	if err := d.Sgemm(false, false, m, n, k, 1, a, max(k, 1), b, max(n, 1), 0, c, max(n, 1)); err != nil {
		c.Free()
		return nil, err
	}
	return c, nil
}
