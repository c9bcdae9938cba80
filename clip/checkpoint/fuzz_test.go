package checkpoint

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/softcpt/softcpt-go/tensor"
)

// pklOf returns the data.pkl bytes of a fixture archive.
func pklOf(f *testing.F, name string) []byte {
	f.Helper()
	zr, err := zip.OpenReader(filepath.Join(fixtures, name))
	if err != nil {
		f.Fatal(err)
	}
	defer zr.Close()
	for _, e := range zr.File {
		if strings.HasSuffix(e.Name, "/data.pkl") {
			rc, err := e.Open()
			if err != nil {
				f.Fatal(err)
			}
			var b bytes.Buffer
			b.ReadFrom(rc)
			rc.Close()
			return b.Bytes()
		}
	}
	f.Fatalf("%s has no data.pkl", name)
	return nil
}

// FuzzPickle runs the pickle machine with PyTorch's allow-list and the
// tensor-tree walk on arbitrary bytes: errors are fine, panics are not.
func FuzzPickle(f *testing.F) {
	f.Add(pklOf(f, "misc_views.pt"))
	f.Add(pklOf(f, "misc_scripted.pt"))
	f.Add([]byte("\x80\x04\x95\x0a\x00\x00\x00\x00\x00\x00\x00}\x94(K\x01]\x94(K\x02\x85eu."))
	f.Add([]byte("(((((((t."))  // nested marks
	f.Add(sharedListPickle(60)) // 2^60 paths through shared lists
	f.Add(dictPickle(1000))     // SETITEM one key at a time
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := unpickleTorch(data, DefaultLimits)
		if err != nil {
			return
		}
		_ = newWalker("fuzz.pkl", DefaultMaxNodes, func(string, *tensorRef) error { return nil }).walk(v, 0)
	})
}

// FuzzSafetensors reads arbitrary bytes as a safetensors file.
func FuzzSafetensors(f *testing.F) {
	var buf bytes.Buffer
	ts := map[string]*tensor.Tensor{"a": tensor.FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3), "s": tensor.Scalar(2)}
	if err := EncodeSafetensors(&buf, ts, []string{"a", "s"}, map[string]string{"k": "v"}); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	for _, name := range []string{"corrupt_header.safetensors", "corrupt_short.safetensors"} {
		b, err := os.ReadFile(filepath.Join(fixtures, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("\x40\x00\x00\x00\x00\x00\x00\x00{\"x\":{\"dtype\":\"F16\",\"shape\":[1,1],\"data_offsets\":[0,2]}}\x00\x3c"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sd, err := Read(bytes.NewReader(data), int64(len(data)), "fuzz.safetensors")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.safetensors") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, k := range sd.Keys {
			if sd.Tensors[k].Numel() != len(sd.Tensors[k].Data()) {
				t.Fatalf("%s: bad tensor", k)
			}
		}
	})
}

// FuzzTorchZip reads arbitrary bytes as a checkpoint, seeded with the small
// torch.save and TorchScript fixtures.
func FuzzTorchZip(f *testing.F) {
	for _, name := range []string{"misc_views.pt", "misc_scripted.pt", "corrupt_foreign.zip"} {
		b, err := os.ReadFile(filepath.Join(fixtures, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	// Hostile archives, small: 2^60 paths through shared lists, and
	// entries whose declared sizes (1000 MiB of pickle, 1 GiB of storage)
	// are far beyond what the file holds.
	f.Add(buildZip(f, zipEntry{name: "archive/data.pkl", data: sharedListPickle(60)}))
	small := deflatedZeros("archive/data.pkl", 1000)
	small.size = 1000 << 20
	f.Add(buildZip(f, small))
	storage := deflatedZeros("archive/data/0", 4000)
	storage.size = 1 << 30
	f.Add(buildZip(f, zipEntry{name: "archive/data.pkl", data: stateDictPickle(1 << 28)}, storage))
	f.Add(buildZip(f, zipEntry{name: "archive/data.pkl", data: viewPickle(1<<28, 4)}, storage))
	f.Add(buildZip(f, zipEntry{name: "archive/data.pkl", data: dictPickle(300)}))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := Read(bytes.NewReader(data), int64(len(data)), "fuzz.pt")
		if err != nil && !strings.Contains(err.Error(), "fuzz.pt") {
			t.Fatalf("error does not name the file: %v", err)
		}
	})
}

// BenchmarkLoadTorchScript loads the ResNet CLIP TorchScript fixture
// (MB/s of archive). Set CLIP_BENCH_ARCHIVE to a larger archive (e.g. a
// generated RN50-sized one) to measure that instead.
func BenchmarkLoadTorchScript(b *testing.B) {
	path := filepath.Join(fixtures, "rn_jit_fp32.pt")
	if p := os.Getenv("CLIP_BENCH_ARCHIVE"); p != "" {
		path = p
	}
	st, err := os.Stat(path)
	if err != nil {
		b.Skipf("archive not available: %v", err)
	}
	b.SetBytes(st.Size())
	b.ReportAllocs()
	for b.Loop() {
		sd, err := Load(path)
		if err != nil {
			b.Fatal(err)
		}
		if len(sd.Keys) == 0 {
			b.Fatal("no tensors")
		}
	}
	b.ReportMetric(float64(st.Size())/1e6, "archive-MB")
}
