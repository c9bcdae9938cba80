package kernels

//go:generate go run sgemm_asmgen.go

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/klauspost/cpuid/v2"
	"golang.org/x/sync/errgroup"
)

// Sgemm computes C = alpha*op(A)*op(B) + beta*C, where op(X) is X, or Xᵀ when
// the matching trans flag is set. All matrices are row-major (like BLAS with
// CblasRowMajor): op(A) is m×k (A is stored m×k, or k×m if transA), op(B) is
// k×n (B is stored k×n, or n×k if transB) and C is m×n, with leading
// dimensions (row strides, in elements) lda, ldb and ldc.
//
// beta == 0 overwrites C without reading it (NaN in C does not propagate).
// With k == 0 or alpha == 0, C is only scaled by beta.
//
// The kernel level is Current(): at AVX512 and AVX2 a Goto/BLIS-style
// blocked driver (packed A and B panels, cache blocking) calls assembly
// micro-kernels (14×32 AVX-512, 6×16 AVX2+FMA); at Generic the same driver
// calls a pure-Go 4×4 micro-kernel. Large problems are split over
// runtime.GOMAXPROCS(0) goroutines; small ones run on the calling goroutine.
// Packing buffers come from a sync.Pool, so steady-state calls do not
// allocate large buffers.
//
// Sgemm panics with a message naming the bad sizes when a slice is too short
// or a leading dimension is too small (a programming error).
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkSgemmArgs(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	impl := &gemmGeneric
	switch current {
	case AVX512:
		impl = &gemmAVX512
	case AVX2:
		impl = &gemmAVX2
	}
	sgemmBlocked(impl, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bSource{})
}

// bPackFunc packs B panels for the blocked driver in place of packB: panels
// [jp0, jp1) of rows [p0, p0+kb) × columns [j0, j0+nb) of a virtual k×n B
// into nr-column panels, k-major (dst[panel][p][c]), columns past nb zero.
// It lets a caller (the convolutions' implicit im2col) generate B while
// packing it instead of materialising it.
type bPackFunc func(p0, kb, j0, nb, nr int, dst []float32, jp0, jp1 int)

// bSource says where the blocked driver gets its packed B panels from when
// they are not packed from a plain b: pack generates them (implicit
// im2col), or pre holds them already packed (SgemmPacked), starting at
// panel preJP of each of pre's k-blocks (non-zero in a column-split
// worker). The zero value packs from b.
type bSource struct {
	pack  bPackFunc
	pre   *PackedMatrix
	preJP int
}

// sgemmPackB computes C = A·B (m×n, overwritten) for row-major A (m×k) and
// a B that exists only as its packing function pb. It is Sgemm without
// transposes, with alpha 1 and beta 0.
func sgemmPackB(m, n, k int, a []float32, lda int, pb bPackFunc, c []float32, ldc int) {
	if m <= 0 || n <= 0 || k <= 0 || lda < k || ldc < n || len(a) < (m-1)*lda+k || len(c) < (m-1)*ldc+n {
		panic(fmt.Sprintf("kernels.sgemmPackB: bad sizes m=%d n=%d k=%d lda=%d ldc=%d len(a)=%d len(c)=%d", m, n, k, lda, ldc, len(a), len(c)))
	}
	impl := &gemmGeneric
	switch current {
	case AVX512:
		impl = &gemmAVX512
	case AVX2:
		impl = &gemmAVX2
	}
	sgemmBlocked(impl, false, false, m, n, k, 1, a, lda, nil, 0, 0, c, ldc, bSource{pack: pb})
}

// SgemmGeneric is the readable pure-Go reference for Sgemm: a plain triple
// loop with the same arguments and semantics (float32 accumulation, beta == 0
// overwrites C). It is single-threaded and slow; tests compare the fast
// paths against a float64 version of the same loop.
func SgemmGeneric(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkSgemmArgs(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float32
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += av * bv
			}
			if beta == 0 {
				c[i*ldc+j] = alpha * s
			} else {
				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
			}
		}
	}
}

