package kernels

//go:generate go run bf16_asmgen.go

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"sync"

	"github.com/klauspost/cpuid/v2"
)

// bf16 GEMM: C = A·B with a constant B (frozen weights) converted to bf16
// and packed once (PackBF16), A (activations) converted to bf16 while it is
// packed, products summed in fp32 by VDPBF16PS (AVX512-BF16) and an fp32 C.
//
// Numerics, which GemmBF16Generic spells out and the assembly follows bit
// for bit: every input is rounded to bf16 by Float32ToBF16; the inner
// dimension is cut into k-blocks of BF16Matrix.BlockPairs() pairs; within a
// block each output starts from 0 and adds, pair by pair, the product of
// the odd elements and then the product of the even elements (each product
// of two bf16 values is exact in fp32, each sum rounded to nearest even);
// the block's sum is then added to the output.

// bf16Nr is the column width of the bf16 micro-kernel and its B panels;
// bf16Mr its row count.
const (
	bf16Mr = 14
	bf16Nr = 32
)

// Float32ToBF16 rounds x to bfloat16 bits as VCVTNE2PS2BF16 does: to
// nearest, ties to even; denormals become a zero of the same sign; NaN
// stays a (quiet) NaN; infinities stay infinite.
func Float32ToBF16(x float32) uint16 {
	u := math.Float32bits(x)
	switch {
	case u&0x7f800000 == 0: // zero or denormal
		return uint16(u>>16) & 0x8000
	case u&0x7fffffff > 0x7f800000: // NaN
		return uint16(u>>16) | 0x40
	case u&0x7fffffff == 0x7f800000: // infinity
		return uint16(u >> 16)
	}
	return uint16((u + 0x7fff + (u>>16)&1) >> 16)
}

// BF16ToFloat32 widens bfloat16 bits to float32 (exact).
func BF16ToFloat32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// bf16Round returns x rounded to bf16 and widened back.
func bf16Round(x float32) float32 { return BF16ToFloat32(Float32ToBF16(x)) }

// ftz flushes a denormal float32 to a zero of the same sign, as VDPBF16PS
// does with its results.
func ftz(x float32) float32 {
	if u := math.Float32bits(x); u&0x7f800000 == 0 {
		return math.Float32frombits(u & 0x80000000)
	}
	return x
}

// BF16Supported reports whether the bf16 kernels run here: the binary has
// assembly, the current level is AVX512 and the CPU has AVX512-BF16.
// Otherwise PackBF16 and GemmBF16 fall back to the fp32 SGEMM (and say so
// once on stderr).
func BF16Supported() bool {
	return haveAsm && current == AVX512 && cpuid.CPU.Supports(cpuid.AVX512BF16)
}

var bf16Note sync.Once

// noteFallback says once, on stderr, that bf16 requests run in fp32.
func noteFallback() {
	bf16Note.Do(func() {
		fmt.Fprintf(os.Stderr, "kernels: no AVX512-BF16 kernels at level %s on this CPU/build; bf16 products run in fp32\n", current)
	})
}

// BF16Matrix is a constant right-hand operand op(B) (k×n) of GemmBF16,
// converted to bf16 and packed once into the micro-kernel's panel layout:
// k-blocks of kcp pairs; in each block, panels of 32 columns; in each
// panel, one dword per (pair p, column c) holding B[2p][c] in its low half
// and B[2p+1][c] in its high half (zero past k and past n).
//
// Where BF16Supported is false when it is packed, it holds an fp32
// PackedMatrix instead and GemmBF16 computes in fp32. It is tied to the
// kernel level current when packed (GemmBF16 panics after a level change).
// It is read-only once built and safe for concurrent use.
type BF16Matrix struct {
	k, n  int
	level Level
	bf16  bool
	kcp   int // pairs per k-block
	data  []uint32
	fp32  *PackedMatrix
}

// Dims returns op(B)'s k (rows) and n (columns).
func (p *BF16Matrix) Dims() (k, n int) { return p.k, p.n }

// Level returns the kernel level the matrix was packed for.
func (p *BF16Matrix) Level() Level { return p.level }

// IsBF16 reports whether the matrix holds bf16 values (false: the fp32
// fallback).
func (p *BF16Matrix) IsBF16() bool { return p.bf16 }

