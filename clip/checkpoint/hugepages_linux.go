package checkpoint

import (
	"syscall"
	"unsafe"
)

// hugePage is the size of a transparent huge page on Linux (x86-64,
// arm64 with 4 KiB base pages).
const hugePage = 2 << 20

// adviseHugePages asks the kernel to back the 2 MiB-aligned interior of a
// fresh tensor's data with transparent huge pages (madvise
// MADV_HUGEPAGE), before anything touches it: decoding a large checkpoint
// then takes one page fault per 2 MiB instead of one per 4 KiB, which was
// most of the system time of loading (hundreds of thousands of faults for
// an RN50). Where the kernel declines (THP off, no free huge pages), the
// advice is ignored, and so is any error: it is an optimisation only.
func adviseHugePages(data []float32) {
	if len(data)*4 < hugePage {
		return
	}
	start := uintptr(unsafe.Pointer(&data[0]))
	end := start + uintptr(len(data))*4
	lo := (start + hugePage - 1) &^ (hugePage - 1)
	hi := end &^ (hugePage - 1)
	if hi <= lo {
		return
	}
	i, j := (lo-start)/4, (hi-start)/4
	syscall.Madvise(unsafe.Slice((*byte)(unsafe.Pointer(&data[i])), 4*(j-i)), syscall.MADV_HUGEPAGE)
}
