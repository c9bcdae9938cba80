package data

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/pkg/errors"
)

// MatClass is the MATLAB class of a MatArray.
type MatClass uint8

// The MATLAB classes ReadMat returns (values of the MAT-file mxCLASS
// codes).
const (
	MatCell   MatClass = 1
	MatStruct MatClass = 2
	MatChar   MatClass = 4
	MatDouble MatClass = 6
	MatSingle MatClass = 7
	MatInt8   MatClass = 8
	MatUint8  MatClass = 9
	MatInt16  MatClass = 10
	MatUint16 MatClass = 11
	MatInt32  MatClass = 12
	MatUint32 MatClass = 13
	MatInt64  MatClass = 14
	MatUint64 MatClass = 15
)

// Classes the reader recognises but does not support.
const (
	matObject   MatClass = 3
	matSparse   MatClass = 5
	matFunction MatClass = 16
	matOpaque   MatClass = 17
)

var matClassNames = map[MatClass]string{
	MatCell: "cell", MatStruct: "struct", matObject: "object", MatChar: "char",
	matSparse: "sparse", MatDouble: "double", MatSingle: "single",
	MatInt8: "int8", MatUint8: "uint8", MatInt16: "int16", MatUint16: "uint16",
	MatInt32: "int32", MatUint32: "uint32", MatInt64: "int64", MatUint64: "uint64",
	matFunction: "function handle", matOpaque: "opaque (MATLAB object)",
}

// String returns the MATLAB name of the class ("double", "cell", ...).
func (c MatClass) String() string {
	if n, ok := matClassNames[c]; ok {
		return n
	}
	return fmt.Sprintf("class %d", uint8(c))
}

// Numeric reports whether c is one of the numeric classes (double,
// single, int8…uint64).
func (c MatClass) Numeric() bool { return c >= MatDouble && c <= MatUint64 }

// MatArray is one MATLAB array of a MAT-file. Element data are stored in
// MATLAB's column-major order; which field holds them depends on Class.
type MatArray struct {
	// Name is the variable name (empty for cell and struct members).
	Name string
	// Class is the MATLAB class.
	Class MatClass
	// Dims are the dimensions (at least two).
	Dims []int
	// Logical is set for logical arrays (stored as uint8).
	Logical bool
	// Complex is set for complex numeric arrays (Imag is then filled).
	Complex bool
	// Real and Imag hold numeric data converted to float64 (64-bit
	// integers beyond 2^53 lose precision).
	Real, Imag []float64
	// Chars holds the characters of a char array.
	Chars []rune
	// Cells holds the members of a cell array.
	Cells []*MatArray
	// Fields are the field names of a struct array.
	Fields []string
	// Values holds the struct members: field f of element i is
	// Values[i*len(Fields)+f].
	Values []*MatArray
}

// Len returns the number of elements (the product of Dims).
func (a *MatArray) Len() int {
	n := 1
	for _, d := range a.Dims {
		n *= d
	}
	return n
}

// Str returns a char array with at most one row as a string.
func (a *MatArray) Str() (string, error) {
	if a.Class != MatChar {
		return "", errors.Errorf("want a char array, got %s", a.describe())
	}
	if len(a.Chars) > 0 && (len(a.Dims) == 0 || len(a.Chars) != a.Dims[len(a.Dims)-1]) {
		return "", errors.Errorf("want a single-row char array, got %s", a.describe())
	}
	return string(a.Chars), nil
}

// Rows returns the rows of a two-dimensional char array (MATLAB's
// cellstr without the trailing-blank removal).
func (a *MatArray) Rows() ([]string, error) {
	if a.Class != MatChar || len(a.Dims) != 2 {
		return nil, errors.Errorf("want a two-dimensional char array, got %s", a.describe())
	}
	rows, cols := a.Dims[0], a.Dims[1]
	out := make([]string, rows)
	buf := make([]rune, cols)
	for r := range out {
		for c := range buf {
			buf[c] = a.Chars[r+c*rows]
		}
		out[r] = string(buf)
	}
	return out, nil
}

