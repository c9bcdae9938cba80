#!/usr/bin/python3
"""Generate the SoftCPT parity fixtures under testdata/softcpt/.

Run from the repository root:

    /usr/bin/python3 testdata/gen_softcpt_fixtures.py

It computes, in float64 PyTorch, the multi-task loss of SoftCPT (NATA, NATS,
CATA, CSTA, CATS, CSTS) and of the CoOp hard-sharing baselines (CoOp-MT,
CoOp-CA, CoOp-CS) and its gradient with respect to every learnable tensor
(class-prompt contexts, task context, class context, meta network "lin"), over
a small random CLIP of its own (testdata/softcpt/parity_clip.safetensors:
text tower 32 wide, 2 layers, 2 heads, vocabulary 1024; built with the model
code of gen_clip_fixtures.py), for one fixed batch of image features.

The model is not testdata/clip/rn.safetensors: that text tower is 4 wide,
and its LayerNorms over 4 values (σ down to 0.03) with logit scale 100 made
the instance so ill-conditioned that float32 summation order alone moved
three gradients by up to 2.3e-5 relative, so a 1e-5 check passed or failed
with the kernels' accumulation order. At width 32 (and the meta network at
nn.Linear's scale) every figure of every Go build and kernel level is below
7e-6.

The reference follows the authors' formulation (reference/softcpt.md §1-§2,
the MTCoOp / MTCoOpHard trainers) the way their code computes it, not the way
the Go code does:

  * every prompt is a full 77-token sequence "[SOS] X ... X <name> . [EOT] 0...":
    the prefix (SOS embedding) and suffix (name, ".", EOT and padding
    embeddings) come from the frozen token embedding of the tokenized text and
    the learned context replaces the X slots ("end" layout);
  * the text encoder is CLIP's: + positional embedding, causal transformer
    (nn.MultiheadAttention semantics, -inf upper-triangular mask), ln_final,
    the hidden state at argmax(token ids) (EOT), @ text_projection;
  * task features f_t = TextEncoder("X*M <task name>.") (unnormalised); with
    class features (CA/CS) g_c = TextEncoder("X*L <class>.") and the meta-net
    input is [g_c ; f_t]; ctx = reshape(input @ P, (., N, W));
  * every class of every task is encoded; logits = exp(logit_scale) *
    norm(v) norm(W)^T over all classes; the loss is, for each task with
    samples in the batch, the summed cross-entropy over the task's columns
    (label rows -1 outside the task block, one-hot inside), divided by B.

Tokens come from the deterministic word tokenizer of the Go tests
(softcpt/softcpt_test.go, wordTokenizer): FNV-1a 32-bit hash of each
lower-cased whitespace-separated word with "." split off as its own word,
id = 1 + h % (vocab - 3), SOT = vocab - 2, EOT = vocab - 1.

Outputs (all small; reference tensors are the float64 results rounded to
float32, the precision the Go test reads them at anyway: 6e-8 relative):
  testdata/softcpt/parity_clip.safetensors
      the fixture CLIP (OpenAI key names, float32; metadata vision_heads and
      transformer_heads, which clip.Load reads)
  testdata/softcpt/parity.safetensors
      batch.features               [B, E] F32   image features (unnormalised)
      batch2.features              [B2, E] F32  a batch of the second task only
      <method>.param.<name>        F32          learnable tensors fed to the Go
                                                learner (Learner.LoadState names:
                                                ctx, task_ctx, class_ctx,
                                                prompt_gen.P)
      <method>.grad.<name>         F32          d loss / d param
      <method>.loss                [1] F64
      <method>.batch2.grad.<name>, <method>.batch2.loss   the same on batch2
      <method>.text_features       [sumC, E] F32  W before normalisation
      <method>.task_features       [T, E] F32   f_t (SoftCPT methods)
      <method>.class_features      [sumC, E] F32  g_c (CA/CS methods)
  testdata/softcpt/parity.json
      the CLIP's configuration and sha256, tasks, batch tasks/labels,
      per-method configuration, the token ids of every name, the float64
      losses, and the relative error of the same computation done in
      float32 PyTorch (torch_f32_rel_err: the float32 conditioning floor of
      this instance, for comparison with Go's error).

The parameters are drawn from N(0, 0.5^2) (the meta network P from
N(0, 1/fan_in)) with a fixed seed per method (so the loss and gradients are
far from trivial), rounded to float32 (the values the Go side uses) and then
promoted to float64; the CLIP weights are float32 in the file and promoted to
float64 as well, so the reference carries no float32 rounding of its own
(beyond the final rounding of the stored results).
"""
import collections
import hashlib
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in testdata/
sys.path.insert(0, HERE)
import gen_clip_fixtures as gcf  # noqa: E402  (the one CLIP model definition)

