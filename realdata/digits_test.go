package realdata

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// TestDrawPerClass checks the digit draw: the first perClass indices of
// every label in permutation order, a skipped index replaced by the next
// one of its label and no other draw moved.
func TestDrawPerClass(t *testing.T) {
	labels := []uint8{0, 1, 0, 1, 0, 1, 2, 0}
	perm := []int{7, 1, 0, 3, 6, 4, 2, 5}
	none := func(int) bool { return false }
	if got, want := drawPerClass(perm, labels, 2, none), []int{7, 1, 0, 3, 6}; !slices.Equal(got, want) {
		t.Errorf("no skips: %v, want %v", got, want)
	}
	skip0 := func(i int) bool { return i == 0 }
	if got, want := drawPerClass(perm, labels, 2, skip0), []int{7, 1, 3, 6, 4}; !slices.Equal(got, want) {
		t.Errorf("index 0 skipped: %v, want %v", got, want)
	}
	if got := drawPerClass(perm, labels, 0, none); len(got) != 0 {
		t.Errorf("perClass 0: %v", got)
	}
}

// TestBuildNeedsHeldOutPairs checks that a benchmark-only build whose
// held-out pairs file is missing fails at once, naming the file, instead
// of drawing other digit pools (a build to an empty -out did that).
func TestBuildNeedsHeldOutPairs(t *testing.T) {
	dir := t.TempDir()
	err := Build(Config{Out: filepath.Join(dir, "out"), Cache: filepath.Join(dir, "cache")})
	want := filepath.Join(dir, "out", "pairs.bin")
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Build without %s: %v, want an error naming it", want, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "cache")); err == nil {
		t.Errorf("Build fetched sources before failing")
	}
}

// goModCacheDir returns the module-cache directory of module@version, as
// `go mod download` lays it out (upper-case letters escaped as !lower).
func goModCacheDir(modVersion string) string {
	root := os.Getenv("GOMODCACHE")
	if root == "" {
		gopath := filepath.SplitList(os.Getenv("GOPATH"))
		if len(gopath) > 0 && gopath[0] != "" {
			root = filepath.Join(gopath[0], "pkg", "mod")
		} else if home, err := os.UserHomeDir(); err == nil {
			root = filepath.Join(home, "go", "pkg", "mod")
		}
	}
	var esc strings.Builder
	for _, r := range modVersion {
		if unicode.IsUpper(r) {
			esc.WriteByte('!')
			r = unicode.ToLower(r)
		}
		esc.WriteRune(r)
	}
	return filepath.Join(root, filepath.FromSlash(esc.String()))
}

// TestShippedDigitPools replays the builder's digit draws from the cached
// sources (skipped without them: go run ./cmd/builddata fills the cache)
// and checks that they give the shipped benchmark's Fashion-MNIST and MNIST
// tasks image for image, and that without the held-out pairs.bin the MNIST
// pool differs (a rebuild that does not skip pretraining duplicates does
// not reproduce benchmark.bin).
func TestShippedDigitPools(t *testing.T) {
	shipped, pairsPath := filepath.Join("assets", "benchmark.bin"), filepath.Join("assets", "pairs.bin")
	for _, p := range []string{shipped, pairsPath} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("%s absent", p)
		}
	}
	home, err := os.UserCacheDir()
	if err != nil {
		t.Skip(err)
	}
	f := &Fetcher{Cache: filepath.Join(home, "softcpt-builddata")}
	mnistDir := goModCacheDir(goMNISTModule)
	for _, p := range []string{
		filepath.Join(f.Root(), "usr", "share", "datasets", "fashion-mnist", "train-images-idx3-ubyte.gz"),
		filepath.Join(mnistDir, "data", "train-images-idx3-ubyte.gz"),
	} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("digit sources not cached (%v): go run ./cmd/builddata fetches them", err)
		}
	}
	bench, err := OpenBenchmark(shipped)
	if err != nil {
		t.Fatal(err)
	}
	held, err := pairHashes(pairsPath)
	if err != nil {
		t.Fatal(err)
	}
	draw := func(held map[PixelHash]bool) *builder {
		b := newBuilder(Config{Cache: f.Cache}.withDefaults(), f, held)
		if err := b.digits(mnistDir); err != nil {
			t.Fatal(err)
		}
		return b
	}
	// differ counts, per digit task of b, the training and test items whose
	// image index, label or pixels differ from the shipped task's.
	differ := func(b *builder) map[string]int {
		n := map[string]int{}
		for _, task := range b.tasks {
			st := bench.Task(task.ID)
			if st == nil || len(st.Train) != len(task.Train) || len(st.Test) != len(task.Test) {
				t.Fatalf("task %s: the shipped benchmark's has other sizes (or is missing)", task.ID)
			}
			n[task.ID] = 0
			for i, it := range append(slices.Clone(task.Train), task.Test...) {
				s := st.Train
				if i >= len(task.Train) {
					s, i = st.Test, i-len(task.Train)
				}
				if it != s[i] || it.Image >= bench.Images.Len() || !slices.Equal(b.bench.pixels(it.Image), bench.Pixels(it.Image)) {
					n[task.ID]++
				}
			}
		}
		return n
	}
	if n := differ(draw(held)); len(n) != 2 || n["general/fashion-products"] != 0 || n["general/handwritten-digits"] != 0 {
		t.Errorf("items differing from the shipped digit tasks: %v, want none in both", n)
	}
	n := differ(draw(nil))
	if n["general/handwritten-digits"] == 0 {
		t.Errorf("without the held-out pairs the MNIST pool is still the shipped one: the test cannot see a missing skip")
	}
	t.Logf("without the held-out pairs, items differing from the shipped digit tasks: %v", n)
}
