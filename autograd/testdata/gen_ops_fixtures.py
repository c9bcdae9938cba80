#!/usr/bin/python3
"""Writes PyTorch reference fixtures for autograd's vision/attention ops.

Run from anywhere with Debian's python3 and torch 1.13 (CPU):

    /usr/bin/python3 autograd/testdata/gen_ops_fixtures.py

For each case it stores the inputs, the output, a random output gradient
"gy" and the gradients of sum(output * gy) with respect to every input, as
raw little-endian float32 files in testdata/ops/, plus testdata/ops/index.json
listing each case's op, parameters and tensor shapes. The Go test
TestOpsTorchFixtures (autograd/ops_fixtures_test.go) replays them.
"""
import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(2)
torch.manual_seed(0)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ops")
os.makedirs(OUT, exist_ok=True)
cases = []


def save(case, tensors, op, params):
    entry = {"name": case, "op": op, "params": params, "tensors": {}}
    for name, t in tensors.items():
        a = t.detach().contiguous().numpy().astype("<f4")
        a.tofile(os.path.join(OUT, f"{case}_{name}.bin"))
        entry["tensors"][name] = list(a.shape)
    cases.append(entry)


def leaf(*shape, scale=1.0, shift=0.0):
    return (torch.randn(*shape) * scale + shift).requires_grad_(True)


def backward(y, inputs):
    gy = torch.randn_like(y)
    grads = torch.autograd.grad(y, inputs, gy)
    return gy, grads


# conv2d
for name, xs, ws, bias, kw in [
    ("conv_3x3s2p1", (2, 3, 9, 8), (4, 3, 3, 3), True, dict(stride=2, padding=1)),
    ("conv_1x1", (2, 4, 5, 5), (3, 4, 1, 1), False, dict()),
    ("conv_7x7s2p3", (1, 3, 12, 11), (2, 3, 7, 7), True, dict(stride=2, padding=3)),
    ("conv_g2d2", (1, 4, 9, 9), (4, 2, 3, 3), False, dict(padding=2, dilation=2, groups=2)),
    ("conv_patch", (2, 3, 8, 8), (5, 3, 4, 4), False, dict(stride=4)),
]:
    x, w = leaf(*xs), leaf(*ws, scale=0.3)
    ins, t = [x, w], {"x": x, "w": w}
    b = None
    if bias:
        b = leaf(ws[0])
        ins.append(b)
        t["b"] = b
    y = F.conv2d(x, w, b, **kw)
    gy, grads = backward(y, ins)
    t.update(y=y, gy=gy)
    for n, g in zip(["x", "w", "b"], grads):
        t["d" + n] = g
    p = {"stride": kw.get("stride", 1), "padding": kw.get("padding", 0),
         "dilation": kw.get("dilation", 1), "groups": kw.get("groups", 1)}
    save(name, t, "conv2d", p)

# batch_norm (train updates the running statistics; eval uses them)
for train in [True, False]:
    x = leaf(3, 4, 5, 6, scale=2.0, shift=0.5)
    gamma, beta = leaf(4), leaf(4)
    rm = torch.randn(4) * 0.3
    rv = torch.rand(4) + 0.5
    rm0, rv0 = rm.clone(), rv.clone()
    y = F.batch_norm(x, rm, rv, gamma, beta, training=train, momentum=0.1, eps=1e-5)
    gy, (dx, dg, db) = backward(y, [x, gamma, beta])
    save("bn_train" if train else "bn_eval",
         dict(x=x, gamma=gamma, beta=beta, rm=rm0, rv=rv0, rm_after=rm, rv_after=rv,
              y=y, gy=gy, dx=dx, dgamma=dg, dbeta=db),
         "batchnorm2d", {"train": train, "momentum": 0.1, "eps": 1e-5})

# pools
for name, op, xs, k, s, p in [
    ("maxpool_k3s2p1", "maxpool2d", (2, 3, 9, 7), 3, 2, 1),
    ("maxpool_k2s2", "maxpool2d", (1, 2, 6, 8), 2, 2, 0),
    ("avgpool_k2", "avgpool2d", (2, 3, 8, 6), 2, 2, 0),
    ("avgpool_k3s2p1", "avgpool2d", (1, 2, 7, 9), 3, 2, 1),
]:
    x = leaf(*xs)
    if op == "maxpool2d":
        y = F.max_pool2d(x, k, s, p)
    else:
        y = F.avg_pool2d(x, k, s, p)  # count_include_pad=True
    gy, (dx,) = backward(y, [x])
    save(name, dict(x=x, y=y, gy=gy, dx=dx), op, {"kernel": k, "stride": s, "padding": p})


# multi_head_attention_forward; tensors are stored batch-first [B, T, E]
def mha(name, b, tq, tk, e, heads, self_attn, mask_kind):
    xq = leaf(b, tq, e)
    xkv = xq if self_attn else leaf(b, tk, e)
    w, bi = leaf(3 * e, e, scale=1 / math.sqrt(e)), leaf(3 * e, scale=0.1)
    ow, ob = leaf(e, e, scale=1 / math.sqrt(e)), leaf(e, scale=0.1)
    mask = None
    if mask_kind == "causal":
        mask = torch.full((tq, tk), float("-inf")).triu(1)
    elif mask_kind == "additive":
        mask = torch.randn(tq, tk)
    q = xq.transpose(0, 1)
    kv = xkv.transpose(0, 1)
    out, _ = F.multi_head_attention_forward(
        q, kv, kv, e, heads, w, bi, None, None, False, 0.0, ow, ob,
        training=False, need_weights=False, attn_mask=mask)
    y = out.transpose(0, 1)
    ins = [xq, w, bi, ow, ob] if self_attn else [xq, xkv, w, bi, ow, ob]
    gy, grads = backward(y, ins)
    names = ["xq", "w", "bi", "ow", "ob"] if self_attn else ["xq", "xkv", "w", "bi", "ow", "ob"]
    t = dict(zip(names, ins))
    t.update({"d" + n: g for n, g in zip(names, grads)})
    t.update(y=y, gy=gy)
    if mask_kind == "additive":
        t["mask"] = mask
    save(name, t, "mha", {"heads": heads, "self": self_attn, "causal": mask_kind == "causal"})


mha("mha_self_causal", 2, 7, 7, 8, 2, True, "causal")  # CLIP text tower
mha("mha_self", 2, 5, 5, 12, 3, True, None)  # CLIP ViT
mha("mha_pool_query", 3, 1, 6, 8, 4, False, None)  # CLIP AttentionPool2d
mha("mha_cross_mask", 2, 3, 5, 8, 2, False, "additive")

with open(os.path.join(OUT, "index.json"), "w") as f:
    json.dump({"generator": "gen_ops_fixtures.py", "torch": torch.__version__, "cases": cases}, f, indent=1)
print(f"wrote {len(cases)} cases to {OUT}")