// Ints returns the elements of a real numeric array as ints; every value
// must be integral.
func (a *MatArray) Ints() ([]int, error) {
	if !a.Class.Numeric() || a.Complex {
		return nil, errors.Errorf("want a real numeric array, got %s", a.describe())
	}
	out := make([]int, len(a.Real))
	for i, v := range a.Real {
		if v != math.Trunc(v) || math.Abs(v) > 1<<53 {
			return nil, errors.Errorf("element %d is %v, not an integer", i+1, v)
		}
		out[i] = int(v)
	}
	return out, nil
}

// Field returns field name of struct element i (0-based), or nil when the
// array is not a struct, i is out of range or there is no such field.
func (a *MatArray) Field(i int, name string) *MatArray {
	if a.Class != MatStruct || i < 0 || i*len(a.Fields) >= len(a.Values) {
		return nil
	}
	for f, n := range a.Fields {
		if n == name {
			return a.Values[i*len(a.Fields)+f]
		}
	}
	return nil
}

// describe is "<class> <d1>x<d2>..." for error messages.
func (a *MatArray) describe() string {
	ds := make([]string, len(a.Dims))
	for i, d := range a.Dims {
		ds[i] = fmt.Sprint(d)
	}
	return a.Class.String() + " " + strings.Join(ds, "x")
}

// MatFile is the content of a Level 5 MAT-file.
type MatFile struct {
	// Source names the file in errors.
	Source string
	// Header is the descriptive text of the 128-byte header.
	Header string
	// Names lists the variables in file order.
	Names []string
	// Vars maps variable names to arrays (a later variable of the same
	// name replaces an earlier one).
	Vars map[string]*MatArray
}

// Var returns variable name, or an error naming the file and the variable.
func (m *MatFile) Var(name string) (*MatArray, error) {
	v, ok := m.Vars[name]
	if !ok {
		return nil, errors.Errorf("mat file %s: no variable %q (has %s)", m.Source, name, strings.Join(m.Names, ", "))
	}
	return v, nil
}

// ReadMat reads a MATLAB Level 5 MAT-file (MATLAB 5 to 7.x, the formats
// written by save -v6 / -v7 and scipy.io.savemat). It supports both byte
// orders, compressed variables, numeric, logical and char arrays, cell
// arrays and structs. v7.3 (HDF5) files, v4 files, sparse arrays, objects
// and function handles are errors naming the file and the variable.
func ReadMat(file string) (*MatFile, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, errors.Wrapf(err, "read mat file %s", file)
	}
	return ParseMat(b, file)
}

// MAT-file data types.
const (
	miINT8       = 1
	miUINT8      = 2
	miINT16      = 3
	miUINT16     = 4
	miINT32      = 5
	miUINT32     = 6
	miSINGLE     = 7
	miDOUBLE     = 9
	miINT64      = 12
	miUINT64     = 13
	miMATRIX     = 14
	miCOMPRESSED = 15
	miUTF8       = 16
	miUTF16      = 17
	miUTF32      = 18
)

// Limits that keep bad bytes from exhausting memory or the stack.
const (
	matMaxDepth    = 64
	matMaxElements = 1 << 40
)

// MatMinBudget and MatBudgetRatio bound decompression: the compressed
// variables of a MAT-file of s bytes may inflate to at most
// max(MatMinBudget, MatBudgetRatio × s) bytes in total (annotation files
// compress 5–20×), and each one to at most the size its tag declares, so
// a zlib bomb fails before it is inflated. ParseMatWithBudget raises the
// budget for a genuinely huge file.
const (
	MatMinBudget   = 16 << 20
	MatBudgetRatio = 64
)

// matHeaderLen is the size of the Level 5 file header.
const matHeaderLen = 128

// ParseMat parses the bytes of a Level 5 MAT-file (see ReadMat); source
// names it in errors.
func ParseMat(b []byte, source string) (*MatFile, error) {
	return ParseMatWithBudget(b, source, max(MatMinBudget, MatBudgetRatio*int64(len(b))))
}

