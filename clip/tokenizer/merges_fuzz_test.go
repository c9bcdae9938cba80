package tokenizer

import (
	"bytes"
	"compress/gzip"
	"strings"
	"testing"
	"time"

	"github.com/softcpt/softcpt-go/internal/hostile"
)

// FuzzLoadMerges reads arbitrary bytes as a merges file (plain or gzip):
// errors are fine; a tokenizer that loads must encode and decode text
// without panicking, with ids inside its vocabulary.
func FuzzLoadMerges(f *testing.F) {
	f.Add([]byte("#version: 0.2\nh e\nl l\nhe ll\nhell o</w>\n"))
	f.Add([]byte("#version: 0.2\n\n\nt h\nth e</w>\n"))
	f.Add([]byte("header\nnot-a-merge\n"))
	f.Add([]byte("header\na b c\n"))
	f.Add([]byte("header\nzz qq\n"))                  // symbols outside the alphabet
	f.Add([]byte("header\na a\na a\naa aa\n"))        // duplicates
	f.Add([]byte("header\n\xff\xfe x\n"))             // invalid UTF-8
	f.Add([]byte("h\n" + strings.Repeat("x", 70000))) // a line over the scanner's first buffer
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("#version: 0.2\nh e\nl l\n"))
	zw.Close()
	f.Add(gz.Bytes())
	// A gzip stream of a million empty lines (a small bomb).
	var bomb bytes.Buffer
	bomb.Write([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	bomb.Write(hostile.DeflateZeros(1 << 20))
	f.Add(bomb.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		tk, err := LoadReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, text := range []string{"hello world", "a photo of a cat.", "\xff"} {
			ids := tk.Encode(text)
			for _, id := range ids {
				if id < 0 || id >= tk.VocabSize() {
					t.Fatalf("id %d outside the vocabulary of %d", id, tk.VocabSize())
				}
			}
			_ = tk.Decode(ids)
		}
	})
}

// TestMergesBlankLineBomb: a gzip stream of 1 GiB of blank lines (7 MB)
// fails after maxMergesBytes instead of being scanned to the end.
func TestMergesBlankLineBomb(t *testing.T) {
	var bomb bytes.Buffer
	bomb.Write([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	bomb.Write(hostile.DeflateRun([]byte("#version: 0.2\nh e\n"), '\n', 1<<30))
	el, alloc, err := hostile.Cost(func() error {
		_, err := LoadReader(bytes.NewReader(bomb.Bytes()))
		return err
	})
	t.Logf("%v in %v, %d bytes allocated", err, el, alloc)
	if err == nil || !strings.Contains(err.Error(), "maxMergesBytes") {
		t.Fatalf("error %v, want one naming the limit", err)
	}
	if el > 10*time.Second || alloc > 16<<20 {
		t.Errorf("took %v and %d bytes", el, alloc)
	}
}
