"""OpenAI CLIP's architecture for the side-by-side benchmarks in bench/.

The model code is not repeated here: it is the one definition in
testdata/gen_clip_fixtures.py (written from the architecture description in
/work/shared/reference/clip.md with OpenAI's module and key names; the Go
parity tests check our engine against it), imported from there:

  * ModifiedResNet: 3-conv stem + avgpool, anti-aliased Bottleneck blocks
    (avgpool before conv3 and in the downsample branch "-1", "0", "1"),
    AttentionPool2d with the mean token as the only query (batched matmuls;
    OpenAI's current code calls F.multi_head_attention_forward, which does
    the same projections and products);
  * the text Transformer: nn.MultiheadAttention with the causal additive
    mask, QuickGELU MLP, fp32 LayerNorm, ln_final, EOT row, text_projection;
  * convert_weights (fp16 conv/linear/MHA/projections, as the released
    TorchScript archives).

What is benchmark-specific is rn50(): the RN50 configuration and the
initialisation of CLIP.initialize_parameters, except that bn3.weight of each
Bottleneck is left at 1 instead of 0, as clip.NewRandom in Go does, so both
sides see activations of the same magnitude (neither side skips work on
zeros). Weights are random: the benchmarks measure speed and memory, not
outputs.
"""
import math
import os
import sys

import torch
import torch.nn as nn

_TESTDATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "testdata")
sys.path.insert(0, os.path.normpath(_TESTDATA))
sys.dont_write_bytecode = True  # no __pycache__ in testdata/
_threads = torch.get_num_threads()
import gen_clip_fixtures as _fixtures  # noqa: E402
torch.set_num_threads(_threads)  # the fixture script sets 2 at import; callers choose

# The model code, under the names the bench scripts use.
LayerNorm = _fixtures.LayerNorm
QuickGELU = _fixtures.QuickGELU
Bottleneck = _fixtures.Bottleneck
AttentionPool2d = _fixtures.AttentionPool2d
ModifiedResNet = _fixtures.ModifiedResNet
ResidualAttentionBlock = _fixtures.ResidualAttentionBlock
Transformer = _fixtures.Transformer
VisionTransformer = _fixtures.VisionTransformer
CLIP = _fixtures.CLIP
convert_weights = _fixtures.convert_weights

# OpenAI's RN50 (clip/model.py build_model of RN50.pt).
RN50_CONFIG = dict(
    embed_dim=1024, image_resolution=224, vision_layers=(3, 4, 6, 3), vision_width=64,
    vision_heads=32, vision_patch_size=None, context_length=77, vocab_size=49408,
    transformer_width=512, transformer_heads=8, transformer_layers=12)


def initialize_parameters(model):
    """CLIP.initialize_parameters of OpenAI's clip/model.py for a
    ModifiedResNet CLIP, bn3.weight left at 1 (see the module doc)."""
    nn.init.normal_(model.token_embedding.weight, std=0.02)
    nn.init.normal_(model.positional_embedding, std=0.01)
    v = model.visual
    std = v.attnpool.c_proj.in_features ** -0.5
    for lin in (v.attnpool.q_proj, v.attnpool.k_proj, v.attnpool.v_proj, v.attnpool.c_proj):
        nn.init.normal_(lin.weight, std=std)
    t = model.transformer
    proj_std = (t.width ** -0.5) * ((2 * t.layers) ** -0.5)
    attn_std = t.width ** -0.5
    fc_std = (2 * t.width) ** -0.5
    for block in t.resblocks:
        nn.init.normal_(block.attn.in_proj_weight, std=attn_std)
        nn.init.normal_(block.attn.out_proj.weight, std=proj_std)
        nn.init.normal_(block.mlp.c_fc.weight, std=fc_std)
        nn.init.normal_(block.mlp.c_proj.weight, std=proj_std)
    nn.init.normal_(model.text_projection, std=t.width ** -0.5)


def rn50():
    """A randomly initialised CLIP RN50 (fp32, eval mode)."""
    m = CLIP(**RN50_CONFIG)
    initialize_parameters(m)
    with torch.no_grad():
        m.logit_scale.fill_(math.log(1 / 0.07))  # OpenAI's initial value
    return m.eval()