// ParseMatWithBudget is ParseMat with the decompression budget (total bytes
// inflated from compressed variables) set to budget.
func ParseMatWithBudget(b []byte, source string, budget int64) (*MatFile, error) {
	if len(b) < matHeaderLen {
		if bytes.HasPrefix(b, []byte("\x89HDF")) {
			return nil, errors.Errorf("mat file %s: HDF5 (MATLAB v7.3) files are not supported; re-save with save -v7", source)
		}
		return nil, errors.Errorf("mat file %s: %d bytes, shorter than the 128-byte Level 5 header (truncated, or not a MAT-file)", source, len(b))
	}
	p := &matParser{source: source, budget: budget}
	switch string(b[126:128]) {
	case "IM":
		p.order = binary.LittleEndian
	case "MI":
		p.order = binary.BigEndian
	default:
		return nil, errors.Errorf("mat file %s: no Level 5 endian indicator in the header (a MATLAB v4 file or not a MAT-file)", source)
	}
	text := strings.TrimRight(string(b[:116]), " \x00")
	version := p.order.Uint16(b[124:])
	switch {
	case version == 0x0200 || strings.HasPrefix(text, "MATLAB 7.3"):
		return nil, errors.Errorf("mat file %s: MATLAB v7.3 (HDF5) files are not supported; re-save with save -v7", source)
	case version != 0x0100:
		return nil, errors.Errorf("mat file %s: unsupported MAT-file version %#04x (want 0x0100, Level 5)", source, version)
	}
	m := &MatFile{Source: source, Header: text, Vars: map[string]*MatArray{}}
	for off := matHeaderLen; off < len(b); {
		where := fmt.Sprintf("variable #%d (byte %d)", len(m.Names)+1, off)
		p.top = where
		typ, data, next, err := p.element(b, off)
		if err != nil {
			return nil, p.errorf(err, where)
		}
		switch typ {
		case miCOMPRESSED:
			raw, err := p.inflate(data)
			if err != nil {
				return nil, p.errorf(err, where+": compressed element")
			}
			typ, data, _, err = p.element(raw, 0)
			if err != nil {
				return nil, p.errorf(err, where+": compressed element")
			}
			if typ != miMATRIX {
				return nil, p.errorf(errors.Errorf("compressed element holds data type %d, want miMATRIX (14)", typ), where)
			}
		case miMATRIX:
		default:
			return nil, p.errorf(errors.Errorf("top-level element of data type %d, want miMATRIX (14) or miCOMPRESSED (15)", typ), where)
		}
		a, err := p.matrix(data, "", 0)
		if err != nil {
			return nil, err
		}
		if _, dup := m.Vars[a.Name]; !dup {
			m.Names = append(m.Names, a.Name)
		}
		m.Vars[a.Name] = a
		off = next
	}
	return m, nil
}

// inflate decompresses the zlib stream of a compressed element: the tag
// of the element it holds, then at most the size that tag declares, which
// must fit in what is left of the budget. Nothing beyond the declared size
// is inflated.
func (p *matParser) inflate(data []byte) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, errors.Wrap(err, "zlib")
	}
	var tag [8]byte
	if _, err := io.ReadFull(zr, tag[:]); err != nil {
		return nil, errors.Wrap(err, "zlib: reading the element tag")
	}
	n := int64(8)
	if p.order.Uint32(tag[:])>>16 == 0 { // not a small data element
		n += int64(p.order.Uint32(tag[4:]))
	}
	if n > p.budget-p.inflated {
		return nil, errors.Errorf("compressed element declares %d bytes, beyond the decompression budget of %d bytes left of %d (data.MatMinBudget, data.MatBudgetRatio × file size; see ParseMatWithBudget)", n, p.budget-p.inflated, p.budget)
	}
	p.inflated += n
	raw := make([]byte, n)
	copy(raw, tag[:])
	if _, err := io.ReadFull(zr, raw[8:]); err != nil {
		return nil, errors.Wrapf(err, "zlib: inflating the %d bytes the element tag declares", n)
	}
	return raw, nil
}