torch.set_num_threads(2)
OUT = os.path.join(HERE, "softcpt")
CLIP_PATH = os.path.join(OUT, "parity_clip.safetensors")

# The fixture CLIP of this parity test, written to CLIP_PATH. Its text tower
# is 32 wide: testdata/clip/rn.safetensors (width 4) made the instance so
# ill-conditioned (LayerNorm σ down to 0.03 over 4 values, logit scale 100)
# that float32 summation order alone moved gradients by 2e-5. A small
# vocabulary keeps the file small; the vision tower (unused here, but a
# CLIP checkpoint has one) is a minimal ViT.
VOCAB = 1024
CONTEXT = 77
HEADS = 2  # text transformer heads
PARITY_CLIP = dict(
    name="parity", embed_dim=32, image_resolution=16, vision_layers=1,
    vision_width=8, vision_heads=2, vision_patch_size=8,
    context_length=CONTEXT, vocab_size=VOCAB, transformer_width=32,
    transformer_heads=HEADS, transformer_layers=2)
CLIP_SEED = 2718
SOT, EOT = VOCAB - 2, VOCAB - 1
DT = torch.float64

# Same tasks as testTasks in softcpt/softcpt_test.go.
TASKS = [
    {"name": "pets", "task_name": "pet image classification",
     "classes": ["cat", "dog", "golden retriever"]},
    {"name": "food", "task_name": "food image classification",
     "classes": ["pizza", "sushi", "apple pie", "ice_cream"]},
]
# Same batch layout as testBatch in softcpt/softcpt_test.go.
BATCH_TASKS = [0, 1, 1, 0, 1, 0, 1]
BATCH_LABELS = [2, 3, 0, 1, 1, 0, 2]
# A second batch with samples of the second task only: the authors encode
# every class and skip the absent task in the loss; the Go learner encodes
# only the tasks present, which must give the same loss and gradients.
BATCH2_TASKS = [1, 1, 1, 1]
BATCH2_LABELS = [3, 0, 2, 2]

# smallConfig in softcpt/softcpt_test.go: N_CTX 4, TASK_N_CTX 2, and
# CLASS_N_CTX 2 when class features are used (0 otherwise).
N_CTX, TASK_N_CTX, CLASS_N_CTX = 4, 2, 2
PARAM_STD = 0.5

METHODS = collections.OrderedDict([
    # name: (hard, sharing, csc, class_csc, task_csc)
    ("coop-mt", dict(hard=True, sharing="all")),
    ("coop-ca", dict(hard=True, sharing="task")),
    ("coop-cs", dict(hard=True, sharing="class")),
    ("nata", dict(hard=False, csc=False, class_csc=False, task_csc=False)),
    ("nats", dict(hard=False, csc=False, class_csc=False, task_csc=True)),
    ("cata", dict(hard=False, csc=True, class_csc=False, task_csc=False)),
    ("csta", dict(hard=False, csc=True, class_csc=True, task_csc=False)),
    ("cats", dict(hard=False, csc=True, class_csc=False, task_csc=True)),
    ("csts", dict(hard=False, csc=True, class_csc=True, task_csc=True)),
])


# -------------------------------------------------------------- tokenizer ---

def fnv1a32(data):
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def encode(text):
    """wordTokenizer.Encode of the Go tests."""
    text = text.replace(".", " . ")
    return [1 + fnv1a32(w.encode("utf-8")) % (VOCAB - 3) for w in text.lower().split()]


def tokenize(texts):
    """clip.tokenize with the word tokenizer: [SOT] ids [EOT], zero padded."""
    out = torch.zeros(len(texts), CONTEXT, dtype=torch.int64)
    for i, t in enumerate(texts):
        ids = [SOT] + encode(t) + [EOT]
        assert len(ids) <= CONTEXT, t
        out[i, :len(ids)] = torch.tensor(ids)
    return out


# ---------------------------------------------------------- text encoder ---

