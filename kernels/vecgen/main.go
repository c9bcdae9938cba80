// Command vecgen writes the Go assembly of the vector kernels in package
// kernels: vec_avx2_amd64.s (AVX2+FMA, YMM registers) and
// vec_avx512_amd64.s (AVX-512F/DQ, ZMM registers).
//
// Both files come from the same kernel descriptions below; only the
// register width and the tail handling differ. AVX2 tails use VMASKMOVPS
// with a lane mask held in Y15; AVX-512 tails use the opmask K1. The Go
// prototypes live in kernels/vec_amd64.go (written by hand so that go vet's
// asmdecl check compares the two).
//
// Run from kernels/vecgen:
//
//	go run . -out ..
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// level describes one instruction-set flavour.
type level struct {
	suffix string // function-name suffix: AVX2 or AVX512
	reg    byte   // vector register letter: Y or Z
	w      int    // float32 lanes per vector
	file   string
}

var avx2 = level{suffix: "AVX2", reg: 'Y', w: 8, file: "vec_avx2_amd64.s"}
var avx512 = level{suffix: "AVX512", reg: 'Z', w: 16, file: "vec_avx512_amd64.s"}

// Constant table: every constant is repeated 16 times (64 bytes) so the same
// table serves as a YMM or ZMM memory operand.
const (
	cOne = iota
	cExpHi
	cExpLo
	cLog2e
	cLn2Hi
	cLn2Lo
	cP0
	cP1
	cP2
	cP3
	cP4
	cP5
	cI127
	cNegInf
	cNegQG
	cSign
	cAbs
	cNegQGLo
	cQGClamp
	cHalf
	cNegHalf
	cTwo
	cGeluClamp
	cGeluP0
	cGeluP1
	cGeluP2
	cGeluP3
	cGeluP4
	cGeluR1
	cGeluR2
	cGeluR3
	cGeluR4
	cGeluR5
	cInvSqrt2Pi
	cTanhClamp
	cTanhThr
	cTanhT0
	cTanhT1
	cTanhT2
	cTanhT3
	cTanhT4
	cTwoM24
	cCount
)

// Coefficients of the Gelu and Tanh kernels, fitted by fitcoef.py in this
// directory (python3 fitcoef.py prints them) and rounded to float32.
//
// Gelu: Phi(-a) = exp(-a*a/2) * Q(a) for a = |x|, with Q(a) =
// erfcx(a/sqrt 2)/2 approximated on [0, 14.5] by P(a)/R(a) (degrees 4 and
// 5, R(0) = 1); relative error 3.1e-8 with these float32 coefficients.
//
// Tanh: tanh(x) = x + x^3 T(x^2) for |x| < 0.625 with T of degree 4;
// relative error 8.6e-9 with these float32 coefficients.
const (
	geluP0 = 0.5
	geluP1 = 0.43830206990242004
	geluP2 = 0.18324048817157745
	geluP3 = 0.04063504934310913
	geluP4 = 0.004116580821573734
	geluR1 = 1.674489140510559
	geluR2 = 1.20252525806427
	geluR3 = 0.46948477625846863
	geluR4 = 0.10186340659856796
	geluR5 = 0.010318618267774582
	tanhT0 = -0.3333328068256378
	tanhT1 = 0.13331441581249237
	tanhT2 = -0.05373971536755562
	tanhT3 = 0.02063908986747265
	tanhT4 = -0.0057049887254834175
)

func constBits() [cCount]uint32 {
	f := math.Float32bits
	var c [cCount]uint32
	c[cOne] = f(1)
	c[cExpHi] = f(89)   // exp(89) overflows; larger inputs give +Inf too
	c[cExpLo] = f(-104) // exp(-104) < 2^-150 rounds to 0
	c[cLog2e] = f(1.44269504088896341)
	c[cLn2Hi] = f(0.693359375) // Cody-Waite split of ln 2 (Cephes expf)
	c[cLn2Lo] = f(-2.12194440e-4)
	c[cP0] = f(1.9875691500e-4) // Cephes expf minimax polynomial
	c[cP1] = f(1.3981999507e-3)
	c[cP2] = f(8.3334519073e-3)
	c[cP3] = f(4.1665795894e-2)
	c[cP4] = f(1.6666665459e-1)
	c[cP5] = f(5.0000001201e-1)
	c[cI127] = 127
	c[cNegInf] = f(float32(math.Inf(-1)))
	c[cNegQG] = f(-1.702)
	c[cSign] = 0x80000000
	c[cAbs] = 0x7fffffff
	c[cNegQGLo] = f(float32(-1.702 - float64(float32(-1.702)))) // -1.702 = hi + lo
	c[cQGClamp] = f(64)                                         // exp(-1.702*64) underflows to 0
	c[cHalf] = f(0.5)
	c[cNegHalf] = f(-0.5)
	c[cTwo] = f(2)
	c[cGeluClamp] = f(14.5) // |gelu(x)| < 2^-151 for x < -14.5; gelu(x) = x for x > 6
	for i, v := range []float32{geluP0, geluP1, geluP2, geluP3, geluP4} {
		c[cGeluP0+i] = f(0x1p24 * v) // see geluTail
	}
	for i, v := range []float32{geluR1, geluR2, geluR3, geluR4, geluR5} {
		c[cGeluR1+i] = f(v)
	}
	c[cInvSqrt2Pi] = f(0.39894228040143267794)
	c[cTanhClamp] = f(10) // float32(tanh(x)) = 1 for x > 9.01
	c[cTanhThr] = f(0.625)
	c[cTwoM24] = f(0x1p-24)
	for i, v := range []float32{tanhT0, tanhT1, tanhT2, tanhT3, tanhT4} {
		c[cTanhT0+i] = f(v)
	}
	return c
}

type gen struct {
	l   level
	buf bytes.Buffer
}

func (g *gen) p(format string, args ...any) {
	fmt.Fprintf(&g.buf, "\t"+format+"\n", args...)
}

func (g *gen) label(s string) { fmt.Fprintf(&g.buf, "%s:\n", s) }

