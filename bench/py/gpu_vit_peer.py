#!/usr/bin/env python3
"""gpu_vit_peer.py: the PyTorch peer of cuda's BenchmarkCLIPImageViTB32.

OpenAI's VisionTransformer image tower (clip/model.py at openai/CLIP
d05afc4: patch Conv2d without bias, class and positional embeddings,
ln_pre, the residual attention blocks of bench/py/clip_model.py without a
mask, ln_post on the class token, proj) with ViT-B/32's shape (224x224,
patch 32, width 768, 12 layers, 12 heads, embedding 512), random weights,
fp32 on the GPU, eval() and torch.no_grad(), TF32 off, cudnn.benchmark on.
As in the Go benchmark, each iteration starts from 32 host images and ends
with the features on the host. Timed with wall clock after 3 warm-ups over
`reps` iterations; the device-only time (inputs already on the GPU, CUDA
events) is printed too. Prints
    torch ViT-B/32 image tower fp32 batch 32: 1234.5 images/s (...)
Run on a GPU host only (scripts/gpu-check.sh run); it exits 1 without CUDA.
"""
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clip_model  # noqa: E402
from gpu_clip_peer import bench, device_time  # noqa: E402


class VisionTransformer(nn.Module):
    """OpenAI's VisionTransformer (the ViT-* models' image tower)."""

    def __init__(self, input_resolution, patch_size, width, layers, heads, output_dim):
        super().__init__()
        self.input_resolution = input_resolution
        self.output_dim = output_dim
        self.conv1 = nn.Conv2d(3, width, kernel_size=patch_size, stride=patch_size, bias=False)
        scale = width ** -0.5
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(scale * torch.randn((input_resolution // patch_size) ** 2 + 1, width))
        self.ln_pre = clip_model.LayerNorm(width)
        self.transformer = clip_model.Transformer(width, layers, heads)
        self.ln_post = clip_model.LayerNorm(width)
        self.proj = nn.Parameter(scale * torch.randn(width, output_dim))

    def forward(self, x):
        x = self.conv1(x)  # N, width, grid, grid
        x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)  # N, grid², width
        cls = self.class_embedding.to(x.dtype) + torch.zeros(x.shape[0], 1, x.shape[-1], dtype=x.dtype, device=x.device)
        x = torch.cat([cls, x], dim=1)
        x = x + self.positional_embedding.to(x.dtype)
        x = self.ln_pre(x)
        x = x.permute(1, 0, 2)  # NLD -> LND
        x = self.transformer(x)
        x = x.permute(1, 0, 2)  # LND -> NLD
        x = self.ln_post(x[:, 0, :])
        return x @ self.proj


def vit_b32():
    """A randomly initialised ViT-B/32 image tower (fp32, eval mode)."""
    return VisionTransformer(224, 32, 768, 12, 12, 512).eval()


def main():
    if not torch.cuda.is_available():
        print("gpu_vit_peer.py: no CUDA device", file=sys.stderr)
        return 1
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    torch.set_float32_matmul_precision("highest")
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name(0)}")
    model = vit_b32().cuda()
    reps = 20
    images = torch.randn(32, 3, 224, 224)
    with torch.no_grad():
        s = bench(lambda: model(images.cuda()).cpu(), reps)
        dimg = images.cuda()
        ds = device_time(lambda: model(dimg), reps)
        print(f"torch ViT-B/32 image tower fp32 batch 32: {32 / s:.1f} images/s ({s * 1e3:.2f} ms/batch host-to-host; "
              f"device only {ds * 1e3:.2f} ms, {32 / ds:.1f} images/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
