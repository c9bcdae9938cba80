package realdata

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/softcpt/softcpt-go/internal/hostile"
)

// gzipped returns b as a gzip stream.
func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// hostileHeader is the plain content of a pack whose image header declares
// n images of w×h with no pixels after it.
func hostileHeader(n, w, h uint32) []byte {
	b := append([]byte(nil), packMagic[:]...)
	b = binary.LittleEndian.AppendUint32(b, packVersion)
	b = binary.LittleEndian.AppendUint32(b, 2)
	b = append(b, "{}"...)
	for _, v := range []uint32{n, w, h} {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return b
}

// TestHostilePackHeader: a pack of a few dozen bytes declaring 4 GiB of
// pixels (or 256 MiB of metadata) fails before allocating them.
func TestHostilePackHeader(t *testing.T) {
	dir := t.TempDir()
	meta := append(append([]byte(nil), packMagic[:]...), 1, 0, 0, 0, 0, 0, 0, 16)
	for name, plain := range map[string][]byte{"pixels": hostileHeader(4096, 1024, 341), "metadata": meta} {
		p := filepath.Join(dir, name+".bin")
		if err := os.WriteFile(p, gzipped(plain), 0o644); err != nil {
			t.Fatal(err)
		}
		el, alloc, err := hostile.Cost(func() error {
			_, err := OpenBenchmark(p)
			return err
		})
		t.Logf("%s: %v in %v, %d bytes allocated", name, err, el, alloc)
		if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "budget") {
			t.Errorf("%s: error %v, want one naming %s and the budget", name, err, p)
		}
		if el > 2*time.Second || alloc > 8<<20 {
			t.Errorf("%s: took %v and %d bytes", name, el, alloc)
		}
	}
}

// FuzzReadPack reads arbitrary bytes as a pack file (benchmark.bin or
// pairs.bin): errors must name the file, never panic or allocate beyond
// the budget.
func FuzzReadPack(f *testing.F) {
	dir := f.TempDir()
	good := filepath.Join(dir, "good.bin")
	if err := WriteBenchmark(good, tinyBenchmark()); err != nil {
		f.Fatal(err)
	}
	raw, err := os.ReadFile(good)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	if b, err := os.ReadFile(filepath.Join("assets", "benchmark.bin")); err == nil {
		f.Add(b[:min(len(b), 4096)]) // a truncated shipped pack
	}
	f.Add(gzipped(hostileHeader(4096, 1024, 341)))
	f.Add(gzipped(hostileHeader(1, 1, 1)))
	f.Add(gzipped(hostileHeader(0xffffffff, 0xffffffff, 0xffffffff)))
	f.Add([]byte("not gzip"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "fuzz.bin")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		var meta map[string]any
		imgs, err := readPack(p, &meta)
		if err != nil {
			if !strings.Contains(err.Error(), p) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if imgs.Len()*imgs.W*imgs.H*3 != len(imgs.Pix) {
			t.Fatalf("%d pixel bytes for %d images of %dx%d", len(imgs.Pix), imgs.Len(), imgs.W, imgs.H)
		}
	})
}
