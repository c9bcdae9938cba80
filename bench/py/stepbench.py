#!/usr/bin/python3
"""PyTorch reference of bench/cmd/stepbench (run by bench/step-vs-pytorch):
one SoftCPT-NATA training step (forward, backward, SGD update) on cached image
features with a full-size RN50 text tower (random weights, frozen), in the
AUTHORS' formulation (reference/softcpt.md §1-§2, the MTCoOp trainer):

  * task features f_t = TextEncoder("X X X X <task name>.") over full
    77-token sequences, the 4 X slots replaced by the learned task context
    (TA: one [4, 512] context shared by all tasks), unnormalised;
  * meta network "lin": ctx_t = reshape(f_t @ P, (16, 512)), P [1024, 16*512],
    no bias;
  * every class prompt "[SOS] ctx_t <class name> . [EOT] 0..." of every task
    encoded in full (77 tokens, CoOp's TextEncoder: + positional embedding,
    causal transformer, ln_final, EOT row at argmax(ids), @ text_projection),
    one prompt learner per task;
  * logits = exp(logit_scale) * norm(v) @ norm(W)^T over all classes; loss =
    sum over tasks present of the summed within-task cross-entropy, / B;
  * torch.optim.SGD(lr 0.002, momentum 0.9, weight decay 5e-4), one step
    (the authors' repeated step of §3.2 is not reproduced on either side).

Everything runs in fp32 on the CPU (the authors run fp16 on a GPU).

Usage: stepbench.py TASKS.json [--weights STATE.safetensors] [--reps N] [--threads 2]
TASKS.json is written by `stepbench -write-tasks` (token ids of every task and
class name, and the batch's tasks and labels). STATE.safetensors, written by
`stepbench -write-weights`, holds our engine's text-tower weights (OpenAI
keys), the learner's initial "task_ctx" [4, 512] and "prompt_gen.P"
[1024, 16*512], and the batch's image "features" [32, 1024]; with it both
sides start from identical state and their losses agree up to float32
rounding. Without it everything is drawn at random here. Prints
"seconds/step X" (mean over N timed steps after one warm-up step) and every
loss.
"""
import argparse
import json
import os
import struct
import sys
import time

import numpy as np

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clip_model  # noqa: E402

CONTEXT, SOT, EOT, DOT, X = 77, 49406, 49407, 269, 343  # 343 stands in for "x"
N_CTX, TASK_N_CTX, INIT_STD = 16, 4, 0.02


def tokenize(seqs):
    """[SOT] X*n ids . [EOT] 0... for each list of ids (clip.tokenize)."""
    out = torch.zeros(len(seqs), CONTEXT, dtype=torch.long)
    for i, s in enumerate(seqs):
        ids = [SOT] + s + [EOT]
        assert len(ids) <= CONTEXT
        out[i, :len(ids)] = torch.tensor(ids)
    return out