// v names vector register i.
func (g *gen) v(i int) string { return fmt.Sprintf("%c%d", g.l.reg, i) }

// x names the XMM view of register i.
func (g *gen) x(i int) string { return fmt.Sprintf("X%d", i) }

// c is a memory operand for constant k.
func (g *gen) c(k int) string { return fmt.Sprintf("vecConst<>+%d(SB)", 64*k) }

func (g *gen) bytes() int { return 4 * g.l.w }

func (g *gen) is512() bool { return g.l.reg == 'Z' }

// zero clears vector register r.
func (g *gen) zero(r int) {
	if g.is512() {
		g.p("VPXORD %s, %s, %s", g.v(r), g.v(r), g.v(r))
	} else {
		g.p("VXORPS %s, %s, %s", g.v(r), g.v(r), g.v(r))
	}
}

// xorMem xors register r with constant k.
func (g *gen) xorMem(k, r int) {
	if g.is512() {
		g.p("VPXORD %s, %s, %s", g.c(k), g.v(r), g.v(r))
	} else {
		g.p("VXORPS %s, %s, %s", g.c(k), g.v(r), g.v(r))
	}
}

// load reads vector j (of the unrolled group) at ptr into register r; in the
// masked tail, lanes past the end read as zero and never fault.
func (g *gen) load(ptr string, j int, r int, masked bool) {
	off := j * g.bytes()
	switch {
	case !masked:
		g.p("VMOVUPS %d(%s), %s", off, ptr, g.v(r))
	case g.is512():
		g.p("VMOVUPS.Z %d(%s), K1, %s", off, ptr, g.v(r))
	default:
		g.p("VMASKMOVPS %d(%s), Y15, %s", off, ptr, g.v(r))
	}
}

// store writes register r to vector j at ptr; the masked tail writes only
// the valid lanes.
func (g *gen) store(r int, ptr string, j int, masked bool) {
	off := j * g.bytes()
	switch {
	case !masked:
		g.p("VMOVUPS %s, %d(%s)", g.v(r), off, ptr)
	case g.is512():
		g.p("VMOVUPS %s, K1, %d(%s)", g.v(r), off, ptr)
	default:
		g.p("VMASKMOVPS %s, Y15, %d(%s)", g.v(r), off, ptr)
	}
}

// tailMask sets the lane mask for the CX (< w) remaining elements:
// K1 on AVX-512, Y15 on AVX2. Clobbers AX and DX.
func (g *gen) tailMask() {
	if g.is512() {
		g.p("MOVL $1, AX")
		g.p("SHLL CX, AX")
		g.p("DECL AX")
		g.p("KMOVW AX, K1")
		return
	}
	g.p("LEAQ vecTailMask<>+32(SB), AX")
	g.p("MOVQ CX, DX")
	g.p("SHLQ $2, DX")
	g.p("SUBQ DX, AX")
	g.p("VMOVDQU (AX), Y15")
}

// loop emits a streaming loop over CX elements: an unrolled main loop of u
// vectors, a one-vector loop and a masked tail. body(j, masked) handles
// vector j of the group; ptrs are advanced after each step. Labels are
// prefixed with tag so a function can hold several loops.
func (g *gen) loop(tag string, u int, ptrs []string, body func(j int, masked bool)) {
	w := g.l.w
	adv := func(n int) {
		for _, p := range ptrs {
			g.p("ADDQ $%d, %s", n*g.bytes(), p)
		}
		g.p("SUBQ $%d, CX", n*w)
	}
	if u > 1 {
		g.label(tag + "loopU")
		g.p("CMPQ CX, $%d", u*w)
		g.p("JLT %sloop1", tag)
		for j := 0; j < u; j++ {
			body(j, false)
		}
		adv(u)
		g.p("JMP %sloopU", tag)
	}
	g.label(tag + "loop1")
	g.p("CMPQ CX, $%d", w)
	g.p("JLT %stail", tag)
	body(0, false)
	adv(1)
	g.p("JMP %sloop1", tag)
	g.label(tag + "tail")
	g.p("TESTQ CX, CX")
	g.p("JEQ %sdone", tag)
	g.tailMask()
	body(0, true)
	g.label(tag + "done")
}

// hreduce folds the lanes of register r with op (VADDPS or VMAXPS) into the
// low lane of X(r); t is a scratch register.
func (g *gen) hreduce(op string, r, t int) {
	if g.is512() {
		g.p("VEXTRACTF64X4 $1, Z%d, Y%d", r, t)
		g.p("%s Y%d, Y%d, Y%d", op, t, r, r)
	}
	g.p("VEXTRACTF128 $1, Y%d, X%d", r, t)
	g.p("%s X%d, X%d, X%d", op, t, r, r)
	g.p("VMOVHLPS X%d, X%d, X%d", r, r, t)
	g.p("%s X%d, X%d, X%d", op, t, r, r)
	g.p("VMOVSHDUP X%d, X%d", r, t)
	g.p("%s X%d, X%d, X%d", op, t, r, r)
}

// fold combines accumulators accs into accs[0] with op.
func (g *gen) fold(op string, accs []int) {
	for len(accs) > 1 {
		h := len(accs) / 2
		for i := 0; i < h; i++ {
			g.p("%s %s, %s, %s", op, g.v(accs[i+h]), g.v(accs[i]), g.v(accs[i]))
		}
		accs = accs[:h]
	}
}

