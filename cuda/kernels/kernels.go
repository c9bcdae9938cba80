// Package kernels holds the PTX of the CUDA backend's kernels, embedded
// from the committed .ptx files (generated from the .cu sources by
// gen.sh), their parameter lists, and the launch geometry the host uses.
// The kernels' Go references, parameter types (backend.ConvGeom,
// backend.AttnParams, backend.Act) and argument checks are in package
// backend.
//
// It has no cgo and no dependency on the CUDA driver, so its tests run on
// any machine: they parse the PTX, check every kernel's name and
// parameters against Specs, and check the geometry arithmetic. Package
// cuda (build tag cuda) loads Modules with cu.LoadData and launches the
// kernels with the geometry computed here.
package kernels

import (
	"embed"
	"fmt"

	"github.com/softcpt/softcpt-go/kernels/backend"
)

//go:embed *.ptx
var ptxFS embed.FS

// Module is one PTX file and the kernels it defines.
type Module struct {
	// File is the PTX file name (embedded).
	File string
	// Kernels lists the entry points the module must define.
	Kernels []Spec
}

// Spec describes one kernel entry point. Every parameter is 8 bytes wide
// (gorgonia.org/cu copies 8 bytes per parameter), so the host passes
// device pointers, int64 and float64 only.
type Spec struct {
	// Name is the PTX .entry name.
	Name string
	// Params names the parameters in order, for documentation and the
	// parameter-count check.
	Params []string
}

// Modules lists the PTX modules and their kernels.
var Modules = []Module{
	{File: "elementwise.ptx", Kernels: []Spec{
		{"add_f32", []string{"dst", "a", "b", "n"}},
		{"mul_f32", []string{"dst", "a", "b", "n"}},
		{"scale_f32", []string{"dst", "src", "alpha", "n"}},
		{"relu_f32", []string{"dst", "src", "n"}},
		{"quickgelu_f32", []string{"dst", "src", "n"}},
		{"exp_f32", []string{"dst", "src", "n"}},
		{"sgd_f32", []string{"p", "g", "buf", "n", "lr", "wd", "momentum", "dampening", "first", "nesterov"}},
	}},
	{File: "rows.ptx", Kernels: []Spec{
		{"softmax_rows_f32", []string{"dst", "src", "rows", "cols"}},
		{"layernorm_rows_f32", []string{"dst", "mean", "rstd", "src", "gamma", "beta", "rows", "cols", "eps"}},
		{"cross_entropy_fwd_f32", []string{"loss", "logits", "targets", "rows", "cols"}},
		{"cross_entropy_bwd_f32", []string{"dx", "logits", "targets", "grad", "rows", "cols", "scale"}},
	}},
	{File: "clip.ptx", Kernels: []Spec{
		{"im2col_cnhw_f32", []string{"col", "x", "c", "n", "h", "w", "kh", "kw", "stride", "pad", "oh", "ow"}},
		{"bias_act_f32", []string{"dst", "src", "bias", "inner", "nb", "n", "act"}},
		{"avgpool_f32", []string{"dst", "src", "planes", "h", "w", "k"}},
		{"transpose01_f32", []string{"dst", "src", "a", "b", "inner"}},
		{"pool_tokens_f32", []string{"seq", "x", "pos", "c", "n", "hw"}},
		{"gather_rows_f32", []string{"dst", "src", "idx", "rows", "cols"}},
		{"attention_f32", []string{"out", "q", "k", "v", "batch", "heads", "tq", "tk", "d", "qRow", "kRow", "vRow", "oRow",
			"qBatch", "kBatch", "vBatch", "oBatch", "causal", "scale"}},
	}},
	{File: "train.ptx", Kernels: []Spec{
		{"layernorm_bwd_rows_f32", []string{"dx", "dy", "x", "gamma", "mean", "rstd", "rows", "cols", "accumulate"}},
		{"l2norm_rows_f32", []string{"y", "inv", "x", "rows", "cols"}},
		{"l2norm_bwd_rows_f32", []string{"dx", "dy", "y", "inv", "rows", "cols"}},
		{"quickgelu_bwd_f32", []string{"dx", "dy", "x", "n"}},
		{"scatter_add_rows_f32", []string{"dst", "src", "dstIdx", "srcIdx", "rows", "cols"}},
		{"segment_sum_rows_f32", []string{"dst", "src", "idx", "offsets", "rows", "cols"}},
		{"attn_bwd_stats_f32", append([]string{"lse", "dsum", "q", "k", "out", "dout"}, attnLayout...)},
		{"attn_bwd_dq_f32", append([]string{"dq", "q", "k", "v", "dout", "lse", "dsum"}, attnLayout...)},
		{"attn_bwd_dkv_f32", append([]string{"dk", "dv", "q", "k", "v", "dout", "lse", "dsum"}, attnLayout...)},
	}},
	{File: "sgemm.ptx", Kernels: []Spec{
		{"sgemm_f32", []string{"transA", "transB", "m", "n", "k", "alpha", "a", "lda", "b", "ldb", "beta", "c", "ldc"}},
	}},
}