class TextEncoder:
    """CLIP's text encoder on input embeddings, in float64 (CoOp's
    TextEncoder: + positional embedding, LND transformer, ln_final, EOT row at
    argmax of the token ids, @ text_projection)."""

    def __init__(self, sd, dtype=DT):
        self.dtype = dtype
        self.sd = {k: v.to(dtype) for k, v in sd.items() if not k.startswith("visual.") and v.is_floating_point()}
        self.layers = len({k.split(".")[2] for k in self.sd if k.startswith("transformer.resblocks.")})
        self.width = self.sd["ln_final.weight"].shape[0]
        mask = torch.empty(CONTEXT, CONTEXT, dtype=dtype)
        mask.fill_(float("-inf"))
        self.mask = mask.triu_(1)

    def ln(self, x, p):
        return F.layer_norm(x, (self.width,), self.sd[p + ".weight"], self.sd[p + ".bias"], 1e-5)

    def block(self, x, p):
        sd = self.sd
        h = self.ln(x, p + "ln_1")
        a, _ = F.multi_head_attention_forward(
            h, h, h, self.width, HEADS,
            sd[p + "attn.in_proj_weight"], sd[p + "attn.in_proj_bias"],
            None, None, False, 0.0,
            sd[p + "attn.out_proj.weight"], sd[p + "attn.out_proj.bias"],
            training=False, need_weights=False, attn_mask=self.mask)
        x = x + a
        h = self.ln(x, p + "ln_2")
        h = F.linear(h, sd[p + "mlp.c_fc.weight"], sd[p + "mlp.c_fc.bias"])
        h = h * torch.sigmoid(1.702 * h)  # QuickGELU
        return x + F.linear(h, sd[p + "mlp.c_proj.weight"], sd[p + "mlp.c_proj.bias"])

    def __call__(self, prompts, tokenized):
        x = prompts + self.sd["positional_embedding"]
        x = x.permute(1, 0, 2)  # NLD -> LND
        for i in range(self.layers):
            x = self.block(x, "transformer.resblocks.%d." % i)
        x = x.permute(1, 0, 2)  # LND -> NLD
        x = self.ln(x, "ln_final")
        return x[torch.arange(x.shape[0]), tokenized.argmax(dim=-1)] @ self.sd["text_projection"]

    def embed(self, ids):
        return F.embedding(ids, self.sd["token_embedding.weight"])


# -------------------------------------------------------- prompt learners ---

class Prompts:
    """Fixed parts of the prompts "X*n <name>." (CoOp's "end" layout): the
    SOS embedding (prefix) and the name, ".", EOT and padding embeddings
    (suffix); the context replaces the n X embeddings."""

    def __init__(self, enc, names, n_ctx):
        names = [n.replace("_", " ") for n in names]
        prefix = " ".join(["X"] * n_ctx)
        texts = [(prefix + " " + n + ".") if n_ctx > 0 else (n + ".") for n in names]
        self.tokens = tokenize(texts)
        emb = enc.embed(self.tokens)
        self.prefix = emb[:, :1, :]
        self.suffix = emb[:, 1 + n_ctx:, :]
        self.n = len(names)
        self.n_ctx = n_ctx

    def build(self, ctx):
        """ctx is [n_ctx, W] (shared) or [n, n_ctx, W]."""
        if ctx.dim() == 2:
            ctx = ctx.unsqueeze(0).expand(self.n, -1, -1)
        return torch.cat([self.prefix, ctx, self.suffix], dim=1)


# ------------------------------------------------------------ the methods ---

def method_params(cfg, T, C, W, E, seed):
    """Learnable tensors (float32 values) of one method, in LoadState names."""
    g = torch.Generator().manual_seed(seed)

    def rn(*shape, std=PARAM_STD):
        return (torch.randn(*shape, generator=g, dtype=torch.float64) * std).float()

    p = collections.OrderedDict()
    if cfg["hard"]:
        lead = {"all": (), "task": (T,), "class": (C,)}[cfg["sharing"]]
        p["ctx"] = rn(*lead, N_CTX, W)
        return p
    p["task_ctx"] = rn(T, TASK_N_CTX, W) if cfg["task_csc"] else rn(TASK_N_CTX, W)
    if cfg["csc"]:
        p["class_ctx"] = rn(C, CLASS_N_CTX, W) if cfg["class_csc"] else rn(CLASS_N_CTX, W)
    # The meta network at nn.Linear's scale (std 1/sqrt(fan_in)): the
    # generated context is then of the size of the token embeddings; at
    # PARAM_STD it was ~8x larger and the instance less well conditioned.
    fan_in = 2 * E if cfg["csc"] else E
    p["prompt_gen.P"] = rn(fan_in, N_CTX * W, std=fan_in ** -0.5)
    return p