// exp replaces register a by exp(a) using t1..t3 as scratch.
//
// exp(x) = 2^n * e^r with n = round(x*log2 e), r = x - n*ln2 (Cody-Waite
// split) and e^r from the Cephes expf degree-7 polynomial. Inputs are
// clamped to [-104, 89] first, NaN-preservingly (x is the operand returned
// when one side is NaN). 2^n is applied as 2^(n>>1) * 2^(n-(n>>1)) so that
// n = 128 overflows to +Inf and n < -126 rounds correctly into subnormals.
func (g *gen) exp(a, t1, t2, t3 int) {
	A, T1, T2, T3 := g.v(a), g.v(t1), g.v(t2), g.v(t3)
	g.p("VMOVUPS %s, %s", g.c(cExpHi), T1)
	g.p("VMINPS %s, %s, %s", A, T1, A)
	g.p("VMOVUPS %s, %s", g.c(cExpLo), T1)
	g.p("VMAXPS %s, %s, %s", A, T1, A)
	g.p("VMULPS %s, %s, %s", g.c(cLog2e), A, T1)
	g.p("VCVTPS2DQ %s, %s", T1, T2)
	g.p("VCVTDQ2PS %s, %s", T2, T1)
	g.p("VFNMADD231PS %s, %s, %s", g.c(cLn2Hi), T1, A)
	g.p("VFNMADD231PS %s, %s, %s", g.c(cLn2Lo), T1, A)
	g.p("VMOVUPS %s, %s", g.c(cP0), T1)
	for k := cP1; k <= cP5; k++ {
		g.p("VFMADD213PS %s, %s, %s", g.c(k), A, T1)
	}
	g.p("VMULPS %s, %s, %s", A, A, T3)
	g.p("VFMADD213PS %s, %s, %s", A, T3, T1)
	g.p("VADDPS %s, %s, %s", g.c(cOne), T1, T1)
	g.p("VPSRAD $1, %s, %s", T2, T3)
	g.p("VPSUBD %s, %s, %s", T3, T2, T2)
	g.p("VPADDD %s, %s, %s", g.c(cI127), T3, T3)
	g.p("VPSLLD $23, %s, %s", T3, T3)
	g.p("VPADDD %s, %s, %s", g.c(cI127), T2, T2)
	g.p("VPSLLD $23, %s, %s", T2, T2)
	g.p("VMULPS %s, %s, %s", T3, T1, T1)
	g.p("VMULPS %s, %s, %s", T2, T1, A)
}

func (g *gen) text(name, proto, frame string) {
	fmt.Fprintf(&g.buf, "\n// %s\nTEXT ·%s%s(SB), NOSPLIT, $%s\n", proto, name, g.l.suffix, frame)
}

func (g *gen) ret() {
	g.p("VZEROUPPER")
	g.p("RET")
}

// expUnroll is the unroll factor of the exp-based kernels.
func (g *gen) expUnroll() int {
	if g.is512() {
		return 4
	}
	return 2
}

func (g *gen) all() {
	g.axpy()
	g.dot()
	g.scale()
	g.binary("Add", "VADDPS")
	g.binary("Mul", "VMULPS")
	g.addScalar()
	g.sum()
	g.max()
	g.expK()
	g.sigmoid()
	g.quickGelu()
	g.quickGeluBackward()
	g.gelu()
	g.geluBackward()
	g.tanh()
	g.tanhBackward()
	g.relu()
	g.reluBackward()
	g.softmaxRow()
	g.sumSqDev()
	g.lnApply()
}

func (g *gen) axpy() {
	g.text("vecAxpy", "func vecAxpy(alpha float32, x, y *float32, n int)", "0-32")
	g.p("VBROADCASTSS alpha+0(FP), %s", g.v(14))
	g.p("MOVQ x+8(FP), SI")
	g.p("MOVQ y+16(FP), DI")
	g.p("MOVQ n+24(FP), CX")
	g.loop("", 4, []string{"SI", "DI"}, func(j int, m bool) {
		g.load("SI", j, j, m)
		g.load("DI", j, 4+j, m)
		g.p("VFMADD231PS %s, %s, %s", g.v(j), g.v(14), g.v(4+j))
		g.store(4+j, "DI", j, m)
	})
	g.ret()
}

func (g *gen) dot() {
	g.text("vecDot", "func vecDot(x, y *float32, n int) float32", "0-28")
	g.p("MOVQ x+0(FP), SI")
	g.p("MOVQ y+8(FP), DI")
	g.p("MOVQ n+16(FP), CX")
	for j := 0; j < 4; j++ {
		g.zero(8 + j)
	}
	g.loop("", 4, []string{"SI", "DI"}, func(j int, m bool) {
		g.load("SI", j, j, m)
		g.load("DI", j, 4+j, m)
		g.p("VFMADD231PS %s, %s, %s", g.v(j), g.v(4+j), g.v(8+j))
	})
	g.fold("VADDPS", []int{8, 9, 10, 11})
	g.hreduce("VADDPS", 8, 9)
	g.p("VMOVSS X8, ret+24(FP)")
	g.ret()
}

func (g *gen) sum() {
	g.text("vecSum", "func vecSum(x *float32, n int) float32", "0-20")
	g.p("MOVQ x+0(FP), SI")
	g.p("MOVQ n+8(FP), CX")
	for j := 0; j < 4; j++ {
		g.zero(8 + j)
	}
	g.loop("", 4, []string{"SI"}, func(j int, m bool) {
		g.load("SI", j, j, m)
		g.p("VADDPS %s, %s, %s", g.v(j), g.v(8+j), g.v(8+j))
	})
	g.fold("VADDPS", []int{8, 9, 10, 11})
	g.hreduce("VADDPS", 8, 9)
	g.p("VMOVSS X8, ret+16(FP)")
	g.ret()
}

