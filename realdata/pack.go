// Package realdata builds and reads the project's real-image data: a
// pretraining set of small image–caption pairs and a multi-task few-shot
// benchmark, assembled from freely licensed Debian packages, npm tarballs and
// a Go module (see README.md and NOTICE). Both are stored in one packed file
// format: a gzip stream holding a JSON index and raw H×W×3 uint8 pixels.
//
// The files are produced by `go run ./cmd/builddata -out realdata/assets`.
package realdata

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/clip/imageproc"
)

// RegenerateHint is appended to errors about missing or corrupt pack files.
const RegenerateHint = "regenerate it with `go run ./cmd/builddata -out realdata/assets` (see realdata/README.md)"

// packMagic starts every pack (inside the gzip stream); packTrailer ends it.
var (
	packMagic   = [8]byte{'S', 'C', 'P', 'T', 'P', 'A', 'C', 'K'}
	packTrailer = [8]byte{'S', 'C', 'P', 'T', 'E', 'N', 'D', 0}
)

// packVersion is the only format version written and read.
const packVersion = 1

// Limits that protect the reader from corrupt headers. Besides them, the
// metadata and pixels a pack declares may total at most
// max(packMinBudget, packBudgetRatio × file size) bytes (the shipped packs
// inflate 3.7×), so that a small corrupt or hostile file fails before a
// large buffer is allocated.
const (
	maxMetaBytes    = 256 << 20
	maxSide         = 1024
	maxPixBytes     = 4 << 30
	packMinBudget   = 64 << 20
	packBudgetRatio = 64
)

// Pack kinds stored in the metadata.
const (
	KindBenchmark = "benchmark"
	KindPairs     = "pairs"
)

// Source describes one upstream data source and its licence.
type Source struct {
	// ID is a short key ("fashion-mnist", "emoji-twitter").
	ID string `json:"id"`
	// Name is a human-readable name.
	Name string `json:"name"`
	// Origin says how it was obtained (Debian package, npm tarball, Go module) with version.
	Origin string `json:"origin"`
	// License is the licence of the images (SPDX-like where possible).
	License string `json:"license"`
	// Attribution is the required credit line, if any.
	Attribution string `json:"attribution,omitempty"`
}

// Images is a set of equally sized RGB images stored contiguously.
type Images struct {
	// W and H are the width and height of every image.
	W, H int
	// Pix holds all images back to back, each H×W×3 bytes, row-major RGB.
	Pix []uint8
}

// Len returns the number of images.
func (s *Images) Len() int {
	n := s.W * s.H * 3
	if n == 0 {
		return 0
	}
	return len(s.Pix) / n
}

// Pixels returns image i as a read-only H×W×3 slice aliasing the store.
func (s *Images) Pixels(i int) []uint8 {
	n := s.W * s.H * 3
	if i < 0 || (i+1)*n > len(s.Pix) {
		panic(fmt.Sprintf("realdata.Images.Pixels: index %d out of range [0,%d)", i, s.Len()))
	}
	return s.Pix[i*n : (i+1)*n : (i+1)*n]
}

// Image returns a copy of image i.
func (s *Images) Image(i int) *imageproc.RGB {
	p := s.Pixels(i)
	out := imageproc.NewRGB(s.W, s.H)
	copy(out.Pix, p)
	return out
}

// writePack writes meta (JSON-encoded) and images as a gzip-compressed pack.
func writePack(path string, meta any, imgs *Images) error {
	js, err := json.Marshal(meta)
	if err != nil {
		return errors.Wrapf(err, "realdata: encoding metadata for %s", path)
	}
	f, err := os.Create(path)
	if err != nil {
		return errors.Wrapf(err, "realdata: creating %s", path)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	zw, err := gzip.NewWriterLevel(bw, gzip.BestCompression)
	if err != nil {
		f.Close()
		return errors.Wrap(err, "realdata: gzip writer")
	}
	var hdr bytes.Buffer
	hdr.Write(packMagic[:])
	binary.Write(&hdr, binary.LittleEndian, uint32(packVersion))
	binary.Write(&hdr, binary.LittleEndian, uint32(len(js)))
	hdr.Write(js)
	binary.Write(&hdr, binary.LittleEndian, uint32(imgs.Len()))
	binary.Write(&hdr, binary.LittleEndian, uint32(imgs.W))
	binary.Write(&hdr, binary.LittleEndian, uint32(imgs.H))
	werr := func() error {
		if _, err := zw.Write(hdr.Bytes()); err != nil {
			return err
		}
		if _, err := zw.Write(imgs.Pix[:imgs.Len()*imgs.W*imgs.H*3]); err != nil {
			return err
		}
		if _, err := zw.Write(packTrailer[:]); err != nil {
			return err
		}
		if err := zw.Close(); err != nil {
			return err
		}
		return bw.Flush()
	}()
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	return errors.Wrapf(werr, "realdata: writing %s", path)
}

// readPack reads a pack written by writePack, decoding its metadata into meta.
func readPack(path string, meta any) (*Images, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, errors.Wrapf(err, "realdata: opening %s; %s", path, RegenerateHint)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, errors.Wrapf(err, "realdata: %s", path)
	}
	return decodePack(f, st.Size(), path, meta)
}

