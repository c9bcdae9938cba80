package experiment

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/internal/atomicfile"
	"github.com/softcpt/softcpt-go/internal/console"
	"github.com/softcpt/softcpt-go/softcpt"
	"github.com/softcpt/softcpt-go/tensor"
)

// The feature cache holds frozen image features (CLIP's test transform)
// at two levels: in memory by example name, shared by every cell of an
// experiment, and on disk, one file per set of examples asked for at once
// (a split of a few-shot draw, a test set), keyed by the model (a hash of
// its weights), the benchmark (its name and DataKey), the preprocessing,
// the device kind and the towers' precision (clip.Model.Precision), and
// named by a hash of the examples' names, so another process (another
// shots/seed cell, a resumed run, another subcommand) reads the features
// instead of computing them. Files are written atomically and computed
// under a lock file, so two processes asking for the same features
// compute them once and a half-written file is never read.

// featureMagic starts a feature cache file; then come the number of rows
// N and their width E (uint32, little-endian), the SHA-256 of the
// examples' names, and N·E float32 (little-endian).
const featureMagic = "softcpt-features/1\n"

// memCache holds features by example name.
type memCache struct {
	mu sync.Mutex
	m  map[string][]float32
}

// modelKey returns a short hash of the model's weights, computed once.
func (e *Experiment) modelKey() string {
	e.keyOnce.Do(func() {
		sd := e.Model.StateDict()
		keys := make([]string, 0, len(sd))
		for k := range sd {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		h := sha256.New()
		var buf []byte
		for _, k := range keys {
			t := sd[k].Contiguous()
			fmt.Fprintf(h, "%s %v\n", k, t.Shape())
			buf = buf[:0]
			for _, v := range t.Data() {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			}
			h.Write(buf)
		}
		e.key = hex.EncodeToString(h.Sum(nil))[:16]
	})
	return e.key
}

// namesHash returns the SHA-256 of the examples' names.
func namesHash(exs []softcpt.Example) [32]byte {
	h := sha256.New()
	for _, x := range exs {
		io.WriteString(h, x.Name)
		h.Write([]byte{0})
	}
	var s [32]byte
	copy(s[:], h.Sum(nil))
	return s
}

// cachePath returns the cache file of the features of exs on benchmark.
func (e *Experiment) cachePath(benchmark string, exs []softcpt.Example) string {
	dev, _, _ := strings.Cut(e.backend().String(), ":")
	prep := fmt.Sprintf("clip-test-%d-%s", e.Model.Config.ImageResolution, dev)
	if p := precisionName(e.Model); p != "" {
		// bf16 features never share a file with fp32 ones (whose
		// names are those from before the setting existed).
		prep += "-" + p
	}
	if e.DataKey != "" {
		prep += "-" + e.DataKey
	}
	h := namesHash(exs)
	return filepath.Join(e.cacheDir(), e.modelKey(), safeElem(benchmark), prep, hex.EncodeToString(h[:12])+".f32")
}

// cacheDir returns the root of the on-disk feature cache.
func (e *Experiment) cacheDir() string {
	if e.CacheDir != "" {
		return e.CacheDir
	}
	return filepath.Join(e.Out, ".cache", "features")
}

// safeElem turns a name into a single path element.
func safeElem(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 {
			return '_'
		}
		return r
	}, s)
	if s == "" || s == "." || s == ".." {
		s = "_" + s
	}
	return s
}

// features returns the frozen image features [len(exs), E] of exs on
// benchmark: from memory when every example is there, else from the
// cache file of this set of examples, else computed (only the examples
// not in memory yet, on the experiment's backend) and written to it.
func (e *Experiment) features(ctx context.Context, benchmark string, exs []softcpt.Example) (*tensor.Tensor, error) {
	E := e.Model.Config.EmbedDim
	if len(exs) == 0 {
		return tensor.New(0, E), nil
	}
	path := e.cachePath(benchmark, exs)
	if out := e.fromMemory(exs); out != nil {
		if _, err := os.Stat(path); err == nil {
			return out, nil
		}
		return out, writeFeatures(path, exs, out)
	}
	if out, err := readFeatures(path, exs, E); out != nil || err != nil {
		e.remember(exs, out)
		return out, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, errors.Wrapf(err, "feature cache %s", filepath.Dir(path))
	}
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		return nil, err
	}
	defer unlock()
	// Another process may have computed them while we waited.
	if out, err := readFeatures(path, exs, E); out != nil || err != nil {
		e.remember(exs, out)
		return out, err
	}
	out, err := e.compute(ctx, exs)
	if err != nil {
		return nil, err
	}
	return out, writeFeatures(path, exs, out)
}

