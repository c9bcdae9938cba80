#!/usr/bin/env python3
"""gpu_step_peer.py: the PyTorch peer of cuda's BenchmarkNATAStepRN50.

One SoftCPT-NATA training step (forward, backward, SGD update) on the GPU in
the AUTHORS' formulation (bench/py/stepbench.py's SoftCPTNATA: task prompts
"X X X X <task name>." and every class prompt encoded in full, 77 tokens,
with the frozen RN50 text tower, random weights; meta network P [1024,
16*512]; within-task cross-entropy summed over tasks / B;
torch.optim.SGD(lr 0.002, momentum 0.9, weight decay 5e-4)), fp32, TF32
off, eager mode, on the Go benchmark's shape: 2 tasks x 100 classes whose
names have 1 to 4 tokens (class c has c % 4 + 1), task names of 4 tokens,
a batch of 32 random image features. As in the Go benchmark, each step
starts from host features and ends with the loss on the host. Timed with
wall clock over `reps` steps after 3 warm-ups. Prints
    torch NATA step RN50 2x100 batch 32: 0.0123 s/step (...)
Run on a GPU host only (scripts/gpu-check.sh run); it exits 1 without CUDA.
"""
import os
import random
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clip_model  # noqa: E402
import stepbench  # noqa: E402


def main():
    if not torch.cuda.is_available():
        print("gpu_step_peer.py: no CUDA device", file=sys.stderr)
        return 1
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    torch.manual_seed(1)
    rng = random.Random(3)
    reps = int(os.environ.get("REPS", "20"))
    print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name(0)}")
    tasks = []
    for t in range(2):
        classes = [[rng.randrange(1, 49000) for _ in range(c % 4 + 1)] for c in range(100)]
        tasks.append({"task_ids": [rng.randrange(1, 49000) for _ in range(4)], "classes": classes})
    clip = clip_model.rn50()
    model = stepbench.SoftCPTNATA(clip, tasks).cuda()
    offsets = [0]
    for t in tasks:
        offsets.append(offsets[-1] + len(t["classes"]))
    B = 32
    bt = [rng.randrange(2) for _ in range(B)]
    bl = [rng.randrange(100) for _ in range(B)]
    label = torch.full((B, offsets[-1]), -1, dtype=torch.long)
    for i, (t, y) in enumerate(zip(bt, bl)):
        label[i, offsets[t]:offsets[t + 1]] = 0
        label[i, offsets[t] + y] = 1
    label = label.cuda()
    feats = torch.randn(B, clip.text_projection.shape[1], generator=torch.Generator().manual_seed(7))
    params = [p for p in model.parameters() if p.requires_grad]
    assert sum(p.numel() for p in params) == stepbench.TASK_N_CTX * 512 + 1024 * stepbench.N_CTX * 512
    opt = torch.optim.SGD(params, lr=0.002, momentum=0.9, weight_decay=5e-4)

    def step():
        loss = model(feats.cuda(), label)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return float(loss)

    for _ in range(3):
        step()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps):
        loss = step()
    sec = (time.perf_counter() - t0) / reps
    mem = torch.cuda.max_memory_allocated() / 2**30
    print(f"torch NATA step RN50 2x100 batch 32: {sec:.4f} s/step (77-token prompts, fp32, TF32 off, eager; "
          f"loss {loss:.4f}, peak memory {mem:.2f} GiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