// decodePack reads a pack of size bytes from r; path names it in errors.
// What the pack declares (metadata, pixels) is checked against a budget
// proportional to size before anything is allocated.
func decodePack(r io.Reader, size int64, path string, meta any) (*Images, error) {
	budget := max(packMinBudget, packBudgetRatio*size)
	overBudget := func(n int64, what string) error {
		return errors.Errorf("realdata: %s: %s of %d bytes from a file of %d bytes is beyond the budget of %d (%d × file size, at least %d; corrupt?); %s",
			path, what, n, size, budget, packBudgetRatio, packMinBudget, RegenerateHint)
	}
	zr, err := gzip.NewReader(bufio.NewReaderSize(r, 1<<20))
	if err != nil {
		return nil, errors.Wrapf(err, "realdata: %s is not a gzip pack; %s", path, RegenerateHint)
	}
	bad := func(err error, what string) error {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return errors.Wrapf(err, "realdata: %s: reading %s (file truncated or corrupt); %s", path, what, RegenerateHint)
	}
	var magic [8]byte
	if _, err := io.ReadFull(zr, magic[:]); err != nil {
		return nil, bad(err, "magic")
	}
	if magic != packMagic {
		return nil, errors.Errorf("realdata: %s: bad magic %q (not a softcpt pack); %s", path, magic[:], RegenerateHint)
	}
	var h [2]uint32
	if err := binary.Read(zr, binary.LittleEndian, &h); err != nil {
		return nil, bad(err, "header")
	}
	if h[0] != packVersion {
		return nil, errors.Errorf("realdata: %s: unsupported pack version %d (want %d); %s", path, h[0], packVersion, RegenerateHint)
	}
	if h[1] > maxMetaBytes {
		return nil, errors.Errorf("realdata: %s: metadata length %d too large (corrupt); %s", path, h[1], RegenerateHint)
	}
	if int64(h[1]) > budget {
		return nil, overBudget(int64(h[1]), "metadata")
	}
	js := make([]byte, h[1])
	if _, err := io.ReadFull(zr, js); err != nil {
		return nil, bad(err, "metadata")
	}
	if err := json.Unmarshal(js, meta); err != nil {
		return nil, errors.Wrapf(err, "realdata: %s: decoding metadata JSON (corrupt); %s", path, RegenerateHint)
	}
	var d [3]uint32
	if err := binary.Read(zr, binary.LittleEndian, &d); err != nil {
		return nil, bad(err, "image header")
	}
	n, w, hh := int64(d[0]), int64(d[1]), int64(d[2])
	if w <= 0 || hh <= 0 || w > maxSide || hh > maxSide || n*w*hh*3 > maxPixBytes {
		return nil, errors.Errorf("realdata: %s: bad image header %d images of %dx%d (corrupt); %s", path, n, w, hh, RegenerateHint)
	}
	if n*w*hh*3+int64(h[1]) > budget {
		return nil, overBudget(n*w*hh*3, fmt.Sprintf("%d images of %dx%d", n, w, hh))
	}
	imgs := &Images{W: int(w), H: int(hh), Pix: make([]uint8, n*w*hh*3)}
	if _, err := io.ReadFull(zr, imgs.Pix); err != nil {
		return nil, bad(err, "pixels")
	}
	var tr [8]byte
	if _, err := io.ReadFull(zr, tr[:]); err != nil {
		return nil, bad(err, "trailer")
	}
	if tr != packTrailer {
		return nil, errors.Errorf("realdata: %s: bad trailer (corrupt); %s", path, RegenerateHint)
	}
	// Reading to EOF makes gzip verify its CRC-32 and length; one byte
	// more is already corrupt (and a bomb after the trailer is not
	// inflated).
	if extra, err := io.CopyN(io.Discard, zr, 1); err != nil && err != io.EOF {
		return nil, bad(err, "gzip checksum")
	} else if extra != 0 {
		return nil, errors.Errorf("realdata: %s: unexpected bytes after trailer (corrupt); %s", path, RegenerateHint)
	}
	return imgs, nil
}