def forward(cfg, enc, params, feats, label, logit_scale):
    """The authors' forward pass and multi-task loss. Returns the loss and
    the intermediate features."""
    class_lists = [t["classes"] for t in TASKS]
    num_classes = [len(c) for c in class_lists]
    all_classes = [c for cl in class_lists for c in cl]
    out = {}
    if cfg["hard"]:
        if cfg["sharing"] == "task":
            # MTCoOpHard with TSC: one CoOp learner (generic context) per task.
            prompts = torch.cat([Prompts(enc, cl, N_CTX).build(params["ctx"][i])
                                 for i, cl in enumerate(class_lists)], dim=0)
        else:
            # One learner over all classes: generic (MT) or class-specific (CS).
            prompts = Prompts(enc, all_classes, N_CTX).build(params["ctx"])
        tokens = torch.cat([Prompts(enc, cl, N_CTX).tokens for cl in class_lists], dim=0)
        text = enc(prompts, tokens)
    else:
        tp = Prompts(enc, [t["task_name"].replace("_", " ") for t in TASKS], TASK_N_CTX)
        task_feats = enc(tp.build(params["task_ctx"]), tp.tokens)  # [T, E], unnormalised
        out["task_features"] = task_feats
        P = params["prompt_gen.P"]
        if cfg["csc"]:
            cp = Prompts(enc, all_classes, CLASS_N_CTX)
            class_feats = enc(cp.build(params["class_ctx"]), cp.tokens)  # [sumC, E]
            out["class_features"] = class_feats
            cc, rows = 0, []
            for i, num in enumerate(num_classes):
                rows.append(torch.cat([class_feats[cc:cc + num], task_feats[[i], :].repeat(num, 1)], dim=1))
                cc += num
            x = torch.cat(rows, dim=0)
            ctx = torch.split((x @ P).reshape(x.shape[0], N_CTX, -1), num_classes, dim=0)
        else:
            ctx = (task_feats @ P).reshape(task_feats.shape[0], N_CTX, -1)
        feats_t = []
        for i, cl in enumerate(class_lists):
            pl = Prompts(enc, cl, N_CTX)
            feats_t.append(enc(pl.build(ctx[i]), pl.tokens))
        text = torch.cat(feats_t, dim=0)
    out["text_features"] = text
    v = feats / feats.norm(dim=-1, keepdim=True)
    w = text / text.norm(dim=-1, keepdim=True)
    logits = logit_scale.exp() * v @ w.t()
    loss = 0.0
    st = 0
    for num in num_classes:
        cur_out, cur_lab = logits[:, st:st + num], label[:, st:st + num]
        mask = torch.sum(cur_lab != -1, dim=-1) > 0
        st += num
        if mask.sum() == 0:
            continue
        loss = loss + F.cross_entropy(cur_out[mask, :], cur_lab[mask, :].argmax(dim=-1), reduction="sum")
    return loss / feats.shape[0], out


def check_encoder(enc, model):
    """The float64 functional encoder reproduces the float32 CLIP module of
    gen_clip_fixtures.py (its encode_text) on full 77-token sequences: a
    short prompt, every class name and a sequence of the whole length."""
    texts = ["X X X X pet image classification."] + [c.replace("_", " ") for t in TASKS for c in t["classes"]]
    ids = tokenize(texts)
    full = torch.tensor([[SOT] + [1 + (7 + 131 * i) % (VOCAB - 3) for i in range(CONTEXT - 2)] + [EOT]])
    ids = torch.cat([ids, full], dim=0)
    with torch.no_grad():
        want = model.encode_text(ids).to(DT)
    got = enc(enc.embed(ids), ids)
    err = float((got - want).abs().max() / want.abs().max())
    assert err < 1e-5, "text encoder differs from the CLIP module: %g" % err
    return err


