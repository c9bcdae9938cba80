package checkpoint_test

import (
	"archive/zip"
	"bufio"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"testing"
	"time"

	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/clip/checkpoint"
	"github.com/softcpt/softcpt-go/tensor"
)

// writeFP16Archive writes a TorchScript-layout archive (NAME/data.pkl,
// NAME/constants.pkl, one uncompressed storage per tensor under
// NAME/data/, as torch.jit.save writes them) holding the parameters of
// cfg as fp16 storages (OpenAI's released weights are fp16), with values
// of CLIP's scale. Its data.pkl is a state dict (an OrderedDict of
// _rebuild_tensor_v2 calls) rather than a module tree: the storages, the
// part of loading that costs, are read alike. It returns the number of
// elements written.
func writeFP16Archive(tb testing.TB, path string, cfg clip.Config) int64 {
	tb.Helper()
	keys, shapes := cfg.ParamShapes()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	zw := zip.NewWriter(bw)
	str := func(b []byte, s string) []byte {
		b = append(b, 'X')
		b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
		return append(b, s...)
	}
	ints := func(b []byte, v []int) []byte {
		b = append(b, '(')
		for _, x := range v {
			b = append(b, 'J')
			b = binary.LittleEndian.AppendUint32(b, uint32(x))
		}
		return append(b, 't')
	}
	const od = "ccollections\nOrderedDict\n)R"
	pkl := append([]byte{0x80, 2}, od+"("...)
	var total int64
	seed := uint32(1)
	for i, k := range keys {
		shape := shapes[k]
		n := tensor.Numel(shape)
		stride := make([]int, len(shape))
		for s, j := 1, len(shape)-1; j >= 0; j-- {
			stride[j], s = s, s*shape[j]
		}
		id := itoa(i)
		pkl = str(pkl, k)
		pkl = append(pkl, "ctorch._utils\n_rebuild_tensor_v2\n(("...)
		pkl = str(pkl, "storage")
		pkl = append(pkl, "ctorch\nHalfStorage\n"...)
		pkl = str(pkl, id)
		pkl = str(pkl, "cpu")
		pkl = append(pkl, 'J')
		pkl = binary.LittleEndian.AppendUint32(pkl, uint32(n))
		pkl = append(pkl, "tQK\x00"...)
		pkl = ints(pkl, shape)
		pkl = ints(pkl, stride)
		pkl = append(pkl, "\x89"+od+"tR"...)
		w, err := zw.CreateHeader(&zip.FileHeader{Name: "rn50/data/" + id, Method: zip.Store})
		if err != nil {
			tb.Fatal(err)
		}
		buf := make([]byte, 2*n)
		for j := 0; j < n; j++ {
			seed = seed*1664525 + 1013904223
			v := (float32(seed>>8)/(1<<24) - 0.5) * 0.04
			binary.LittleEndian.PutUint16(buf[2*j:], tensor.Float32ToFloat16(v))
		}
		if _, err := w.Write(buf); err != nil {
			tb.Fatal(err)
		}
		total += int64(n)
	}
	pkl = append(pkl, "u."...)
	for _, e := range []struct {
		name string
		data []byte
	}{{"rn50/data.pkl", pkl}, {"rn50/constants.pkl", []byte("\x80\x02).")}, {"rn50/version", []byte("3\n")}} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: zip.Store})
		if err == nil {
			_, err = w.Write(e.data)
		}
		if err != nil {
			tb.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		tb.Fatal(err)
	}
	return total
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// BenchmarkLoadRN50 loads an RN50-shaped archive of fp16 storages
// (writeFP16Archive: ~102M parameters, ~205 MB, in the page cache after
// it is written) with checkpoint.Load, each time into memory fresh from
// the OS: ns/op is the load time, MB/s the
// file's bytes per second, user-ms/op and sys-ms/op the process's CPU
// time per load (all goroutines).
func BenchmarkLoadRN50(b *testing.B) {
	path := filepath.Join(b.TempDir(), "rn50_fp16.pt")
	n := writeFP16Archive(b, path, clip.RN50())
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	b.ReportAllocs()
	var user, sys time.Duration
	b.ResetTimer()
	for range b.N {
		// Each load in fresh memory, as a process's first (and usually
		// only) load: the previous one's is returned to the OS first.
		b.StopTimer()
		runtime.GC()
		debug.FreeOSMemory()
		u0, s0 := processTimes()
		b.StartTimer()
		sd, err := checkpoint.Load(path)
		if err != nil {
			b.Fatal(err)
		}
		u1, s1 := processTimes()
		user, sys = user+u1-u0, sys+s1-s0
		if len(sd.Keys) == 0 || sd.DTypes[sd.Keys[0]] != "float16" {
			b.Fatalf("loaded %d tensors", len(sd.Keys))
		}
	}
	b.ReportMetric(float64(n)/1e6, "Mparams")
	if user+sys > 0 {
		b.ReportMetric(float64(user)/float64(b.N)/1e6, "user-ms/op")
		b.ReportMetric(float64(sys)/float64(b.N)/1e6, "sys-ms/op")
	}
}

// TestFP16Archive loads archives of writeFP16Archive's layout (the
// benchmark's check): a small one and, without -short, the benchmark's
// RN50, whose large tensors are read in parallel pieces; every element
// must be the scalar fp16 conversion of its stored bits.
func TestFP16Archive(t *testing.T) {
	small := clip.RN50()
	small.VisionWidth, small.VisionLayers, small.ImageResolution = 8, []int{1, 1, 1, 1}, 32
	small.TransformerWidth, small.TransformerLayers, small.EmbedDim, small.VocabSize = 16, 1, 8, 33
	t.Run("small", func(t *testing.T) { checkFP16Archive(t, small) })
	t.Run("RN50", func(t *testing.T) {
		if testing.Short() {
			t.Skip("-short: the 205 MB archive is skipped")
		}
		checkFP16Archive(t, clip.RN50())
	})
}

func checkFP16Archive(t *testing.T, cfg clip.Config) {
	path := filepath.Join(t.TempDir(), "a.pt")
	n := writeFP16Archive(t, path, cfg)
	sd, err := checkpoint.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	keys, shapes := cfg.ParamShapes()
	if sd.Format != checkpoint.FormatTorchScript || len(sd.Keys) != len(keys) {
		t.Fatalf("format %s, %d keys; want torchscript, %d", sd.Format, len(sd.Keys), len(keys))
	}
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var got int64
	for i, k := range keys {
		tt := sd.Tensors[k]
		if tt == nil || !slices.Equal(tt.Shape(), shapes[k]) {
			t.Fatalf("%s: %v, want shape %v", k, tt, shapes[k])
		}
		rc, err := zr.Open("rn50/data/" + itoa(i))
		if err != nil {
			t.Fatal(err)
		}
		raw := make([]byte, 2*tt.Numel())
		if _, err := io.ReadFull(rc, raw); err != nil {
			t.Fatal(err)
		}
		rc.Close()
		for j, v := range tt.Data() {
			if w := tensor.Float16ToFloat32(binary.LittleEndian.Uint16(raw[2*j:])); v != w {
				t.Fatalf("%s[%d] = %g, want %g", k, j, v, w)
			}
		}
		got += int64(tt.Numel())
	}
	if got != n {
		t.Errorf("%d elements loaded, %d written", got, n)
	}
}
