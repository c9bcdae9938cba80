package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/softcpt/softcpt-go/clip/checkpoint"
	"github.com/softcpt/softcpt-go/experiment"
	"github.com/softcpt/softcpt-go/shipped"
)

// TestEncodeBulk encodes a file of texts that argv could not carry (line
// breaks, leading dashes, invalid UTF-8) and a folder of PNG, JPEG and GIF
// images in small batches with the embedded model, writes .safetensors,
// .npy and JSON, reads them back, and checks every row against the model
// run on that one input.
func TestEncodeBulk(t *testing.T) {
	dir := t.TempDir()
	imgDir := filepath.Join(dir, "imgs")
	var imgs []string
	for i, name := range []string{"b/red.png", "a/green.JPG", "c.gif", "a/sub/blue.jpeg", "a/notes.txt"} {
		p := filepath.Join(imgDir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		m := image.NewRGBA(image.Rect(0, 0, 40, 30))
		for y := 0; y < 30; y++ {
			for x := 0; x < 40; x++ {
				m.Set(x, y, color.RGBA{uint8(60 * i), uint8(5 * x), uint8(7 * y), 255})
			}
		}
		switch filepath.Ext(p) {
		case ".png":
			err = png.Encode(f, m)
		case ".JPG", ".jpeg":
			err = jpeg.Encode(f, m, nil)
		case ".gif":
			err = gif.Encode(f, m, nil)
		default:
			_, err = f.WriteString("not an image")
		}
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Ext(p) != ".txt" {
			imgs = append(imgs, p)
		}
	}
	wantImgs := []string{imgs[1], imgs[3], imgs[0], imgs[2]} // sorted paths
	texts := []string{"a photo of a\nred square", "--model /etc/passwd", "-", "", "a photo of a dog"}
	var jl strings.Builder
	for _, s := range texts {
		b, _ := json.Marshal(map[string]string{"text": s})
		jl.Write(append(b, '\n'))
	}
	jsonl := filepath.Join(dir, "texts.jsonl")
	os.WriteFile(jsonl, []byte(jl.String()), 0o644)
	lines := filepath.Join(dir, "more.txt")
	os.WriteFile(lines, []byte("-h\n\xff\xfe not utf-8\n"), 0o644)
	allTexts := append(append([]string{}, texts...), "-h", "\xff\xfe not utf-8")

	// The reference: each input alone, through the library.
	ref := func(images, texts []string) *experiment.Encoded {
		r, err := experiment.Encode(context.Background(), experiment.EncodeOptions{Images: images, Texts: texts})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	close := func(what string, got, want []float32) {
		t.Helper()
		for i := range want {
			if math.Abs(float64(got[i]-want[i])) > 1e-4*(1+math.Abs(float64(want[i]))) {
				t.Fatalf("%s: value %d = %v, want %v", what, i, got[i], want[i])
			}
		}
	}

	st := filepath.Join(dir, "out.safetensors")
	args := []string{"--images", imgDir, "--texts", jsonl, "--texts", lines, "--batch-size", "2", "--out", st}
	if err := cmdEncode(context.Background(), args); err != nil {
		t.Fatal(err)
	}
	sd, err := checkpoint.ReadSafetensors(st)
	if err != nil {
		t.Fatal(err)
	}
	m, err := shipped.OpenModel("", "")
	if err != nil {
		t.Fatal(err)
	}
	E := m.CLIP.Config.EmbedDim
	imf, txf, sim := sd.Tensors["image_features"], sd.Tensors["text_features"], sd.Tensors["similarity"]
	if imf == nil || txf == nil || sim == nil {
		t.Fatalf("safetensors keys %v", sd.Keys)
	}
	if got := imf.Shape(); got[0] != len(wantImgs) || got[1] != E {
		t.Errorf("image_features shape %v", got)
	}
	if got := txf.Shape(); got[0] != len(allTexts) || got[1] != E {
		t.Errorf("text_features shape %v", got)
	}
	if got := sim.Shape(); got[0] != len(wantImgs) || got[1] != len(allTexts) {
		t.Errorf("similarity shape %v", got)
	}
	var names []string
	if err := json.Unmarshal([]byte(sd.Metadata["images"]), &names); err != nil || strings.Join(names, "|") != strings.Join(wantImgs, "|") {
		t.Errorf("image names %q (%v), want %q", names, err, wantImgs)
	}
	if err := json.Unmarshal([]byte(sd.Metadata["texts"]), &names); err != nil || len(names) != len(allTexts) || strings.Join(names[:6], "|") != strings.Join(allTexts[:6], "|") {
		t.Errorf("text names %q (%v), want %q", names, err, allTexts)
	}
	for i, p := range wantImgs {
		close("image "+p, imf.Data()[i*E:(i+1)*E], ref([]string{p}, nil).ImageFeatures[0])
	}
	for j, s := range allTexts {
		close("text "+s, txf.Data()[j*E:(j+1)*E], ref(nil, []string{s}).TextFeatures[0])
	}

	// .npy: images only, with the row names beside.
	npy := filepath.Join(dir, "imgs.npy")
	if err := cmdEncode(context.Background(), []string{"--images", imgDir, "--out", npy}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(npy)
	if err != nil {
		t.Fatal(err)
	}
	hl := int(binary.LittleEndian.Uint16(b[8:10]))
	if h := string(b[10 : 10+hl]); !strings.Contains(h, "'shape': (4, 128)") || !strings.Contains(h, "'<f4'") {
		t.Errorf("npy header %q", h)
	}
	got := make([]float32, (len(b)-10-hl)/4)
	for i := range got {
		got[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[10+hl+4*i:]))
	}
	close("npy", got, imf.Data())
	var side struct {
		Kind string
		Rows []string
	}
	sb, _ := os.ReadFile(filepath.Join(dir, "imgs.rows.json"))
	if err := json.Unmarshal(sb, &side); err != nil || side.Kind != "images" || strings.Join(side.Rows, "|") != strings.Join(wantImgs, "|") {
		t.Errorf("npy row names %s (%v)", sb, err)
	}
	if err := cmdEncode(context.Background(), []string{"--images", imgDir, "--texts", jsonl, "--out", filepath.Join(dir, "both.npy")}); err == nil || !strings.Contains(err.Error(), "one array") {
		t.Errorf("images and texts into one .npy: error %v", err)
	}

	// JSON, from a list file of images and a JSON array of texts.
	list := filepath.Join(dir, "list.txt")
	os.WriteFile(list, []byte("imgs/c.gif\n"), 0o644)
	arr := filepath.Join(dir, "t.json")
	os.WriteFile(arr, []byte(`["two\nlines"]`), 0o644)
	js := filepath.Join(dir, "out.json")
	if err := cmdEncode(context.Background(), []string{"--images", list, "--texts", arr, "--out", js}); err != nil {
		t.Fatal(err)
	}
	var enc experiment.Encoded
	jb, _ := os.ReadFile(js)
	if err := json.Unmarshal(jb, &enc); err != nil || len(enc.ImageFeatures) != 1 || len(enc.TextFeatures) != 1 || enc.Texts[0] != "two\nlines" || len(enc.Similarity) != 1 {
		t.Fatalf("JSON output %.200s (%v)", jb, err)
	}
	close("JSON image", enc.ImageFeatures[0], imf.Data()[3*E:4*E])

	for _, bad := range [][]string{{"--texts", filepath.Join(dir, "missing.txt")}, {"--images", filepath.Join(dir, "nowhere")}, {"stray"}} {
		if err := cmdEncode(context.Background(), bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
