#!/usr/bin/env python3
"""gpu_peer.py: the cuBLAS peer of cuda's BenchmarkSgemm.

torch.mm on n x n float32 matrices on the GPU with TF32 off (true fp32
SGEMM through cuBLAS), timed with CUDA events: 3 warm-ups, then the mean
of `reps` products. Prints one line per size, e.g.
    torch.mm fp32 (TF32 off) n=4096: 51.2 TFLOP/s (2.68 ms) on NVIDIA H200
Run on a GPU host only (scripts/gpu-check.sh run); it exits 1 without CUDA.
"""
import sys

import torch


def bench(n, reps=20):
    g = torch.Generator(device="cuda").manual_seed(0)
    a = torch.randn(n, n, device="cuda", generator=g)
    b = torch.randn(n, n, device="cuda", generator=g)
    for _ in range(3):
        torch.mm(a, b)
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(reps):
        torch.mm(a, b)
    end.record()
    torch.cuda.synchronize()
    ms = start.elapsed_time(end) / reps
    return 2 * n ** 3 / (ms * 1e-3) / 1e12, ms


def main():
    if not torch.cuda.is_available():
        print("gpu_peer.py: no CUDA device", file=sys.stderr)
        return 1
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    name = torch.cuda.get_device_name(0)
    print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {name}")
    for n in (1024, 4096):
        tflops, ms = bench(n)
        print(f"torch.mm fp32 (TF32 off) n={n}: {tflops:.1f} TFLOP/s ({ms:.3f} ms) on {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