// maxLoop emits a max reduction over CX elements at SI into X8, using
// accumulators 8..11, -Inf in 13; with nan set it also ORs a NaN flag
// (Y12 on AVX2, K3 on AVX-512).
func (g *gen) maxLoop(tag string, nan bool) {
	g.p("VMOVUPS %s, %s", g.c(cNegInf), g.v(13))
	for j := 0; j < 4; j++ {
		g.p("VMOVUPS %s, %s", g.v(13), g.v(8+j))
	}
	if nan {
		if g.is512() {
			g.p("KXORW K3, K3, K3")
		} else {
			g.zero(12)
		}
	}
	g.loop(tag, 4, []string{"SI"}, func(j int, m bool) {
		g.load("SI", j, j, m)
		if nan {
			if g.is512() {
				g.p("VCMPPS $3, %s, %s, K2", g.v(j), g.v(j))
				g.p("KORW K2, K3, K3")
			} else {
				g.p("VCMPPS $3, %s, %s, %s", g.v(j), g.v(j), g.v(4+j))
				g.p("VORPS %s, %s, %s", g.v(4+j), g.v(12), g.v(12))
			}
		}
		switch {
		case m && g.is512():
			g.p("VMAXPS %s, %s, K1, %s", g.v(j), g.v(8+j), g.v(8+j))
			return
		case m:
			g.p("VBLENDVPS Y15, %s, %s, %s", g.v(j), g.v(13), g.v(j))
		}
		g.p("VMAXPS %s, %s, %s", g.v(j), g.v(8+j), g.v(8+j))
	})
	g.fold("VMAXPS", []int{8, 9, 10, 11})
	g.hreduce("VMAXPS", 8, 9)
}

func (g *gen) max() {
	g.text("vecMax", "func vecMax(x *float32, n int) float32", "0-20")
	g.p("MOVQ x+0(FP), SI")
	g.p("MOVQ n+8(FP), CX")
	g.maxLoop("", true)
	if g.is512() {
		g.p("KORTESTW K3, K3")
	} else {
		g.p("VMOVMSKPS Y12, AX")
		g.p("TESTL AX, AX")
	}
	g.p("JNE nan")
	g.p("VMOVSS X8, ret+16(FP)")
	g.ret()
	g.label("nan")
	g.p("MOVL $0x7fc00000, ret+16(FP)")
	g.ret()
}

func (g *gen) scale() {
	g.text("vecScale", "func vecScale(alpha float32, x *float32, n int)", "0-24")
	g.p("VBROADCASTSS alpha+0(FP), %s", g.v(14))
	g.p("MOVQ x+8(FP), DI")
	g.p("MOVQ n+16(FP), CX")
	g.loop("", 4, []string{"DI"}, func(j int, m bool) {
		g.load("DI", j, j, m)
		g.p("VMULPS %s, %s, %s", g.v(14), g.v(j), g.v(j))
		g.store(j, "DI", j, m)
	})
	g.ret()
}

func (g *gen) binary(name, op string) {
	g.text("vec"+name, fmt.Sprintf("func vec%s(dst, a, b *float32, n int)", name), "0-32")
	g.p("MOVQ dst+0(FP), DI")
	g.p("MOVQ a+8(FP), SI")
	g.p("MOVQ b+16(FP), DX")
	g.p("MOVQ n+24(FP), CX")
	g.p("MOVQ DX, BX") // the tail mask code clobbers DX
	g.loop("", 4, []string{"DI", "SI", "BX"}, func(j int, m bool) {
		g.load("SI", j, j, m)
		g.load("BX", j, 4+j, m)
		// dst = a op b (Go operand order: op b, a, dst).
		g.p("%s %s, %s, %s", op, g.v(4+j), g.v(j), g.v(j))
		g.store(j, "DI", j, m)
	})
	g.ret()
}

func (g *gen) addScalar() {
	g.text("vecAddScalar", "func vecAddScalar(dst, src *float32, c float32, n int)", "0-32")
	g.p("MOVQ dst+0(FP), DI")
	g.p("MOVQ src+8(FP), SI")
	g.p("VBROADCASTSS c+16(FP), %s", g.v(14))
	g.p("MOVQ n+24(FP), CX")
	g.loop("", 4, []string{"DI", "SI"}, func(j int, m bool) {
		g.load("SI", j, j, m)
		g.p("VADDPS %s, %s, %s", g.v(14), g.v(j), g.v(j))
		g.store(j, "DI", j, m)
	})
	g.ret()
}

// unary emits dst[i] = f(src[i]) where f works on a group of `regs`
// registers starting at base regs*j.
func (g *gen) unary(name string, regs int, f func(base int)) {
	g.text("vec"+name, fmt.Sprintf("func vec%s(dst, src *float32, n int)", name), "0-24")
	g.p("MOVQ dst+0(FP), DI")
	g.p("MOVQ src+8(FP), SI")
	g.p("MOVQ n+16(FP), CX")
	g.loop("", g.expUnroll(), []string{"DI", "SI"}, func(j int, m bool) {
		b := regs * j
		g.load("SI", j, b, m)
		f(b)
		g.store(b, "DI", j, m)
	})
	g.ret()
}

func (g *gen) expK() {
	g.unary("Exp", 4, func(b int) { g.exp(b, b+1, b+2, b+3) })
}

func (g *gen) sigmoid() {
	// 1 / (1 + exp(-x))
	g.unary("Sigmoid", 4, func(b int) {
		g.xorMem(cSign, b)
		g.exp(b, b+1, b+2, b+3)
		g.p("VADDPS %s, %s, %s", g.c(cOne), g.v(b), g.v(b))
		g.p("VMOVUPS %s, %s", g.c(cOne), g.v(b+1))
		g.p("VDIVPS %s, %s, %s", g.v(b), g.v(b+1), g.v(b))
	})
}

func (g *gen) quickGelu() {
	// x * sigmoid(1.702 x) computed without overflow as x * num / (1 + u)
	// with u = exp(-1.702 |x|) and num = u for x < 0, 1 otherwise. |x| is
	// clamped to 64 (u underflows to 0 there), and the rounding error of the
	// product -1.702*|x| (with -1.702 split into hi+lo) corrects u to first
	// order: u *= 1 + lo. Registers of a group: b input/result, b+1..b+3 exp
	// scratch, b+4 x, b+5 lo.
	g.unary("QuickGelu", 6, func(b int) {
		A, X, T1, T2 := g.v(b), g.v(b+4), g.v(b+1), g.v(b+2)
		g.p("VMOVAPS %s, %s", A, X)
		if g.is512() {
			g.p("VPANDD %s, %s, %s", g.c(cAbs), A, A)
		} else {
			g.p("VANDPS %s, %s, %s", g.c(cAbs), A, A)
		}
		g.p("VMINPS %s, %s, %s", g.c(cQGClamp), A, A)
		g.quickGeluExp(b, b+5)
		// T1 = x < 0 ? u : 1
		g.p("VMOVUPS %s, %s", g.c(cOne), T1)
		if g.is512() {
			g.p("VPMOVD2M %s, K2", X)
			g.p("VMOVAPS %s, K2, %s", A, T1)
		} else {
			g.p("VBLENDVPS %s, %s, %s, %s", X, A, T1, T1)
		}
		g.p("VADDPS %s, %s, %s", g.c(cOne), A, T2)
		g.p("VMULPS %s, %s, %s", X, T1, T1)
		g.p("VDIVPS %s, %s, %s", T2, T1, A)
	})
}

