#!/usr/bin/env python3
"""gpu_clip_peer.py: the PyTorch peer of cuda's BenchmarkCLIPImageRN50 and
BenchmarkCLIPTextRN50.

OpenAI's RN50 architecture (bench/py/clip_model.py: ModifiedResNet with
eval-mode BatchNorm + AttentionPool2d, the 12-layer causal text
transformer) in fp32 on the GPU, eval() and torch.no_grad(), TF32 off
(cuBLAS and cuDNN), cudnn.benchmark on. As in the Go benchmarks, each
iteration starts from host tensors and ends with the features on the host:
the image tower on 32 images of 224x224, the text tower on 100 prompts of
77 tokens. Timed with wall clock after 3 warm-ups over `reps` iterations;
the device-only time (inputs already on the GPU, CUDA events) is printed
too. Prints lines such as
    torch RN50 image tower fp32 batch 32: 1234.5 images/s (...)
Run on a GPU host only (scripts/gpu-check.sh run); it exits 1 without CUDA.
"""
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clip_model  # noqa: E402


def bench(fn, reps):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - t0) / reps


def device_time(fn, reps):
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    fn()
    start.record()
    for _ in range(reps):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / reps / 1e3


def main():
    if not torch.cuda.is_available():
        print("gpu_clip_peer.py: no CUDA device", file=sys.stderr)
        return 1
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    torch.set_float32_matmul_precision("highest")
    torch.manual_seed(0)
    name = torch.cuda.get_device_name(0)
    print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}, {name}")
    model = clip_model.rn50().cuda().eval()
    reps = 20

    images = torch.randn(32, 3, 224, 224)
    g = torch.Generator().manual_seed(1)
    text = torch.randint(1, 49405, (100, 77), generator=g)
    text[:, 0] = 49406
    eot = torch.randint(5, 65, (100,), generator=g)
    eot[0] = 76
    for i, e in enumerate(eot.tolist()):
        text[i, e] = 49407
        text[i, e + 1:] = 0

    with torch.no_grad():
        img = lambda: model.encode_image(images.cuda()).cpu()
        s = bench(img, reps)
        dimg = images.cuda()
        ds = device_time(lambda: model.encode_image(dimg), reps)
        print(f"torch RN50 image tower fp32 batch 32: {32 / s:.1f} images/s ({s * 1e3:.2f} ms/batch host-to-host; "
              f"device only {ds * 1e3:.2f} ms, {32 / ds:.1f} images/s)")

        txt = lambda: model.encode_text(text.cuda()).cpu()
        s = bench(txt, reps)
        dtext = text.cuda()
        ds = device_time(lambda: model.encode_text(dtext), reps)
        print(f"torch RN50 text tower fp32 100x77: {100 / s:.1f} prompts/s ({s * 1e3:.2f} ms/batch host-to-host; "
              f"device only {ds * 1e3:.2f} ms, {100 / ds:.1f} prompts/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