// attnLayout is the parameter tail shared by the attention kernels
// (AttnParams in kernel order).
var attnLayout = []string{"batch", "heads", "tq", "tk", "d", "qRow", "kRow", "vRow", "oRow",
	"qBatch", "kBatch", "vBatch", "oBatch", "causal", "scale"}

// PTX returns the text of the named embedded PTX file.
func PTX(file string) (string, error) {
	b, err := ptxFS.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("kernels: no embedded PTX %q: %w", file, err)
	}
	return string(b), nil
}

// Dim3 is a CUDA grid or block size.
type Dim3 struct{ X, Y, Z int }

// Launch is a kernel's launch geometry.
type Launch struct {
	Grid, Block Dim3
}

// Threads per block of the 1-D element-wise kernels, and the cap on their
// grid size: the kernels loop with a grid stride, so bigger inputs reuse
// threads instead of growing the grid.
const (
	EltBlock   = 256
	EltMaxGrid = 65535
)

// Grid1D returns the geometry of an element-wise kernel over n elements:
// ceil(n/EltBlock) blocks of EltBlock threads, at most EltMaxGrid blocks.
// It returns a zero grid for n == 0 (nothing to launch) and panics for
// negative n.
func Grid1D(n int) Launch {
	if n < 0 {
		panic(fmt.Sprintf("kernels.Grid1D: negative n %d", n))
	}
	g := min((n+EltBlock-1)/EltBlock, EltMaxGrid)
	return Launch{Grid: Dim3{g, 1, 1}, Block: Dim3{EltBlock, 1, 1}}
}

// RowMaxBlock is the largest block of the row kernels (their static shared
// scratch holds 1024 floats); RowMaxGrid caps their grid (they loop over
// rows with a grid stride).
const (
	RowMaxBlock = 1024
	RowMinBlock = 32
	RowMaxGrid  = 65535
)

// RowBlock returns the geometry of a row kernel over rows x cols: one block
// per row (at most RowMaxGrid), with the smallest power of two >= cols
// threads, clamped to [RowMinBlock, RowMaxBlock]; the kernels' block
// reductions need a power of two. Zero rows give a zero grid.
func RowBlock(rows, cols int) Launch {
	if rows < 0 || cols < 0 {
		panic(fmt.Sprintf("kernels.RowBlock: negative shape %dx%d", rows, cols))
	}
	b := RowMinBlock
	for b < cols && b < RowMaxBlock {
		b *= 2
	}
	return Launch{Grid: Dim3{min(rows, RowMaxGrid), 1, 1}, Block: Dim3{b, 1, 1}}
}

// AttentionDG is the number of head dimensions one thread of attention_f32
// and of the attention backward kernels computes (ATT_DG in clip.cu).
const AttentionDG = 32

// AttentionThreads returns the number of threads of attention_f32 and
// attn_bwd_dq_f32 for p, Batch*Heads*Tq*ceil(D/AttentionDG).
func AttentionThreads(p backend.AttnParams) int {
	return p.StatRows() * ((p.D + AttentionDG - 1) / AttentionDG)
}

// AttentionKeyThreads returns the number of attn_bwd_dkv_f32 threads for
// p, Batch*Heads*Tk*ceil(D/AttentionDG).
func AttentionKeyThreads(p backend.AttnParams) int {
	return p.Batch * p.Heads * p.Tk * ((p.D + AttentionDG - 1) / AttentionDG)
}

// Tile sizes of sgemm_f32 (see sgemm.cu) and its block size.
const (
	SgemmBM     = 128
	SgemmBN     = 128
	SgemmBK     = 8
	SgemmBlock  = 256
	SgemmMaxDim = 65535 * SgemmBM // grid.y limit times the tile height
)

// SgemmGeometry returns the launch of sgemm_f32 for an m x n result:
// ceil(n/128) x ceil(m/128) blocks of 256 threads. It panics when m
// exceeds the grid's y limit (65535 tiles) or a size is negative.
func SgemmGeometry(m, n int) Launch {
	if m < 0 || n < 0 || m > SgemmMaxDim {
		panic(fmt.Sprintf("kernels.SgemmGeometry: unsupported size %dx%d", m, n))
	}
	return Launch{
		Grid:  Dim3{(n + SgemmBN - 1) / SgemmBN, (m + SgemmBM - 1) / SgemmBM, 1},
		Block: Dim3{SgemmBlock, 1, 1},
	}
}