// BlockPairs returns the number of k pairs per k-block (see GemmBF16Generic).
func (p *BF16Matrix) BlockPairs() int { return p.kcp }

// panels returns the number of 32-column panels.
func (p *BF16Matrix) panels() int { return (p.n + bf16Nr - 1) / bf16Nr }

// block returns panel jp of the k-block starting at pair pcp.
func (p *BF16Matrix) panel(pcp, jp int) []uint32 {
	kbp := min(p.kcp, (p.k+1)/2-pcp)
	off := pcp*p.panels()*bf16Nr + jp*bf16Nr*kbp
	return p.data[off : off+bf16Nr*kbp]
}

// bf16Blocking holds the bf16 driver's cache blocking: kcp pairs per
// k-block (a B micro-panel of kcp×32 dwords stays in L1) and mc rows per
// A block (mc×2·kcp bf16 stays in L2).
type bf16Blocking struct{ kcp, mc int }

var bf16Block = bf16BlockingFor(cpuid.CPU.Cache.L1D, cpuid.CPU.Cache.L2)

// bf16BlockingFor derives the blocking from the L1d and L2 sizes per core
// (bytes; ≤ 0 when unknown): the B micro-panel (128 bytes per pair) takes
// about two thirds of L1d, the A block (4 bytes per row and pair) about
// half of L2.
func bf16BlockingFor(l1d, l2 int) bf16Blocking {
	if l1d <= 0 {
		l1d = 32 << 10
	}
	if l2 <= 0 {
		l2 = 1 << 20
	}
	kcp := min(512, max(64, (l1d*2/3)/(4*bf16Nr)/16*16))
	mc := max(bf16Mr, (l2/2)/(4*kcp)/bf16Mr*bf16Mr)
	return bf16Blocking{kcp: kcp, mc: mc}
}

// kcpFor returns the pairs per k-block for kp pairs: at most bf16Block.kcp,
// with blocks of equal size.
func kcpFor(kp int) int {
	if kp <= bf16Block.kcp {
		return max(kp, 1)
	}
	blocks := (kp + bf16Block.kcp - 1) / bf16Block.kcp
	return (kp + blocks - 1) / blocks
}

// PackBF16 converts op(B) (k×n; B is stored k×n, or n×k if transB,
// row-major with leading dimension ldb) to bf16 and packs it for GemmBF16.
// Without bf16 kernels it packs an fp32 PackedMatrix instead (and notes the
// fallback once). It panics with a message naming the sizes if b is too
// short or ldb too small (a programming error).
func PackBF16(transB bool, k, n int, b []float32, ldb int) *BF16Matrix {
	return packBF16(transB, k, n, b, ldb, BF16Supported(), BF16Supported())
}

// packBF16 packs for bf16 (or the fp32 fallback when !bf16), with the
// assembly conversion when asm.
func packBF16(transB bool, k, n int, b []float32, ldb int, bf16, asm bool) *BF16Matrix {
	if !bf16 {
		noteFallback()
		return &BF16Matrix{k: k, n: n, level: current, fp32: PackB(transB, k, n, b, ldb)}
	}
	checkPackArgs("PackBF16", transB, k, n, b, ldb)
	kp := (k + 1) / 2
	p := &BF16Matrix{k: k, n: n, level: current, bf16: true, kcp: kcpFor(kp)}
	nPanels := p.panels()
	p.data = make([]uint32, kp*nPanels*bf16Nr)
	if k == 0 || n == 0 {
		return p
	}
	workers := 1
	if k*n >= packParallelElems {
		workers = min(runtime.GOMAXPROCS(0), nPanels)
	}
	pack := func(jp0, jp1 int) {
		tmp := make([]float32, 2*p.kcp*bf16Nr)
		for pcp := 0; pcp < kp; pcp += p.kcp {
			kbp := min(p.kcp, kp-pcp)
			kb := min(2*kbp, k-2*pcp) // rows of B in this block
			for jp := jp0; jp < jp1; jp++ {
				t := tmp[:2*kbp*bf16Nr]
				packB(transB, b, ldb, 2*pcp, kb, jp*bf16Nr, min(bf16Nr, n-jp*bf16Nr), bf16Nr, t, 0, 1)
				clear(t[kb*bf16Nr:]) // the zero row past an odd k
				pairsBF16(2*kbp, t, p.panel(pcp, jp), asm)
			}
		}
	}
	splitPanels(workers, nPanels, func(_, jp0, jp1 int) { pack(jp0, jp1) })
	return p
}