// quickGeluExp sets register b, holding a = min(|x|, 64), to
// u = exp(-1.702 a) with the rounding error of the product -1.702*a (with
// -1.702 split into hi+lo) corrected to first order: u *= 1 + lo, lo in
// register lo. b+1..b+3 are exp scratch.
func (g *gen) quickGeluExp(b, lo int) {
	A, T1, LO := g.v(b), g.v(b+1), g.v(lo)
	g.p("VMULPS %s, %s, %s", g.c(cNegQG), A, T1)
	g.p("VMOVAPS %s, %s", T1, LO)
	g.p("VFMSUB231PS %s, %s, %s", g.c(cNegQG), A, LO)
	g.p("VFMADD231PS %s, %s, %s", g.c(cNegQGLo), A, LO)
	g.p("VMOVAPS %s, %s", T1, A)
	g.exp(b, b+1, b+2, b+3)
	g.p("VFMADD231PS %s, %s, %s", LO, A, A)
}

func (g *gen) quickGeluBackward() {
	// dst = gradOut * s * (1 + 1.702 xc * c) with s = sigmoid(1.702 x) and
	// c = 1 - s, both from u = exp(-1.702 |x|) as in quickGelu (|x|
	// clamped to 64, u corrected to first order): s = ns/(1+u) and
	// c = nc/(1+u) with (ns, nc) = (u, 1) for x < 0 and (1, u) otherwise,
	// so neither loses precision; xc is x clamped to [-64, 64] (the limits
	// 1 at +Inf and 0 at -Inf). Registers of a group: b |x| then u, b+1..
	// b+3 exp scratch then ns, 1+u and nc, b+4 x, b+5 lo then 1 then
	// 1 + 1.702 xc c, b+6 xc.
	g.binaryLoop("QuickGeluBackward", "gradOut", "x", g.expUnroll(), func(j int, m bool) {
		b := 7 * j
		A, NS, DEN, NC, X, LO, XC := g.v(b), g.v(b+1), g.v(b+2), g.v(b+3), g.v(b+4), g.v(b+5), g.v(b+6)
		g.load("BX", j, b, m)
		g.p("VMOVAPS %s, %s", A, X)
		g.andMem(cAbs, b, b)
		// min(64, |x|) keeps a NaN |x| (the NaN operand comes second).
		g.p("VMOVUPS %s, %s", g.c(cQGClamp), NC)
		g.p("VMINPS %s, %s, %s", A, NC, A)
		g.andMem(cSign, b+4, b+6)
		g.or(b+6, b, b+6)
		g.quickGeluExp(b, b+5)
		g.p("VMOVUPS %s, %s", g.c(cOne), LO)
		if g.is512() {
			g.p("VPMOVD2M %s, K2", X)
			g.p("VMOVAPS %s, %s", LO, NS)
			g.p("VMOVAPS %s, K2, %s", A, NS)
			g.p("VMOVAPS %s, %s", A, NC)
			g.p("VMOVAPS %s, K2, %s", LO, NC)
		} else {
			g.p("VBLENDVPS %s, %s, %s, %s", X, A, LO, NS)
			g.p("VBLENDVPS %s, %s, %s, %s", X, LO, A, NC)
		}
		g.p("VADDPS %s, %s, %s", LO, A, DEN)
		g.p("VDIVPS %s, %s, %s", DEN, NS, NS)
		g.p("VDIVPS %s, %s, %s", DEN, NC, NC)
		g.p("VMULPS %s, %s, %s", g.c(cNegQG), XC, DEN)
		g.p("VFNMADD231PS %s, %s, %s", NC, DEN, LO)
		g.p("VMULPS %s, %s, %s", LO, NS, NS)
		g.load("SI", j, b+2, m)
		g.p("VMULPS %s, %s, %s", DEN, NS, NS)
		g.store(b+1, "DI", j, m)
	})
}

// andMem sets register d = register r AND constant k.
func (g *gen) andMem(k, r, d int) {
	if g.is512() {
		g.p("VPANDD %s, %s, %s", g.c(k), g.v(r), g.v(d))
	} else {
		g.p("VANDPS %s, %s, %s", g.c(k), g.v(r), g.v(d))
	}
}

// or sets register d = register a OR register b.
func (g *gen) or(a, b, d int) {
	if g.is512() {
		g.p("VPORD %s, %s, %s", g.v(a), g.v(b), g.v(d))
	} else {
		g.p("VORPS %s, %s, %s", g.v(a), g.v(b), g.v(d))
	}
}

// selectNeg sets register d = r where the sign bit of register s is set and
// leaves d elsewhere (K2 is clobbered on AVX-512).
func (g *gen) selectNeg(s, r, d int) {
	if g.is512() {
		g.p("VPMOVD2M %s, K2", g.v(s))
		g.p("VMOVAPS %s, K2, %s", g.v(r), g.v(d))
	} else {
		g.p("VBLENDVPS %s, %s, %s, %s", g.v(s), g.v(r), g.v(d), g.v(d))
	}
}

// horner sets register d to the polynomial with the constants ks (highest
// degree first) evaluated at register x.
func (g *gen) horner(ks []int, x, d int) {
	g.p("VMOVUPS %s, %s", g.c(ks[0]), g.v(d))
	for _, k := range ks[1:] {
		g.p("VFMADD213PS %s, %s, %s", g.c(k), g.v(x), g.v(d))
	}
}

