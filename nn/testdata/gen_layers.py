"""Generates layers.json: a small PyTorch 1.13 model's state dict (keys in
order, shapes, values) and its outputs, for nn's layer and registry tests.

Run from the repository root with Debian's Python (torch 1.13 CPU):

    /usr/bin/python3 nn/testdata/gen_layers.py
"""
import json
import os

import torch
import torch.nn as nn

torch.set_num_threads(2)
torch.manual_seed(0)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.visual = nn.Sequential(
            nn.Conv2d(3, 4, 3, stride=1, padding=1, bias=False),
            nn.BatchNorm2d(4),
            nn.ReLU(),
            nn.Conv2d(4, 2, 1),
        )
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
        self.ln = nn.LayerNorm(8)
        self.tok = nn.Embedding(10, 8)
        self.head = nn.Linear(8, 3)


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def tensor_entry(t):
    return {"shape": list(t.shape), "data": flat(t.float())}


def main():
    net = Net()
    # Non-trivial running statistics and affine parameters.
    bn = net.visual[1]
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
        bn.running_mean.uniform_(-0.2, 0.2)
        bn.running_var.uniform_(0.5, 2.0)
        net.attn.in_proj_bias.uniform_(-0.1, 0.1)
        net.attn.out_proj.bias.uniform_(-0.1, 0.1)
        net.ln.weight.uniform_(0.5, 1.5)
        net.ln.bias.uniform_(-0.5, 0.5)
    sd = net.state_dict()
    state = [{"key": k, **tensor_entry(v)} for k, v in sd.items()]

    x = torch.randn(2, 3, 5, 5)
    q = torch.randn(2, 4, 8)
    ids = [[1, 0, 9], [3, 3, 7]]
    net.train()
    y_train = net.visual(x)
    stats_after = {"running_mean": flat(bn.running_mean), "running_var": flat(bn.running_var)}
    net.eval()
    y_eval = net.visual(x)
    attn_out, _ = net.attn(q, q, q, need_weights=False)
    causal = torch.triu(torch.full((4, 4), float("-inf")), diagonal=1)
    attn_causal, _ = net.attn(q, q, q, attn_mask=causal, need_weights=False)
    ln_out = net.ln(q)
    tok_out = net.tok(torch.tensor(ids))
    head_out = net.head(ln_out)
    out = {
        "torch": torch.__version__,
        "state": state,
        "x": tensor_entry(x),
        "q": tensor_entry(q),
        "ids": ids,
        "visual_train": tensor_entry(y_train),
        "stats_after_train": stats_after,
        "visual_eval": tensor_entry(y_eval),
        "attn": tensor_entry(attn_out),
        "attn_causal": tensor_entry(attn_causal),
        "ln": tensor_entry(ln_out),
        "tok": tensor_entry(tok_out),
        "head": tensor_entry(head_out),
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "layers.json")
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print("wrote", path, "keys", list(sd.keys()))


if __name__ == "__main__":
    main()
