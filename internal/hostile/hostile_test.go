package hostile

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"image"
	"io"
	"strings"
	"testing"
)

func TestZerosInflate(t *testing.T) {
	for _, n := range []int64{0, 1, 2, 258, 259, 260, 1000, 100_003} {
		got, err := io.ReadAll(flate.NewReader(bytes.NewReader(DeflateZeros(n))))
		if err != nil || int64(len(got)) != n || bytes.Count(got, []byte{0}) != len(got) {
			t.Errorf("DeflateZeros(%d): %d bytes, err %v", n, len(got), err)
		}
		zr, err := zlib.NewReader(bytes.NewReader(ZlibPrefixZeros([]byte("tag!"), n)))
		if err != nil {
			t.Fatal(err)
		}
		got, err = io.ReadAll(zr)
		if err != nil || int64(len(got)) != n+4 || string(got[:4]) != "tag!" {
			t.Errorf("ZlibPrefixZeros(tag!, %d): %d bytes, err %v", n, len(got), err)
		}
	}
}

func TestDeflateRun(t *testing.T) {
	got, err := io.ReadAll(flate.NewReader(bytes.NewReader(DeflateRun([]byte("ab"), '\n', 1000))))
	if err != nil || string(got) != "ab"+strings.Repeat("\n", 1000) {
		t.Errorf("DeflateRun: %q, err %v", got, err)
	}
}

func TestPNGHeader(t *testing.T) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(PNGHeader(65535, 40000)))
	if err != nil || format != "png" || cfg.Width != 65535 || cfg.Height != 40000 {
		t.Fatalf("config %+v %q %v", cfg, format, err)
	}
}
