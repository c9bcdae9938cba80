package kernels

import (
	"fmt"
	"runtime"

	"golang.org/x/sync/errgroup"
)

// PackedMatrix is a constant right-hand operand op(B) (k×n) of SgemmPacked,
// packed once into the panel layout of one kernel level's micro-kernel, so
// that repeated products with it (a frozen layer's weight) skip the B
// packing that Sgemm does on every call.
//
// It holds its own copy of the values: later changes to the source slice
// are not seen; pack again after changing it. It is tied to the level that
// was current when it was packed (Level); SgemmPacked panics if the level
// has changed since. A PackedMatrix is read-only once built and may be used
// by any number of goroutines at once.
type PackedMatrix struct {
	k, n  int
	level Level
	nr    int // panel width of the level's micro-kernel
	kc    int // depth of a k-block, as in the blocked driver
	// data holds the k-blocks in order; block pc (rows [pc, pc+kb)) starts
	// at pc·nPanels·nr and holds nPanels panels of kb×nr values, k-major,
	// columns past n zero.
	data []float32
}

// packParallelElems is the size (k·n) from which PackB splits its work
// over GOMAXPROCS goroutines.
const packParallelElems = 1 << 16

// PackB packs op(B) (k×n; B is stored k×n, or n×k if transB, row-major with
// leading dimension ldb) for SgemmPacked at the current level. Large
// matrices are packed by GOMAXPROCS goroutines. PackB panics with a message
// naming the sizes if b is too short or ldb too small (a programming error).
func PackB(transB bool, k, n int, b []float32, ldb int) *PackedMatrix {
	checkPackArgs("PackB", transB, k, n, b, ldb)
	g := implFor(current)
	p := &PackedMatrix{k: k, n: n, level: current, nr: g.nr, kc: g.kcFor(k)}
	nPanels := (n + g.nr - 1) / g.nr
	p.data = make([]float32, k*nPanels*g.nr)
	if k == 0 || n == 0 {
		return p
	}
	workers := 1
	if k*n >= packParallelElems {
		workers = min(runtime.GOMAXPROCS(0), nPanels)
	}
	pack := func(jp0, jp1 int) {
		for pc := 0; pc < k; pc += p.kc {
			kb := min(p.kc, k-pc)
			packB(transB, b, ldb, pc, kb, 0, n, g.nr, p.data[pc*nPanels*g.nr:(pc+kb)*nPanels*g.nr], jp0, jp1)
		}
	}
	splitPanels(workers, nPanels, func(_, jp0, jp1 int) { pack(jp0, jp1) })
	return p
}

// splitPanels runs f(w, jp0, jp1) for workers goroutines w, each with its
// share [jp0, jp1) of nPanels panels (on the calling goroutine when
// workers is 1), and waits for them.
func splitPanels(workers, nPanels int, f func(w, jp0, jp1 int)) {
	if workers <= 1 {
		f(0, 0, nPanels)
		return
	}
	var eg errgroup.Group
	for w := 0; w < workers; w++ {
		eg.Go(func() error {
			f(w, w*nPanels/workers, (w+1)*nPanels/workers)
			return nil
		})
	}
	_ = eg.Wait()
}

// checkPackArgs panics, naming op, if op(B) (k×n, stored k×n or n×k if
// transB, leading dimension ldb) does not fit b.
func checkPackArgs(op string, transB bool, k, n int, b []float32, ldb int) {
	if k < 0 || n < 0 {
		panic(fmt.Sprintf("kernels.%s: negative size k=%d n=%d", op, k, n))
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	if ldb < max(1, bc) {
		panic(fmt.Sprintf("kernels.%s: ldb=%d < %d columns of b (%d×%d, k=%d n=%d transB=%v)", op, ldb, bc, br, bc, k, n, transB))
	}
	if br > 0 && bc > 0 && len(b) < (br-1)*ldb+bc {
		panic(fmt.Sprintf("kernels.%s: len(b)=%d < %d needed for %d×%d with ldb=%d (k=%d n=%d transB=%v)", op, len(b), (br-1)*ldb+bc, br, bc, ldb, k, n, transB))
	}
}

// Dims returns op(B)'s k (rows) and n (columns).
func (p *PackedMatrix) Dims() (k, n int) { return p.k, p.n }

// Level returns the kernel level the matrix was packed for.
func (p *PackedMatrix) Level() Level { return p.level }

// block returns the packed panels [jp, jp+np) of the k-block starting at
// row pc.
func (p *PackedMatrix) block(pc, jp, np int) []float32 {
	kb := min(p.kc, p.k-pc)
	nPanels := (p.n + p.nr - 1) / p.nr
	off := pc*nPanels*p.nr + jp*p.nr*kb
	return p.data[off : off+np*p.nr*kb]
}

// SgemmPacked computes C = alpha*op(A)*B + beta*C like Sgemm, with B
// (k×n) already packed by PackB: op(A) is m×k (A is stored m×k, or k×m if
// transA) and C is m×n, row-major with leading dimensions lda and ldc. It
// gives the same result as Sgemm with the unpacked B, bit for bit, and
// splits large products over GOMAXPROCS goroutines like Sgemm.
//
// beta == 0 overwrites C without reading it. SgemmPacked panics with a
// message naming the sizes if a slice is too short, a leading dimension too
// small, or if pb was packed at another kernel level than the current one
// (programming errors).
func SgemmPacked(transA bool, m int, alpha float32, a []float32, lda int, pb *PackedMatrix, beta float32, c []float32, ldc int) {
	if pb == nil {
		panic("kernels.SgemmPacked: nil PackedMatrix")
	}
	if pb.level != current {
		panic(fmt.Sprintf("kernels.SgemmPacked: matrix (k=%d n=%d) packed at level %s, current level is %s; pack it again", pb.k, pb.n, pb.level, current))
	}
	k, n := pb.k, pb.n
	if m < 0 {
		panic(fmt.Sprintf("kernels.SgemmPacked: negative size m=%d (k=%d n=%d)", m, k, n))
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	if lda < max(1, ac) {
		panic(fmt.Sprintf("kernels.SgemmPacked: lda=%d < %d columns of a (%d×%d, m=%d k=%d transA=%v)", lda, ac, ar, ac, m, k, transA))
	}
	if ar > 0 && ac > 0 && len(a) < (ar-1)*lda+ac {
		panic(fmt.Sprintf("kernels.SgemmPacked: len(a)=%d < %d needed for %d×%d with lda=%d (m=%d k=%d transA=%v)", len(a), (ar-1)*lda+ac, ar, ac, lda, m, k, transA))
	}
	if ldc < max(1, n) {
		panic(fmt.Sprintf("kernels.SgemmPacked: ldc=%d < %d columns of c (m=%d n=%d)", ldc, n, m, n))
	}
	if m > 0 && n > 0 && len(c) < (m-1)*ldc+n {
		panic(fmt.Sprintf("kernels.SgemmPacked: len(c)=%d < %d needed for %d×%d with ldc=%d", len(c), (m-1)*ldc+n, m, n, ldc))
	}
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	sgemmBlocked(implFor(current), transA, false, m, n, k, alpha, a, lda, nil, 0, beta, c, ldc, bSource{pre: pb})
}

// implFor returns the blocked driver's parameters for level l.
func implFor(l Level) *gemmImpl {
	switch l {
	case AVX512:
		return &gemmAVX512
	case AVX2:
		return &gemmAVX2
	}
	return &gemmGeneric
}
