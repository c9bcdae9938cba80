package checkpoint

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/softcpt/softcpt-go/tensor"
)

const fixtures = "../../testdata/clip"

type keyRecord struct {
	Key        string  `json:"key"`
	DType      string  `json:"dtype"`
	Shape      []int   `json:"shape"`
	SHA256     string  `json:"sha256_f32"`
	SHA256Orig string  `json:"sha256_fp32_original"`
	Sum        float64 `json:"sum"`
}

type valueRecord struct {
	DType  string    `json:"dtype"`
	Shape  []int     `json:"shape"`
	Values []float64 `json:"values"`
}

type keysFile struct {
	RN   struct{ Keys []keyRecord } `json:"rn"`
	ViT  struct{ Keys []keyRecord } `json:"vit"`
	Misc map[string]map[string]valueRecord
}

func loadKeys(t testing.TB) *keysFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, "keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	var k keysFile
	if err := json.Unmarshal(b, &k); err != nil {
		t.Fatal(err)
	}
	return &k
}

func mustLoad(t testing.TB, name string) *StateDict {
	t.Helper()
	sd, err := Load(filepath.Join(fixtures, name))
	if err != nil {
		t.Fatalf("Load(%s): %+v", name, err)
	}
	return sd
}

func sha(t *tensor.Tensor) string {
	h := sha256.New()
	var b [4]byte
	for _, v := range t.Contiguous().Data() {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
		h.Write(b[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}

func sameShape(a, b []int) bool {
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

// checkAgainst compares a state dict with the generator's key records:
// same key set, shapes, dtypes and exact float32 values (sha256).
func checkAgainst(t *testing.T, name string, sd *StateDict, recs []keyRecord) {
	t.Helper()
	if len(sd.Keys) != len(recs) || len(sd.Tensors) != len(recs) {
		t.Errorf("%s: %d keys (%d tensors), want %d", name, len(sd.Keys), len(sd.Tensors), len(recs))
	}
	for _, r := range recs {
		x, ok := sd.Tensors[r.Key]
		if !ok {
			t.Errorf("%s: missing key %s", name, r.Key)
			continue
		}
		if !sameShape(x.Shape(), r.Shape) {
			t.Errorf("%s: %s shape %v, want %v", name, r.Key, x.Shape(), r.Shape)
		}
		if sd.DTypes[r.Key] != r.DType {
			t.Errorf("%s: %s dtype %s, want %s", name, r.Key, sd.DTypes[r.Key], r.DType)
		}
		if got := sha(x); got != r.SHA256 {
			t.Errorf("%s: %s values differ from the generator's (sha256 %s, want %s)", name, r.Key, got[:12], r.SHA256[:12])
		}
	}
}

func TestRNAllFormats(t *testing.T) {
	keys := loadKeys(t)
	cases := []struct{ file, format string }{
		{"rn_jit_fp32.pt", FormatTorchScript},
		{"rn_state_dict.pt", FormatTorchZip},
		{"rn.safetensors", FormatSafetensors},
	}
	var sds []*StateDict
	for _, c := range cases {
		sd := mustLoad(t, c.file)
		if sd.Format != c.format {
			t.Errorf("%s: format %s, want %s", c.file, sd.Format, c.format)
		}
		checkAgainst(t, c.file, sd, keys.RN.Keys)
		sds = append(sds, sd)
	}
	// The three formats give bit-identical tensors.
	for _, k := range sds[0].Keys {
		a := sds[0].Tensors[k].Data()
		for i, sd := range sds[1:] {
			b := sd.Tensors[k].Data()
			for j := range a {
				if math.Float32bits(a[j]) != math.Float32bits(b[j]) {
					t.Fatalf("%s: %s[%d] = %v, %s has %v", cases[0].file, k, j, a[j], cases[i+1].file, b[j])
				}
			}
		}
	}
	// The state dict keeps torch's key order; so does safetensors (written
	// in that order by the generator).
	for i, r := range keys.RN.Keys {
		if sds[1].Keys[i] != r.Key || sds[2].Keys[i] != r.Key {
			t.Fatalf("key %d: %s / %s, want %s", i, sds[1].Keys[i], sds[2].Keys[i], r.Key)
		}
	}
	if sds[2].Metadata["format"] != "pt" {
		t.Errorf("safetensors metadata %v", sds[2].Metadata)
	}
	// A few known values.
	if v := sds[0].Tensors["logit_scale"].Item(); math.Abs(float64(v)-math.Log(100)) > 1e-6 {
		t.Errorf("logit_scale %v", v)
	}
	if v := sds[0].Tensors["vocab_size"].Item(); v != 49408 {
		t.Errorf("vocab_size %v", v)
	}
	if sd := sds[0]; sd.DTypes["visual.bn1.num_batches_tracked"] != "int64" {
		t.Errorf("num_batches_tracked dtype %s", sd.DTypes["visual.bn1.num_batches_tracked"])
	}
}

func TestViTFP16Archive(t *testing.T) {
	keys := loadKeys(t)
	sd := mustLoad(t, "vit_jit_fp16.pt")
	if sd.Format != FormatTorchScript {
		t.Errorf("format %s", sd.Format)
	}
	checkAgainst(t, "vit_jit_fp16.pt", sd, keys.ViT.Keys)
	counts := map[string]int{}
	for _, r := range keys.ViT.Keys {
		counts[r.DType]++
		x := sd.Tensors[r.Key]
		if r.DType != "float16" {
			if r.SHA256 != r.SHA256Orig {
				t.Errorf("%s: fp32 tensor differs from the original", r.Key)
			}
			continue
		}
		// Every value is exactly representable in fp16 (the archive
		// holds fp32 -> fp16 rounding of the original weights, which the
		// generator checked against torch's .half().float()).
		for i, v := range x.Data() {
			if tensor.Float16ToFloat32(tensor.Float32ToFloat16(v)) != v {
				t.Fatalf("%s[%d] = %v is not an fp16 value", r.Key, i, v)
			}
		}
	}
	if counts["float16"] == 0 || counts["float32"] == 0 || counts["int64"] != 3 {
		t.Errorf("dtype counts %v, want a mix of float16, float32 and 3 int64", counts)
	}
	for _, k := range []string{"visual.conv1.weight", "text_projection", "visual.proj", "transformer.resblocks.0.attn.in_proj_weight"} {
		if sd.DTypes[k] != "float16" {
			t.Errorf("%s dtype %s, want float16", k, sd.DTypes[k])
		}
	}
	for _, k := range []string{"ln_final.weight", "positional_embedding", "logit_scale", "token_embedding.weight"} {
		if sd.DTypes[k] != "float32" {
			t.Errorf("%s dtype %s, want float32", k, sd.DTypes[k])
		}
	}
}

func checkValues(t *testing.T, name string, sd *StateDict, want map[string]valueRecord) {
	t.Helper()
	if len(sd.Tensors) != len(want) {
		t.Errorf("%s: %d tensors %v, want %d", name, len(sd.Tensors), sd.Keys, len(want))
	}
	for k, w := range want {
		x, ok := sd.Tensors[k]
		if !ok {
			t.Errorf("%s: missing %s", name, k)
			continue
		}
		if !sameShape(x.Shape(), w.Shape) || sd.DTypes[k] != w.DType {
			t.Errorf("%s: %s shape %v dtype %s, want %v %s", name, k, x.Shape(), sd.DTypes[k], w.Shape, w.DType)
			continue
		}
		for i, v := range x.Data() {
			if v != float32(w.Values[i]) {
				t.Errorf("%s: %s[%d] = %v, want %v", name, k, i, v, w.Values[i])
				break
			}
		}
	}
}

func TestMiscViews(t *testing.T) {
	keys := loadKeys(t)
	sd := mustLoad(t, "misc_views.pt")
	if sd.Format != FormatTorchZip {
		t.Errorf("format %s", sd.Format)
	}
	checkValues(t, "misc_views.pt", sd, keys.Misc["misc_views.pt"])
	// Views of one storage are decoded independently into their own
	// contiguous tensors.
	if &sd.Tensors["base"].Storage()[0] == &sd.Tensors["row"].Storage()[0] {
		t.Error("views share float32 storage")
	}
	if want := []string{"base", "transposed", "narrow", "step", "row"}; !sameStrings(sd.Keys[:5], want) {
		t.Errorf("key order %v", sd.Keys)
	}
}

func sameStrings(a, b []string) bool {
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

func TestMiscScripted(t *testing.T) {
	keys := loadKeys(t)
	sd := mustLoad(t, "misc_scripted.pt")
	if sd.Format != FormatTorchScript {
		t.Errorf("format %s", sd.Format)
	}
	checkValues(t, "misc_scripted.pt", sd, keys.Misc["misc_scripted.pt"])
}

// errorCase asserts that err is non-nil and names the file.
func errorCase(t *testing.T, err error, name string, contains ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error", name)
	}
	msg := err.Error()
	if !strings.Contains(msg, name) {
		t.Errorf("error does not name %s: %v", name, msg)
	}
	for _, c := range contains {
		if !strings.Contains(msg, c) {
			t.Errorf("%s: error %q does not mention %q", name, msg, c)
		}
	}
}

func TestErrorFiles(t *testing.T) {
	cases := []struct {
		file     string
		contains []string
	}{
		{"corrupt_truncated.pt", []string{"zip"}},
		{"corrupt_foreign.zip", []string{"zip has no data.pkl: not a PyTorch checkpoint"}},
		{"corrupt_header.safetensors", []string{"header"}},
		{"corrupt_short.safetensors", []string{`"a"`, "data_offsets"}},
		{"does_not_exist.pt", []string{"no such file"}},
		{"keys.json", []string{"unknown checkpoint format"}},
	}
	for _, c := range cases {
		path := filepath.Join(fixtures, c.file)
		_, err := Load(path)
		errorCase(t, err, path, c.contains...)
	}
	_, err := ReadSafetensors(filepath.Join(fixtures, "corrupt_header.safetensors"))
	errorCase(t, err, "corrupt_header.safetensors", "JSON")
}

// TestTruncated cuts every fixture at many points; each cut must give an
// error naming the file, never a panic or a silent partial result.
func TestTruncated(t *testing.T) {
	for _, name := range []string{"rn_jit_fp32.pt", "vit_jit_fp16.pt", "rn_state_dict.pt", "rn.safetensors", "misc_views.pt", "misc_scripted.pt"} {
		data, err := os.ReadFile(filepath.Join(fixtures, name))
		if err != nil {
			t.Fatal(err)
		}
		cuts := []int{0, 1, 4, 8, 9, 30, 100, 1000}
		for i := 1; i < 40; i++ {
			cuts = append(cuts, len(data)*i/40)
		}
		cuts = append(cuts, len(data)-22, len(data)-1)
		for _, c := range cuts {
			if c < 0 || c >= len(data) {
				continue
			}
			_, err := Read(bytes.NewReader(data[:c]), int64(c), name)
			errorCase(t, err, name)
		}
	}
}

// rewriteZip copies a zip, letting edit replace (or drop, by returning
// nil) each entry's content.
func rewriteZip(t *testing.T, src string, edit func(name string, b []byte) []byte) []byte {
	t.Helper()
	zr, err := zip.OpenReader(src)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		b = edit(f.Name, b)
		if b == nil {
			continue
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestBrokenArchives(t *testing.T) {
	src := filepath.Join(fixtures, "misc_views.pt")
	// Unchanged copy still loads (the rewrite itself is sound).
	ok := rewriteZip(t, src, func(_ string, b []byte) []byte { return b })
	if _, err := Read(bytes.NewReader(ok), int64(len(ok)), "copy.pt"); err != nil {
		t.Fatalf("copy: %+v", err)
	}
	cases := []struct {
		name     string
		edit     func(string, []byte) []byte
		contains string
	}{
		{"missing.pt", func(n string, b []byte) []byte {
			if n == "misc_views/data/0" {
				return nil
			}
			return b
		}, "missing storage entry misc_views/data/0"},
		{"short.pt", func(n string, b []byte) []byte {
			if n == "misc_views/data/0" {
				return b[:len(b)-4]
			}
			return b
		}, "storage entry misc_views/data/0 has 92 bytes"},
		{"global.pt", func(n string, b []byte) []byte {
			if n == "misc_views/data.pkl" {
				return bytes.Replace(b, []byte("collections\nOrderedDict"), []byte("collections\nOrderedDicx"), 1)
			}
			return b
		}, "unsupported pickle global collections.OrderedDicx"},
		{"dtype.pt", func(n string, b []byte) []byte {
			if n == "misc_views/data.pkl" {
				return bytes.Replace(b, []byte("torch\nFloatStorage"), []byte("torch\nQInt8Storage"), 1)
			}
			return b
		}, "unsupported storage type (dtype) torch.QInt8Storage"},
		{"nopkl.pt", func(n string, b []byte) []byte {
			if strings.HasSuffix(n, "data.pkl") {
				return nil
			}
			return b
		}, "not a PyTorch checkpoint"},
	}
	for _, c := range cases {
		b := rewriteZip(t, src, c.edit)
		_, err := Read(bytes.NewReader(b), int64(len(b)), c.name)
		errorCase(t, err, c.name, c.contains)
	}
}

func TestRebuildTensorChecks(t *testing.T) {
	st := &storageRef{dt: dtFloat32, key: "0", numel: 6}
	bad := []Tuple{
		{st, int64(0), Tuple{int64(2), int64(4)}, Tuple{int64(4), int64(1)}, false, &Dict{}}, // too big
		{st, int64(5), Tuple{int64(2)}, Tuple{int64(1)}, false, &Dict{}},                     // offset
		{st, int64(0), Tuple{int64(2)}, Tuple{int64(1), int64(1)}, false, &Dict{}},           // rank
		{st, int64(-1), Tuple{int64(2)}, Tuple{int64(1)}, false, &Dict{}},
		{st, int64(0), Tuple{int64(1 << 20), int64(1 << 20)}, Tuple{int64(0), int64(0)}, false, &Dict{}}, // broadcast bomb
		{"x", int64(0), Tuple{}, Tuple{}, false, &Dict{}},
	}
	for i, args := range bad {
		if _, err := rebuildTensor(args); err == nil {
			t.Errorf("case %d: no error", i)
		}
	}
	if _, err := rebuildTensor(Tuple{st, int64(0), Tuple{int64(3), int64(2)}, Tuple{int64(1), int64(3)}, false, &Dict{}}); err != nil {
		t.Error(err)
	}
}

func TestPickleOpcodes(t *testing.T) {
	// Protocol 4 pickle of {'a': [1, -2, 300, 70000, 2**40, -2**70], 'b': (1.5, None, True, 'xy', b'z')}
	// written by CPython's pickle.dumps(..., protocol=4).
	data, _ := hex.DecodeString("8004954a000000000000007d94288c0161945d94284b014afeffffff4d2c014a701101008a060000000000018a090000000000000000c0658c01629428473ff80000000000004e888c0278799443017a947494752e")
	u := NewUnpickler(data)
	v, err := u.Load()
	if err != nil {
		t.Fatal(err)
	}
	d := v.(*Dict)
	a, _ := d.Get("a")
	items := a.(*List).Items
	want := []int64{1, -2, 300, 70000, 1 << 40}
	for i, w := range want {
		if items[i].(int64) != w {
			t.Errorf("a[%d] = %v, want %d", i, items[i], w)
		}
	}
	if s := items[5].(interface{ String() string }).String(); s != "-1180591620717411303424" {
		t.Errorf("a[5] = %s", s)
	}
	b, _ := d.Get("b")
	bt := b.(Tuple)
	if bt[0].(float64) != 1.5 || bt[1] != nil || bt[2] != true || bt[3] != "xy" || string(bt[4].([]byte)) != "z" {
		t.Errorf("b = %v", bt)
	}
	// Limits: a deep stack is refused.
	deep := append([]byte{0x80, 2}, bytes.Repeat([]byte{'N'}, 100)...)
	u = NewUnpickler(append(deep, '.'))
	u.SetLimits(Limits{MaxStack: 50, MaxMemo: 10})
	if _, err := u.Load(); err == nil || !strings.Contains(err.Error(), "stack exceeds") {
		t.Errorf("stack limit: %v", err)
	}
	// Oversized string lengths are refused without allocating.
	u = NewUnpickler([]byte{0x80, 2, 'X', 0xff, 0xff, 0xff, 0x7f, 'a'})
	if _, err := u.Load(); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("long string: %v", err)
	}
}

func TestSafetensorsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "prompts.safetensors")
	base := tensor.FromSlice([]float32{1, 2, 3, 4, 5, -6.5}, 2, 3)
	ts := map[string]*tensor.Tensor{
		"ctx":        base,
		"ctx_t":      base.Transpose(0, 1), // non-contiguous view
		"scalar":     tensor.Scalar(float32(math.Inf(-1))),
		"empty":      tensor.New(0, 4),
		"meta.w\"q/": tensor.FromSlice([]float32{float32(math.NaN()), 1e-40}, 2),
	}
	keys := []string{"scalar", "ctx", "ctx_t", "empty", "meta.w\"q/"}
	meta := map[string]string{"epoch": "3", "note": "round trip"}
	// Overwrite an existing file to check the atomic replace.
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteSafetensors(path, ts, keys, meta); err != nil {
		t.Fatal(err)
	}
	sd, err := ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	if !sameStrings(sd.Keys, keys) {
		t.Errorf("keys %v, want %v", sd.Keys, keys)
	}
	for _, k := range keys {
		a, b := ts[k].Contiguous(), sd.Tensors[k]
		if !sameShape(a.Shape(), b.Shape()) || sd.DTypes[k] != "float32" {
			t.Errorf("%s: shape %v dtype %s", k, b.Shape(), sd.DTypes[k])
			continue
		}
		for i, v := range a.Data() {
			if math.Float32bits(v) != math.Float32bits(b.Data()[i]) {
				t.Errorf("%s[%d] = %v, want %v", k, i, b.Data()[i], v)
			}
		}
	}
	if sd.Metadata["epoch"] != "3" || sd.Metadata["note"] != "round trip" {
		t.Errorf("metadata %v", sd.Metadata)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after the write, want 1 (temporary file left?)", len(entries))
	}
	// A failed write (missing key) leaves the previous file intact and no
	// temporary file.
	if err := WriteSafetensors(path, ts, []string{"ctx", "nope"}, nil); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("missing key: %v", err)
	}
	if _, err := ReadSafetensors(path); err != nil {
		t.Errorf("previous file damaged: %v", err)
	}
	entries, _ = os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("failed write left %d entries", len(entries))
	}
	// nil keys: all tensors, sorted.
	p2 := filepath.Join(dir, "all.safetensors")
	if err := WriteSafetensors(p2, ts, nil, nil); err != nil {
		t.Fatal(err)
	}
	sd2, err := Load(p2)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]string(nil), keys...)
	sort.Strings(want)
	if !sameStrings(sd2.Keys, want) || sd2.Format != FormatSafetensors || sd2.Metadata != nil {
		t.Errorf("keys %v format %s metadata %v", sd2.Keys, sd2.Format, sd2.Metadata)
	}
	if err := WriteSafetensors(filepath.Join(dir, "no", "such", "dir.safetensors"), ts, nil, nil); err == nil {
		t.Error("write into a missing directory succeeded")
	}
}

func TestDetectFormat(t *testing.T) {
	for _, c := range []struct {
		head string
		want string
	}{
		{"PK\x03\x04xxxxxxxxx", "zip"},
		{"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\"", FormatSafetensors},
	} {
		got, err := DetectFormat([]byte(c.head))
		if err != nil || got != c.want {
			t.Errorf("DetectFormat(%q) = %s, %v", c.head, got, err)
		}
	}
	if _, err := DetectFormat([]byte("\x80\x02\x8a\x0alegacy")); err == nil || !strings.Contains(err.Error(), "legacy") {
		t.Errorf("legacy: %v", err)
	}
	if _, err := DetectFormat(nil); err == nil {
		t.Error("empty input accepted")
	}
}