// geluTail computes, for x in register b, the lower Gaussian tail
// p = Phi(-a) = exp(-a*a/2) * P(a)/R(a) of a = min(|x|, 14.5), scaled by
// 2^24, into b+3 and e = exp(-a*a/2) into b+2, leaving a in b+1 and x in b;
// b+4..b+6 are scratch. a is NaN for NaN x (a NaN-preserving min), so p
// and e are too. e and p are 0 at a = 14.5.
//
// a*a = h + l exactly (l from an FMA), and exp(-a*a/2) is computed as
// exp(-h/2) * (1 - l/2): the exponent reaches -105, where rounding a*a
// would cost 6 ulp. The 2^24 scale (folded into P's coefficients) keeps p
// a normal number down to x = -13.9, so that x*p is rounded into the
// subnormal range once, at the end.
func (g *gen) geluTail(b int) {
	X, A, E, P, R, L := b, b+1, b+2, b+3, b+4, b+6
	g.andMem(cAbs, X, A)
	g.p("VMOVUPS %s, %s", g.c(cGeluClamp), g.v(E))
	g.p("VMINPS %s, %s, %s", g.v(A), g.v(E), g.v(A))
	g.p("VMULPS %s, %s, %s", g.v(A), g.v(A), g.v(E))
	g.p("VMOVAPS %s, %s", g.v(E), g.v(L))
	g.p("VFMSUB231PS %s, %s, %s", g.v(A), g.v(A), g.v(L))
	g.p("VMULPS %s, %s, %s", g.c(cNegHalf), g.v(E), g.v(E))
	g.p("VMULPS %s, %s, %s", g.c(cHalf), g.v(L), g.v(L))
	g.exp(E, b+3, b+4, b+5)
	g.p("VFNMADD231PS %s, %s, %s", g.v(L), g.v(E), g.v(E))
	g.horner([]int{cGeluP4, cGeluP3, cGeluP2, cGeluP1, cGeluP0}, A, P)
	g.horner([]int{cGeluR5, cGeluR4, cGeluR3, cGeluR2, cGeluR1, cOne}, A, R)
	g.p("VDIVPS %s, %s, %s", g.v(R), g.v(P), g.v(P))
	g.p("VMULPS %s, %s, %s", g.v(E), g.v(P), g.v(P))
}

// geluOneMinusP sets register d = 1 - p from geluTail's scaled p in b+3.
func (g *gen) geluOneMinusP(b, d int) {
	g.p("VMOVUPS %s, %s", g.c(cOne), g.v(d))
	g.p("VFNMADD231PS %s, %s, %s", g.c(cTwoM24), g.v(b+3), g.v(d))
}

func (g *gen) gelu() {
	// x * Phi(x): x*p for x < 0, x*(1-p) for x >= 0 (including -0, where
	// p is 1/2 either way). Seven registers per group.
	g.unary("Gelu", 7, func(b int) {
		g.geluTail(b)
		g.geluOneMinusP(b, b+4)
		g.p("VMULPS %s, %s, %s", g.v(b), g.v(b+4), g.v(b+4))
		g.p("VMULPS %s, %s, %s", g.v(b), g.v(b+3), g.v(b+3))
		g.p("VMULPS %s, %s, %s", g.c(cTwoM24), g.v(b+3), g.v(b+3))
		g.selectNeg(b, b+3, b+4)
		g.p("VMOVAPS %s, %s", g.v(b+4), g.v(b))
	})
}

// binaryLoop emits the argument loads and the loop of a kernel
// f(dst, p, q *float32, n int) over n elements: body(j, masked) handles
// vector j with DI = dst, SI = p and BX = q.
func (g *gen) binaryLoop(name, p, q string, u int, body func(j int, m bool)) {
	g.text("vec"+name, fmt.Sprintf("func vec%s(dst, %s, %s *float32, n int)", name, p, q), "0-32")
	g.p("MOVQ dst+0(FP), DI")
	g.p("MOVQ %s+8(FP), SI", p)
	g.p("MOVQ %s+16(FP), DX", q)
	g.p("MOVQ n+24(FP), CX")
	g.p("MOVQ DX, BX") // the tail mask code clobbers DX
	g.loop("", u, []string{"DI", "SI", "BX"}, body)
	g.ret()
}

func (g *gen) geluBackward() {
	// dst = gradOut * (Phi(x) + x*phi(x)) with phi(x) = e/sqrt(2 pi); the
	// x of the second term is sign(x)*a, so that it is 0 and not NaN at
	// x = +-Inf (derivative 1 and 0 there). Seven registers per group.
	g.binaryLoop("GeluBackward", "gradOut", "x", g.expUnroll(), func(j int, m bool) {
		b := 7 * j
		g.load("BX", j, b, m)
		g.geluTail(b)
		g.geluOneMinusP(b, b+4)
		g.p("VMULPS %s, %s, %s", g.c(cTwoM24), g.v(b+3), g.v(b+3))
		g.selectNeg(b, b+3, b+4)
		g.andMem(cSign, b, b+5)
		g.or(b+1, b+5, b+5)
		g.p("VMULPS %s, %s, %s", g.c(cInvSqrt2Pi), g.v(b+5), g.v(b+5))
		g.p("VFMADD231PS %s, %s, %s", g.v(b+5), g.v(b+2), g.v(b+4))
		g.load("SI", j, b+5, m)
		g.p("VMULPS %s, %s, %s", g.v(b+5), g.v(b+4), g.v(b+4))
		g.store(b+4, "DI", j, m)
	})
}

