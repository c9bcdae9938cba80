package kernels

import (
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// ptxEntry is one .entry of a PTX file, as parsed by parsePTX.
type ptxEntry struct {
	name   string
	params []string // PTX types, e.g. ".u64"
}

var (
	entryRE = regexp.MustCompile(`(?s)\.visible\s+\.entry\s+(\w+)\s*\((.*?)\)`)
	paramRE = regexp.MustCompile(`\.param\s+(\.\w+)\s+(\w+)`)
)

// parsePTX checks the module header and returns the entries in order.
func parsePTX(t *testing.T, file, text string) []ptxEntry {
	t.Helper()
	for _, h := range []string{`(?m)^\.version\s+\d+\.\d+\s*$`, `(?m)^\.target\s+sm_\d+\s*$`, `(?m)^\.address_size\s+64\s*$`} {
		if !regexp.MustCompile(h).MatchString(text) {
			t.Errorf("%s: header line %s missing", file, h)
		}
	}
	if strings.Count(text, "{") != strings.Count(text, "}") {
		t.Errorf("%s: unbalanced braces", file)
	}
	var out []ptxEntry
	for _, m := range entryRE.FindAllStringSubmatch(text, -1) {
		e := ptxEntry{name: m[1]}
		for _, p := range paramRE.FindAllStringSubmatch(m[2], -1) {
			e.params = append(e.params, p[1])
		}
		out = append(out, e)
	}
	return out
}

func TestPTXEntriesMatchSpecs(t *testing.T) {
	seen := map[string]bool{}
	for _, mod := range Modules {
		text, err := PTX(mod.File)
		if err != nil {
			t.Fatal(err)
		}
		entries := parsePTX(t, mod.File, text)
		got := map[string]ptxEntry{}
		for _, e := range entries {
			got[e.name] = e
		}
		if len(entries) != len(mod.Kernels) {
			t.Errorf("%s: %d entries, Specs list %d", mod.File, len(entries), len(mod.Kernels))
		}
		for _, k := range mod.Kernels {
			if seen[k.Name] {
				t.Errorf("kernel %s listed twice", k.Name)
			}
			seen[k.Name] = true
			e, ok := got[k.Name]
			if !ok {
				t.Errorf("%s: no .entry %s", mod.File, k.Name)
				continue
			}
			if len(e.params) != len(k.Params) {
				t.Errorf("%s: %d params in PTX, %d in Spec %v", k.Name, len(e.params), len(k.Params), k.Params)
			}
			for i, ty := range e.params {
				switch ty {
				case ".u64", ".s64", ".b64", ".f64":
				default:
					t.Errorf("%s param %d has type %s: every parameter must be 8 bytes (gorgonia.org/cu copies 8 bytes)", k.Name, i, ty)
				}
			}
		}
		// The kernels keep their arrays in registers or shared memory;
		// a .local array would mean a stack spill of the accumulators.
		if strings.Contains(text, ".local") {
			t.Errorf("%s: uses .local memory", mod.File)
		}
	}
}

// TestPTXInSyncWithSources checks that each .cu file has a .ptx with the
// same kernels, with the same parameter count as the C signature, so that
// editing a .cu file without rerunning gen.sh is caught.
func TestPTXInSyncWithSources(t *testing.T) {
	sources, err := filepath.Glob("*.cu")
	if err != nil || len(sources) == 0 {
		t.Fatalf("no .cu sources: %v", err)
	}
	sigRE := regexp.MustCompile(`(?s)extern_c\s+__global__\s+void\s+(?:__launch_bounds__\(\d+\)\s+)?(\w+)\s*\(([^)]*)\)`)
	var fromSources []string
	for _, src := range sources {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		ptxName := strings.TrimSuffix(src, ".cu") + ".ptx"
		text, err := PTX(ptxName)
		if err != nil {
			t.Errorf("%s has no generated %s: %v", src, ptxName, err)
			continue
		}
		entries := map[string]ptxEntry{}
		for _, e := range parsePTX(t, ptxName, text) {
			entries[e.name] = e
		}
		for _, m := range sigRE.FindAllStringSubmatch(string(b), -1) {
			fromSources = append(fromSources, m[1])
			n := len(strings.Split(m[2], ","))
			e, ok := entries[m[1]]
			if !ok {
				t.Errorf("%s: kernel %s missing from %s (rerun gen.sh)", src, m[1], ptxName)
				continue
			}
			if len(e.params) != n {
				t.Errorf("%s: %s has %d params in C, %d in PTX (rerun gen.sh)", src, m[1], n, len(e.params))
			}
		}
	}
	var fromSpecs []string
	for _, mod := range Modules {
		for _, k := range mod.Kernels {
			fromSpecs = append(fromSpecs, k.Name)
		}
	}
	sort.Strings(fromSources)
	sort.Strings(fromSpecs)
	if strings.Join(fromSources, " ") != strings.Join(fromSpecs, " ") {
		t.Errorf("kernels in .cu sources %v differ from Specs %v", fromSources, fromSpecs)
	}
}

func TestPTXMissingFile(t *testing.T) {
	if _, err := PTX("nope.ptx"); err == nil {
		t.Fatal("PTX of a missing file returned no error")
	}
}

// TestGrid1DCoversOnce emulates the grid-stride loop of the element-wise
// kernels and checks that every index is visited exactly once.
func TestGrid1DCoversOnce(t *testing.T) {
	for _, n := range []int{0, 1, 7, 255, 256, 257, 1000, 65535*256 + 3} {
		l := Grid1D(n)
		if n == 0 {
			if l.Grid.X != 0 {
				t.Errorf("Grid1D(0) grid %v", l.Grid)
			}
			continue
		}
		if l.Grid.X < 1 || l.Grid.X > EltMaxGrid || l.Block.X != EltBlock {
			t.Fatalf("Grid1D(%d) = %+v", n, l)
		}
		count := make([]uint8, n)
		stride := l.Grid.X * l.Block.X
		for b := 0; b < l.Grid.X; b++ {
			for th := 0; th < l.Block.X; th++ {
				for i := b*l.Block.X + th; i < n; i += stride {
					count[i]++
				}
			}
		}
		for i, c := range count {
			if c != 1 {
				t.Fatalf("Grid1D(%d): index %d visited %d times", n, i, c)
			}
		}
	}
}

func TestRowBlock(t *testing.T) {
	for _, c := range []struct{ rows, cols, block, grid int }{
		{1, 1, 32, 1}, {3, 32, 32, 3}, {3, 33, 64, 3}, {5, 77, 128, 5},
		{2, 512, 512, 2}, {2, 513, 1024, 2}, {1, 1 << 20, 1024, 1}, {100000, 10, 32, 65535}, {0, 5, 32, 0},
	} {
		l := RowBlock(c.rows, c.cols)
		if l.Block.X != c.block || l.Grid.X != c.grid {
			t.Errorf("RowBlock(%d, %d) = %+v, want block %d grid %d", c.rows, c.cols, l, c.block, c.grid)
		}
		if b := l.Block.X; b&(b-1) != 0 {
			t.Errorf("RowBlock(%d, %d): block %d not a power of two", c.rows, c.cols, b)
		}
	}
}

func TestSgemmGeometry(t *testing.T) {
	l := SgemmGeometry(4096, 4096)
	if l.Grid != (Dim3{32, 32, 1}) || l.Block != (Dim3{256, 1, 1}) {
		t.Errorf("SgemmGeometry(4096, 4096) = %+v", l)
	}
	l = SgemmGeometry(129, 1)
	if l.Grid != (Dim3{1, 2, 1}) {
		t.Errorf("SgemmGeometry(129, 1) = %+v", l)
	}
	defer func() {
		if recover() == nil {
			t.Error("SgemmGeometry with m beyond the grid limit did not panic")
		}
	}()
	SgemmGeometry(SgemmMaxDim+1, 1)
}

// emulateSgemm runs the algorithm of sgemm.cu on the CPU, block by block
// and thread by thread: the same tile-load index mapping (with edge
// zero-fill), the same shared-memory layout As[k][i], Bs[k][j], the same
// double-buffer schedule and the same 8x8 register blocks in four 4x4
// quarters, and the same masked epilogue. It validates the kernel's index
// arithmetic without a GPU; the device tests check the real kernel.
func emulateSgemm(transA, transB bool, m, n, k int, alpha float32, A []float32, lda int, B []float32, ldb int, beta float32, C []float32, ldc int) {
	l := SgemmGeometry(m, n)
	const bm, bn, bk = SgemmBM, SgemmBN, SgemmBK
	for by := 0; by < l.Grid.Y; by++ {
		for bx := 0; bx < l.Grid.X; bx++ {
			i0, j0 := by*bm, bx*bn
			var As, Bs [2][bk][bm]float32
			var acc [SgemmBlock][8][8]float32
			store := func(buf, k0 int) {
				for t := 0; t < SgemmBlock; t++ {
					aRow, aCol := t/2, (t%2)*4
					if transA {
						aRow, aCol = t/32, (t%32)*4
					}
					bRow, bCol := t/32, (t%32)*4
					if transB {
						bRow, bCol = t/2, (t%2)*4
					}
					for q := 0; q < 4; q++ {
						var ii, kk int
						if transA {
							kk, ii = k0+aRow, i0+aCol+q
						} else {
							ii, kk = i0+aRow, k0+aCol+q
						}
						var v float32
						if ii < m && kk < k {
							if transA {
								v = A[kk*lda+ii]
							} else {
								v = A[ii*lda+kk]
							}
						}
						if transA {
							As[buf][aRow][aCol+q] = v
						} else {
							As[buf][aCol+q][aRow] = v
						}
						var jj int
						if transB {
							jj, kk = j0+bRow, k0+bCol+q
						} else {
							kk, jj = k0+bRow, j0+bCol+q
						}
						v = 0
						if jj < n && kk < k {
							if transB {
								v = B[jj*ldb+kk]
							} else {
								v = B[kk*ldb+jj]
							}
						}
						if transB {
							Bs[buf][bCol+q][bRow] = v
						} else {
							Bs[buf][bRow][bCol+q] = v
						}
					}
				}
			}
			rowOf := func(ty, i int) int {
				if i < 4 {
					return ty*4 + i
				}
				return 64 + ty*4 + i - 4
			}
			store(0, 0)
			buf := 0
			for k0 := 0; k0 < k; k0 += bk {
				for t := 0; t < SgemmBlock; t++ {
					tx, ty := t%16, t/16
					for kk := 0; kk < bk; kk++ {
						for i := 0; i < 8; i++ {
							a := As[buf][kk][rowOf(ty, i)]
							for j := 0; j < 8; j++ {
								acc[t][i][j] = float32(math.FMA(float64(a), float64(Bs[buf][kk][rowOf(tx, j)]), float64(acc[t][i][j])))
							}
						}
					}
				}
				if k0+bk < k {
					store(buf^1, k0+bk)
					buf ^= 1
				}
			}
			for t := 0; t < SgemmBlock; t++ {
				tx, ty := t%16, t/16
				for i := 0; i < 8; i++ {
					ii := i0 + rowOf(ty, i)
					if ii >= m {
						continue
					}
					for j := 0; j < 8; j++ {
						jj := j0 + rowOf(tx, j)
						if jj >= n {
							continue
						}
						v := alpha * acc[t][i][j]
						if beta != 0 {
							v = beta*C[ii*ldc+jj] + v
						}
						C[ii*ldc+jj] = v
					}
				}
			}
		}
	}
}

// TestEmulatedSgemmMatchesNaive checks the emulation of sgemm.cu against a
// float64 triple loop on odd shapes, all four transposes, padded leading
// dimensions and beta 0 and non-zero.
func TestEmulatedSgemmMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, s := range [][3]int{{1, 1, 1}, {3, 5, 7}, {129, 131, 17}, {130, 257, 9}, {64, 200, 0}} {
		m, n, k := s[0], s[1], s[2]
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			for _, beta := range []float32{0, 0.5} {
				ta, tb := tr[0], tr[1]
				ar, ac := m, k
				if ta {
					ar, ac = k, m
				}
				br, bc := k, n
				if tb {
					br, bc = n, k
				}
				lda, ldb, ldc := ac+3, bc+1, n+2
				A := randSlice(rng, max(ar*lda, 1))
				B := randSlice(rng, max(br*ldb, 1))
				C := randSlice(rng, m*ldc)
				want := append([]float32(nil), C...)
				for i := 0; i < m; i++ {
					for j := 0; j < n; j++ {
						var s float64
						for p := 0; p < k; p++ {
							var a, b float32
							if ta {
								a = A[p*lda+i]
							} else {
								a = A[i*lda+p]
							}
							if tb {
								b = B[j*ldb+p]
							} else {
								b = B[p*ldb+j]
							}
							s += float64(a) * float64(b)
						}
						v := 1.5 * s
						if beta != 0 {
							v += float64(beta) * float64(want[i*ldc+j])
						}
						want[i*ldc+j] = float32(v)
					}
				}
				emulateSgemm(ta, tb, m, n, k, 1.5, A, lda, B, ldb, beta, C, ldc)
				for i := range C {
					if d := math.Abs(float64(C[i] - want[i])); d > 1e-5*(1+math.Abs(float64(want[i]))) {
						t.Fatalf("m=%d n=%d k=%d trans=%v beta=%v: C[%d] = %v, want %v", m, n, k, tr, beta, i, C[i], want[i])
					}
				}
			}
		}
	}
}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}
