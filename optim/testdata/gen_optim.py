"""Generates optim.json: PyTorch 1.13 reference trajectories for optim's
optimiser and schedule tests.

Run from the repository root with Debian's Python (torch 1.13 CPU):

    /usr/bin/python3 optim/testdata/gen_optim.py

Each optimiser case starts from fixed float32 parameters, feeds a fixed
gradient sequence (null = grad is None for that step, so the parameter is
skipped) and records the parameters after every step. The schedule cases
record optimizer.param_groups[0]['lr'] for each epoch, using torch's
CosineAnnealingLR and a verbatim replica of Dassl's warm-up wrappers
(dassl/optim/lr_scheduler.py).
"""
import json
import math
import os

import torch
from torch.optim.lr_scheduler import _LRScheduler, CosineAnnealingLR

torch.set_num_threads(2)


class _BaseWarmupScheduler(_LRScheduler):
    def __init__(self, optimizer, successor, warmup_epoch, last_epoch=-1, verbose=False):
        self.successor = successor
        self.warmup_epoch = warmup_epoch
        super().__init__(optimizer, last_epoch, verbose)

    def get_lr(self):
        raise NotImplementedError

    def step(self, epoch=None):
        if self.last_epoch >= self.warmup_epoch:
            self.successor.step(epoch)
            self._last_lr = self.successor.get_last_lr()
        else:
            super().step(epoch)


class ConstantWarmupScheduler(_BaseWarmupScheduler):
    def __init__(self, optimizer, successor, warmup_epoch, cons_lr, last_epoch=-1, verbose=False):
        self.cons_lr = cons_lr
        super().__init__(optimizer, successor, warmup_epoch, last_epoch, verbose)

    def get_lr(self):
        if self.last_epoch >= self.warmup_epoch:
            return self.successor.get_last_lr()
        return [self.cons_lr for _ in self.base_lrs]


class LinearWarmupScheduler(_BaseWarmupScheduler):
    def __init__(self, optimizer, successor, warmup_epoch, min_lr, last_epoch=-1, verbose=False):
        self.min_lr = min_lr
        super().__init__(optimizer, successor, warmup_epoch, last_epoch, verbose)

    def get_lr(self):
        if self.last_epoch >= self.warmup_epoch:
            return self.successor.get_last_lr()
        if self.last_epoch == 0:
            return [self.min_lr for _ in self.base_lrs]
        return [lr * self.last_epoch / self.warmup_epoch for lr in self.base_lrs]


SHAPES = [[3, 4], [5]]
STEPS = 6


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def run_case(name, make_opt, hyper, skip=None):
    """skip: set of (step, param index) pairs whose grad is None."""
    g = torch.Generator().manual_seed(len(name) * 7919 + sum(map(ord, name)))
    params = [torch.randn(*s, generator=g, dtype=torch.float32).requires_grad_(True) for s in SHAPES]
    init = [flat(p) for p in params]
    opt = make_opt(params)
    grads, after = [], []
    for step in range(STEPS):
        gs = []
        for i, p in enumerate(params):
            if skip and (step, i) in skip:
                p.grad = None
                gs.append(None)
            else:
                gr = torch.randn(*p.shape, generator=g, dtype=torch.float32)
                p.grad = gr.clone()
                gs.append(flat(gr))
        opt.step()
        grads.append(gs)
        after.append([flat(p) for p in params])
    return {"name": name, "hyper": hyper, "shapes": SHAPES, "init": init, "grads": grads, "after": after}


def sgd_case(name, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, skip=None):
    hyper = {"lr": lr, "momentum": momentum, "dampening": dampening, "weight_decay": weight_decay, "nesterov": nesterov}
    return run_case(name, lambda ps: torch.optim.SGD(ps, lr=lr, momentum=momentum, dampening=dampening,
                                                     weight_decay=weight_decay, nesterov=nesterov), hyper, skip)


def adamw_case(name, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, skip=None):
    hyper = {"lr": lr, "beta1": betas[0], "beta2": betas[1], "eps": eps, "weight_decay": weight_decay}
    return run_case(name, lambda ps: torch.optim.AdamW(ps, lr=lr, betas=betas, eps=eps,
                                                       weight_decay=weight_decay), hyper, skip)