type matParser struct {
	source string
	order  binary.ByteOrder
	// top names the top-level variable being read before its name is
	// known ("variable #k (byte b)").
	top string
	// budget bounds the bytes inflated from compressed elements, inflated
	// counts them.
	budget, inflated int64
}

// errorf wraps err with the file and the variable (or member) path.
func (p *matParser) errorf(err error, where string) error {
	return errors.Wrapf(err, "mat file %s: %s", p.source, where)
}

// element decodes the data element whose tag starts at b[off:]: its data
// type, its data and the offset of the next element (8-byte aligned,
// except after compressed elements, which are not padded).
func (p *matParser) element(b []byte, off int) (typ uint32, data []byte, next int, err error) {
	if len(b)-off < 8 {
		return 0, nil, 0, errors.Errorf("truncated: %d bytes left for an 8-byte element tag", len(b)-off)
	}
	w := p.order.Uint32(b[off:])
	if n := int(w >> 16); n != 0 { // small data element: data in the tag
		if n > 4 {
			return 0, nil, 0, errors.Errorf("small data element claims %d bytes (at most 4)", n)
		}
		return w & 0xffff, b[off+4 : off+4+n], off + 8, nil
	}
	n := uint64(p.order.Uint32(b[off+4:]))
	if n > uint64(len(b)-off-8) {
		return 0, nil, 0, errors.Errorf("truncated: element of data type %d claims %d bytes, %d left", w, n, len(b)-off-8)
	}
	start := off + 8
	next = start + int(n)
	data = b[start:next]
	if w != miCOMPRESSED {
		next = min(start+(int(n)+7)&^7, len(b))
	}
	return w, data, next, nil
}

// matrix decodes the contents of a miMATRIX element. path names the
// array in errors ("" for a top-level variable, whose name is read here).
func (p *matParser) matrix(data []byte, path string, depth int) (*MatArray, error) {
	where := p.top
	if path != "" {
		where = fmt.Sprintf("variable %q", path)
	}
	fail := func(err error) (*MatArray, error) { return nil, p.errorf(err, where) }
	if depth > matMaxDepth {
		return fail(errors.Errorf("arrays nested deeper than %d levels", matMaxDepth))
	}
	if len(data) == 0 { // an empty member of a cell or struct
		return &MatArray{Class: MatDouble, Dims: []int{0, 0}}, nil
	}
	typ, flags, off, err := p.element(data, 0)
	if err != nil {
		return fail(errors.Wrap(err, "array flags"))
	}
	if typ != miUINT32 || len(flags) != 8 {
		return fail(errors.Errorf("array flags: want 8 bytes of miUINT32, got %d bytes of data type %d", len(flags), typ))
	}
	f := p.order.Uint32(flags)
	a := &MatArray{Class: MatClass(f & 0xff), Complex: f&0x800 != 0, Logical: f&0x200 != 0}

	typ, dims, off, err := p.element(data, off)
	if err != nil {
		return fail(errors.Wrap(err, "dimensions"))
	}
	if typ != miINT32 || len(dims) < 4 || len(dims)%4 != 0 {
		return fail(errors.Errorf("dimensions: want miINT32 values, got %d bytes of data type %d", len(dims), typ))
	}
	n := 1
	for i := 0; i < len(dims); i += 4 {
		d := int32(p.order.Uint32(dims[i:]))
		if d < 0 {
			return fail(errors.Errorf("negative dimension %d", d))
		}
		a.Dims = append(a.Dims, int(d))
		if d > 0 && n > matMaxElements/int(d) {
			return fail(errors.Errorf("dimensions %v: more than %d elements", a.Dims, int64(matMaxElements)))
		}
		n *= int(d)
	}
	if len(a.Dims) == 1 {
		a.Dims = append(a.Dims, 1)
	}

	typ, name, off, err := p.element(data, off)
	if err != nil {
		return fail(errors.Wrap(err, "array name"))
	}
	if typ != miINT8 && typ != miUINT8 && typ != miUTF8 {
		return fail(errors.Errorf("array name: data type %d, want miINT8", typ))
	}
	a.Name = string(name)
	if path == "" {
		where = fmt.Sprintf("variable %q", a.Name)
		path = a.Name
	}

	switch {
	case a.Class.Numeric():
		if a.Real, off, err = p.numeric(data, off, n, "real part"); err != nil {
			return fail(err)
		}
		if a.Complex {
			if a.Imag, _, err = p.numeric(data, off, n, "imaginary part"); err != nil {
				return fail(err)
			}
		}
	case a.Class == MatChar:
		if a.Chars, err = p.chars(data, off, n); err != nil {
			return fail(err)
		}
	case a.Class == MatCell:
		if n > (len(data)-off)/8 {
			return fail(errors.Errorf("cell array of %d members in %d bytes (truncated)", n, len(data)-off))
		}
		a.Cells = make([]*MatArray, n)
		for i := range a.Cells {
			sub := fmt.Sprintf("%s{%d}", path, i+1)
			if a.Cells[i], off, err = p.member(data, off, sub, depth); err != nil {
				return nil, err
			}
		}
	case a.Class == MatStruct:
		if err := p.structure(a, data, off, n, path, depth); err != nil {
			return nil, err
		}
	default:
		return fail(errors.Errorf("unsupported array class %s", a.Class))
	}
	return a, nil
}

