package data

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeFile writes content to path, creating parent folders.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// makeClassTree creates dir/<class>/img_<i>.jpg (empty files) with
// counts[class] images.
func makeClassTree(t *testing.T, dir string, counts map[string]int) {
	t.Helper()
	for c, n := range counts {
		for i := 0; i < n; i++ {
			writeFile(t, filepath.Join(dir, c, fmt.Sprintf("img_%03d.jpg", i)), "")
		}
	}
}

// loadDef parses definition JSON and loads it from root with cache dir
// cache.
func loadDef(t *testing.T, root, cache, def string) (*Benchmark, error) {
	t.Helper()
	d, err := ParseDefinition([]byte(def), "test-def.json")
	if err != nil {
		t.Fatalf("ParseDefinition: %v", err)
	}
	return LoadBenchmark(d, Options{Root: root, CacheDir: cache})
}

// mustErr fails unless err is non-nil and contains every want string.
func mustErr(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want error containing %q, got nil", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("error %q does not contain %q", err, w)
		}
	}
}

// classCounts returns the number of items per label.
func classCounts(items []Item, n int) []int {
	c := make([]int, n)
	for _, it := range items {
		c[it.Label]++
	}
	return c
}

func itemsEqual(a, b []Item) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
