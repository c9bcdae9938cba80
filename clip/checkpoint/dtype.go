package checkpoint

import (
	"encoding/binary"
	"io"
	"math"
	"sync"
	"unsafe"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/kernels"
	"github.com/softcpt/softcpt-go/tensor"
)

// dtype describes one element type of a storage.
type dtype struct {
	name string // PyTorch name
	size int    // bytes per element
}

var (
	dtFloat32  = dtype{"float32", 4}
	dtFloat16  = dtype{"float16", 2}
	dtBFloat16 = dtype{"bfloat16", 2}
	dtFloat64  = dtype{"float64", 8}
	dtInt64    = dtype{"int64", 8}
	dtInt32    = dtype{"int32", 4}
	dtInt16    = dtype{"int16", 2}
	dtInt8     = dtype{"int8", 1}
	dtUint8    = dtype{"uint8", 1}
	dtBool     = dtype{"bool", 1}
)

// storageDTypes maps PyTorch's typed storage class names to dtypes.
var storageDTypes = map[string]dtype{
	"FloatStorage":    dtFloat32,
	"HalfStorage":     dtFloat16,
	"BFloat16Storage": dtBFloat16,
	"DoubleStorage":   dtFloat64,
	"LongStorage":     dtInt64,
	"IntStorage":      dtInt32,
	"ShortStorage":    dtInt16,
	"CharStorage":     dtInt8,
	"ByteStorage":     dtUint8,
	"BoolStorage":     dtBool,
}

// decode converts len(dst) little-endian elements of src into dst.
func (d dtype) decode(src []byte, dst []float32) {
	switch d {
	case dtFloat32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	case dtFloat16:
		for i := range dst {
			dst[i] = tensor.Float16ToFloat32(binary.LittleEndian.Uint16(src[2*i:]))
		}
	case dtBFloat16:
		for i := range dst {
			dst[i] = tensor.BFloat16ToFloat32(binary.LittleEndian.Uint16(src[2*i:]))
		}
	case dtFloat64:
		for i := range dst {
			dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(src[8*i:])))
		}
	case dtInt64:
		for i := range dst {
			dst[i] = float32(int64(binary.LittleEndian.Uint64(src[8*i:])))
		}
	case dtInt32:
		for i := range dst {
			dst[i] = float32(int32(binary.LittleEndian.Uint32(src[4*i:])))
		}
	case dtInt16:
		for i := range dst {
			dst[i] = float32(int16(binary.LittleEndian.Uint16(src[2*i:])))
		}
	case dtInt8:
		for i := range dst {
			dst[i] = float32(int8(src[i]))
		}
	case dtUint8:
		for i := range dst {
			dst[i] = float32(src[i])
		}
	case dtBool:
		for i := range dst {
			if src[i] != 0 {
				dst[i] = 1
			} else {
				dst[i] = 0
			}
		}
	}
}

// chunkBytes is the read buffer size used when streaming storages.
const chunkBytes = 1 << 18

// littleEndian reports whether the host stores numbers little-endian, as
// every checkpoint format does: then float32 storages are read straight
// into their destination and float16 and bfloat16 ones widened in bulk
// (readElems' fast paths).
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// halfBufs holds read buffers of chunkBytes for 2-byte storages.
var halfBufs = sync.Pool{New: func() any {
	b := make([]uint16, chunkBytes/2)
	return &b
}}

// readElems decodes len(dst) elements of type d from r starting at byte
// offset off. On a little-endian host float32 data is read straight into
// dst and float16 and bfloat16 data widened in bulk
// (kernels.Float16ToFloat32s, kernels.BFloat16ToFloat32s) from a pooled
// buffer; other types stream through a bounded buffer and dtype.decode,
// the reference of every conversion.
func readElems(r io.ReaderAt, off int64, d dtype, dst []float32) error {
	if littleEndian && len(dst) > 0 {
		switch d {
		case dtFloat32:
			return readAt(r, unsafe.Slice((*byte)(unsafe.Pointer(&dst[0])), 4*len(dst)), off)
		case dtFloat16, dtBFloat16:
			return readHalves(r, off, d, dst)
		}
	}
	per := chunkBytes / d.size
	buf := make([]byte, min(len(dst), per)*d.size)
	for done := 0; done < len(dst); {
		n := min(len(dst)-done, per)
		b := buf[:n*d.size]
		if err := readAt(r, b, off+int64(done)*int64(d.size)); err != nil {
			return err
		}
		d.decode(b, dst[done:done+n])
		done += n
	}
	return nil
}

