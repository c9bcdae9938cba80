package checkpoint

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"os"
	"sort"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/internal/atomicfile"

	"github.com/softcpt/softcpt-go/tensor"
)

// maxSafetensorsHeader bounds the JSON header size (the reference
// implementation uses 100 MB).
const maxSafetensorsHeader = 100 << 20

// safetensorsDTypes maps safetensors dtype names to dtypes.
var safetensorsDTypes = map[string]dtype{
	"F32": dtFloat32, "F16": dtFloat16, "BF16": dtBFloat16, "F64": dtFloat64,
	"I64": dtInt64, "I32": dtInt32, "I16": dtInt16, "I8": dtInt8,
	"U8": dtUint8, "BOOL": dtBool,
}

type stEntry struct {
	DType       string  `json:"dtype"`
	Shape       []int64 `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

// ReadSafetensors reads the safetensors file at path.
func ReadSafetensors(path string) (*StateDict, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, errors.Wrap(err, "safetensors")
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, errors.Wrapf(err, "safetensors: stat %s", path)
	}
	sd, err := readSafetensors(f, st.Size())
	if err != nil {
		return nil, errors.Wrapf(err, "safetensors %s", path)
	}
	return sd, nil
}

func readSafetensors(r io.ReaderAt, size int64) (*StateDict, error) {
	var hb [8]byte
	if _, err := r.ReadAt(hb[:], 0); err != nil {
		return nil, errors.Wrap(err, "read header length (truncated file?)")
	}
	n := binary.LittleEndian.Uint64(hb[:])
	if n > maxSafetensorsHeader || int64(n) > size-8 {
		return nil, errors.Errorf("header length %d exceeds the file (%d bytes) or the 100 MB limit", n, size)
	}
	hdr := make([]byte, n)
	if _, err := r.ReadAt(hdr, 8); err != nil {
		return nil, errors.Wrap(err, "read header")
	}
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(hdr))
	if err := dec.Decode(&raw); err != nil {
		return nil, errors.Wrap(err, "bad safetensors header JSON")
	}
	base := 8 + int64(n)
	dataLen := size - base
	sd := newStateDict(FormatSafetensors)
	type item struct {
		key string
		e   stEntry
		dt  dtype
	}
	var items []item
	for _, k := range sortedKeys(raw) {
		if k == "__metadata__" {
			if err := json.Unmarshal(raw[k], &sd.Metadata); err != nil {
				return nil, errors.Wrap(err, "bad __metadata__ (must map strings to strings)")
			}
			continue
		}
		var e stEntry
		if err := json.Unmarshal(raw[k], &e); err != nil {
			return nil, errors.Wrapf(err, "bad header entry %q", k)
		}
		dt, ok := safetensorsDTypes[e.DType]
		if !ok {
			return nil, errors.Errorf("tensor %q: unsupported dtype %q", k, e.DType)
		}
		if len(e.DataOffsets) != 2 || e.DataOffsets[0] < 0 || e.DataOffsets[1] < e.DataOffsets[0] || e.DataOffsets[1] > dataLen {
			return nil, errors.Errorf("tensor %q: data_offsets %v outside the %d data bytes (truncated file?)", k, e.DataOffsets, dataLen)
		}
		if len(e.Shape) > 64 {
			return nil, errors.Errorf("tensor %q: %d dimensions", k, len(e.Shape))
		}
		numel := int64(1)
		for _, d := range e.Shape {
			if d < 0 || (d > 0 && numel > (1<<40)/d) {
				return nil, errors.Errorf("tensor %q: bad shape %v", k, e.Shape)
			}
			numel *= d
		}
		if numel*int64(dt.size) != e.DataOffsets[1]-e.DataOffsets[0] {
			return nil, errors.Errorf("tensor %q: shape %v of %s needs %d bytes, data_offsets %v give %d", k, e.Shape, e.DType, numel*int64(dt.size), e.DataOffsets, e.DataOffsets[1]-e.DataOffsets[0])
		}
		items = append(items, item{k, e, dt})
	}
	// File order: by data offset (ties, e.g. empty tensors, by name).
	sort.SliceStable(items, func(i, j int) bool { return items[i].e.DataOffsets[0] < items[j].e.DataOffsets[0] })
	end := int64(0)
	for _, it := range items {
		if it.e.DataOffsets[0] < end {
			return nil, errors.Errorf("tensor %q: data_offsets %v overlap the previous tensor", it.key, it.e.DataOffsets)
		}
		end = it.e.DataOffsets[1]
	}
	for _, it := range items {
		shape := make([]int, len(it.e.Shape))
		for i, d := range it.e.Shape {
			shape[i] = int(d)
		}
		dst := make([]float32, tensor.Numel(shape))
		if err := readElems(r, base+it.e.DataOffsets[0], it.dt, dst); err != nil {
			return nil, errors.Wrapf(err, "tensor %q", it.key)
		}
		if err := sd.add(it.key, it.dt.name, tensor.FromSlice(dst, shape...)); err != nil {
			return nil, err
		}
	}
	return sd, nil
}

// WriteSafetensors writes tensors as float32 safetensors to path, in the
// order of keys (all keys of tensors, sorted, when keys is nil), with an
// optional __metadata__. The write is atomic: the data goes to a temporary
// file in the same directory, is synced, and is renamed over path.
func WriteSafetensors(path string, tensors map[string]*tensor.Tensor, keys []string, metadata map[string]string) error {
	if keys == nil {
		keys = sortedKeys(tensors)
	}
	err := atomicfile.WriteFunc(path, func(w io.Writer) error { return EncodeSafetensors(w, tensors, keys, metadata) })
	return errors.Wrap(err, "safetensors")
}

// EncodeSafetensors writes tensors (float32, in the order of keys) in the
// safetensors format to w.
func EncodeSafetensors(w io.Writer, tensors map[string]*tensor.Tensor, keys []string, metadata map[string]string) error {
	// Build the header by hand to keep the key order.
	var hb bytes.Buffer
	hb.WriteByte('{')
	first := true
	comma := func() {
		if !first {
			hb.WriteByte(',')
		}
		first = false
	}
	if len(metadata) > 0 {
		comma()
		m, err := json.Marshal(metadata)
		if err != nil {
			return errors.Wrap(err, "encode metadata")
		}
		hb.WriteString(`"__metadata__":`)
		hb.Write(m)
	}
	seen := map[string]bool{}
	off := int64(0)
	for _, k := range keys {
		t, ok := tensors[k]
		if !ok || t == nil {
			return errors.Errorf("no tensor for key %q", k)
		}
		if seen[k] || k == "__metadata__" {
			return errors.Errorf("duplicate or reserved key %q", k)
		}
		seen[k] = true
		kj, _ := json.Marshal(k)
		e, _ := json.Marshal(stEntry{DType: "F32", Shape: int64s(t.Shape()), DataOffsets: []int64{off, off + 4*int64(t.Numel())}})
		comma()
		hb.Write(kj)
		hb.WriteByte(':')
		hb.Write(e)
		off += 4 * int64(t.Numel())
	}
	hb.WriteByte('}')
	for hb.Len()%8 != 0 {
		hb.WriteByte(' ')
	}
	var lb [8]byte
	binary.LittleEndian.PutUint64(lb[:], uint64(hb.Len()))
	if _, err := w.Write(lb[:]); err != nil {
		return err
	}
	if _, err := w.Write(hb.Bytes()); err != nil {
		return err
	}
	buf := make([]byte, 0, 1<<16)
	for _, k := range keys {
		t := tensors[k].Contiguous()
		for _, v := range t.Data() {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			if len(buf) == cap(buf) {
				if _, err := w.Write(buf); err != nil {
					return err
				}
				buf = buf[:0]
			}
		}
	}
	_, err := w.Write(buf)
	return err
}

func int64s(s []int) []int64 {
	out := make([]int64, len(s))
	for i, v := range s {
		out[i] = int64(v)
	}
	return out
}