// pairsBF16 converts rows (even) rows of a 32-column fp32 panel into the
// bf16-pair panel dst (rows/2 × 32 dwords).
func pairsBF16(rows int, src []float32, dst []uint32, asm bool) {
	_ = src[rows*bf16Nr-1]
	_ = dst[rows/2*bf16Nr-1]
	if asm {
		pairsBF16AVX512(rows, &src[0], &dst[0])
		return
	}
	for p := 0; p < rows/2; p++ {
		lo, hi := src[2*p*bf16Nr:(2*p+1)*bf16Nr], src[(2*p+1)*bf16Nr:(2*p+2)*bf16Nr]
		d := dst[p*bf16Nr : (p+1)*bf16Nr]
		for c := range d {
			d[c] = uint32(Float32ToBF16(lo[c])) | uint32(Float32ToBF16(hi[c]))<<16
		}
	}
}

// cvtBF16 converts src to bf16 in dst (same length).
func cvtBF16(src []float32, dst []uint16, asm bool) {
	n := 0
	if asm {
		n = len(src) / 32 * 32
		if n > 0 {
			cvtBF16AVX512(n, &src[0], &dst[0])
		}
	}
	for i := n; i < len(src); i++ {
		dst[i] = Float32ToBF16(src[i])
	}
}

// BF16Epilogue is what GemmBF16 does besides the product:
//
//	C = act(C₀ + Bias + A·B)
//
// where C₀ is C's previous value when Accumulate is set (a residual or a
// pre-filled output), otherwise 0, Bias (n values, or nil) is added to
// every row, and act is max(·, 0) when ReLU is set, else the identity.
// C₀ + Bias is formed first, then the k-blocks' sums are added in turn.
type BF16Epilogue struct {
	Bias       []float32
	Accumulate bool
	ReLU       bool
}

// GemmBF16 computes C (m×n, row-major, leading dimension ldc) from A (m×k,
// row-major, leading dimension lda) and the packed pb (k×n) through ep:
// C = act(C₀ + Bias + A·B) in bf16 products with fp32 sums (see
// GemmBF16Generic for the exact numerics). If pb holds the fp32 fallback,
// the product is the fp32 SgemmPacked. Large products are split over
// GOMAXPROCS goroutines. It panics with a message naming the sizes if a
// slice is too short, a leading dimension too small, or the kernel level
// changed since pb was packed (programming errors).
func GemmBF16(m int, a []float32, lda int, pb *BF16Matrix, c []float32, ldc int, ep BF16Epilogue) {
	checkGemmBF16(m, a, lda, pb, c, ldc, ep)
	if pb.level != current {
		panic(fmt.Sprintf("kernels.GemmBF16: matrix (k=%d n=%d) packed at level %s, current level is %s; pack it again", pb.k, pb.n, pb.level, current))
	}
	if m == 0 || pb.n == 0 {
		return
	}
	if !pb.bf16 {
		gemmBF16Fallback(m, a, lda, pb, c, ldc, ep)
		return
	}
	if pb.k == 0 {
		initRows(m, pb.n, c, ldc, ep)
		reluRows(m, pb.n, c, ldc, ep.ReLU, Relu)
		return
	}
	gemmBF16Blocked(m, a, lda, pb, c, ldc, ep, true)
}

func checkGemmBF16(m int, a []float32, lda int, pb *BF16Matrix, c []float32, ldc int, ep BF16Epilogue) {
	if pb == nil {
		panic("kernels.GemmBF16: nil BF16Matrix")
	}
	k, n := pb.k, pb.n
	if m < 0 {
		panic(fmt.Sprintf("kernels.GemmBF16: negative size m=%d (k=%d n=%d)", m, k, n))
	}
	if lda < max(1, k) {
		panic(fmt.Sprintf("kernels.GemmBF16: lda=%d < k=%d", lda, k))
	}
	if m > 0 && k > 0 && len(a) < (m-1)*lda+k {
		panic(fmt.Sprintf("kernels.GemmBF16: len(a)=%d < %d needed for %d×%d with lda=%d", len(a), (m-1)*lda+k, m, k, lda))
	}
	if ldc < max(1, n) {
		panic(fmt.Sprintf("kernels.GemmBF16: ldc=%d < n=%d", ldc, n))
	}
	if m > 0 && n > 0 && len(c) < (m-1)*ldc+n {
		panic(fmt.Sprintf("kernels.GemmBF16: len(c)=%d < %d needed for %d×%d with ldc=%d", len(c), (m-1)*ldc+n, m, n, ldc))
	}
	if ep.Bias != nil && len(ep.Bias) < n {
		panic(fmt.Sprintf("kernels.GemmBF16: len(bias)=%d < n=%d", len(ep.Bias), n))
	}
}