def lr_sequence(make_sched, epochs, steps_per_epoch=1, base_lr=0.002):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=base_lr, momentum=0.9)
    sched = make_sched(opt)
    lrs = []
    for _ in range(epochs):
        lrs.append(opt.param_groups[0]["lr"])
        for _ in range(steps_per_epoch):
            opt.step()  # no grad: a no-op that keeps torch's call-order check quiet
            sched.step()
    return lrs


def main():
    skip = {(2, 1), (3, 1), (4, 0)}
    sgd = [
        sgd_case("plain", 0.1),
        sgd_case("weight_decay", 0.05, weight_decay=0.1),
        sgd_case("momentum", 0.1, momentum=0.9),
        sgd_case("dassl", 0.002, momentum=0.9, weight_decay=5e-4),
        sgd_case("dampening_wd", 0.05, momentum=0.8, dampening=0.3, weight_decay=0.01),
        sgd_case("nesterov_wd", 0.05, momentum=0.9, weight_decay=0.02, nesterov=True),
        sgd_case("momentum_skip", 0.1, momentum=0.9, weight_decay=1e-3, skip=skip),
    ]
    adamw = [
        adamw_case("defaults", 1e-3),
        adamw_case("large_lr", 0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
        adamw_case("no_decay", 0.01, weight_decay=0.0),
        adamw_case("skip", 0.02, weight_decay=0.05, skip=skip),
    ]
    cos = lambda opt: CosineAnnealingLR(opt, T_max=10)
    warm = lambda opt: ConstantWarmupScheduler(opt, CosineAnnealingLR(opt, T_max=10), 1, 1e-5)
    warm2 = lambda opt: ConstantWarmupScheduler(opt, CosineAnnealingLR(opt, T_max=10, eta_min=1e-4), 2, 1e-5)
    lin = lambda opt: LinearWarmupScheduler(opt, CosineAnnealingLR(opt, T_max=10), 3, 1e-5)
    schedules = [
        {"name": "cosine", "kind": "cosine", "base_lr": 0.002, "t_max": 10, "eta_min": 0.0,
         "lrs": lr_sequence(cos, 14)},
        {"name": "constant_warmup_1", "kind": "constant_warmup", "base_lr": 0.002, "t_max": 10, "eta_min": 0.0,
         "warmup": 1, "warmup_lr": 1e-5, "lrs": lr_sequence(warm, 10)},
        {"name": "constant_warmup_first5", "kind": "constant_warmup", "base_lr": 0.002, "t_max": 10, "eta_min": 0.0,
         "warmup": 1, "warmup_lr": 1e-5, "lrs": lr_sequence(warm, 5)},
        {"name": "constant_warmup_2_etamin", "kind": "constant_warmup", "base_lr": 0.002, "t_max": 10, "eta_min": 1e-4,
         "warmup": 2, "warmup_lr": 1e-5, "lrs": lr_sequence(warm2, 12)},
        {"name": "linear_warmup_3", "kind": "linear_warmup", "base_lr": 0.002, "t_max": 10, "eta_min": 0.0,
         "warmup": 3, "warmup_lr": 1e-5, "lrs": lr_sequence(lin, 12)},
        {"name": "mtcoop_k3", "kind": "constant_warmup", "repeat": 3, "base_lr": 0.002, "t_max": 10, "eta_min": 0.0,
         "warmup": 1, "warmup_lr": 1e-5, "lrs": lr_sequence(warm, 10, steps_per_epoch=3)},
        {"name": "mtcoop_k4", "kind": "constant_warmup", "repeat": 4, "base_lr": 0.002, "t_max": 50, "eta_min": 0.0,
         "warmup": 1, "warmup_lr": 1e-5,
         "lrs": lr_sequence(lambda opt: ConstantWarmupScheduler(opt, CosineAnnealingLR(opt, T_max=50), 1, 1e-5),
                            50, steps_per_epoch=4)},
    ]
    out = {"torch": torch.__version__, "sgd": sgd, "adamw": adamw, "schedules": schedules}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "optim.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=None, separators=(",", ":"))
        f.write("\n")
    print("wrote", path, "k4 epoch 50 lr", schedules[-1]["lrs"][-1])


if __name__ == "__main__":
    main()