// checkSgemmArgs panics if the sizes, leading dimensions or slice lengths
// passed to Sgemm are inconsistent.
func checkSgemmArgs(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if err := CheckSgemm(transA, transB, m, n, k, lda, ldb, ldc, len(a), len(b), len(c)); err != nil {
		panic("kernels.Sgemm: " + err.Error())
	}
}

// CheckSgemm validates Sgemm's sizes and leading dimensions (row-major):
// lda >= (transA ? m : k), ldb >= (transB ? k : n), ldc >= n, each at
// least 1, and the buffers (lengths in elements) long enough for their
// matrices. It returns a description of the first problem, or nil. A
// backend that runs Sgemm elsewhere (a GPU) checks its arguments with it.
func CheckSgemm(transA, transB bool, m, n, k, lda, ldb, ldc, lenA, lenB, lenC int) error {
	if m < 0 || n < 0 || k < 0 {
		return fmt.Errorf("negative size m=%d n=%d k=%d", m, n, k)
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	for _, x := range []struct {
		name              string
		n, rows, cols, ld int
	}{{"a", lenA, ar, ac, lda}, {"b", lenB, br, bc, ldb}, {"c", lenC, m, n, ldc}} {
		if x.ld < max(1, x.cols) {
			return fmt.Errorf("ld%s=%d < %d columns of %s (%d×%d, m=%d n=%d k=%d transA=%v transB=%v)",
				x.name, x.ld, x.cols, x.name, x.rows, x.cols, m, n, k, transA, transB)
		}
		if x.rows > 0 && x.cols > 0 && x.n < (x.rows-1)*x.ld+x.cols {
			return fmt.Errorf("len(%s)=%d < %d needed for %d×%d with ld%s=%d (m=%d n=%d k=%d transA=%v transB=%v)",
				x.name, x.n, (x.rows-1)*x.ld+x.cols, x.rows, x.cols, x.name, x.ld, m, n, k, transA, transB)
		}
	}
	return nil
}

// scaleC sets C = beta*C (C = 0 when beta == 0, even over NaN).
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		switch beta {
		case 0:
			clear(row)
		case 1:
		default:
			for j := range row {
				row[j] *= beta
			}
		}
	}
}

// kernelKind selects the micro-kernel in the blocked driver.
type kernelKind int

const (
	kindGo kernelKind = iota
	kindAVX2
	kindAVX512
)

// gemmImpl holds a micro-kernel's register tile (mr×nr) and the cache
// blocking used around it: kc (maximum depth of packed panels, see kcFor),
// mc (rows of the packed A block, a multiple of mr) and nc (columns of the
// packed B block, a multiple of nr).
type gemmImpl struct {
	kind          kernelKind
	mr, nr        int
	kc, mc, nc    int
	parallelFlops int       // below this 2·m·n·k the call stays single-threaded
	pool          sync.Pool // of *gemmScratch
}

var (
	gemmAVX512  = gemmImpl{kind: kindAVX512, mr: 14, nr: 32, kc: avx512Block.kc, mc: avx512Block.mc, nc: avx512Block.nc, parallelFlops: 4 << 20}
	gemmAVX2    = gemmImpl{kind: kindAVX2, mr: 6, nr: 16, kc: 256, mc: 6 * 24, nc: 4096, parallelFlops: 2 << 20}
	gemmGeneric = gemmImpl{kind: kindGo, mr: 4, nr: 4, kc: 256, mc: 4 * 32, nc: 2048, parallelFlops: 1 << 20}
)

// sgemmBlocking is the cache blocking of the fp32 driver around one
// micro-kernel (see gemmImpl).
type sgemmBlocking struct{ kc, mc, nc int }

// avx512Block is the AVX-512 driver's blocking for this CPU's caches. The
// AVX2 and Go kernels keep constant blocking.
var avx512Block = sgemmBlockingFor(14, 32, 512, cpuid.CPU.Cache.L1D, cpuid.CPU.Cache.L2, cpuid.CPU.Cache.L3)

