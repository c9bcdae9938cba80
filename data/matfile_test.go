package data

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// matFixture is the path of a file written by testdata/gen_mat_fixtures.py.
func matFixture(name string) string {
	return filepath.Join("..", "testdata", "data", name)
}

func readMatFixture(t *testing.T, name string) *MatFile {
	t.Helper()
	m, err := ReadMat(matFixture(name))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func matVar(t *testing.T, m *MatFile, name string, class MatClass, dims ...int) *MatArray {
	t.Helper()
	v, err := m.Var(name)
	if err != nil {
		t.Fatal(err)
	}
	if v.Class != class || !slices.Equal(v.Dims, dims) || v.Name != name {
		t.Fatalf("%s: got %q %s %v, want %s %v", name, v.Name, v.Class, v.Dims, class, dims)
	}
	return v
}

func matStr(t *testing.T, v *MatArray) string {
	t.Helper()
	s, err := v.Str()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestReadMatArrays checks every variable of arrays.mat (uncompressed) and
// arrays_z.mat (the same, compressed) against the values in
// gen_mat_fixtures.py.
func TestReadMatArrays(t *testing.T) {
	for _, file := range []string{"arrays.mat", "arrays_z.mat"} {
		t.Run(file, func(t *testing.T) {
			m := readMatFixture(t, file)
			wantNames := []string{"d", "f32", "i8", "u8", "i16", "u16", "i32", "u32", "i64", "u64", "b", "z", "s", "rows", "u", "cell", "rec", "empty"}
			if !slices.Equal(m.Names, wantNames) {
				t.Errorf("names %q", m.Names)
			}
			if !strings.HasPrefix(m.Header, "MATLAB 5.0 MAT-file") {
				t.Errorf("header %q", m.Header)
			}
			numeric := []struct {
				name  string
				class MatClass
				dims  []int
				want  []float64
			}{
				{"d", MatDouble, []int{2, 3}, []float64{1, 4, 2, 5, 3, 6.5}},
				{"f32", MatSingle, []int{1, 2}, []float64{0.25, -2}},
				{"i8", MatInt8, []int{1, 2}, []float64{-128, 127}},
				{"u8", MatUint8, []int{1, 2}, []float64{0, 255}},
				{"i16", MatInt16, []int{1, 2}, []float64{-32768, 32767}},
				{"u16", MatUint16, []int{1, 1}, []float64{65535}},
				{"i32", MatInt32, []int{1, 2}, []float64{-2147483648, 7}},
				{"u32", MatUint32, []int{1, 1}, []float64{4294967295}},
				{"i64", MatInt64, []int{1, 2}, []float64{-(1 << 40), 3}},
				{"u64", MatUint64, []int{1, 1}, []float64{1 << 40}},
				{"b", MatUint8, []int{1, 3}, []float64{1, 0, 1}},
				{"z", MatDouble, []int{1, 2}, []float64{1, -3.5}},
				{"empty", MatDouble, []int{0, 0}, nil},
			}
			for _, c := range numeric {
				v := matVar(t, m, c.name, c.class, c.dims...)
				if !slices.Equal(v.Real, c.want) {
					t.Errorf("%s = %v, want %v", c.name, v.Real, c.want)
				}
				if v.Logical != (c.name == "b") || v.Complex != (c.name == "z") {
					t.Errorf("%s: logical %v complex %v", c.name, v.Logical, v.Complex)
				}
			}
			if z := m.Vars["z"]; !slices.Equal(z.Imag, []float64{2, -0.5}) {
				t.Errorf("z imaginary part %v", z.Imag)
			}
			if ints, err := m.Vars["i32"].Ints(); err != nil || !slices.Equal(ints, []int{-2147483648, 7}) {
				t.Errorf("i32 Ints %v %v", ints, err)
			}
			if _, err := m.Vars["f32"].Ints(); err == nil {
				t.Error("Ints of 0.25: want error")
			}
			if got := matStr(t, matVar(t, m, "s", MatChar, 1, 11)); got != "hello world" {
				t.Errorf("s = %q", got)
			}
			if got := matStr(t, matVar(t, m, "u", MatChar, 1, 6)); got != "café ü" {
				t.Errorf("u = %q", got)
			}
			rows := matVar(t, m, "rows", MatChar, 2, 2)
			if r, err := rows.Rows(); err != nil || !slices.Equal(r, []string{"ab", "cd"}) {
				t.Errorf("rows = %q, %v", r, err)
			}
			if _, err := rows.Str(); err == nil {
				t.Error("Str of a two-row char array: want error")
			}
			if _, err := m.Vars["d"].Str(); err == nil {
				t.Error("Str of a double array: want error")
			}

			cell := matVar(t, m, "cell", MatCell, 1, 3)
			if len(cell.Cells) != 3 || matStr(t, cell.Cells[0]) != "abc" || !slices.Equal(cell.Cells[1].Real, []float64{4, 5}) {
				t.Fatalf("cell members %+v", cell.Cells)
			}
			inner := cell.Cells[2]
			if inner.Class != MatCell || len(inner.Cells) != 1 || matStr(t, inner.Cells[0]) != "nested" {
				t.Errorf("nested cell %+v", inner)
			}

			rec := matVar(t, m, "rec", MatStruct, 1, 2)
			if !slices.Equal(rec.Fields, []string{"name", "value"}) || len(rec.Values) != 4 {
				t.Fatalf("rec fields %q, %d values", rec.Fields, len(rec.Values))
			}
			if matStr(t, rec.Field(0, "name")) != "first" || matStr(t, rec.Field(1, "name")) != "second" {
				t.Error("rec names")
			}
			if v := rec.Field(0, "value"); v.Class != MatDouble || !slices.Equal(v.Real, []float64{1.5}) {
				t.Errorf("rec(1).value %+v", v)
			}
			if v := rec.Field(1, "value"); v.Class != MatInt32 || !slices.Equal(v.Real, []float64{1, 2, 3}) {
				t.Errorf("rec(2).value %+v", v)
			}
			if rec.Field(2, "name") != nil || rec.Field(0, "nope") != nil || cell.Field(0, "name") != nil {
				t.Error("Field out of range / missing / not a struct: want nil")
			}
		})
	}
}

func TestReadMatCarsLayout(t *testing.T) {
	meta := readMatFixture(t, "cars_meta.mat")
	names := matVar(t, meta, "class_names", MatCell, 1, 3)
	if got := matStr(t, names.Cells[2]); got != "smart fortwo Convertible 2012" {
		t.Errorf("class_names{3} = %q", got)
	}
	annos := matVar(t, readMatFixture(t, "cars_train_annos.mat"), "annotations", MatStruct, 1, 12)
	if !slices.Equal(annos.Fields, []string{"bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2", "class", "fname"}) {
		t.Errorf("fields %q", annos.Fields)
	}
	var classes []float64
	for i := 0; i < 4; i++ {
		classes = append(classes, annos.Field(i, "class").Real...)
	}
	if !slices.Equal(classes, []float64{1, 3, 2, 1}) || annos.Field(1, "class").Class != MatUint8 {
		t.Errorf("classes %v", classes)
	}
	if got := matStr(t, annos.Field(3, "fname")); got != "00004.jpg" {
		t.Errorf("fname %q", got)
	}
	if x2 := annos.Field(0, "bbox_x2"); x2.Class != MatUint16 || x2.Real[0] != 300 {
		t.Errorf("bbox_x2 %+v", x2)
	}
	test := matVar(t, readMatFixture(t, "cars_test_annos_withlabels.mat"), "annotations", MatStruct, 1, 4)
	if c := test.Field(3, "class"); c.Class != MatDouble || !slices.Equal(c.Real, []float64{3}) {
		t.Errorf("test annotations(4).class %+v", c)
	}
}

func TestReadMatBigEndian(t *testing.T) {
	m := readMatFixture(t, "big_endian.mat")
	if x := matVar(t, m, "x", MatDouble, 2, 2); !slices.Equal(x.Real, []float64{1, 3, 2, 4}) {
		t.Errorf("x %v", x.Real)
	}
	if s := matStr(t, matVar(t, m, "s", MatChar, 1, 2)); s != "BE" {
		t.Errorf("s %q", s)
	}
	c := matVar(t, m, "c", MatCell, 1, 1)
	if in := c.Cells[0]; in.Class != MatInt16 || !slices.Equal(in.Real, []float64{7}) {
		t.Errorf("c{1} %+v", in)
	}
}

func TestReadMatErrors(t *testing.T) {
	for _, c := range []struct{ file, want string }{
		{"v73_header.mat", "v7.3"},
		{"v4.mat", "v4"},
		{"missing.mat", "missing.mat"},
	} {
		_, err := ReadMat(matFixture(c.file))
		mustErr(t, err, c.file, c.want)
	}
	full, err := os.ReadFile(matFixture("arrays.mat"))
	if err != nil {
		t.Fatal(err)
	}
	// Every prefix parses without panicking; one that cuts a variable is
	// an error naming the file and the variable.
	for n := 0; n < len(full); n++ {
		m, err := ParseMat(full[:n], "cut.mat")
		if err == nil && len(m.Names) >= 18 {
			t.Fatalf("prefix of %d bytes: all variables read", n)
		}
	}
	_, err = ParseMat(full[:300], "cut.mat")
	mustErr(t, err, "cut.mat", "truncated", "variable")

	// An unsupported class (sparse) in an otherwise valid file.
	sparse := slices.Clone(full)
	flags := 128 + 8 + 8 // first variable: miMATRIX tag, then the array flags tag
	if binary.LittleEndian.Uint32(sparse[flags:])&0xff != uint32(MatDouble) {
		t.Fatal("fixture layout changed: first variable is not an uncompressed double")
	}
	sparse[flags] = 5
	_, err = ParseMat(sparse, "sparse.mat")
	mustErr(t, err, "sparse.mat", `variable "d"`, "unsupported array class sparse")

	// A compressed variable whose zlib stream is corrupt.
	z, err := os.ReadFile(matFixture("arrays_z.mat"))
	if err != nil {
		t.Fatal(err)
	}
	z = slices.Clone(z)
	z[128+8+4] ^= 0xff
	_, err = ParseMat(z, "z.mat")
	mustErr(t, err, "z.mat", "variable #1", "compressed")

	m := readMatFixture(t, "imagelabels.mat")
	_, err = m.Var("nope")
	mustErr(t, err, "imagelabels.mat", `no variable "nope"`, "labels")
	if _, err := ParseMat(bytes.Repeat([]byte{' '}, 128), "blank.mat"); err == nil {
		t.Error("header without endian indicator: want error")
	}
}

// FuzzReadMat checks that no input makes the parser panic. Run it with
// go test ./data/ -run '^$' -fuzz FuzzReadMat -fuzztime 30s.
func FuzzReadMat(f *testing.F) {
	entries, err := os.ReadDir(filepath.Join("..", "testdata", "data"))
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".mat") {
			b, err := os.ReadFile(matFixture(e.Name()))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMat(b, "fuzz.mat")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.mat") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, name := range m.Names {
			v := m.Vars[name]
			if v.Class.Numeric() && len(v.Real) != v.Len() {
				t.Fatalf("%s: %d values for dims %v", name, len(v.Real), v.Dims)
			}
			if v.Class == MatChar && len(v.Chars) != v.Len() {
				t.Fatalf("%s: %d chars for dims %v", name, len(v.Chars), v.Dims)
			}
		}
	})
}