func (g *gen) tanh() {
	// sign(x) * t(|x|) with t(a) = a + a^3 T(a^2) for a < 0.625 and
	// 1 - 2/(exp(2 min(a, 10)) + 1) otherwise (the min keeps NaN). Registers:
	// b x then exp scratch and result, b+1 a, b+2 sign, b+3 a^2 then the
	// exp argument, b+4 the small-|x| value, b+5, b+6 exp scratch.
	g.unary("Tanh", 7, func(b int) {
		X, A, S, Z, SM := b, b+1, b+2, b+3, b+4
		g.andMem(cAbs, X, A)
		g.andMem(cSign, X, S)
		g.p("VMULPS %s, %s, %s", g.v(A), g.v(A), g.v(Z))
		g.horner([]int{cTanhT4, cTanhT3, cTanhT2, cTanhT1, cTanhT0}, Z, SM)
		g.p("VMULPS %s, %s, %s", g.v(Z), g.v(SM), g.v(SM))
		g.p("VFMADD213PS %s, %s, %s", g.v(A), g.v(A), g.v(SM))
		g.p("VMOVUPS %s, %s", g.c(cTanhClamp), g.v(Z))
		g.p("VMINPS %s, %s, %s", g.v(A), g.v(Z), g.v(Z))
		g.p("VADDPS %s, %s, %s", g.v(Z), g.v(Z), g.v(Z))
		g.exp(Z, X, b+5, b+6)
		g.p("VADDPS %s, %s, %s", g.c(cOne), g.v(Z), g.v(Z))
		g.p("VMOVUPS %s, %s", g.c(cTwo), g.v(X))
		g.p("VDIVPS %s, %s, %s", g.v(Z), g.v(X), g.v(X))
		g.p("VMOVUPS %s, %s", g.c(cOne), g.v(Z))
		g.p("VSUBPS %s, %s, %s", g.v(X), g.v(Z), g.v(Z))
		if g.is512() {
			g.p("VCMPPS $1, %s, %s, K2", g.c(cTanhThr), g.v(A))
			g.p("VMOVAPS %s, K2, %s", g.v(SM), g.v(Z))
		} else {
			g.p("VCMPPS $1, %s, %s, %s", g.c(cTanhThr), g.v(A), g.v(X))
			g.p("VBLENDVPS %s, %s, %s, %s", g.v(X), g.v(SM), g.v(Z), g.v(Z))
		}
		g.or(S, Z, X)
	})
}

func (g *gen) tanhBackward() {
	// dst = gradOut * (1 - y*y), 1 - y*y rounded once (FMA).
	g.binaryLoop("TanhBackward", "gradOut", "y", 4, func(j int, m bool) {
		g.load("BX", j, j, m)
		g.load("SI", j, 4+j, m)
		g.p("VMOVUPS %s, %s", g.c(cOne), g.v(8+j))
		g.p("VFNMADD231PS %s, %s, %s", g.v(j), g.v(j), g.v(8+j))
		g.p("VMULPS %s, %s, %s", g.v(4+j), g.v(8+j), g.v(8+j))
		g.store(8+j, "DI", j, m)
	})
}

func (g *gen) relu() {
	g.text("vecRelu", "func vecRelu(dst, src *float32, n int)", "0-24")
	g.p("MOVQ dst+0(FP), DI")
	g.p("MOVQ src+8(FP), SI")
	g.p("MOVQ n+16(FP), CX")
	g.zero(14)
	g.loop("", 4, []string{"DI", "SI"}, func(j int, m bool) {
		g.load("SI", j, j, m)
		// max(0, x) returning x when x is NaN (and -0 for -0).
		g.p("VMAXPS %s, %s, %s", g.v(j), g.v(14), g.v(j))
		g.store(j, "DI", j, m)
	})
	g.ret()
}

func (g *gen) reluBackward() {
	g.text("vecReluBackward", "func vecReluBackward(dst, gradOut, x *float32, n int)", "0-32")
	g.p("MOVQ dst+0(FP), DI")
	g.p("MOVQ gradOut+8(FP), SI")
	g.p("MOVQ x+16(FP), DX")
	g.p("MOVQ n+24(FP), CX")
	g.p("MOVQ DX, BX")
	g.zero(14)
	g.loop("", 4, []string{"DI", "SI", "BX"}, func(j int, m bool) {
		g.load("BX", j, j, m)
		g.load("SI", j, 4+j, m)
		// keep gradOut where x > 0 (ordered: NaN x gives 0).
		if g.is512() {
			g.p("VCMPPS $0x1e, %s, %s, K2", g.v(14), g.v(j))
			g.p("VMOVAPS.Z %s, K2, %s", g.v(4+j), g.v(4+j))
		} else {
			g.p("VCMPPS $0x1e, %s, %s, %s", g.v(14), g.v(j), g.v(j))
			g.p("VANDPS %s, %s, %s", g.v(j), g.v(4+j), g.v(4+j))
		}
		g.store(4+j, "DI", j, m)
	})
	g.ret()
}

