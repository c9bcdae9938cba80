package realdata

import (
	"bytes"
	"compress/gzip"
	"image"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tinyBenchmark returns a 3-image, 1-task benchmark of 4×4 images.
func tinyBenchmark() *Benchmark {
	imgs := &Images{W: 4, H: 4, Pix: make([]uint8, 3*4*4*3)}
	for i := range imgs.Pix {
		imgs.Pix[i] = uint8(i * 7)
	}
	return &Benchmark{
		ImageSize: 4,
		Sources:   []Source{{ID: "s", Name: "synthetic", License: "CC0-1.0"}},
		Groups:    []string{"g"},
		Tasks: []Task{{ID: "g/t", Group: "g", Phrase: "thing recognition", Classes: []string{"a", "b"},
			Template: "a photo of a {}.", Metric: MetricAccuracy,
			Train: []Item{{0, 0}, {1, 1}}, Test: []Item{{2, 1}}}},
		ImageSources: []int{0, 0, 0},
		Images:       imgs,
	}
}

func TestBenchmarkRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.bin")
	want := tinyBenchmark()
	if err := WriteBenchmark(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := OpenBenchmark(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Images.Len() != 3 || !bytes.Equal(got.Images.Pix, want.Images.Pix) {
		t.Fatalf("pixels differ after round trip")
	}
	task := got.Task("g/t")
	if task == nil || task.Template != "a photo of a {}." || len(task.Train) != 2 || task.Test[0] != (Item{2, 1}) || task.Classes[1] != "b" {
		t.Fatalf("task differs after round trip: %+v", task)
	}
	if im := got.Image(1); im.W != 4 || im.H != 4 || !bytes.Equal(im.Pix, want.Images.Pix[48:96]) {
		t.Fatalf("Image(1) wrong: %+v", im)
	}
	if len(got.TasksIn("g")) != 1 || len(got.TasksIn("x")) != 0 {
		t.Fatal("TasksIn wrong")
	}
}

func TestPairsRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.bin")
	imgs := &Images{W: 2, H: 2, Pix: []uint8{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24}}
	want := &Pairs{ImageSize: 2, Sources: []Source{{ID: "s"}}, ImageSources: []int{0, 0},
		Captions: [][]string{{"a dog."}, {"a cat.", "the cat."}}, Images: imgs}
	if err := WritePairs(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := OpenPairs(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Len() != 2 || got.NumPairs() != 3 || got.Captions[1][1] != "the cat." || !bytes.Equal(got.Pixels(1), imgs.Pix[12:]) {
		t.Fatalf("pairs differ after round trip: %+v", got)
	}
	// A benchmark file is not a pairs file.
	bp := filepath.Join(t.TempDir(), "b.bin")
	if err := WriteBenchmark(bp, tinyBenchmark()); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenPairs(bp); err == nil || !strings.Contains(err.Error(), "kind") {
		t.Fatalf("OpenPairs(benchmark) error = %v, want kind mismatch", err)
	}
}

func TestCorruptFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.bin")
	if err := WriteBenchmark(good, tinyBenchmark()); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	// Uncompressed content, to corrupt inside the gzip stream.
	zr, _ := gzip.NewReader(bytes.NewReader(raw))
	plain, _ := io.ReadAll(zr)
	regz := func(b []byte) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(b)
		zw.Close()
		return buf.Bytes()
	}
	badMagic := append([]byte("NOTAPACK"), plain[8:]...)
	badTrailer := append(append([]byte{}, plain[:len(plain)-1]...), 'X')
	badIndex := bytes.Replace(plain, []byte(`"i":2`), []byte(`"i":9`), 1)
	flipped := append([]byte{}, raw...)
	flipped[len(flipped)-20] ^= 0xff // inside the compressed data or CRC
	cases := map[string][]byte{
		"empty":       {},
		"not gzip":    []byte("hello world, not a pack"),
		"truncated":   raw[:len(raw)/2],
		"no trailer":  regz(plain[:len(plain)-8]),
		"bad magic":   regz(badMagic),
		"bad trailer": regz(badTrailer),
		"bad index":   regz(badIndex),
		"bit flip":    flipped,
	}
	for name, data := range cases {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := OpenBenchmark(p)
		if err == nil {
			t.Errorf("%s: OpenBenchmark succeeded", name)
			continue
		}
		if !strings.Contains(err.Error(), "go run ./cmd/builddata") || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %q lacks file name or regenerate hint", name, err)
		}
	}
	if _, err := OpenBenchmark(filepath.Join(dir, "missing.bin")); err == nil || !strings.Contains(err.Error(), "go run ./cmd/builddata") {
		t.Errorf("missing file: error %v lacks regenerate hint", err)
	}
}