// sgemmBlockingFor derives the blocking of an mr×nr fp32 micro-kernel of
// depth at most kcMax from the per-core L1d and L2 sizes and the L3 size
// (bytes; ≤ 0 when unknown: 32 KiB, 1 MiB and 32 MiB are assumed):
//
//   - kc: the B micro-panel (kc×nr floats), which the kernel reuses over
//     every A panel of a block, within 4/3 of L1d (the kernel streams the
//     rest from L2 ahead of use, and a deep kc amortises the loads and
//     stores of the C tile); a multiple of 64 in [128, kcMax];
//   - mc: the packed A block (mc×kc floats), which every B panel of the
//     block reuses, about 2/3 of L2 (the rest holds the B panel in flight
//     and C); a multiple of mr;
//   - nc: the packed B block (kc×nc floats), shared by the workers, at
//     most half of L3; a multiple of nr in [8·nr, 4096].
//
// On Zen 5 (48 KiB, 1 MiB, 32 MiB) and Emerald Rapids (48 KiB, 2 MiB,
// 320 MiB) with the 14×32 AVX-512 kernel this gives kc = 512, nc = 4096
// and mc = 336 and 672 (the constants before were 512, 336 and 4096).
func sgemmBlockingFor(mr, nr, kcMax, l1d, l2, l3 int) sgemmBlocking {
	if l1d <= 0 {
		l1d = 32 << 10
	}
	if l2 <= 0 {
		l2 = 1 << 20
	}
	if l3 <= 0 {
		l3 = 32 << 20
	}
	kc := min(kcMax, max(128, l1d*4/3/(4*nr)/64*64))
	mc := max(mr, l2*2/3/(4*kc)/mr*mr)
	nc := min(4096, max(8*nr, l3/2/(4*kc)/nr*nr))
	return sgemmBlocking{kc: kc, mc: mc, nc: nc}
}

// gemmScratch holds the packing buffers of one Sgemm call: the shared
// packed B block and one packed A block (plus edge temporary) per worker.
// It is pooled whole, so a call does one Get and one Put.
type gemmScratch struct {
	b []float32
	a [][]float32
}

// getScratch returns pooled scratch with a B buffer of nb elements and
// workers A buffers of na elements each.
func (g *gemmImpl) getScratch(nb, na, workers int) *gemmScratch {
	s, _ := g.pool.Get().(*gemmScratch)
	if s == nil {
		s = &gemmScratch{}
	}
	if cap(s.b) < nb {
		s.b = make([]float32, nb)
	}
	s.b = s.b[:nb]
	for len(s.a) < workers {
		s.a = append(s.a, nil)
	}
	s.a = s.a[:workers]
	for w := range s.a {
		if cap(s.a[w]) < na {
			s.a[w] = make([]float32, na)
		}
		s.a[w] = s.a[w][:na]
	}
	return s
}

// gemmTask is the share of one (jc, pc) block that one goroutine computes:
// rows [i0, i1) and B panels [jp0, jp1) of the packed B block.
type gemmTask struct {
	i0, i1   int
	jp0, jp1 int
}

