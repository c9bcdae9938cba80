package kernels

// GemmBF16Act computes C = A·op(B) (m×n, leading dimension ldc,
// overwritten) like GemmBF16, for a B that is not constant (an
// activation, such as attention keys and values): op(B) is B (k×n,
// stored k×n) or Bᵀ (B stored n×k) when transB, row-major with leading
// dimension ldb, converted to bf16 and packed into pooled scratch on
// every call instead of into a BF16Matrix. The result equals
// GemmBF16(m, a, lda, PackBF16(transB, k, n, b, ldb), c, ldc,
// BF16Epilogue{}) bit for bit, and without bf16 kernels it is the fp32
// Sgemm. It panics with a message naming the sizes if a slice is too
// short or a leading dimension too small (programming errors).
func GemmBF16Act(m, n, k int, a []float32, lda int, transB bool, b []float32, ldb int, c []float32, ldc int) {
	gemmBF16Act(m, n, k, a, lda, transB, b, ldb, c, ldc, BF16Supported(), bf16UseAsm)
}

// gemmBF16Act is GemmBF16Act in bf16 (else the fp32 fallback), with the
// assembly kernel and conversions when asm (else their Go twins).
func gemmBF16Act(m, n, k int, a []float32, lda int, transB bool, b []float32, ldb int, c []float32, ldc int, bf16, asm bool) {
	checkPackArgs("GemmBF16Act", transB, k, n, b, ldb)
	kp := (k + 1) / 2
	nPanels := (n + bf16Nr - 1) / bf16Nr
	pb := &BF16Matrix{k: k, n: n, level: current, bf16: bf16, kcp: kcpFor(kp)}
	checkGemmBF16(m, a, lda, pb, c, ldc, BF16Epilogue{})
	switch {
	case !bf16:
		noteFallback()
		Sgemm(false, transB, m, n, k, 1, a, lda, b, ldb, 0, c, ldc)
		return
	case m == 0 || n == 0:
		return
	case k == 0:
		initRows(m, n, c, ldc, BF16Epilogue{})
		return
	}
	sc := getBF16Scratch(1, 0, 0)
	defer bf16Pool.Put(sc)
	if need := kp * nPanels * bf16Nr; cap(sc.b) < need {
		sc.b = make([]uint32, need)
	}
	pb.data = sc.b[:kp*nPanels*bf16Nr]
	pack := func(p0, kb, j0, nb, nr int, dst []float32, jp0, jp1 int) {
		packB(transB, b, ldb, p0, kb, j0, nb, nr, dst, jp0, jp1)
	}
	for jp := 0; jp < nPanels; jp++ {
		j := jp * bf16Nr
		for pcp := 0; pcp < kp; pcp += pb.kcp {
			packPairs(pack, 2*pcp, min(2*pb.kcp, k-2*pcp), min(pb.kcp, kp-pcp), j, min(bf16Nr, n-j), sc.work[0].pack, pb.panel(pcp, jp), asm)
		}
	}
	gemmBF16Blocked(m, a, lda, pb, c, ldc, BF16Epilogue{}, asm)
}