// member decodes the miMATRIX element at data[off:] (a cell or struct
// member) and returns it with the offset of the next element.
func (p *matParser) member(data []byte, off int, path string, depth int) (*MatArray, int, error) {
	typ, body, next, err := p.element(data, off)
	if err != nil {
		return nil, 0, p.errorf(err, fmt.Sprintf("variable %q", path))
	}
	if typ != miMATRIX {
		return nil, 0, p.errorf(errors.Errorf("member of data type %d, want miMATRIX (14)", typ), fmt.Sprintf("variable %q", path))
	}
	a, err := p.matrix(body, path, depth+1)
	return a, next, err
}

// structure decodes the field names and members of a struct array of n
// elements.
func (p *matParser) structure(a *MatArray, data []byte, off, n int, path string, depth int) error {
	where := fmt.Sprintf("variable %q", path)
	typ, lenData, off, err := p.element(data, off)
	if err != nil {
		return p.errorf(errors.Wrap(err, "field name length"), where)
	}
	if typ != miINT32 || len(lenData) != 4 {
		return p.errorf(errors.Errorf("field name length: want one miINT32, got %d bytes of data type %d", len(lenData), typ), where)
	}
	nameLen := int(int32(p.order.Uint32(lenData)))
	typ, names, off, err := p.element(data, off)
	if err != nil {
		return p.errorf(errors.Wrap(err, "field names"), where)
	}
	if typ != miINT8 && typ != miUINT8 {
		return p.errorf(errors.Errorf("field names: data type %d, want miINT8", typ), where)
	}
	if nameLen <= 0 {
		if len(names) != 0 {
			return p.errorf(errors.Errorf("field name length %d with %d bytes of names", nameLen, len(names)), where)
		}
	} else {
		if len(names)%nameLen != 0 {
			return p.errorf(errors.Errorf("%d bytes of field names are not a multiple of the name length %d", len(names), nameLen), where)
		}
		for i := 0; i < len(names); i += nameLen {
			name, _, _ := bytes.Cut(names[i:i+nameLen], []byte{0})
			a.Fields = append(a.Fields, string(name))
		}
	}
	nf := len(a.Fields)
	if nf > 0 && n > (len(data)-off)/8/nf {
		return p.errorf(errors.Errorf("struct array of %d elements with %d fields in %d bytes (truncated)", n, nf, len(data)-off), where)
	}
	a.Values = make([]*MatArray, n*nf)
	for i := 0; i < n; i++ {
		for f, fname := range a.Fields {
			sub := fmt.Sprintf("%s(%d).%s", path, i+1, fname)
			if a.Values[i*nf+f], off, err = p.member(data, off, sub, depth); err != nil {
				return err
			}
		}
	}
	return nil
}