func TestValidateRejects(t *testing.T) {
	b := tinyBenchmark()
	b.Tasks[0].Classes = []string{"a", "a"}
	if err := WriteBenchmark(filepath.Join(t.TempDir(), "x.bin"), b); err == nil {
		t.Error("duplicate class names accepted")
	}
	b = tinyBenchmark()
	b.Tasks[0].Metric = "f1"
	if err := WriteBenchmark(filepath.Join(t.TempDir(), "x.bin"), b); err == nil {
		t.Error("unknown metric accepted")
	}
}

func TestFitSquare(t *testing.T) {
	// A 10×4 transparent image with an opaque red 4×2 block at (3,1).
	m := image.NewNRGBA(image.Rect(0, 0, 10, 4))
	for y := 1; y < 3; y++ {
		for x := 3; x < 7; x++ {
			m.SetNRGBA(x, y, color.NRGBA{255, 0, 0, 255})
		}
	}
	out := FitSquare(m, 4)
	// Trimmed to 4×2, centred on a white 4×4: rows 0 and 3 white, 1–2 red.
	for y := 0; y < 4; y++ {
		for x := 0; x < 4; x++ {
			p := out.Pix[3*(y*4+x):]
			want := [3]uint8{255, 255, 255}
			if y == 1 || y == 2 {
				want = [3]uint8{255, 0, 0}
			}
			if [3]uint8{p[0], p[1], p[2]} != want {
				t.Fatalf("pixel (%d,%d) = %v, want %v", x, y, p[:3], want)
			}
		}
	}
	// Half-transparent black over white gives mid grey.
	h := image.NewNRGBA(image.Rect(0, 0, 2, 2))
	for i := 0; i < 4; i++ {
		h.Pix[4*i+3] = 128
	}
	g := FitSquare(h, 2)
	if v := g.Pix[0]; v < 125 || v > 129 {
		t.Fatalf("composite over white = %d, want ~127", v)
	}
	if FitSquare(image.NewNRGBA(image.Rect(0, 0, 3, 3)), 2) != nil {
		t.Fatal("fully transparent image should give nil")
	}
	d := GrayToRGB([]uint8{10, 20, 30, 40}, 2, 2, 4)
	if d.Pix[3*(1*4+1)] != 10 || d.Pix[3*(2*4+2)] != 40 || d.Pix[0] != 0 {
		t.Fatalf("GrayToRGB padding wrong: %v", d.Pix)
	}
}

// TestShippedBenchmark checks realdata/assets/benchmark.bin (skipped when
// it has not been built) and, when pairs.bin is present, that no test image
// occurs in it.
func TestShippedBenchmark(t *testing.T) {
	path := filepath.Join("assets", "benchmark.bin")
	if _, err := os.Stat(path); err != nil {
		t.Skip("assets/benchmark.bin not built (go run ./cmd/builddata -out realdata/assets)")
	}
	b, err := OpenBenchmark(path)
	if err != nil {
		t.Fatal(err)
	}
	groups := map[string]int{}
	test := map[PixelHash]string{}
	for _, task := range b.Tasks {
		groups[task.Group]++
		if len(task.Classes) < 2 || len(task.Train) == 0 || len(task.Test) == 0 || len(task.Test) > 1000 {
			t.Errorf("%s: %d classes, %d train, %d test", task.ID, len(task.Classes), len(task.Train), len(task.Test))
		}
		if !strings.Contains(task.Template, "{}") || task.Phrase == "" {
			t.Errorf("%s: template %q phrase %q", task.ID, task.Template, task.Phrase)
		}
		for _, it := range task.Test {
			test[HashPixels(b.Pixels(it.Image))] = task.ID
		}
	}
	if groups["general"] < 5 || groups["nature"] < 5 || groups["attributes"] < 5 {
		t.Errorf("task counts per group %v", groups)
	}
	pp := filepath.Join("assets", "pairs.bin")
	if _, err := os.Stat(pp); err != nil {
		t.Logf("assets/pairs.bin absent: overlap check skipped")
		return
	}
	p, err := OpenPairs(pp)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < p.Len(); i++ {
		if id, ok := test[HashPixels(p.Pixels(i))]; ok {
			t.Fatalf("pairs image %d (%q) equals a test image of %s", i, p.Captions[i][0], id)
		}
	}
	t.Logf("%d tasks, %d benchmark images, %d test hashes; %d pair images checked", len(b.Tasks), b.Images.Len(), len(test), p.Len())
}