// sgemmBlocked is the Goto/BLIS-style driver: loops jc (nc columns of C),
// pc (kc of the inner dimension), then per worker ic (mc rows), with B packed
// once per (jc, pc) block, shared by the workers, and A packed per worker.
// src may replace the packing of b (which is then unused).
func sgemmBlocked(g *gemmImpl, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, src bSource) {
	mr, nr := g.mr, g.nr
	workers := runtime.GOMAXPROCS(0)
	if 2*float64(m)*float64(n)*float64(k) < float64(g.parallelFlops) {
		workers = 1
	}
	// Split over columns when the rows give each worker less than one mc
	// block (or too few mr panels), or when each worker gets at least a
	// quarter as many columns as there are rows: each worker then runs the
	// serial driver on its own column range, packing its own B panels
	// (which stay in its own L2) and reusing each B panel over all m rows,
	// with no barriers. Every worker packs all of A, which costs more than
	// sharing the B block only when the column ranges are narrow against
	// the rows (such as 256 columns by 7700 rows). Otherwise split rows and
	// share the packed B block.
	mPanels := (m + mr - 1) / mr
	nPanels := (n + nr - 1) / nr
	splitCols := mPanels < 2*workers || m <= workers*g.mc || 4*n >= workers*m
	if workers > 1 && splitCols && nPanels >= 2*workers {
		var eg errgroup.Group
		for w := 0; w < workers; w++ {
			jp0 := w * nPanels / workers
			j0, j1 := jp0*nr, min(n, (w+1)*nPanels/workers*nr)
			eg.Go(func() error {
				sub := src
				switch {
				case src.pre != nil:
					sub.preJP += jp0
				case src.pack != nil:
					pb := src.pack
					sub.pack = func(p0, kb, jj, nb, nr int, dst []float32, jp0, jp1 int) {
						pb(p0, kb, jj+j0, nb, nr, dst, jp0, jp1)
					}
				default:
					boff := j0
					if transB {
						boff = j0 * ldb
					}
					g.blocked(1, transA, transB, m, j1-j0, k, alpha, a, lda, b[boff:], ldb, beta, c[j0:], ldc, sub)
					return nil
				}
				g.blocked(1, transA, false, m, j1-j0, k, alpha, a, lda, nil, 0, beta, c[j0:], ldc, sub)
				return nil
			})
		}
		_ = eg.Wait()
		return
	}
	if mPanels < 2*workers {
		workers = 1
	}
	g.blocked(workers, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, src)
}

// blocked runs the blocked loops with rows split over workers goroutines.
// src may replace the packing of b.
func (g *gemmImpl) blocked(workers int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, src bSource) {
	mr, nr := g.mr, g.nr
	ncEff := min(g.nc, roundUp(n, nr))
	kcEff := g.kcFor(k)
	mPanels := (m + mr - 1) / mr
	// Per worker: packed A block (mc×kc) plus an mr×nr edge-tile temporary.
	// Pre-packed B needs no B buffer.
	mcEff := min(g.mc, roundUp(m, mr))
	nbBuf := kcEff * ncEff
	if src.pre != nil {
		nbBuf = 0
	}
	scr := g.getScratch(nbBuf, mcEff*kcEff+mr*nr, workers)
	defer g.pool.Put(scr)
	bBuf, work := scr.b, scr.a

	// With several workers, the rows of each (jc, pc) block are cut into
	// chunks of at most mc rows, their count a multiple of workers (balanced
	// when the cores are free), handed out through an atomic counter so a
	// worker slowed down by other load does not hold the others up.
	mcPanels := g.mc / mr
	nChunks := workers * ((mPanels + workers*mcPanels - 1) / (workers * mcPanels))
	chunkPanels := (mPanels + nChunks - 1) / nChunks
	for jc := 0; jc < n; jc += ncEff {
		nb := min(ncEff, n-jc)
		nbPanels := (nb + nr - 1) / nr
		for pc := 0; pc < k; pc += kcEff {
			kb := min(kcEff, k-pc)
			betaBlk := beta
			if pc > 0 {
				betaBlk = 1
			}
			var bp []float32
			switch {
			case src.pre != nil:
				bp = src.pre.block(pc, src.preJP+jc/nr, nbPanels)
			case workers == 1:
				bp = bBuf[:kb*nbPanels*nr]
				if src.pack != nil {
					src.pack(pc, kb, jc, nb, nr, bp, 0, nbPanels)
				} else {
					packB(transB, b, ldb, pc, kb, jc, nb, nr, bp, 0, nbPanels)
				}
			default:
				bp = bBuf[:kb*nbPanels*nr]
				packBParallel(workers, src.pack, transB, b, ldb, pc, kb, jc, nb, nr, bp, nbPanels)
			}
			if workers == 1 {
				g.runTask(gemmTask{i0: 0, i1: m, jp0: 0, jp1: nbPanels}, transA, a, lda, pc, kb, alpha, bp, jc, nb, betaBlk, c, ldc, work[0])
				continue
			}
			g.runParallel(work, nChunks, chunkPanels, m, nbPanels, transA, a, lda, pc, kb, alpha, bp, jc, nb, betaBlk, c, ldc)
		}
	}
}

