package realdata

import (
	"bytes"
	"compress/gzip"
	"image"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"slices"
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
// it has not been built): every task has at least MinShots training images
// per class (or is marked outside the shot curve), at least 4 test images
// per class and at most 1000 in all, at most 100 classes; training pool
// and test set are disjoint (by image and by pixel hash) and the test
// images come from the sources of the training pool; the general set has
// 100–200 classes (the demo's cost grows with its square). When pairs.bin is present, no benchmark image (training
// pools and tests) occurs in it.
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
	classes := map[string]int{}
	all := map[PixelHash]string{}
	for _, task := range b.Tasks {
		groups[task.Group]++
		classes[task.Group] += len(task.Classes)
		if len(task.Classes) < 2 || len(task.Classes) > 100 || len(task.Test) > 1000 {
			t.Errorf("%s: %d classes, %d test", task.ID, len(task.Classes), len(task.Test))
		}
		if m := task.MinTrainPerClass(); m < MinShots && !task.OutsideShotCurve {
			t.Errorf("%s: a class has %d training images (< %d) and the task is not marked outside the shot curve", task.ID, m, MinShots)
		}
		perClass := make([]int, len(task.Classes))
		for _, it := range task.Test {
			perClass[it.Label]++
		}
		for c, n := range perClass {
			if n < 4 {
				t.Errorf("%s: class %q has %d test images", task.ID, task.Classes[c], n)
			}
		}
		if !strings.Contains(task.Template, "{}") || task.Phrase == "" {
			t.Errorf("%s: template %q phrase %q", task.ID, task.Template, task.Phrase)
		}
		trainImg := map[int]bool{}
		trainHash := map[PixelHash]bool{}
		trainSrc := map[int]bool{}
		for _, it := range task.Train {
			trainImg[it.Image] = true
			trainHash[HashPixels(b.Pixels(it.Image))] = true
			trainSrc[b.ImageSources[it.Image]] = true
			all[HashPixels(b.Pixels(it.Image))] = task.ID + " train"
		}
		for _, it := range task.Test {
			h := HashPixels(b.Pixels(it.Image))
			if trainImg[it.Image] || trainHash[h] {
				t.Fatalf("%s: test image %d is also in the training pool", task.ID, it.Image)
			}
			if s := b.ImageSources[it.Image]; !trainSrc[s] {
				t.Errorf("%s: test image %d comes from %s, which the training pool does not use", task.ID, it.Image, b.Sources[s].ID)
			}
			all[h] = task.ID + " test"
		}
	}
	if groups["general"] < 5 || groups["nature"] < 5 || groups["attributes"] < 5 {
		t.Errorf("task counts per group %v", groups)
	}
	if n := classes["general"]; n < 100 || n > 200 {
		t.Errorf("general set has %d classes, want 100-200", n)
	}
	// The general set's flags are a subset of the attributes set's, with
	// the same images (the first draws of one seeded permutation).
	if g, a := b.Task("general/country-flags"), b.Task("attributes/flag-country"); g == nil || a == nil {
		t.Errorf("flag tasks missing")
	} else {
		attr := map[string][]int{}
		for _, it := range a.Train {
			attr[a.Classes[it.Label]] = append(attr[a.Classes[it.Label]], it.Image)
		}
		gen := map[string][]int{}
		for _, it := range g.Train {
			gen[g.Classes[it.Label]] = append(gen[g.Classes[it.Label]], it.Image)
		}
		for c, imgs := range gen {
			if !slices.Equal(imgs, attr[c]) {
				t.Errorf("general/country-flags class %q: training images %v, attributes/flag-country's %v", c, imgs, attr[c])
			}
		}
		if len(g.Classes) >= len(a.Classes) {
			t.Errorf("general set has %d flag classes, the attributes set %d", len(g.Classes), len(a.Classes))
		}
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
	words := map[string]bool{}
	for i := 0; i < p.Len(); i++ {
		if id, ok := all[HashPixels(p.Pixels(i))]; ok {
			t.Fatalf("pairs image %d (%q) equals a benchmark image of %s", i, p.Captions[i][0], id)
		}
		for _, c := range p.Captions[i] {
			for _, w := range strings.FieldsFunc(strings.ToLower(c), func(r rune) bool { return r == ' ' || r == ',' || r == '.' || r == ':' }) {
				words[w] = true
			}
		}
	}
	// Task names are read by the small CLIP pretrained on these captions:
	// a word it never saw ("recognition" was one) makes every task prompt
	// encode alike, and SoftCPT's meta network sees nothing but these.
	for _, task := range b.Tasks {
		for _, w := range strings.Fields(task.Phrase) {
			if !words[w] {
				t.Errorf("%s: task name %q has the word %q, which no pretraining caption has", task.ID, task.Phrase, w)
			}
		}
	}
	t.Logf("%d tasks, %d benchmark images, %d distinct hashes; %d pair images checked; classes per group %v", len(b.Tasks), b.Images.Len(), len(all), p.Len(), classes)
}

// TestMinTrainPerClass checks the smallest class count of a task's pool,
// including a class with no training image.
func TestMinTrainPerClass(t *testing.T) {
	task := &Task{Classes: []string{"a", "b", "c"}, Train: []Item{{0, 0}, {1, 0}, {2, 1}, {3, 2}, {4, 2}}}
	if m := task.MinTrainPerClass(); m != 1 {
		t.Errorf("MinTrainPerClass = %d, want 1", m)
	}
	task.Classes = append(task.Classes, "d")
	if m := task.MinTrainPerClass(); m != 0 {
		t.Errorf("with an empty class MinTrainPerClass = %d, want 0", m)
	}
}