def main():
    os.makedirs(OUT, exist_ok=True)
    model = gcf.build(PARITY_CLIP, CLIP_SEED)
    sd = collections.OrderedDict(model.state_dict())
    gcf.write_safetensors(CLIP_PATH, sd, {"format": "pt", "source": "gen_softcpt_fixtures.py",
                                          "vision_heads": str(PARITY_CLIP["vision_heads"]),
                                          "transformer_heads": str(HEADS)})
    enc = TextEncoder(sd)
    enc_err = check_encoder(enc, model)
    enc32 = TextEncoder(sd, torch.float32)
    W = enc.width
    E = sd["text_projection"].shape[1]
    T = len(TASKS)
    C = sum(len(t["classes"]) for t in TASKS)
    logit_scale = sd["logit_scale"].to(DT)

    g = torch.Generator().manual_seed(20240607)
    offsets = np.cumsum([0] + [len(t["classes"]) for t in TASKS])

    def make_batch(tasks, labels):
        feats32 = torch.randn(len(tasks), E, generator=g, dtype=torch.float64).float()
        label = torch.full((len(tasks), C), -1, dtype=torch.int64)
        for i, (t, y) in enumerate(zip(tasks, labels)):
            label[i, offsets[t]:offsets[t + 1]] = 0
            label[i, offsets[t] + y] = 1
        return feats32, label

    batches = collections.OrderedDict()
    batches["batch"] = make_batch(BATCH_TASKS, BATCH_LABELS)
    batches["batch2"] = make_batch(BATCH2_TASKS, BATCH2_LABELS)

    tensors = collections.OrderedDict()
    for b, (feats32, _) in batches.items():
        tensors[b + ".features"] = feats32
    summary = collections.OrderedDict()
    for k, (name, cfg) in enumerate(METHODS.items()):
        p32 = method_params(cfg, T, C, W, E, 1000 + k)
        for n, v in p32.items():
            tensors["%s.param.%s" % (name, n)] = v
        summary[name] = {"config": cfg, "params": {n: list(v.shape) for n, v in p32.items()}}
        for b, (feats32, label) in batches.items():
            # Keys of the first batch: <method>.loss, <method>.grad.<param>;
            # of the second: <method>.batch2.loss, <method>.batch2.grad.<param>.
            pre = name if b == "batch" else name + "." + b
            leaves = collections.OrderedDict((n, v.to(DT).requires_grad_(True)) for n, v in p32.items())
            loss, out = forward(cfg, enc, leaves, feats32.to(DT), label, logit_scale)
            loss.backward()
            # The same computation in float32 PyTorch: its error against the
            # float64 reference is the conditioning floor of this instance
            # for float32 arithmetic (recorded for the Go test's log).
            leaves32 = collections.OrderedDict((n, v.clone().requires_grad_(True)) for n, v in p32.items())
            loss32, _ = forward(cfg, enc32, leaves32, feats32.clone(), label, sd["logit_scale"].clone())
            loss32.backward()
            f32err = {"loss": abs(float(loss32) - float(loss)) / abs(float(loss))}
            for n in leaves:
                ref = leaves[n].grad
                f32err["grad " + n] = float((leaves32[n].grad.to(DT) - ref).abs().max() / ref.abs().max())
            summary[name].setdefault("torch_f32_rel_err", {})[b] = f32err
            for n, v in leaves.items():
                tensors["%s.grad.%s" % (pre, n)] = v.grad.detach().float()
            tensors["%s.loss" % pre] = loss.detach().reshape(1)
            summary[name]["loss" if b == "batch" else b + "_loss"] = float(loss)
            if b == "batch":
                for n in ("text_features", "task_features", "class_features"):
                    if n in out:
                        tensors["%s.%s" % (name, n)] = out[n].detach().float()
            print("%-8s %-6s loss %.12g  %s  (torch f32 rel err: %s)" % (
                name, b, float(loss),
                "  ".join("|g_%s|=%.4g" % (n, float(v.grad.abs().max())) for n, v in leaves.items()),
                " ".join("%s %.2g" % (k, e) for k, e in f32err.items())))

    st_path = os.path.join(OUT, "parity.safetensors")
    gcf.write_safetensors(st_path, tensors)
    meta = collections.OrderedDict()
    meta["generator"] = "testdata/gen_softcpt_fixtures.py"
    meta["torch"] = torch.__version__
    meta["clip"] = "testdata/softcpt/parity_clip.safetensors"
    meta["clip_config"] = PARITY_CLIP
    meta["clip_sha256"] = hashlib.sha256(open(CLIP_PATH, "rb").read()).hexdigest()
    meta["text_encoder_check_rel_err"] = enc_err
    meta["vocab"] = VOCAB
    meta["n_ctx"], meta["task_n_ctx"], meta["class_n_ctx"] = N_CTX, TASK_N_CTX, CLASS_N_CTX
    meta["param_std"] = PARAM_STD
    meta["tasks"] = TASKS
    # Token ids of every text the prompts are built from (names with "_"
    # already replaced by a space, as both sides do).
    meta["token_ids"] = {n.replace("_", " "): encode(n.replace("_", " ")) for n in
                         ["X", "."] + [t["task_name"] for t in TASKS] + [c for t in TASKS for c in t["classes"]]}
    meta["batch"] = {"tasks": BATCH_TASKS, "labels": BATCH_LABELS}
    meta["batch2"] = {"tasks": BATCH2_TASKS, "labels": BATCH2_LABELS}
    meta["methods"] = summary
    with open(os.path.join(OUT, "parity.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    for n in sorted(os.listdir(OUT)):
        print("%-24s %8d bytes" % (n, os.path.getsize(os.path.join(OUT, n))))


if __name__ == "__main__":
    main()