// packBParallel packs the nbPanels panels of one (jc, pc) block of B into
// bp, split over workers goroutines (through pack when non-nil). It is a
// function of its own so that the serial driver's loop variables are not
// captured by closures (which would move them to the heap on every block).
func packBParallel(workers int, pack bPackFunc, transB bool, b []float32, ldb, pc, kb, jc, nb, nr int, bp []float32, nbPanels int) {
	var eg errgroup.Group
	for w := 0; w < workers; w++ {
		p0, p1 := w*nbPanels/workers, (w+1)*nbPanels/workers
		eg.Go(func() error {
			if pack != nil {
				pack(pc, kb, jc, nb, nr, bp, p0, p1)
			} else {
				packB(transB, b, ldb, pc, kb, jc, nb, nr, bp, p0, p1)
			}
			return nil
		})
	}
	_ = eg.Wait()
}

// runParallel computes the rows [0, m) of one (jc, pc) block on
// len(work) goroutines: nChunks chunks of chunkPanels mr-row panels are
// handed out through an atomic counter.
func (g *gemmImpl) runParallel(work [][]float32, nChunks, chunkPanels, m, nbPanels int, transA bool, a []float32, lda, pc, kb int, alpha float32, bp []float32, jc, nb int, beta float32, c []float32, ldc int) {
	var eg errgroup.Group
	var next atomic.Int64
	for _, buf := range work {
		eg.Go(func() error {
			for {
				ch := int(next.Add(1)) - 1
				i0 := ch * chunkPanels * g.mr
				if ch >= nChunks || i0 >= m {
					return nil
				}
				t := gemmTask{i0: i0, i1: min(m, i0+chunkPanels*g.mr), jp0: 0, jp1: nbPanels}
				g.runTask(t, transA, a, lda, pc, kb, alpha, bp, jc, nb, beta, c, ldc, buf)
			}
		})
	}
	_ = eg.Wait()
}

func roundUp(x, to int) int { return (x + to - 1) / to * to }

// kcFor returns the depth of the k-blocks for an inner dimension k: at most
// g.kc, with the blocks of equal size (k = 1100 with kc = 512 gives three
// blocks of 367, not 512, 512 and 76), so no block is shallow.
func (g *gemmImpl) kcFor(k int) int {
	if k <= g.kc {
		return max(k, 1)
	}
	blocks := (k + g.kc - 1) / g.kc
	return (k + blocks - 1) / blocks
}