// numSize is the byte size of numeric data type typ (0 if not numeric).
func numSize(typ uint32) int {
	switch typ {
	case miINT8, miUINT8:
		return 1
	case miINT16, miUINT16:
		return 2
	case miINT32, miUINT32, miSINGLE:
		return 4
	case miDOUBLE, miINT64, miUINT64:
		return 8
	}
	return 0
}

// numeric decodes the numeric data element at data[off:] holding n values
// of any numeric data type (MATLAB may store a double array as int8s).
func (p *matParser) numeric(data []byte, off, n int, what string) ([]float64, int, error) {
	if n == 0 && off >= len(data) {
		return nil, off, nil
	}
	typ, d, next, err := p.element(data, off)
	if err != nil {
		return nil, 0, errors.Wrap(err, what)
	}
	size := numSize(typ)
	if size == 0 {
		return nil, 0, errors.Errorf("%s: data type %d is not numeric", what, typ)
	}
	if len(d) != n*size {
		return nil, 0, errors.Errorf("%s: %d bytes for %d elements of %d bytes", what, len(d), n, size)
	}
	out := make([]float64, n)
	o := p.order
	for i := range out {
		e := d[i*size:]
		switch typ {
		case miINT8:
			out[i] = float64(int8(e[0]))
		case miUINT8:
			out[i] = float64(e[0])
		case miINT16:
			out[i] = float64(int16(o.Uint16(e)))
		case miUINT16:
			out[i] = float64(o.Uint16(e))
		case miINT32:
			out[i] = float64(int32(o.Uint32(e)))
		case miUINT32:
			out[i] = float64(o.Uint32(e))
		case miSINGLE:
			out[i] = float64(math.Float32frombits(o.Uint32(e)))
		case miDOUBLE:
			out[i] = math.Float64frombits(o.Uint64(e))
		case miINT64:
			out[i] = float64(int64(o.Uint64(e)))
		case miUINT64:
			out[i] = float64(o.Uint64(e))
		}
	}
	return out, next, nil
}

// chars decodes the character data element at data[off:] holding n
// characters.
func (p *matParser) chars(data []byte, off, n int) ([]rune, error) {
	if n == 0 && off >= len(data) {
		return nil, nil
	}
	typ, d, _, err := p.element(data, off)
	if err != nil {
		return nil, errors.Wrap(err, "characters")
	}
	var out []rune
	switch typ {
	case miUTF8, miINT8, miUINT8:
		if len(d) < n {
			return nil, errors.Errorf("characters: %d bytes for %d characters", len(d), n)
		}
		if typ == miUTF8 {
			out = make([]rune, 0, n)
			for len(d) > 0 {
				r, size := utf8.DecodeRune(d)
				out = append(out, r)
				d = d[size:]
			}
		} else {
			out = make([]rune, len(d))
			for i, c := range d {
				out[i] = rune(c)
			}
		}
	case miUINT16, miINT16, miUTF16:
		if len(d)%2 != 0 || len(d) < 2*n {
			return nil, errors.Errorf("characters: %d bytes for %d 16-bit characters", len(d), n)
		}
		u := make([]uint16, len(d)/2)
		for i := range u {
			u[i] = p.order.Uint16(d[2*i:])
		}
		if typ == miUTF16 {
			out = utf16.Decode(u)
		} else {
			out = make([]rune, len(u))
			for i, c := range u {
				out[i] = rune(c)
			}
		}
	case miUINT32, miINT32, miUTF32:
		if len(d) != 4*n {
			return nil, errors.Errorf("characters: %d bytes for %d 32-bit characters", len(d), n)
		}
		out = make([]rune, n)
		for i := range out {
			out[i] = rune(p.order.Uint32(d[4*i:]))
		}
	default:
		return nil, errors.Errorf("characters: unsupported data type %d", typ)
	}
	if len(out) != n {
		return nil, errors.Errorf("characters: %d decoded for %d array elements", len(out), n)
	}
	return out, nil
}
