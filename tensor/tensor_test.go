package tensor

import (
	"math"
	"testing"
)

func seq(shape ...int) *Tensor {
	t := New(shape...)
	for i := range t.data {
		t.data[i] = float32(i)
	}
	return t
}

func TestTransposeContiguous(t *testing.T) {
	x := seq(2, 3)
	y := x.Transpose(0, 1)
	if y.IsContiguous() {
		t.Fatal("transposed view reported contiguous")
	}
	want := []float32{0, 3, 1, 4, 2, 5}
	got := y.Contiguous().Data()
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("transpose: got %v want %v", got, want)
		}
	}
	if y.At(2, 1) != 5 {
		t.Fatalf("At(2,1)=%v", y.At(2, 1))
	}
}

func TestPermute3D(t *testing.T) {
	x := seq(2, 3, 4)
	y := x.Permute(2, 0, 1).Contiguous()
	for a := 0; a < 2; a++ {
		for b := 0; b < 3; b++ {
			for c := 0; c < 4; c++ {
				if y.At(c, a, b) != x.At(a, b, c) {
					t.Fatalf("permute mismatch at %d %d %d", a, b, c)
				}
			}
		}
	}
}

func TestNarrowSelectReshape(t *testing.T) {
	x := seq(4, 5)
	n := x.Narrow(1, 1, 3)
	if n.At(2, 0) != 11 || n.At(3, 2) != 18 {
		t.Fatalf("narrow wrong: %v", n.Contiguous())
	}
	r := n.Reshape(-1)
	if r.Dim(0) != 12 || r.At(3) != 6 {
		t.Fatalf("reshape of narrow wrong: %v", r)
	}
	s := x.Select(0, 2)
	if s.NDim() != 1 || s.At(4) != 14 {
		t.Fatalf("select wrong: %v", s)
	}
	u := s.Unsqueeze(0)
	if u.Dim(0) != 1 || u.Dim(1) != 5 || u.At(0, 4) != 14 {
		t.Fatalf("unsqueeze wrong: %v", u.Shape())
	}
	if u.Squeeze(0).At(1) != 11 {
		t.Fatal("squeeze wrong")
	}
	// Writing through a view changes the base.
	n.Set(-1, 0, 0)
	if x.At(0, 1) != -1 {
		t.Fatal("view does not share storage")
	}
}

func TestExpandAndBroadcast(t *testing.T) {
	x := seq(3, 1)
	y := x.Expand(2, 3, 4)
	if y.At(1, 2, 3) != 2 || y.At(0, 0, 1) != 0 {
		t.Fatalf("expand wrong")
	}
	c := y.Contiguous()
	if c.Numel() != 24 || c.Data()[23] != 2 {
		t.Fatal("expand contiguous wrong")
	}
	s, err := BroadcastShapes([]int{8, 1, 6, 1}, []int{7, 1, 5})
	if err != nil || !SameShape(s, []int{8, 7, 6, 5}) {
		t.Fatalf("broadcast got %v %v", s, err)
	}
	if _, err := BroadcastShapes([]int{3}, []int{4}); err == nil {
		t.Fatal("expected broadcast error for 3 vs 4")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("expand 3 -> 4 should panic")
		}
	}()
	seq(3).Expand(4)
}

func TestReshapeErrors(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("bad reshape should panic")
		}
	}()
	seq(2, 3).Reshape(4, 2)
}

func TestCopyFromStrided(t *testing.T) {
	x := New(3, 4)
	v := x.Transpose(0, 1) // 4x3 view
	v.CopyFrom(seq(4, 3))
	if x.At(2, 1) != 5 { // v[1,2] = 5
		t.Fatalf("CopyFrom into strided view wrong: %v", x)
	}
	v.Narrow(0, 1, 2).Fill(9)
	if x.At(0, 1) != 9 || x.At(2, 2) != 9 || x.At(0, 0) != 0 {
		t.Fatalf("Fill on view wrong: %v", x)
	}
}

func TestFloat16RoundTrip(t *testing.T) {
	cases := map[uint16]float32{
		0x0000: 0, 0x3c00: 1, 0xc000: -2, 0x7bff: 65504, 0x0001: 5.960464477539063e-08,
		0x03ff: 6.097555160522461e-05, 0x0400: 6.103515625e-05, 0x3555: 0.333251953125,
	}
	for h, f := range cases {
		if got := Float16ToFloat32(h); got != f {
			t.Errorf("Float16ToFloat32(%#x)=%v want %v", h, got, f)
		}
		if got := Float32ToFloat16(f); got != h {
			t.Errorf("Float32ToFloat16(%v)=%#x want %#x", f, got, h)
		}
	}
	if !math.IsInf(float64(Float16ToFloat32(0x7c00)), 1) || !math.IsNaN(float64(Float16ToFloat32(0x7e00))) {
		t.Error("inf/nan decoding wrong")
	}
	if Float32ToFloat16(1e6) != 0x7c00 {
		t.Error("overflow should give +Inf")
	}
	// Every finite half survives the round trip.
	for h := 0; h < 1<<16; h++ {
		f := Float16ToFloat32(uint16(h))
		if f != f {
			continue
		}
		if g := Float32ToFloat16(f); g != uint16(h) {
			t.Fatalf("round trip %#x -> %v -> %#x", h, f, g)
		}
	}
	// Ties round to even: 1 + 2^-11 is halfway between 1 and 1+2^-10.
	if Float32ToFloat16(1+1.0/2048) != 0x3c00 || Float32ToFloat16(1+3.0/2048) != 0x3c02 {
		t.Error("round-to-nearest-even wrong")
	}
	if BFloat16ToFloat32(0x3f80) != 1 {
		t.Error("bfloat16 1.0 wrong")
	}
}

func TestRandomDeterministic(t *testing.T) {
	a := RandN(NewRNG(7), 0, 1, 100)
	b := RandN(NewRNG(7), 0, 1, 100)
	var mean float64
	for i := range a.data {
		if a.data[i] != b.data[i] {
			t.Fatal("same seed gave different samples")
		}
		mean += float64(a.data[i])
	}
	if math.Abs(mean/100) > 0.4 {
		t.Fatalf("mean %v too far from 0", mean/100)
	}
}
