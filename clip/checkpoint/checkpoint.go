// Package checkpoint reads CLIP (and other PyTorch) checkpoints into float32
// tensors, and reads and writes safetensors files.
//
// Three formats are recognised by content, never by file name:
//
//   - TorchScript archives (torch.jit.save, OpenAI's released CLIP .pt
//     files): a zip with <name>/data.pkl holding a tree of __torch__ module
//     objects, <name>/constants.pkl and one raw storage per entry under
//     <name>/data/. The state dict is recovered by walking the module tree:
//     every tensor attribute becomes a key, dotted by the attribute path
//     (visual.layer1.0.conv1.weight, ...).
//   - torch.save zip files (PyTorch >= 1.6): <name>/data.pkl holding an
//     (Ordered)Dict of tensors, storages under <name>/data/.
//   - safetensors: an 8-byte little-endian header length, a JSON header,
//     raw little-endian data.
//
// Every tensor is converted to a contiguous float32 *tensor.Tensor
// (float16, bfloat16, float64, integer and bool storages included); the
// original dtype is kept in StateDict.DTypes. Storages are streamed from
// the file into their float32 destination, so loading needs about one copy
// of the weights in memory. A zip archive's storages are read on up to
// GOMAXPROCS goroutines after its pickle has been checked, into tensors
// that are views of one shared allocation (see allocate). The pickle machine never runs Python callables:
// it knows an allow-list of globals and rejects everything else by name.
//
// A hostile file fails with an error naming the file, the entry and the
// limit, in bounded time and memory: the object graph is walked with a
// visited set and a node budget, dict keys are indexed, and inflation and
// decoded output are bounded by the declared sizes and by a budget
// proportional to the file's size (see Limits; LoadWithLimits raises them
// for genuinely huge files).
package checkpoint

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"sort"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/tensor"
)

// Format names reported in StateDict.Format.
const (
	FormatTorchScript = "torchscript"
	FormatTorchZip    = "torch-zip"
	FormatSafetensors = "safetensors"
)

// StateDict is a checkpoint's named tensors.
type StateDict struct {
	// Format is FormatTorchScript, FormatTorchZip or FormatSafetensors.
	Format string
	// Keys lists the tensor names in file order.
	Keys []string
	// Tensors maps each key to a contiguous float32 tensor.
	Tensors map[string]*tensor.Tensor
	// DTypes maps each key to its dtype in the file, in PyTorch's names:
	// float32, float16, bfloat16, float64, int64, int32, int16, int8,
	// uint8, bool.
	DTypes map[string]string
	// Metadata holds a safetensors file's __metadata__ (nil otherwise).
	Metadata map[string]string
}

// Get returns the tensor stored under key, or an error naming the key.
func (sd *StateDict) Get(key string) (*tensor.Tensor, error) {
	t, ok := sd.Tensors[key]
	if !ok {
		return nil, errors.Errorf("checkpoint: no tensor %q", key)
	}
	return t, nil
}

func newStateDict(format string) *StateDict {
	return &StateDict{Format: format, Tensors: map[string]*tensor.Tensor{}, DTypes: map[string]string{}}
}

func (sd *StateDict) add(key, dtype string, t *tensor.Tensor) error {
	if _, dup := sd.Tensors[key]; dup {
		return errors.Errorf("duplicate tensor key %q", key)
	}
	sd.Keys = append(sd.Keys, key)
	sd.Tensors[key] = t
	sd.DTypes[key] = dtype
	return nil
}

// DetectFormat reports the checkpoint format from the first bytes of a file
// (at least 9 bytes are needed): FormatSafetensors, "zip" for any zip file
// (TorchScript and torch.save are told apart by their content), or an
// error for anything else.
func DetectFormat(head []byte) (string, error) {
	if len(head) >= 4 && bytes.Equal(head[:4], []byte("PK\x03\x04")) {
		return "zip", nil
	}
	if len(head) >= 4 && bytes.Equal(head[:4], []byte("PK\x05\x06")) {
		return "zip", nil // empty zip
	}
	if len(head) >= 9 {
		n := binary.LittleEndian.Uint64(head[:8])
		if n > 1 && n < maxSafetensorsHeader && head[8] == '{' {
			return FormatSafetensors, nil
		}
	}
	if len(head) >= 2 && head[0] == 0x80 && head[1] <= 5 {
		return "", errors.New("legacy (pre-1.6, non-zip) torch.save format is not supported; re-save with torch.save in a recent PyTorch")
	}
	return "", errors.New("unknown checkpoint format (neither a zip archive nor safetensors)")
}

// Load reads the checkpoint at path in any supported format, within
// DefaultLimits.
func Load(path string) (*StateDict, error) { return LoadWithLimits(path, DefaultLimits) }

// LoadWithLimits is Load within the given resource limits (unset fields
// take their defaults): raise them to read a genuinely huge file.
func LoadWithLimits(path string, lim Limits) (*StateDict, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, errors.Wrap(err, "checkpoint")
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, errors.Wrapf(err, "checkpoint: stat %s", path)
	}
	return ReadWithLimits(f, st.Size(), path, lim)
}

// Read reads a checkpoint of the given size from r within DefaultLimits;
// name is used in error messages (usually the file name).
func Read(r io.ReaderAt, size int64, name string) (*StateDict, error) {
	return ReadWithLimits(r, size, name, DefaultLimits)
}

// ReadWithLimits is Read within the given resource limits (unset fields
// take their defaults).
func ReadWithLimits(r io.ReaderAt, size int64, name string, lim Limits) (*StateDict, error) {
	head := make([]byte, 16)
	n, err := r.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return nil, errors.Wrapf(err, "checkpoint %s: read header", name)
	}
	format, err := DetectFormat(head[:n])
	if err != nil {
		return nil, errors.Wrapf(err, "checkpoint %s", name)
	}
	var sd *StateDict
	if format == FormatSafetensors {
		sd, err = readSafetensors(r, size)
	} else {
		sd, err = readTorchZip(r, size, lim.withDefaults())
	}
	if err != nil {
		return nil, errors.Wrapf(err, "checkpoint %s", name)
	}
	return sd, nil
}

// sortedKeys returns the map's keys sorted (for deterministic output).
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