// runTask computes rows [t.i0, t.i1) × B panels [t.jp0, t.jp1) of one
// (jc, pc) block: C[i, jc+j] = op(A)[i, pc:pc+kb]·Bblock[:, j]·alpha + beta·C.
func (g *gemmImpl) runTask(t gemmTask, transA bool, a []float32, lda, pc, kb int, alpha float32, bp []float32, jc, nb int, beta float32, c []float32, ldc int, work []float32) {
	mr, nr := g.mr, g.nr
	tmp := work[len(work)-mr*nr:]
	ap := work[:len(work)-mr*nr]
	for ic := t.i0; ic < t.i1; ic += g.mc {
		mb := min(g.mc, t.i1-ic)
		mbPanels := (mb + mr - 1) / mr
		// The AVX-512 kernel can pack the full 14-row panels of a plain A
		// (alpha 1) while it computes their first tiles; only a partial
		// last panel is packed here then.
		fused := g.kind == kindAVX512 && haveAsm && !transA && alpha == 1
		full := 0
		if fused {
			full = mb / mr
		}
		packA(transA, a, lda, ic+full*mr, mb-full*mr, pc, kb, mr, alpha, ap[full*mr*kb:mbPanels*mr*kb])
		for jp := t.jp0; jp < t.jp1; jp++ {
			j := jp * nr
			nv := min(nr, nb-j)
			bpan := bp[jp*nr*kb : (jp+1)*nr*kb]
			for ip := 0; ip < mbPanels; ip++ {
				i := ic + ip*mr
				mv := min(mr, t.i1-i)
				apan := ap[ip*mr*kb : (ip+1)*mr*kb]
				off := i*ldc + jc + j
				packing := jp == t.jp0 && ip < full
				if mv == mr && nv == nr {
					if packing {
						g.kernelPackA(kb, a[i*lda+pc:], lda, apan, bpan, c[off:], ldc, beta)
						continue
					}
					g.kernel(kb, apan, bpan, c[off:], ldc, beta)
					continue
				}
				// Edge tile: compute into tmp, then merge the valid part.
				if packing {
					g.kernelPackA(kb, a[i*lda+pc:], lda, apan, bpan, tmp, nr, 0)
				} else {
					g.kernel(kb, apan, bpan, tmp, nr, 0)
				}
				for r := 0; r < mv; r++ {
					crow := c[off+r*ldc : off+r*ldc+nv]
					trow := tmp[r*nr : r*nr+nv]
					if beta == 0 {
						copy(crow, trow)
					} else {
						for q, v := range trow {
							crow[q] = v + beta*crow[q]
						}
					}
				}
			}
		}
	}
}

// kernel runs the implementation's micro-kernel on one packed A panel and
// one packed B panel.
func (g *gemmImpl) kernel(kb int, ap, bp, c []float32, ldc int, beta float32) {
	switch g.kind {
	case kindAVX512:
		_ = c[(g.mr-1)*ldc+g.nr-1]
		_ = ap[kb*g.mr-1]
		_ = bp[kb*g.nr-1]
		sgemmKernel14x32AVX512(kb, &ap[0], &bp[0], &c[0], ldc, beta)
	case kindAVX2:
		_ = c[(g.mr-1)*ldc+g.nr-1]
		_ = ap[kb*g.mr-1]
		_ = bp[kb*g.nr-1]
		sgemmKernel6x16AVX2(kb, &ap[0], &bp[0], &c[0], ldc, beta)
	default:
		kernel4x4Go(kb, ap, bp, c, ldc, beta)
	}
}

// kernelPackA runs the AVX-512 micro-kernel on 14 unpacked rows of A
// (a: the first row's first element, row stride lda) and packs them into
// ap as it goes.
func (g *gemmImpl) kernelPackA(kb int, a []float32, lda int, ap, bp, c []float32, ldc int, beta float32) {
	_ = a[13*lda+kb-1]
	_ = c[(g.mr-1)*ldc+g.nr-1]
	_ = ap[kb*g.mr-1]
	_ = bp[kb*g.nr-1]
	sgemmKernel14x32PackAAVX512(kb, &a[0], lda, &ap[0], &bp[0], &c[0], ldc, beta)
}