// readHalves is readElems of float16 or bfloat16 data on a
// little-endian host.
func readHalves(r io.ReaderAt, off int64, d dtype, dst []float32) error {
	bp := halfBufs.Get().(*[]uint16)
	defer halfBufs.Put(bp)
	buf := *bp
	for done := 0; done < len(dst); {
		n := min(len(dst)-done, len(buf))
		h := buf[:n]
		if err := readAt(r, unsafe.Slice((*byte)(unsafe.Pointer(&h[0])), 2*n), off+2*int64(done)); err != nil {
			return err
		}
		if d == dtFloat16 {
			kernels.Float16ToFloat32s(dst[done:done+n], h)
		} else {
			kernels.BFloat16ToFloat32s(dst[done:done+n], h)
		}
		done += n
	}
	return nil
}

// readAt fills b from r at off; a short read is io.ErrUnexpectedEOF.
func readAt(r io.ReaderAt, b []byte, off int64) error {
	if _, err := r.ReadAt(b, off); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return errors.Wrap(err, "read storage data")
	}
	return nil
}

// stridedSpan checks a strided view against a storage of numel elements
// and returns the first and one-past-last element indices it touches.
func stridedSpan(offset int64, shape, stride []int, numel int64) (lo, hi int64, err error) {
	if len(shape) != len(stride) {
		return 0, 0, errors.Errorf("shape %v and stride %v differ in rank", shape, stride)
	}
	if offset < 0 {
		return 0, 0, errors.Errorf("negative storage offset %d", offset)
	}
	count := int64(1)
	last := offset
	for i, s := range shape {
		if s < 0 || stride[i] < 0 {
			return 0, 0, errors.Errorf("negative size or stride in shape %v stride %v", shape, stride)
		}
		if s == 0 {
			return offset, offset, nil
		}
		if count > (1<<40)/int64(s) {
			return 0, 0, errors.Errorf("shape %v is too large", shape)
		}
		count *= int64(s)
		if stride[i] > 0 && int64(s-1) > (math.MaxInt64/2-last)/int64(stride[i]) {
			return 0, 0, errors.Errorf("stride %v overflows", stride)
		}
		last += int64(s-1) * int64(stride[i])
	}
	if last >= numel {
		return 0, 0, errors.Errorf("storage of %d elements too small for shape %v stride %v offset %d", numel, shape, stride, offset)
	}
	// Overlapping or broadcast (stride 0) views may hold more elements
	// than their storage; bound the expansion so that a hostile file
	// cannot request an enormous allocation from a tiny storage.
	if count > 2*numel+4096 {
		return 0, 0, errors.Errorf("view of shape %v stride %v expands a storage of %d elements too far", shape, stride, numel)
	}
	return offset, last + 1, nil
}

// isContiguous reports whether stride is row-major for shape (ignoring
// dimensions of size 1).
func isContiguous(shape, stride []int) bool {
	want := 1
	for i := len(shape) - 1; i >= 0; i-- {
		if shape[i] != 1 && stride[i] != want {
			return false
		}
		want *= shape[i]
	}
	return true
}

// readStrided decodes the view (offset, shape, stride) of a storage of
// type d that starts at byte base of r into dst, contiguous (len(dst) is
// the view's number of elements).
func readStrided(r io.ReaderAt, base int64, d dtype, numel int64, offset int64, shape, stride []int, dst []float32) error {
	lo, hi, err := stridedSpan(offset, shape, stride, numel)
	if err != nil {
		return err
	}
	n := tensor.Numel(shape)
	if n == 0 {
		return nil
	}
	if len(dst) != n {
		return errors.Errorf("view of shape %v has %d elements, not %d", shape, n, len(dst))
	}
	if isContiguous(shape, stride) {
		return readElems(r, base+lo*int64(d.size), d, dst)
	}
	span := make([]float32, hi-lo)
	if err := readElems(r, base+lo*int64(d.size), d, span); err != nil {
		return err
	}
	idx := make([]int, len(shape))
	for i := range dst {
		p := 0
		for k, v := range idx {
			p += v * stride[k]
		}
		dst[i] = span[p]
		for k := len(idx) - 1; k >= 0; k-- {
			idx[k]++
			if idx[k] < shape[k] {
				break
			}
			idx[k] = 0
		}
	}
	return nil
}