// softmaxRow: one row, n >= 1. max pass, exp(x-max) pass with sum, scale
// pass. Registers: exp groups 4j..4j+3, sum accumulators 8,9, max/scale 13
// (AVX2) — on AVX-512 groups use 0..15, accumulators 16..19, max 30.
func (g *gen) softmaxRow() {
	g.text("vecSoftmaxRow", "func vecSoftmaxRow(dst, src *float32, n int)", "0-24")
	g.p("MOVQ dst+0(FP), DI")
	g.p("MOVQ src+8(FP), SI")
	g.p("MOVQ n+16(FP), R8")
	// pass 1: max
	g.p("MOVQ SI, BX")
	g.p("MOVQ R8, CX")
	g.p("MOVQ BX, SI")
	g.maxLoop("max", false)
	mreg := 13
	acc0 := 8
	if g.is512() {
		mreg, acc0 = 30, 16
	}
	g.p("VBROADCASTSS X8, %s", g.v(mreg))
	// pass 2: dst = exp(src - max), accumulate the sum
	u := g.expUnroll()
	for j := 0; j < u; j++ {
		g.zero(acc0 + j)
	}
	g.p("MOVQ BX, SI")
	g.p("MOVQ DI, R9")
	g.p("MOVQ R8, CX")
	g.loop("exp", u, []string{"SI", "R9"}, func(j int, m bool) {
		b := 4 * j
		g.load("SI", j, b, m)
		g.p("VSUBPS %s, %s, %s", g.v(mreg), g.v(b), g.v(b))
		g.exp(b, b+1, b+2, b+3)
		g.store(b, "R9", j, m)
		switch {
		case m && g.is512():
			g.p("VADDPS %s, %s, K1, %s", g.v(b), g.v(acc0+j), g.v(acc0+j))
			return
		case m:
			g.p("VANDPS Y15, %s, %s", g.v(b), g.v(b))
		}
		g.p("VADDPS %s, %s, %s", g.v(b), g.v(acc0+j), g.v(acc0+j))
	})
	accs := make([]int, u)
	for j := range accs {
		accs[j] = acc0 + j
	}
	g.fold("VADDPS", accs)
	if acc0 != 8 {
		// hreduce uses VEX-only instructions: fold in registers 8, 9.
		g.p("VMOVAPS %s, %s", g.v(acc0), g.v(8))
	}
	g.hreduce("VADDPS", 8, 9)
	g.p("VMOVSS %s, X9", g.c(cOne))
	g.p("VDIVSS X8, X9, X9")
	g.p("VBROADCASTSS X9, %s", g.v(mreg))
	// pass 3: dst *= 1/sum
	g.p("MOVQ DI, R9")
	g.p("MOVQ R8, CX")
	g.loop("scale", 4, []string{"R9"}, func(j int, m bool) {
		g.load("R9", j, j, m)
		g.p("VMULPS %s, %s, %s", g.v(mreg), g.v(j), g.v(j))
		g.store(j, "R9", j, m)
	})
	g.ret()
}

func (g *gen) sumSqDev() {
	g.text("vecSumSqDev", "func vecSumSqDev(x *float32, n int, mean float32) float32", "0-28")
	g.p("MOVQ x+0(FP), SI")
	g.p("MOVQ n+8(FP), CX")
	g.p("VBROADCASTSS mean+16(FP), %s", g.v(13))
	for j := 0; j < 4; j++ {
		g.zero(8 + j)
	}
	g.loop("", 4, []string{"SI"}, func(j int, m bool) {
		g.load("SI", j, j, m)
		switch {
		case m && g.is512():
			g.p("VSUBPS.Z %s, %s, K1, %s", g.v(13), g.v(j), g.v(j))
		case m:
			g.p("VSUBPS %s, %s, %s", g.v(13), g.v(j), g.v(j))
			g.p("VANDPS Y15, %s, %s", g.v(j), g.v(j))
		default:
			g.p("VSUBPS %s, %s, %s", g.v(13), g.v(j), g.v(j))
		}
		g.p("VFMADD231PS %s, %s, %s", g.v(j), g.v(j), g.v(8+j))
	})
	g.fold("VADDPS", []int{8, 9, 10, 11})
	g.hreduce("VADDPS", 8, 9)
	g.p("VMOVSS X8, ret+24(FP)")
	g.ret()
}

func (g *gen) lnApply() {
	g.text("vecLNApply", "func vecLNApply(dst, src, gamma, beta *float32, n int, mean, rstd float32)", "0-48")
	g.p("MOVQ dst+0(FP), DI")
	g.p("MOVQ src+8(FP), SI")
	g.p("MOVQ gamma+16(FP), R8")
	g.p("MOVQ beta+24(FP), R9")
	g.p("MOVQ n+32(FP), CX")
	g.p("VBROADCASTSS mean+40(FP), %s", g.v(12))
	g.p("VBROADCASTSS rstd+44(FP), %s", g.v(13))
	g.loop("", 4, []string{"DI", "SI", "R8", "R9"}, func(j int, m bool) {
		g.load("SI", j, j, m)
		g.load("R8", j, 4+j, m)
		g.load("R9", j, 8+j, m)
		g.p("VSUBPS %s, %s, %s", g.v(12), g.v(j), g.v(j))
		g.p("VMULPS %s, %s, %s", g.v(13), g.v(j), g.v(j))
		// ((x-mean)*rstd)*gamma + beta
		g.p("VFMADD213PS %s, %s, %s", g.v(8+j), g.v(4+j), g.v(j))
		g.store(j, "DI", j, m)
	})
	g.ret()
}

func (g *gen) data() {
	bits := constBits()
	fmt.Fprintf(&g.buf, "\n// Constants, each repeated 16 times (see vecgen).\n")
	for k, b := range bits {
		for i := 0; i < 16; i++ {
			fmt.Fprintf(&g.buf, "DATA vecConst<>+%d(SB)/4, $0x%08x\n", 64*k+4*i, b)
		}
	}
	fmt.Fprintf(&g.buf, "GLOBL vecConst<>(SB), RODATA|NOPTR, $%d\n", 64*cCount)
	if !g.is512() {
		fmt.Fprintf(&g.buf, "\n// Tail masks: 8 all-ones lanes then 8 zero lanes; loading 8 lanes at\n// offset 32-4r gives r leading ones.\n")
		for i := 0; i < 16; i++ {
			v := uint32(0)
			if i < 8 {
				v = 0xffffffff
			}
			fmt.Fprintf(&g.buf, "DATA vecTailMask<>+%d(SB)/4, $0x%08x\n", 4*i, v)
		}
		fmt.Fprintf(&g.buf, "GLOBL vecTailMask<>(SB), RODATA|NOPTR, $64\n")
	}
}

func main() {
	out := flag.String("out", "..", "directory of package kernels")
	flag.Parse()
	for _, l := range []level{avx2, avx512} {
		g := &gen{l: l}
		fmt.Fprintf(&g.buf, "// Code generated by kernels/vecgen (go run . -out ..); DO NOT EDIT.\n\n")
		fmt.Fprintf(&g.buf, "//go:build !purego\n\n#include \"textflag.h\"\n")
		g.all()
		g.data()
		src := strings.ReplaceAll(g.buf.String(), "\t\n", "\n")
		if err := os.WriteFile(filepath.Join(*out, l.file), []byte(src), 0o644); err != nil {
			log.Fatal(err)
		}
	}
}