// kernel4x4Go is the pure-Go micro-kernel of the Generic level: a 4×4 tile
// of C = A·B + beta·C from packed panels (a: k×4, b: k×4, both k-major).
func kernel4x4Go(k int, a, b, c []float32, ldc int, beta float32) {
	var c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33 float32
	a = a[:4*k]
	b = b[:4*k]
	for p := 0; p < 4*k; p += 4 {
		av := a[p : p+4 : p+4]
		bv := b[p : p+4 : p+4]
		a0, a1, a2, a3 := av[0], av[1], av[2], av[3]
		b0, b1, b2, b3 := bv[0], bv[1], bv[2], bv[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	acc := [4][4]float32{{c00, c01, c02, c03}, {c10, c11, c12, c13}, {c20, c21, c22, c23}, {c30, c31, c32, c33}}
	for r := 0; r < 4; r++ {
		row := c[r*ldc : r*ldc+4 : r*ldc+4]
		if beta == 0 {
			row[0], row[1], row[2], row[3] = acc[r][0], acc[r][1], acc[r][2], acc[r][3]
		} else {
			for q := range row {
				row[q] = acc[r][q] + beta*row[q]
			}
		}
	}
}

// packA packs rows [i0, i0+mb) and columns [p0, p0+kb) of op(A), scaled by
// alpha, into mr-row panels, k-major (dst[panel][p][r]); rows past mb are
// zero.
func packA(transA bool, a []float32, lda, i0, mb, p0, kb, mr int, alpha float32, dst []float32) {
	for ip := 0; ip*mr < mb; ip++ {
		pan := dst[ip*mr*kb : (ip+1)*mr*kb]
		rows := min(mr, mb-ip*mr)
		ib := i0 + ip*mr
		if rows < mr {
			clear(pan)
		}
		if transA {
			// op(A)[i, p] = a[p*lda + i]: each p gives mr contiguous values.
			for p := 0; p < kb; p++ {
				src := a[(p0+p)*lda+ib : (p0+p)*lda+ib+rows]
				d := pan[p*mr : p*mr+rows]
				for r, v := range src {
					d[r] = alpha * v
				}
			}
			continue
		}
		if mr == 14 && rows == 14 {
			packA14(a, lda, ib, p0, kb, alpha, pan)
			continue
		}
		for r := 0; r < rows; r++ {
			src := a[(ib+r)*lda+p0 : (ib+r)*lda+p0+kb]
			for p, v := range src {
				pan[p*mr+r] = alpha * v
			}
		}
	}
}

// packA14 packs one full 14-row panel of a non-transposed A (rows ib..ib+13,
// columns p0..p0+kb), scaled by alpha, reading the 14 rows in step so the
// panel is written sequentially.
func packA14(a []float32, lda, ib, p0, kb int, alpha float32, pan []float32) {
	base := ib*lda + p0
	r0 := a[base : base+kb]
	r1 := a[base+1*lda : base+1*lda+kb]
	r2 := a[base+2*lda : base+2*lda+kb]
	r3 := a[base+3*lda : base+3*lda+kb]
	r4 := a[base+4*lda : base+4*lda+kb]
	r5 := a[base+5*lda : base+5*lda+kb]
	r6 := a[base+6*lda : base+6*lda+kb]
	r7 := a[base+7*lda : base+7*lda+kb]
	r8 := a[base+8*lda : base+8*lda+kb]
	r9 := a[base+9*lda : base+9*lda+kb]
	r10 := a[base+10*lda : base+10*lda+kb]
	r11 := a[base+11*lda : base+11*lda+kb]
	r12 := a[base+12*lda : base+12*lda+kb]
	r13 := a[base+13*lda : base+13*lda+kb]
	for p := range r0 {
		d := (*[14]float32)(pan[p*14 : p*14+14])
		d[0] = alpha * r0[p]
		d[1] = alpha * r1[p]
		d[2] = alpha * r2[p]
		d[3] = alpha * r3[p]
		d[4] = alpha * r4[p]
		d[5] = alpha * r5[p]
		d[6] = alpha * r6[p]
		d[7] = alpha * r7[p]
		d[8] = alpha * r8[p]
		d[9] = alpha * r9[p]
		d[10] = alpha * r10[p]
		d[11] = alpha * r11[p]
		d[12] = alpha * r12[p]
		d[13] = alpha * r13[p]
	}
}

// packB32Rows packs the full 32-column panels [jp0, jp1) of a
// non-transposed B block (rows p0..p0+kb, columns from j0) eight rows at a
// time with fixed-size array copies. Within a chunk each source row is
// read sequentially across the panels (a few streams the hardware
// prefetchers follow, few pages live at once) instead of walking one panel
// down kb rows at a stride of ldb, which misses on every row when ldb is
// large.
func packB32Rows(b []float32, ldb, p0, kb, j0, jp0, jp1 int, dst []float32) {
	const chunk = 8
	for pp := 0; pp < kb; pp += chunk {
		pe := min(kb, pp+chunk)
		for jp := jp0; jp < jp1; jp++ {
			pan := dst[jp*32*kb : (jp+1)*32*kb]
			jb := j0 + jp*32
			for p := pp; p < pe; p++ {
				off := (p0+p)*ldb + jb
				*(*[32]float32)(pan[p*32 : p*32+32]) = *(*[32]float32)(b[off : off+32])
			}
		}
	}
}

// packB packs panels [jp0, jp1) of the block rows [p0, p0+kb) × columns
// [j0, j0+nb) of op(B) into nr-column panels, k-major (dst[panel][p][c]);
// columns past nb are zero.
func packB(transB bool, b []float32, ldb, p0, kb, j0, nb, nr int, dst []float32, jp0, jp1 int) {
	if !transB && nr == 32 {
		// Full panels in row chunks; a partial last panel below.
		if full := min(jp1, nb/nr); full > jp0 {
			packB32Rows(b, ldb, p0, kb, j0, jp0, full, dst)
			jp0 = full
		}
	}
	for jp := jp0; jp < jp1; jp++ {
		pan := dst[jp*nr*kb : (jp+1)*nr*kb]
		cols := min(nr, nb-jp*nr)
		jb := j0 + jp*nr
		if cols < nr {
			clear(pan)
		}
		if transB {
			// op(B)[p, j] = b[j*ldb + p]: each column j is contiguous in p.
			if cols == nr && nr%16 == 0 {
				for q0 := 0; q0 < nr; q0 += 16 {
					packBT16(b, ldb, p0, kb, jb+q0, nr, q0, pan)
				}
				continue
			}
			for q := 0; q < cols; q++ {
				src := b[(jb+q)*ldb+p0 : (jb+q)*ldb+p0+kb]
				for p, v := range src {
					pan[p*nr+q] = v
				}
			}
			continue
		}
		for p := 0; p < kb; p++ {
			copy(pan[p*nr:p*nr+cols], b[(p0+p)*ldb+jb:(p0+p)*ldb+jb+cols])
		}
	}
}

// packBT16 packs 16 full columns of a transposed B (op(B)[p, j] =
// b[j*ldb+p], columns jb..jb+15, rows p0..p0+kb) into pan at column offset
// q0 of an nr-wide panel, reading the 16 source rows in step.
func packBT16(b []float32, ldb, p0, kb, jb, nr, q0 int, pan []float32) {
	base := jb*ldb + p0
	c0 := b[base : base+kb]
	c1 := b[base+1*ldb : base+1*ldb+kb]
	c2 := b[base+2*ldb : base+2*ldb+kb]
	c3 := b[base+3*ldb : base+3*ldb+kb]
	c4 := b[base+4*ldb : base+4*ldb+kb]
	c5 := b[base+5*ldb : base+5*ldb+kb]
	c6 := b[base+6*ldb : base+6*ldb+kb]
	c7 := b[base+7*ldb : base+7*ldb+kb]
	c8 := b[base+8*ldb : base+8*ldb+kb]
	c9 := b[base+9*ldb : base+9*ldb+kb]
	c10 := b[base+10*ldb : base+10*ldb+kb]
	c11 := b[base+11*ldb : base+11*ldb+kb]
	c12 := b[base+12*ldb : base+12*ldb+kb]
	c13 := b[base+13*ldb : base+13*ldb+kb]
	c14 := b[base+14*ldb : base+14*ldb+kb]
	c15 := b[base+15*ldb : base+15*ldb+kb]
	for p := range c0 {
		d := (*[16]float32)(pan[p*nr+q0 : p*nr+q0+16])
		d[0] = c0[p]
		d[1] = c1[p]
		d[2] = c2[p]
		d[3] = c3[p]
		d[4] = c4[p]
		d[5] = c5[p]
		d[6] = c6[p]
		d[7] = c7[p]
		d[8] = c8[p]
		d[9] = c9[p]
		d[10] = c10[p]
		d[11] = c11[p]
		d[12] = c12[p]
		d[13] = c13[p]
		d[14] = c14[p]
		d[15] = c15[p]
	}
}