// fromMemory returns the features of exs if every one is in memory.
func (e *Experiment) fromMemory(exs []softcpt.Example) *tensor.Tensor {
	E := e.Model.Config.EmbedDim
	c := e.memory()
	c.mu.Lock()
	defer c.mu.Unlock()
	out := tensor.New(len(exs), E)
	for i, x := range exs {
		f, ok := c.m[x.Name]
		if !ok {
			return nil
		}
		copy(out.Data()[i*E:], f)
	}
	return out
}

// remember puts the features of exs into memory (none when feats is nil).
func (e *Experiment) remember(exs []softcpt.Example, feats *tensor.Tensor) {
	if feats == nil {
		return
	}
	E := e.Model.Config.EmbedDim
	c := e.memory()
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, x := range exs {
		if _, ok := c.m[x.Name]; !ok {
			c.m[x.Name] = append([]float32(nil), feats.Data()[i*E:(i+1)*E]...)
		}
	}
}

func (e *Experiment) memory() *memCache {
	e.memOnce.Do(func() { e.mem = &memCache{m: map[string][]float32{}} })
	return e.mem
}

// compute returns the features of exs, encoding on the backend only those
// not in memory yet (each once) and remembering them.
func (e *Experiment) compute(ctx context.Context, exs []softcpt.Example) (*tensor.Tensor, error) {
	var missing []softcpt.Example
	c := e.memory()
	c.mu.Lock()
	seen := map[string]bool{}
	for _, x := range exs {
		if _, ok := c.m[x.Name]; !ok && !seen[x.Name] {
			missing = append(missing, x)
			seen[x.Name] = true
		}
	}
	c.mu.Unlock()
	if len(missing) > 0 {
		fz := e.featurizer()
		bar := console.Stderr().Bar("encoding images", len(missing), "images")
		encode := fz.Encode
		fz.Encode = func(pix *tensor.Tensor) (*tensor.Tensor, error) {
			f, err := encode(pix)
			bar.Add(pix.Dim(0))
			return f, err
		}
		f, err := fz.Features(ctx, missing, false, 0)
		bar.Done()
		if err != nil {
			return nil, err
		}
		e.remember(missing, f)
	}
	out := e.fromMemory(exs)
	if out == nil {
		return nil, errors.New("feature cache: features missing after encoding")
	}
	return out, nil
}

// featurizer returns the feature pipeline on the experiment's backend.
func (e *Experiment) featurizer() *softcpt.Featurizer {
	return &softcpt.Featurizer{Model: e.Model, BatchSize: 32, Encode: e.backend().encodeImages}
}

// writeFeatures writes the cache file of exs atomically.
func writeFeatures(path string, exs []softcpt.Example, feats *tensor.Tensor) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return errors.Wrapf(err, "feature cache %s", filepath.Dir(path))
	}
	err := atomicfile.WriteFunc(path, func(w io.Writer) error {
		h := namesHash(exs)
		hdr := binary.LittleEndian.AppendUint32([]byte(featureMagic), uint32(feats.Dim(0)))
		hdr = binary.LittleEndian.AppendUint32(hdr, uint32(feats.Dim(1)))
		if _, err := w.Write(append(hdr, h[:]...)); err != nil {
			return err
		}
		return binary.Write(w, binary.LittleEndian, feats.Data())
	})
	return errors.Wrap(err, "writing the feature cache")
}

// readFeatures reads the cache file of exs: nil and no error when there
// is none, an error naming the file when it is not the features of exs
// with width E.
func readFeatures(path string, exs []softcpt.Example, E int) (*tensor.Tensor, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, errors.Wrap(err, "reading the feature cache")
	}
	defer f.Close()
	r := bufio.NewReader(f)
	hdr := make([]byte, len(featureMagic)+8+32)
	if _, err := io.ReadFull(r, hdr); err != nil || !bytes.HasPrefix(hdr, []byte(featureMagic)) {
		return nil, errors.Errorf("feature cache %s is not a feature file (delete it to recompute)", path)
	}
	n := int(binary.LittleEndian.Uint32(hdr[len(featureMagic):]))
	e := int(binary.LittleEndian.Uint32(hdr[len(featureMagic)+4:]))
	h := namesHash(exs)
	if n != len(exs) || e != E || !bytes.Equal(hdr[len(featureMagic)+8:], h[:]) {
		return nil, errors.Errorf("feature cache %s holds %d×%d features of other images, not %d×%d (delete it to recompute)", path, n, e, len(exs), E)
	}
	out := tensor.New(n, E)
	if err := binary.Read(r, binary.LittleEndian, out.Data()); err != nil {
		return nil, errors.Wrapf(err, "feature cache %s (delete it to recompute)", path)
	}
	if _, err := r.ReadByte(); err != io.EOF {
		return nil, errors.Errorf("feature cache %s is longer than %d×%d features (delete it to recompute)", path, n, E)
	}
	return out, nil
}