def read_safetensors(path):
    """Tensors of a float32 safetensors file by name: an 8-byte
    little-endian header length, a JSON header of {name: {dtype, shape,
    data_offsets}} (offsets relative to the end of the header), the data."""
    with open(path, "rb") as fh:
        raw = fh.read()
    if len(raw) < 8:
        raise ValueError("%s: too short for a safetensors header" % path)
    (n,) = struct.unpack("<Q", raw[:8])
    if 8 + n > len(raw):
        raise ValueError("%s: header length %d exceeds the file size %d" % (path, n, len(raw)))
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info.get("dtype") != "F32":
            raise ValueError("%s: tensor %r has dtype %r, want F32" % (path, name, info.get("dtype")))
        shape = [int(d) for d in info["shape"]]
        begin, end = info["data_offsets"]
        if not 0 <= begin <= end <= len(raw) - base or end - begin != 4 * int(np.prod(shape, dtype=np.int64)):
            raise ValueError("%s: tensor %r has bad data_offsets %r for shape %r" % (path, name, info["data_offsets"], shape))
        arr = np.frombuffer(raw, dtype="<f4", count=(end - begin) // 4, offset=base + begin)
        out[name] = torch.from_numpy(arr.reshape(shape).copy())
    return out


def load_text_tower(clip, state, path):
    """Copies every text-tower tensor of state (OpenAI keys) into clip;
    every text parameter must be present with the same shape."""
    own = clip.state_dict()
    text = [k for k in own if k.startswith(("transformer.", "ln_final.")) or
            k in ("token_embedding.weight", "positional_embedding", "text_projection", "logit_scale")]
    with torch.no_grad():
        for k in text:
            if k not in state:
                raise ValueError("%s: lacks text-tower tensor %r" % (path, k))
            if state[k].numel() != own[k].numel() or (state[k].dim() and tuple(state[k].shape) != tuple(own[k].shape)):
                raise ValueError("%s: %r has shape %s, want %s" % (path, k, tuple(state[k].shape), tuple(own[k].shape)))
            own[k].copy_(state[k].reshape(own[k].shape))
    return len(text)


class TextEncoder(nn.Module):
    """CoOp's TextEncoder over a frozen CLIP."""

    def __init__(self, clip):
        super().__init__()
        self.transformer = clip.transformer
        self.positional_embedding = clip.positional_embedding
        self.ln_final = clip.ln_final
        self.text_projection = clip.text_projection
        self.dtype = clip.dtype

    def forward(self, prompts, tokenized):
        x = prompts + self.positional_embedding.type(self.dtype)
        x = x.permute(1, 0, 2)  # NLD -> LND
        x = self.transformer(x)
        x = x.permute(1, 0, 2)  # LND -> NLD
        x = self.ln_final(x).type(self.dtype)
        return x[torch.arange(x.shape[0]), tokenized.argmax(dim=-1)] @ self.text_projection


class PromptLearner(nn.Module):
    """Fixed prefix (SOS) and suffix (name, ".", EOT, padding) embeddings of
    "X*n <name>." prompts; the n X slots take the context."""

    def __init__(self, clip, names, n_ctx):
        super().__init__()
        self.tokenized = tokenize([[X] * n_ctx + n + [DOT] for n in names])
        with torch.no_grad():
            emb = clip.token_embedding(self.tokenized).type(clip.dtype)
        self.register_buffer("token_prefix", emb[:, :1, :])
        self.register_buffer("token_suffix", emb[:, 1 + n_ctx:, :])
        self.n = len(names)

    def forward(self, ctx):
        if ctx.dim() == 2:
            ctx = ctx.unsqueeze(0).expand(self.n, -1, -1)
        return torch.cat([self.token_prefix, ctx, self.token_suffix], dim=1)


class SoftCPTNATA(nn.Module):
    def __init__(self, clip, tasks):
        super().__init__()
        for p in clip.parameters():
            p.requires_grad_(False)
        self.text_encoder = TextEncoder(clip)
        self.logit_scale = clip.logit_scale
        width = clip.ln_final.weight.shape[0]
        embed = clip.text_projection.shape[1]
        self.task_prompt_learner = PromptLearner(clip, [t["task_ids"] for t in tasks], TASK_N_CTX)
        self.task_ctx = nn.Parameter(torch.randn(TASK_N_CTX, width) * INIT_STD)
        self.prompt_gen_P = nn.Parameter(torch.randn(embed, N_CTX * width) * INIT_STD)
        self.prompt_learner = nn.ModuleList([PromptLearner(clip, t["classes"], N_CTX) for t in tasks])
        self.num_classes = [len(t["classes"]) for t in tasks]

    def forward(self, feats, label):
        tp = self.task_prompt_learner
        f = self.text_encoder(tp(self.task_ctx), tp.tokenized)  # [T, E], unnormalised
        ctx = (f @ self.prompt_gen_P).reshape(f.shape[0], N_CTX, -1)
        text = torch.cat([self.text_encoder(pl(ctx[i]), pl.tokenized) for i, pl in enumerate(self.prompt_learner)])
        v = feats / feats.norm(dim=-1, keepdim=True)
        w = text / text.norm(dim=-1, keepdim=True)
        logits = self.logit_scale.exp() * v @ w.t()
        loss, st = 0.0, 0
        for num in self.num_classes:
            out, lab = logits[:, st:st + num], label[:, st:st + num]
            st += num
            mask = torch.sum(lab != -1, dim=-1) > 0
            if mask.sum() == 0:
                continue
            loss = loss + F.cross_entropy(out[mask, :], lab[mask, :].argmax(dim=-1), reduction="sum")
        return loss / feats.shape[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tasks")
    ap.add_argument("--weights", help="safetensors from stepbench -write-weights")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                    help="bf16: the forward pass under torch.autocast('cpu', dtype=torch.bfloat16)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    with open(a.tasks) as fh:
        setup = json.load(fh)
    tasks = setup["tasks"]
    print("torch %s threads %d OPENBLAS_CORETYPE=%s shape %s precision %s" % (
        torch.__version__, torch.get_num_threads(), os.environ.get("OPENBLAS_CORETYPE", "unset"), setup["shape"], a.precision))
    clip = clip_model.rn50()
    state = None
    if a.weights:
        state = read_safetensors(a.weights)
        # Before SoftCPTNATA: its prompt learners embed the fixed tokens.
        load_text_tower(clip, state, a.weights)
    model = SoftCPTNATA(clip, tasks)
    if state is not None:
        with torch.no_grad():
            for name, p in [("task_ctx", model.task_ctx), ("prompt_gen.P", model.prompt_gen_P)]:
                if name not in state or tuple(state[name].shape) != tuple(p.shape):
                    raise ValueError("%s: %r missing or not of shape %s" % (a.weights, name, tuple(p.shape)))
                p.copy_(state[name])
    offsets = [0]
    for t in tasks:
        offsets.append(offsets[-1] + len(t["classes"]))
    B = len(setup["batch_tasks"])
    label = torch.full((B, offsets[-1]), -1, dtype=torch.long)
    for i, (t, y) in enumerate(zip(setup["batch_tasks"], setup["batch_labels"])):
        label[i, offsets[t]:offsets[t + 1]] = 0
        label[i, offsets[t] + y] = 1
    if state is not None:
        feats = state.get("features")
        if feats is None or tuple(feats.shape) != (B, clip.text_projection.shape[1]):
            raise ValueError("%s: 'features' missing or not of shape (%d, %d)" % (a.weights, B, clip.text_projection.shape[1]))
    else:
        feats = torch.randn(B, clip.text_projection.shape[1], generator=torch.Generator().manual_seed(7))
    params = [p for p in model.parameters() if p.requires_grad]
    assert sum(p.numel() for p in params) == TASK_N_CTX * 512 + 1024 * N_CTX * 512
    opt = torch.optim.SGD(params, lr=0.002, momentum=0.9, weight_decay=5e-4)

    def step():
        # autocast(bf16) runs the matmuls in bf16 through oneDNN (a no-op
        # context at fp32); the backward pass follows the forward's dtypes.
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.precision == "bf16"):
            loss = model(feats, label).float()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return float(loss)

    print("warm-up loss %.6f" % step())
    total = 0.0
    for i in range(a.reps):
        t = time.perf_counter()
        loss = step()
        total += time.perf_counter() - t
        print("step %d loss %.6f" % (i + 1, loss))
    print("seconds/step %.4f" % (total / a.reps))


if __name__ == "__main__":
    main()
