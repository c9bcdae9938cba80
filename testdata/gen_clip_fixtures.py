#!/usr/bin/python3
"""Generate the small CLIP checkpoint fixtures under testdata/clip/.

Run from the repository root:

    /usr/bin/python3 testdata/gen_clip_fixtures.py

It writes two tiny randomly initialised CLIP models that follow OpenAI's
clip/model.py architecture and key names exactly (a ModifiedResNet CLIP "rn"
and a VisionTransformer CLIP "vit"), in the checkpoint formats a Go loader
must read, together with reference inputs and outputs for parity tests, the
expected key/shape/dtype/checksum list of every checkpoint, a few small
"misc" archives that exercise pickle and tensor corner cases, and corrupt
files for error tests. See testdata/clip/README.md for the file list.

The script is deterministic (fixed seeds, single thread). The model code
below is written from the architecture description of OpenAI's CLIP
(ModifiedResNet, AttentionPool2d, VisionTransformer, text Transformer with
QuickGELU and a causal mask); the state-dict key names are OpenAI's.
"""
import collections
import hashlib
import io
import json
import math
import os
import struct
import zipfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(2)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "clip")

SOT, EOT = 49406, 49407
VOCAB = 49408
CONTEXT = 77

RN_CONFIG = dict(
    name="rn", embed_dim=32, image_resolution=64, vision_layers=[2, 1, 1, 1],
    vision_width=4, vision_heads=2, vision_patch_size=None,
    context_length=CONTEXT, vocab_size=VOCAB, transformer_width=4,
    transformer_heads=2, transformer_layers=2)
VIT_CONFIG = dict(
    name="vit", embed_dim=32, image_resolution=32, vision_layers=2,
    vision_width=32, vision_heads=2, vision_patch_size=8,
    context_length=CONTEXT, vocab_size=VOCAB, transformer_width=8,
    transformer_heads=2, transformer_layers=2)


# ----------------------------------------------------------------- model ---

class LayerNorm(nn.LayerNorm):
    """LayerNorm computed in fp32 and cast back (as OpenAI's)."""

    def forward(self, x):
        t = x.dtype
        return super().forward(x.type(torch.float32)).type(t)


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu2 = nn.ReLU(inplace=True)
        self.avgpool = nn.AvgPool2d(stride) if stride > 1 else nn.Identity()
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu3 = nn.ReLU(inplace=True)
        self.downsample = None
        self.stride = stride
        if stride > 1 or inplanes != planes * 4:
            self.downsample = nn.Sequential(collections.OrderedDict([
                ("-1", nn.AvgPool2d(stride)),
                ("0", nn.Conv2d(inplanes, planes * 4, 1, stride=1, bias=False)),
                ("1", nn.BatchNorm2d(planes * 4)),
            ]))

    def forward(self, x):
        identity = x
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.relu2(self.bn2(self.conv2(out)))
        out = self.avgpool(out)
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out = out + identity
        return self.relu3(out)


class AttentionPool2d(nn.Module):
    def __init__(self, spacial_dim, embed_dim, num_heads, output_dim):
        super().__init__()
        self.positional_embedding = nn.Parameter(
            torch.randn(spacial_dim ** 2 + 1, embed_dim) / embed_dim ** 0.5)
        self.k_proj = nn.Linear(embed_dim, embed_dim)
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.c_proj = nn.Linear(embed_dim, output_dim)
        self.num_heads = num_heads

    def forward(self, x):
        # NCHW -> (HW)NC, prepend the mean token, add positions.
        x = x.flatten(start_dim=2).permute(2, 0, 1)
        x = torch.cat([x.mean(dim=0, keepdim=True), x], dim=0)
        x = x + self.positional_embedding[:, None, :].to(x.dtype)
        L, N, C = x.shape
        h = self.num_heads
        d = C // h
        q = F.linear(x[:1], self.q_proj.weight, self.q_proj.bias)  # 1,N,C
        k = F.linear(x, self.k_proj.weight, self.k_proj.bias)      # L,N,C
        v = F.linear(x, self.v_proj.weight, self.v_proj.bias)
        q = q.reshape(1, N * h, d).transpose(0, 1) * (d ** -0.5)  # Nh,1,d
        k = k.reshape(L, N * h, d).transpose(0, 1)                # Nh,L,d
        v = v.reshape(L, N * h, d).transpose(0, 1)
        a = torch.softmax(torch.bmm(q, k.transpose(1, 2)), dim=-1)
        o = torch.bmm(a, v).transpose(0, 1).reshape(1, N, C)
        o = F.linear(o, self.c_proj.weight, self.c_proj.bias)
        return o.squeeze(0)