// gemmBF16Fallback is GemmBF16 on an fp32 PackedMatrix.
func gemmBF16Fallback(m int, a []float32, lda int, pb *BF16Matrix, c []float32, ldc int, ep BF16Epilogue) {
	beta := float32(0)
	if ep.Accumulate || ep.Bias != nil {
		beta = 1
		initRows(m, pb.n, c, ldc, ep)
	}
	SgemmPacked(false, m, 1, a, lda, pb.fp32, beta, c, ldc)
	reluRows(m, pb.n, c, ldc, ep.ReLU, Relu)
}

// reluRows applies relu (Relu or ReluGeneric) to rows [0, m) × columns
// [0, n) of c when on is set.
func reluRows(m, n int, c []float32, ldc int, on bool, relu func(dst, src []float32)) {
	if !on {
		return
	}
	for i := 0; i < m; i++ {
		relu(c[i*ldc:i*ldc+n], c[i*ldc:i*ldc+n])
	}
}

// initRows sets C₀ + Bias into rows [0, m) × columns [0, n) of c.
func initRows(m, n int, c []float32, ldc int, ep BF16Epilogue) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		switch {
		case !ep.Accumulate && ep.Bias != nil:
			copy(row, ep.Bias[:n])
		case !ep.Accumulate:
			clear(row)
		case ep.Bias != nil:
			Add(row, row, ep.Bias[:n])
		}
	}
}

// GemmBF16Generic is the readable pure-Go reference of GemmBF16 on a bf16
// BF16Matrix (one packed with bf16 kernels available), with the same
// arguments and the exact numerics of the assembly: each C[i][j] starts
// from C₀ + Bias[j] (or from the first k-block's sum when neither is
// given), and adds the sum of each k-block, formed from 0 by adding, pair
// by pair, a[2p+1]·b[2p+1] then a[2p]·b[2p] (bf16 inputs, fp32 sums,
// denormal results flushed to zero). It panics on an fp32 fallback matrix.
func GemmBF16Generic(m int, a []float32, lda int, pb *BF16Matrix, c []float32, ldc int, ep BF16Epilogue) {
	checkGemmBF16(m, a, lda, pb, c, ldc, ep)
	if !pb.bf16 {
		panic("kernels.GemmBF16Generic: matrix holds the fp32 fallback")
	}
	k, n := pb.k, pb.n
	kp := (k + 1) / 2
	init := ep.Accumulate || ep.Bias != nil || k == 0 // k = 0: C = C₀ + Bias
	if init {
		initRows(m, n, c, ldc, ep)
	}
	// bAt returns B[r][j] as bf16 bits from the packed panels.
	bAt := func(r, j int) uint16 {
		pcp := r / 2 / pb.kcp * pb.kcp
		d := pb.panel(pcp, j/bf16Nr)[(r/2-pcp)*bf16Nr+j%bf16Nr]
		return uint16(d >> (16 * (r % 2)))
	}
	aAt := func(i, r int) float32 {
		if r >= k {
			return 0
		}
		return bf16Round(a[i*lda+r])
	}
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			s := c[i*ldc+j]
			for pcp := 0; pcp < kp; pcp += pb.kcp {
				var acc float32
				for p := pcp; p < min(kp, pcp+pb.kcp); p++ {
					acc = ftz(acc + aAt(i, 2*p+1)*BF16ToFloat32(bAt(2*p+1, j)))
					acc = ftz(acc + aAt(i, 2*p)*BF16ToFloat32(bAt(2*p, j)))
				}
				if pcp == 0 && !init {
					s = acc
				} else {
					s += acc
				}
			}
			c[i*ldc+j] = s
		}
	}
	reluRows(m, n, c, ldc, ep.ReLU, ReluGeneric)
}
