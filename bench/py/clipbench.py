#!/usr/bin/python3
"""PyTorch peer of bench/cmd/clipbench (run by bench/clip-vs-pytorch).

Usage:
  clipbench.py image  [--reps N]   RN50 image tower, batch 32, 224x224, eval,
                                   no_grad: prints "images/s X"
  clipbench.py text   [--reps N]   RN50 text tower, 100 prompts x 77 tokens:
                                   prints "prompts/s X"
  clipbench.py mem                 one RN50 batch-32 forward in a fresh
                                   process: prints "rss_model_kb" (peak after
                                   building the model) and "peak_kb"
                                   (ru_maxrss at the end)
  clipbench.py mkckpt PATH         writes an RN50-shaped TorchScript archive
                                   (torch.jit.trace of the fp32 model, then
                                   OpenAI's convert_weights, torch.jit.save)
  clipbench.py load PATH           times torch.jit.load(PATH): prints "load_s X"

Every mode runs with torch.set_num_threads(2) (override with --threads);
--precision bf16 runs image and text under torch.autocast("cpu",
dtype=torch.bfloat16).
Weights are random (seeded), fp32 except in the archive.
"""
import argparse
import os
import resource
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clip_model  # noqa: E402

BATCH, RES = 32, 224
PROMPTS, CTX, EOT = 100, 77, 49407


def text_ids():
    g = torch.Generator().manual_seed(3)
    ids = torch.randint(1, 40001, (PROMPTS, CTX), generator=g)
    ids[:, -1] = EOT  # every position used, as BenchmarkRN50Text
    return ids


def timed(fn, reps):
    fn()  # warm-up
    t = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t) / reps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["image", "text", "mem", "mkckpt", "load"])
    ap.add_argument("path", nargs="?")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                    help="bf16: run image/text under torch.autocast('cpu', dtype=torch.bfloat16)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    print("torch %s threads %d OPENBLAS_CORETYPE=%s precision %s" % (torch.__version__, torch.get_num_threads(),
                                                                     os.environ.get("OPENBLAS_CORETYPE", "unset"), a.precision))
    # autocast(bf16) runs convolutions and matmuls in bf16 through oneDNN;
    # disabled it is a no-op context (fp32).
    cast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.precision == "bf16")
    if a.mode == "image":
        visual = clip_model.ModifiedResNet((3, 4, 6, 3), 1024, 32, 224, 64).eval()
        x = torch.randn(BATCH, 3, RES, RES, generator=torch.Generator().manual_seed(2))
        with torch.no_grad(), cast:
            out = visual(x)
            assert torch.isfinite(out).all()
            dt = timed(lambda: visual(x), a.reps)
        print("seconds/batch %.4f" % dt)
        print("images/s %.3f" % (BATCH / dt))
    elif a.mode == "text":
        model = clip_model.rn50()
        ids = text_ids()
        with torch.no_grad(), cast:
            dt = timed(lambda: model.encode_text(ids), a.reps)
        print("seconds/batch %.4f" % dt)
        print("prompts/s %.3f" % (PROMPTS / dt))
    elif a.mode == "mem":
        model = clip_model.rn50()  # the whole CLIP model, as clip.NewRandom builds
        print("rss_model_kb %d" % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        x = torch.randn(BATCH, 3, RES, RES, generator=torch.Generator().manual_seed(2))
        with torch.no_grad():
            out = model.encode_image(x)
        assert out.shape == (BATCH, 1024)
        print("peak_kb %d" % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    elif a.mode == "mkckpt":
        model = clip_model.rn50()
        img = torch.randn(1, 3, RES, RES)
        txt = text_ids()[:1]
        with torch.no_grad():
            traced = torch.jit.trace(model, (img, txt), check_trace=False)
        # The traced module shares its parameters with the eager one, so
        # converting the eager module converts the archive's tensors.
        clip_model.convert_weights(model)
        tmp = a.path + ".tmp"
        torch.jit.save(traced, tmp)
        os.replace(tmp, a.path)
        sd = torch.jit.load(a.path).state_dict()
        n16 = sum(1 for v in sd.values() if v.dtype == torch.float16)
        print("wrote %s: %d bytes, %d tensors (%d fp16)" % (a.path, os.path.getsize(a.path), len(sd), n16))
    elif a.mode == "load":
        t = time.perf_counter()
        m = torch.jit.load(a.path)
        dt = time.perf_counter() - t
        assert len(m.state_dict()) > 0
        print("load_s %.4f" % dt)


if __name__ == "__main__":
    main()