class ModifiedResNet(nn.Module):
    def __init__(self, layers, output_dim, heads, input_resolution, width):
        super().__init__()
        self.output_dim = output_dim
        self.input_resolution = input_resolution
        self.conv1 = nn.Conv2d(3, width // 2, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width // 2)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(width // 2, width // 2, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width // 2)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv3 = nn.Conv2d(width // 2, width, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(width)
        self.relu3 = nn.ReLU(inplace=True)
        self.avgpool = nn.AvgPool2d(2)
        self._inplanes = width
        self.layer1 = self._make_layer(width, layers[0])
        self.layer2 = self._make_layer(width * 2, layers[1], stride=2)
        self.layer3 = self._make_layer(width * 4, layers[2], stride=2)
        self.layer4 = self._make_layer(width * 8, layers[3], stride=2)
        embed_dim = width * 32
        self.attnpool = AttentionPool2d(input_resolution // 32, embed_dim, heads, output_dim)

    def _make_layer(self, planes, blocks, stride=1):
        layers = [Bottleneck(self._inplanes, planes, stride)]
        self._inplanes = planes * Bottleneck.expansion
        for _ in range(1, blocks):
            layers.append(Bottleneck(self._inplanes, planes))
        return nn.Sequential(*layers)

    def stem(self, x):
        x = self.relu1(self.bn1(self.conv1(x)))
        x = self.relu2(self.bn2(self.conv2(x)))
        x = self.relu3(self.bn3(self.conv3(x)))
        return self.avgpool(x)

    def forward(self, x, trace=None):
        x = x.type(self.conv1.weight.dtype)
        x = self.stem(x)
        if trace is not None:
            trace["visual.stem"] = x
        for name in ("layer1", "layer2", "layer3", "layer4"):
            x = getattr(self, name)(x)
            if trace is not None:
                trace["visual." + name] = x
        x = self.attnpool(x)
        if trace is not None:
            trace["visual.attnpool"] = x
        return x


class ResidualAttentionBlock(nn.Module):
    def __init__(self, d_model, n_head, attn_mask=None):
        super().__init__()
        self.attn = nn.MultiheadAttention(d_model, n_head)
        self.ln_1 = LayerNorm(d_model)
        self.mlp = nn.Sequential(collections.OrderedDict([
            ("c_fc", nn.Linear(d_model, d_model * 4)),
            ("gelu", QuickGELU()),
            ("c_proj", nn.Linear(d_model * 4, d_model)),
        ]))
        self.ln_2 = LayerNorm(d_model)
        self.attn_mask = attn_mask  # a plain attribute, moved to x's dtype/device once (OpenAI's)

    def attention(self, x):
        self.attn_mask = self.attn_mask.to(dtype=x.dtype, device=x.device) if self.attn_mask is not None else None
        return self.attn(x, x, x, need_weights=False, attn_mask=self.attn_mask)[0]

    def forward(self, x):
        x = x + self.attention(self.ln_1(x))
        x = x + self.mlp(self.ln_2(x))
        return x


class Transformer(nn.Module):
    def __init__(self, width, layers, heads, attn_mask=None):
        super().__init__()
        self.width = width
        self.layers = layers
        self.resblocks = nn.Sequential(*[ResidualAttentionBlock(width, heads, attn_mask) for _ in range(layers)])

    def forward(self, x, trace=None, prefix=""):
        for i, blk in enumerate(self.resblocks):
            x = blk(x)
            if trace is not None:
                trace["%stransformer.resblocks.%d" % (prefix, i)] = x.permute(1, 0, 2)
        return x


class VisionTransformer(nn.Module):
    def __init__(self, input_resolution, patch_size, width, layers, heads, output_dim):
        super().__init__()
        self.input_resolution = input_resolution
        self.output_dim = output_dim
        self.conv1 = nn.Conv2d(3, width, patch_size, stride=patch_size, bias=False)
        scale = width ** -0.5
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(scale * torch.randn((input_resolution // patch_size) ** 2 + 1, width))
        self.ln_pre = LayerNorm(width)
        self.transformer = Transformer(width, layers, heads)
        self.ln_post = LayerNorm(width)
        self.proj = nn.Parameter(scale * torch.randn(width, output_dim))

    def forward(self, x, trace=None):
        x = x.type(self.conv1.weight.dtype)
        x = self.conv1(x)
        x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)
        cls = self.class_embedding.to(x.dtype) + torch.zeros(x.shape[0], 1, x.shape[-1], dtype=x.dtype)
        x = torch.cat([cls, x], dim=1)
        x = x + self.positional_embedding.to(x.dtype)
        x = self.ln_pre(x)
        if trace is not None:
            trace["visual.ln_pre"] = x
        x = x.permute(1, 0, 2)
        x = self.transformer(x, trace, "visual.")
        x = x.permute(1, 0, 2)
        x = self.ln_post(x[:, 0, :])
        if trace is not None:
            trace["visual.ln_post"] = x
        return x @ self.proj


class CLIP(nn.Module):
    def __init__(self, embed_dim, image_resolution, vision_layers, vision_width,
                 vision_heads, vision_patch_size, context_length, vocab_size,
                 transformer_width, transformer_heads, transformer_layers, **_):
        super().__init__()
        self.ctx_len = context_length
        if isinstance(vision_layers, (tuple, list)):
            self.visual = ModifiedResNet(vision_layers, embed_dim, vision_heads, image_resolution, vision_width)
        else:
            self.visual = VisionTransformer(image_resolution, vision_patch_size, vision_width,
                                            vision_layers, vision_heads, embed_dim)
        self.transformer = Transformer(transformer_width, transformer_layers, transformer_heads,
                                       self.build_attention_mask())
        self.token_embedding = nn.Embedding(vocab_size, transformer_width)
        self.positional_embedding = nn.Parameter(torch.empty(context_length, transformer_width))
        self.ln_final = LayerNorm(transformer_width)
        self.text_projection = nn.Parameter(torch.empty(transformer_width, embed_dim))
        self.logit_scale = nn.Parameter(torch.ones([]) * math.log(100.0))
        # OpenAI's released archives also hold these three int64 tensors
        # (build_model deletes them before loading).
        self.register_buffer("input_resolution", torch.tensor(image_resolution))
        self.register_buffer("context_length", torch.tensor(context_length))
        self.register_buffer("vocab_size", torch.tensor(vocab_size))

    def build_attention_mask(self):
        mask = torch.empty(self.ctx_len, self.ctx_len)
        mask.fill_(float("-inf"))
        mask.triu_(1)
        return mask

    @property
    def dtype(self):
        return self.visual.conv1.weight.dtype

    def encode_image(self, image, trace=None):
        return self.visual(image.type(self.dtype), trace)

    def encode_text(self, text, trace=None):
        x = self.token_embedding(text).type(self.dtype)
        x = x + self.positional_embedding.type(self.dtype)
        if trace is not None:
            trace["text.embed"] = x
        x = x.permute(1, 0, 2)
        x = self.transformer(x, trace, "")
        x = x.permute(1, 0, 2)
        x = self.ln_final(x).type(self.dtype)
        if trace is not None:
            trace["text.ln_final"] = x
        return x[torch.arange(x.shape[0]), text.argmax(dim=-1)] @ self.text_projection

    def forward(self, image, text):
        image_features = self.encode_image(image)
        text_features = self.encode_text(text)
        image_features = image_features / image_features.norm(dim=1, keepdim=True)
        text_features = text_features / text_features.norm(dim=1, keepdim=True)
        logit_scale = self.logit_scale.exp()
        logits_per_image = logit_scale * image_features @ text_features.t()
        return logits_per_image, logits_per_image.t()


def convert_weights(model):
    """OpenAI's convert_weights: fp16 for conv/linear/MHA projections and
    text_projection/proj; LayerNorm, BatchNorm, embeddings stay fp32."""
    def _conv(l):
        if isinstance(l, (nn.Conv1d, nn.Conv2d, nn.Linear)):
            l.weight.data = l.weight.data.half()
            if l.bias is not None:
                l.bias.data = l.bias.data.half()
        if isinstance(l, nn.MultiheadAttention):
            for attr in ["in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight",
                         "in_proj_bias", "bias_k", "bias_v"]:
                t = getattr(l, attr)
                if t is not None:
                    t.data = t.data.half()
        for name in ["text_projection", "proj"]:
            if hasattr(l, name):
                a = getattr(l, name)
                if a is not None:
                    a.data = a.data.half()
    model.apply(_conv)


def init_weights(model, seed):
    """Random init with activations O(1); BN affine and running stats are
    non-trivial so eval-mode BatchNorm is exercised."""
    g = torch.Generator().manual_seed(seed)

    def rn(*shape, std=1.0, mean=0.0):
        return torch.randn(*shape, generator=g) * std + mean

    def ru(*shape, lo=0.0, hi=1.0):
        return torch.rand(*shape, generator=g) * (hi - lo) + lo

    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                fan_in = m.weight[0].numel()
                m.weight.copy_(rn(*m.weight.shape, std=1.0 / math.sqrt(fan_in)))
                if m.bias is not None:
                    m.bias.copy_(rn(*m.bias.shape, std=0.1))
            elif isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(ru(c, lo=0.5, hi=1.5))
                m.bias.copy_(rn(c, std=0.2))
                m.running_mean.copy_(rn(c, std=0.3))
                m.running_var.copy_(ru(c, lo=0.5, hi=2.0))
                m.num_batches_tracked.fill_(1000 + int(ru(1, lo=0, hi=1000).item()))
            elif isinstance(m, nn.LayerNorm):
                m.weight.copy_(ru(*m.weight.shape, lo=0.5, hi=1.5))
                m.bias.copy_(rn(*m.bias.shape, std=0.1))
            elif isinstance(m, nn.MultiheadAttention):
                w = m.embed_dim
                m.in_proj_weight.copy_(rn(3 * w, w, std=1.0 / math.sqrt(w)))
                m.in_proj_bias.copy_(rn(3 * w, std=0.1))
            elif isinstance(m, nn.Embedding):
                m.weight.copy_(rn(*m.weight.shape, std=0.5))
        model.positional_embedding.copy_(rn(*model.positional_embedding.shape, std=0.1))
        w = model.text_projection.shape[0]
        model.text_projection.copy_(rn(*model.text_projection.shape, std=1.0 / math.sqrt(w)))
        v = model.visual
        if isinstance(v, VisionTransformer):
            v.class_embedding.copy_(rn(*v.class_embedding.shape, std=0.5))
            v.positional_embedding.copy_(rn(*v.positional_embedding.shape, std=0.2))
            v.proj.copy_(rn(*v.proj.shape, std=1.0 / math.sqrt(v.proj.shape[0])))
        else:
            pe = v.attnpool.positional_embedding
            pe.copy_(rn(*pe.shape, std=0.2))


# ------------------------------------------------------------ safetensors ---

ST_DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
             torch.float64: "F64", torch.int64: "I64", torch.int32: "I32",
             torch.uint8: "U8", torch.int8: "I8", torch.bool: "BOOL", torch.int16: "I16"}


def write_safetensors(path, tensors, metadata=None):
    """Hand-written safetensors writer: u64 LE header length, JSON header,
    raw little-endian data in key order (8-byte aligned header padding)."""
    header = collections.OrderedDict()
    if metadata:
        header["__metadata__"] = metadata
    blobs = []
    off = 0
    for k, t in tensors.items():
        t = t.detach().contiguous()
        if t.dtype == torch.bfloat16:
            b = t.view(torch.int16).numpy().astype("<i2").tobytes()
        else:
            b = t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        header[k] = {"dtype": ST_DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


# ---------------------------------------------------------------- helpers ---

def f32_sha256(t):
    """sha256 of the tensor's values as contiguous little-endian float32."""
    return hashlib.sha256(t.detach().float().contiguous().numpy().astype("<f4").tobytes()).hexdigest()


def describe(sd):
    """Per-key record for keys.json (in state_dict order)."""
    out = []
    for k, t in sd.items():
        out.append({"key": k, "dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape),
                    "sha256_f32": f32_sha256(t), "sum": float(t.double().sum())})
    return out


def zip_layout(path):
    with zipfile.ZipFile(path) as z:
        return [(i.filename, i.file_size, i.compress_type) for i in z.infolist()]


def make_text_tokens():
    # Hard-coded token ids (no tokenizer): SOT ... EOT, zero padded to 77.
    seqs = [
        [SOT, 320, 1125, 539, 320, 2368, 269, EOT],      # short
        [SOT] + [(1000 + 37 * i) % 49000 + 256 for i in range(30)] + [EOT],
        [SOT] + [(7 + 131 * i) % 49405 + 1 for i in range(CONTEXT - 2)] + [EOT],  # full length
    ]
    t = torch.zeros(len(seqs), CONTEXT, dtype=torch.int64)
    for i, s in enumerate(seqs):
        t[i, :len(s)] = torch.tensor(s)
    return t


def make_images(n, res, seed):
    g = torch.Generator().manual_seed(seed)
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, res), torch.linspace(-1, 1, res), indexing="ij")
    imgs = []
    for i in range(n):
        ch = []
        for c in range(3):
            f = 1.0 + i + 0.5 * c
            smooth = torch.sin(math.pi * f * xs + c) * torch.cos(math.pi * (f + 0.3) * ys - i)
            ch.append(1.5 * smooth + 0.5 * torch.randn(res, res, generator=g))
        imgs.append(torch.stack(ch))
    return torch.stack(imgs).float()


def reference_outputs(model, images, text):
    model.eval()
    trace = collections.OrderedDict()
    with torch.no_grad():
        img = model.encode_image(images, trace)
        txt = model.encode_text(text, trace)
        logits, _ = model(images, text)
    out = collections.OrderedDict()
    out["input.image"] = images
    out["input.text"] = text
    out["output.image_features"] = img.float()
    out["output.text_features"] = txt.float()
    out["output.logit_scale"] = model.logit_scale.detach().float()
    out["output.logits_per_image"] = logits.float()
    for k, v in trace.items():
        out["trace." + k] = v.detach().float().contiguous()
    return out


def build(cfg, seed):
    torch.manual_seed(seed)
    m = CLIP(**cfg)
    init_weights(m, seed)
    return m.eval()


def trace_model(m, images, text):
    return torch.jit.trace(m, (images, text), check_trace=False)


# --------------------------------------------------------------- misc set ---

class MiscInner(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.arange(6, dtype=torch.float32).reshape(2, 3) - 2.5)
        self.register_buffer("steps", torch.tensor(7, dtype=torch.int64))
        self.scale = 0.5          # float attribute
        self.names = ["a", "b"]   # list attribute
        self.flag = True

    def forward(self, x):
        return x @ self.weight * self.scale


class MiscScripted(nn.Module):
    """A small scripted module: ModuleList, nested modules, plain int/float/
    bool/str/list/tuple attributes and a non-parameter tensor attribute."""

    def __init__(self):
        super().__init__()
        self.inner = MiscInner()
        self.blocks = nn.ModuleList([nn.Linear(3, 2), nn.Linear(2, 3, bias=False)])
        self.half_param = nn.Parameter(torch.tensor([1.0, -2.0, 0.5, 65504.0]).half())
        self.register_buffer("bf", torch.tensor([1.0, -3.5, 1e30]).to(torch.bfloat16))
        self.count = 3
        self.ratios = [0.25, 0.75]
        self.label = "misc"
        self.pair = (1, 2)

    def forward(self, x):
        y = self.inner(x)
        for b in self.blocks:
            y = b(y)
        return y * self.count


def write_misc():
    files = {}
    # (1) torch.save of a dict with shared storages, views with offsets and
    # non-contiguous strides, several dtypes and a scalar.
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6) * 0.5 - 3.0
    d = collections.OrderedDict()
    d["base"] = base
    d["transposed"] = base.t()                 # strides (1, 6)
    d["narrow"] = base[1:3, 2:5]              # offset 8, strides (6, 1)
    d["step"] = base[:, ::2]                  # strides (6, 2)
    d["row"] = base[2]                        # offset 12
    d["f64"] = torch.tensor([[1.0, -2.25], [1e-3, 3.5]], dtype=torch.float64)
    d["f16"] = torch.tensor([0.1, -1.5, 65504.0, 6e-8], dtype=torch.float16)
    d["bf16"] = torch.tensor([0.1, -1.5, 3e38], dtype=torch.bfloat16)
    d["i64"] = torch.tensor([1, -2, 3], dtype=torch.int64)
    d["i32"] = torch.tensor([[4, -5]], dtype=torch.int32)
    d["u8"] = torch.tensor([0, 200, 255], dtype=torch.uint8)
    d["bool"] = torch.tensor([True, False, True])
    d["scalar"] = torch.tensor(2.5)
    d["empty"] = torch.zeros(0, 3)
    torch.save(d, os.path.join(OUT, "misc_views.pt"))
    files["misc_views.pt"] = d
    # (2) a scripted module.
    torch.manual_seed(5)
    ms = torch.jit.script(MiscScripted())
    ms.save(os.path.join(OUT, "misc_scripted.pt"))
    files["misc_scripted.pt"] = collections.OrderedDict(ms.state_dict())
    return files


def expected_values(sd):
    """Exact values of small tensors as float32 lists (row-major)."""
    return {k: {"dtype": str(v.dtype).replace("torch.", ""), "shape": list(v.shape),
                "values": [float(x) for x in v.detach().float().contiguous().reshape(-1).tolist()]}
            for k, v in sd.items()}


def write_corrupt(rn_jit):
    with open(rn_jit, "rb") as f:
        blob = f.read()
    # A truncated TorchScript archive: the first 40000 bytes (no central
    # directory) of rn_jit_fp32.pt.
    with open(os.path.join(OUT, "corrupt_truncated.pt"), "wb") as f:
        f.write(blob[:40000])
    # A zip that is not a checkpoint.
    with zipfile.ZipFile(os.path.join(OUT, "corrupt_foreign.zip"), "w") as z:
        for name, content in (("hello/readme.txt", b"not a checkpoint\n"), ("hello/data.bin", b"\x00" * 16)):
            z.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), content)
    # A safetensors file whose header is not valid JSON.
    h = b'{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]'
    with open(os.path.join(OUT, "corrupt_header.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"\x00" * 8)
    # A safetensors file whose data is shorter than the header claims.
    h = b'{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}'
    with open(os.path.join(OUT, "corrupt_short.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"\x00" * 8)


def main():
    os.makedirs(OUT, exist_ok=True)
    text = make_text_tokens()
    summary = {}

    # ------------------------------------------------------- ResNet CLIP
    rn = build(RN_CONFIG, 1234)
    rn_img = make_images(2, RN_CONFIG["image_resolution"], 11)
    rn_sd = collections.OrderedDict(rn.state_dict())
    traced = trace_model(rn, rn_img, text)
    torch.jit.save(traced, os.path.join(OUT, "rn_jit_fp32.pt"))
    torch.save(rn_sd, os.path.join(OUT, "rn_state_dict.pt"))
    write_safetensors(os.path.join(OUT, "rn.safetensors"), rn_sd, {"format": "pt", "source": "gen_clip_fixtures.py"})
    write_safetensors(os.path.join(OUT, "rn_reference.safetensors"), reference_outputs(rn, rn_img, text))
    # Check: the archive's state dict equals the model's.
    loaded = torch.jit.load(os.path.join(OUT, "rn_jit_fp32.pt"))
    lsd = collections.OrderedDict(loaded.state_dict())
    assert list(lsd.keys()) == list(rn_sd.keys())
    for k in rn_sd:
        assert torch.equal(lsd[k], rn_sd[k]), k
    summary["rn"] = {"config": RN_CONFIG, "keys": describe(rn_sd)}

    # -------------------------------------------------------- ViT CLIP
    vit = build(VIT_CONFIG, 4321)
    vit_img = make_images(2, VIT_CONFIG["image_resolution"], 12)
    fp32_sd = collections.OrderedDict((k, v.clone()) for k, v in vit.state_dict().items())
    traced = trace_model(vit, vit_img, text)
    # OpenAI's release: convert_weights after building (mixed fp16/fp32).
    # The traced module shares its parameters with the eager one, so
    # converting the eager module converts the archive's tensors.
    convert_weights(vit)
    traced_sd = collections.OrderedDict(traced.state_dict())
    torch.jit.save(traced, os.path.join(OUT, "vit_jit_fp16.pt"))
    # Reference model: fp32 weights round-tripped through fp16 where
    # convert_weights made them fp16.
    vit_rt = build(VIT_CONFIG, 4321)
    convert_weights(vit_rt)
    vit_rt.float()
    rt_sd = collections.OrderedDict(vit_rt.state_dict())
    for k in rt_sd:
        want = fp32_sd[k].half().float() if traced_sd[k].dtype == torch.float16 else fp32_sd[k]
        assert torch.equal(rt_sd[k], want), k
        assert torch.equal(traced_sd[k].to(rt_sd[k].dtype), rt_sd[k]), k
    loaded = torch.jit.load(os.path.join(OUT, "vit_jit_fp16.pt"))
    lsd = collections.OrderedDict(loaded.state_dict())
    for k in traced_sd:
        assert lsd[k].dtype == traced_sd[k].dtype and torch.equal(lsd[k], traced_sd[k]), k
    write_safetensors(os.path.join(OUT, "vit_reference.safetensors"), reference_outputs(vit_rt, vit_img, text))
    vit_keys = describe(traced_sd)
    # sha256_f32 of an fp16 tensor is that of its exact float32 upcast, which
    # equals fp32 -> fp16 -> fp32 of the original weights (asserted above).
    for rec in vit_keys:
        rec["sha256_fp32_original"] = f32_sha256(fp32_sd[rec["key"]])
    summary["vit"] = {"config": VIT_CONFIG, "keys": vit_keys}

    # ------------------------------------------------------------- misc
    misc = write_misc()
    summary["misc"] = {name: expected_values(sd) for name, sd in misc.items()}
    write_corrupt(os.path.join(OUT, "rn_jit_fp32.pt"))

    layouts = {}
    for name in ("rn_jit_fp32.pt", "vit_jit_fp16.pt", "rn_state_dict.pt", "misc_scripted.pt", "misc_views.pt"):
        layouts[name] = zip_layout(os.path.join(OUT, name))
    summary["zip_layouts"] = layouts
    with open(os.path.join(OUT, "keys.json"), "w") as f:
        json.dump(summary, f, indent=1)
        f.write("\n")
    for name in sorted(os.listdir(OUT)):
        print("%-32s %9d" % (name, os.path.getsize(os.path.join(OUT, name))))


if __name__ == "__main__":
    main()
