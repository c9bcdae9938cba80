package experiment

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/softcpt/softcpt-go/tensor"
)

// TestReadTexts checks every text-file format, including strings that argv
// cannot carry or that look like flags.
func TestReadTexts(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		name, content string
		want          []string
	}{
		{"a.txt", "a photo of a cat\r\n--model x\n\n\xff\xfe bad bytes\n", []string{"a photo of a cat", "--model x", "", "\xff\xfe bad bytes"}},
		{"b.txt", "[not json] a caption\n", []string{"[not json] a caption"}},
		{"c.jsonl", "{\"text\": \"two\\nlines\"}\n{\"text\": \"-\", \"id\": 7}\n{\"text\": \"\"}\n", []string{"two\nlines", "-", ""}},
		{"d.json", "\ufeff [\"a\\u0000b\", \"über\", \"--\"]", []string{"a\x00b", "über", "--"}},
		{"e", "plain\nlines", []string{"plain", "lines"}},
		{"empty.txt", "", nil},
	} {
		got, err := ReadTexts(write(c.name, c.content), nil)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %q, %v; want %q", c.name, got, err, c.want)
		}
	}
	got, err := ReadTexts("-", strings.NewReader("[\"from\\nstdin\"]"))
	if err != nil || !reflect.DeepEqual(got, []string{"from\nstdin"}) {
		t.Errorf("stdin: %q, %v", got, err)
	}
	for name, content := range map[string]string{"bad.json": "[\"a\", 3]", "nokey.jsonl": "{\"text\": \"a\"}\n{\"caption\": \"b\"}\n", "broken.jsonl": "{\"text\": \"a\"\n"} {
		p := write(name, content)
		if _, err := ReadTexts(p, nil); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v does not name the file", name, err)
		}
	}
	if _, err := ReadTexts(filepath.Join(dir, "missing.txt"), nil); err == nil {
		t.Error("missing file: no error")
	}
}

// TestListImages checks the folder walk (recursive, sorted, image
// extensions of any case only) and list files.
func TestListImages(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"b.png", "a/z.JPG", "a/y.gif", "a-b/x.jpeg", "notes.txt", "a/sub/w.png"} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
		os.WriteFile(filepath.Join(dir, p), nil, 0o644)
	}
	got, err := ListImages(dir)
	var want []string
	for _, p := range []string{"a-b/x.jpeg", "a/sub/w.png", "a/y.gif", "a/z.JPG", "b.png"} {
		want = append(want, filepath.Join(dir, p))
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("ListImages(dir) = %q, %v; want %q", got, err, want)
	}
	list := filepath.Join(dir, "list.txt")
	os.WriteFile(list, []byte("# images\nb.png\r\n\n/abs/c.png\n"), 0o644)
	got, err = ListImages(list)
	if want := []string{filepath.Join(dir, "b.png"), "/abs/c.png"}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("ListImages(list) = %q, %v; want %q", got, err, want)
	}
	os.Mkdir(filepath.Join(dir, "none"), 0o755)
	if _, err := ListImages(filepath.Join(dir, "none")); err == nil || !strings.Contains(err.Error(), "none") {
		t.Errorf("empty folder: error %v", err)
	}
}

// readNPY parses a version 1.0 '<f4' .npy file independently of WriteNPY.
func readNPY(t *testing.T, b []byte) (shape string, data []float32) {
	t.Helper()
	if !bytes.HasPrefix(b, []byte("\x93NUMPY\x01\x00")) {
		t.Fatalf("npy magic %q", b[:min(8, len(b))])
	}
	n := int(binary.LittleEndian.Uint16(b[8:10]))
	if (10+n)%64 != 0 {
		t.Errorf("npy data starts at %d, not 64-byte aligned", 10+n)
	}
	h := string(b[10 : 10+n])
	if !strings.HasSuffix(h, "\n") || !strings.Contains(h, "'descr': '<f4'") || !strings.Contains(h, "'fortran_order': False") {
		t.Errorf("npy header %q", h)
	}
	i, j := strings.Index(h, "'shape': ("), strings.Index(h, ")")
	shape = h[i+len("'shape': (") : j]
	for p := b[10+n:]; len(p) >= 4; p = p[4:] {
		data = append(data, math.Float32frombits(binary.LittleEndian.Uint32(p)))
	}
	return shape, data
}

// TestWriteNPY checks the header and data of a written .npy.
func TestWriteNPY(t *testing.T) {
	for _, c := range []struct {
		shape []int
		want  string
	}{{[]int{3, 5}, "3, 5"}, {[]int{7}, "7,"}, {[]int{0, 128}, "0, 128"}} {
		x := tensor.New(c.shape...)
		for i := range x.Data() {
			x.Data()[i] = float32(i) - 0.5
		}
		var b bytes.Buffer
		if err := WriteNPY(&b, x); err != nil {
			t.Fatal(err)
		}
		shape, data := readNPY(t, b.Bytes())
		if shape != c.want || len(data) != len(x.Data()) {
			t.Errorf("shape %v: header shape (%s), %d values", c.shape, shape, len(data))
		}
		for i, v := range data {
			if v != x.Data()[i] {
				t.Fatalf("value %d = %v, want %v", i, v, x.Data()[i])
			}
		}
	}
}
