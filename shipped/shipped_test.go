package shipped

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/realdata"
	"github.com/softcpt/softcpt-go/realdata/assets"
)

// repo is the repository root seen from this package's folder.
const repo = ".."

// TestOpenModelEmbedded opens the embedded model and checks what its
// metadata says and that the tokenizer belongs to it.
func TestOpenModelEmbedded(t *testing.T) {
	m, err := OpenModel("", "")
	if err != nil {
		t.Fatal(err)
	}
	if m.ModelSource != "embedded "+ModelFile || m.BPESource != "embedded "+BPEFile {
		t.Errorf("sources %q, %q", m.ModelSource, m.BPESource)
	}
	if m.Tokenizer.VocabSize() != m.CLIP.Config.VocabSize || m.CLIP.Config.ContextLength != 32 {
		t.Errorf("vocab %d/%d, context %d", m.Tokenizer.VocabSize(), m.CLIP.Config.VocabSize, m.CLIP.Config.ContextLength)
	}
	if !strings.Contains(m.Metadata[MetaPretrainedOn], "captions") {
		t.Errorf("%s = %q", MetaPretrainedOn, m.Metadata[MetaPretrainedOn])
	}
	n, rule, err := m.DefaultNCtx()
	if err != nil || n != 4 || !strings.Contains(rule, MetaNCtx) || !strings.Contains(rule, "few words") {
		t.Errorf("DefaultNCtx = %d, %q, %v; want 4 from the metadata", n, rule, err)
	}
}

// TestOpenModelPathWins checks that an explicit path is read from disk,
// that the BPE file the metadata names is found beside the model, and that
// the file gives the same features as the embedded copy.
func TestOpenModelPathWins(t *testing.T) {
	path := filepath.Join(repo, ModelFile)
	m, err := OpenModel(path, "")
	if err != nil {
		t.Fatal(err)
	}
	if m.ModelSource != path || m.BPESource != filepath.Join(repo, BPEFile) {
		t.Errorf("sources %q, %q", m.ModelSource, m.BPESource)
	}
	e, err := OpenModel("", "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Tokenizer.Tokenize([]string{"a picture of a rooster."}, m.CLIP.Config.ContextLength, false)
	if err != nil {
		t.Fatal(err)
	}
	got := m.CLIP.EncodeText(b.IDs, b.Rows, b.ContextLength).Data()
	want := e.CLIP.EncodeText(b.IDs, b.Rows, b.ContextLength).Data()
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("feature %d: file %v, embedded %v", i, got[i], want[i])
		}
	}
	// An explicit BPE path wins over the metadata.
	m, err = OpenModel(path, filepath.Join(repo, BPEFile))
	if err != nil || m.BPESource != filepath.Join(repo, BPEFile) {
		t.Fatalf("explicit BPE: %v, %q", err, m.BPESource)
	}
}

// writeModel saves a small random model with the given metadata and
// returns its path.
func writeModel(t *testing.T, md map[string]string) string {
	t.Helper()
	cfg := clip.Config{EmbedDim: 16, ImageResolution: 32, VisionLayers: []int{1, 1, 1, 1}, VisionWidth: 8, VisionHeads: 4,
		ContextLength: 20, VocabSize: 300, TransformerWidth: 32, TransformerHeads: 2, TransformerLayers: 2}
	path := filepath.Join(t.TempDir(), "small.safetensors")
	if err := clip.NewRandom(cfg, 1).Save(path, md); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestOpenModelErrors checks that every failure names the file involved.
func TestOpenModelErrors(t *testing.T) {
	small := writeModel(t, nil)
	cases := []struct {
		name, model, bpe string
		want             []string
	}{
		{"missing model", "no/such/model.pt", "", []string{"no/such/model.pt"}},
		{"no BPE named", small, "", []string{small, "names no BPE file"}},
		{"missing BPE", small, "no/such/bpe.txt.gz", []string{"no/such/bpe.txt.gz", small}},
		{"mismatched BPE", small, filepath.Join(repo, BPEFile), []string{BPEFile, small, "do not belong together"}},
		{"BPE named but absent", writeModel(t, map[string]string{MetaBPE: "merges.txt"}), "", []string{"merges.txt"}},
	}
	for _, c := range cases {
		_, err := OpenModel(c.model, c.bpe)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not name %q", c.name, err, w)
			}
		}
	}
}

// TestDefaultNCtx checks the rule: the metadata's value when present and
// valid, 16 when absent, an error naming the key otherwise.
func TestDefaultNCtx(t *testing.T) {
	cfg := clip.Config{ContextLength: 32}
	cases := []struct {
		md   map[string]string
		want int
		err  bool
	}{
		{nil, 16, false},
		{map[string]string{"vision_heads": "8"}, 16, false},
		{map[string]string{MetaNCtx: "4"}, 4, false},
		{map[string]string{MetaNCtx: "29"}, 29, false},
		{map[string]string{MetaNCtx: "30"}, 0, true},
		{map[string]string{MetaNCtx: "0"}, 0, true},
		{map[string]string{MetaNCtx: "four"}, 0, true},
	}
	for _, c := range cases {
		m := &Model{CLIP: &clip.Model{Config: cfg}, Metadata: c.md, ModelSource: "m.safetensors"}
		n, rule, err := m.DefaultNCtx()
		if c.err {
			if err == nil || !strings.Contains(err.Error(), MetaNCtx) || !strings.Contains(err.Error(), "m.safetensors") {
				t.Errorf("%v: err = %v, want one naming %s and the file", c.md, err, MetaNCtx)
			}
			continue
		}
		if err != nil || n != c.want || rule == "" {
			t.Errorf("%v: DefaultNCtx = %d, %q, %v; want %d", c.md, n, rule, err, c.want)
		}
		if c.want == OpenAINCtx && !strings.Contains(rule, "OpenAI") {
			t.Errorf("%v: rule %q does not say it is OpenAI's default", c.md, rule)
		}
	}
}

// TestOpenBenchmark checks that the embedded benchmark is the file's and
// that a path wins.
func TestOpenBenchmark(t *testing.T) {
	e, src, err := OpenBenchmark("")
	if err != nil || src != "embedded "+BenchmarkFile {
		t.Fatalf("embedded: %v, %q", err, src)
	}
	path := filepath.Join(repo, BenchmarkFile)
	f, src, err := OpenBenchmark(path)
	if err != nil || src != path {
		t.Fatalf("file: %v, %q", err, src)
	}
	if len(e.Tasks) != len(f.Tasks) || len(e.Tasks) == 0 || !bytes.Equal(e.Images.Pix, f.Images.Pix) {
		t.Fatalf("embedded and file benchmarks differ: %d/%d tasks", len(e.Tasks), len(f.Tasks))
	}
	if _, _, err := OpenBenchmark("no/such/benchmark.bin"); err == nil || !strings.Contains(err.Error(), "no/such/benchmark.bin") {
		t.Errorf("missing file: err = %v", err)
	}
}

// TestReadBenchmarkCorrupt checks that a damaged copy is refused with an
// error naming it.
func TestReadBenchmarkCorrupt(t *testing.T) {
	data := assets.Benchmark()
	for _, bad := range []string{"", data[:len(data)/2], "not a pack"} {
		if _, err := realdata.ReadBenchmark(strings.NewReader(bad), "copy.bin"); err == nil || !strings.Contains(err.Error(), "copy.bin") {
			t.Errorf("%d bytes: err = %v", len(bad), err)
		}
	}
}
