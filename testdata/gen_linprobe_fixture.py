#!/usr/bin/python3
"""Generate testdata/linprobe/fixture.json, the reference optima for the
Go linear probe (softcpt/linprobe.go).

Run from the repository root:

    /usr/bin/python3 testdata/gen_linprobe_fixture.py

The objective is sklearn's L2 logistic regression as lbfgs minimises it,
with the intercept not penalised:

    multinomial (>= 3 classes):  J(W, b) = C * sum_i CE(W x_i + b, y_i) + 1/2 ||W||^2
    binary (2 classes, sklearn's multi_class='auto'):
                                 J(w, b) = C * sum_i log(1 + exp(-t_i (w.x_i + b))) + 1/2 ||w||^2
                                 with t_i = +1 for the larger label, -1 otherwise.

Each optimum is computed twice, independently: by Newton's method with the
exact Hessian in float64 numpy (minimum-norm steps, since the softmax is
invariant to shifting every intercept by the same amount), and by torch's
float64 L-BFGS with strong-Wolfe line search. The script asserts that both
agree before writing. Intercepts are centred (sum_k b_k = 0), the
representative that L-BFGS started from zero reaches.

The script is deterministic (fixed seed, numpy only for the data).
"""
import json
import os

import numpy as np
import torch

torch.set_num_threads(2)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "linprobe")


def make_data(rng, n_per_class, k, e, sep):
    means = rng.normal(0.0, sep, size=(k, e))
    xs, ys = [], []
    for c in range(k):
        xs.append(means[c] + rng.normal(0.0, 1.0, size=(n_per_class[c], e)))
        ys += [c] * n_per_class[c]
    x = np.concatenate(xs).astype(np.float32)  # features are float32 in Go
    y = np.array(ys)
    perm = rng.permutation(len(y))
    return x[perm], y[perm]


def softmax_rows(z):
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


def multinomial_obj(theta, x, y, k, c):
    """theta: k x (e+1), last column the intercept. Returns J, grad, Hessian."""
    n, e = x.shape
    xt = np.hstack([x, np.ones((n, 1))])
    z = xt @ theta.T
    zmax = z.max(axis=1, keepdims=True)
    lse = (zmax + np.log(np.exp(z - zmax).sum(axis=1, keepdims=True)))[:, 0]
    ce = lse - z[np.arange(n), y]
    w = theta[:, :e]
    j = c * ce.sum() + 0.5 * (w * w).sum()
    p = softmax_rows(z)
    r = p.copy()
    r[np.arange(n), y] -= 1
    g = c * r.T @ xt
    g[:, :e] += w
    h = np.zeros((k * (e + 1), k * (e + 1)))
    for i in range(n):
        a = np.diag(p[i]) - np.outer(p[i], p[i])
        h += c * np.kron(a, np.outer(xt[i], xt[i]))
    mask = np.tile(np.r_[np.ones(e), 0.0], k)
    h += np.diag(mask)
    return j, g, h


def binary_obj(theta, x, t, c):
    n, e = x.shape
    xt = np.hstack([x, np.ones((n, 1))])
    z = xt @ theta
    m = -t * z
    loss = np.logaddexp(0.0, m)
    w = theta[:e]
    j = c * loss.sum() + 0.5 * (w * w).sum()
    s = 1.0 / (1.0 + np.exp(-m))  # sigma(-t z)
    g = c * xt.T @ (-t * s)
    g[:e] += w
    h = c * (xt.T * (s * (1 - s))) @ xt
    h += np.diag(np.r_[np.ones(e), 0.0])
    return j, g, h


def newton(fun, theta0, shape):
    theta = theta0.copy()
    j, g, h = fun(theta.reshape(shape))
    for _ in range(200):
        step = np.linalg.lstsq(h, -g.ravel(), rcond=1e-13)[0]
        a = 1.0
        while True:
            cand = theta + a * step
            jn, gn, hn = fun(cand.reshape(shape))
            if jn <= j + 1e-4 * a * (g.ravel() @ step) or a < 1e-12:
                break
            a *= 0.5
        theta, j, g, h = cand, jn, gn, hn
        if np.abs(g).max() < 1e-11 * max(1.0, abs(j)):
            break
    return theta.reshape(shape), j, np.abs(g).max()


def torch_lbfgs(x, y, k, c, binary):
    n, e = x.shape
    xt = torch.tensor(x, dtype=torch.float64)
    yt = torch.tensor(y)
    rows = 1 if binary else k
    w = torch.zeros(rows, e, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(rows, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1, max_iter=20000, tolerance_grad=1e-12,
                            tolerance_change=0, history_size=10, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        z = xt @ w.T + b
        if binary:
            t = (2 * yt - 1).to(torch.float64)
            loss = torch.nn.functional.softplus(-t * z[:, 0]).sum()
        else:
            loss = torch.nn.functional.cross_entropy(z, yt, reduction="sum")
        j = c * loss + 0.5 * (w * w).sum()
        j.backward()
        return j

    for _ in range(5):
        opt.step(closure)
    return closure().item()


def case(x, y, k, c, binary, probe):
    n, e = x.shape
    if binary:
        t = np.where(y == 1, 1.0, -1.0)
        theta, j, gmax = newton(lambda th: binary_obj(th, x.astype(np.float64), t, c),
                                np.zeros(e + 1), (e + 1,))
        w = np.vstack([np.zeros(e), theta[:e]])
        b = np.array([0.0, theta[e]])
    else:
        theta, j, gmax = newton(lambda th: multinomial_obj(th, x.astype(np.float64), y, k, c),
                                np.zeros(k * (e + 1)), (k, e + 1))
        w = theta[:, :e]
        b = theta[:, e] - theta[:, e].mean()
    jt = torch_lbfgs(x, y, k, c, binary)
    rel = abs(jt - j) / abs(j)
    assert rel < 1e-9, (c, binary, j, jt)
    preds = lambda xx: np.argmax(xx.astype(np.float64) @ w.T + b, axis=1)
    # Margins: the Go test requires predictions to match exactly, so make
    # sure no sample sits on a near-tie.
    for xx in (x, probe):
        zz = np.sort(xx.astype(np.float64) @ w.T + b, axis=1)
        assert (zz[:, -1] - zz[:, -2]).min() > 1e-6
    print(f"C={c:g} binary={binary}: J={j:.12g} max|g|={gmax:.2e} torch rel diff={rel:.1e}")
    return {
        "c": c, "binary": binary, "objective": j,
        "w": w.ravel().tolist(), "b": b.tolist(),
        "train_preds": preds(x).tolist(), "probe_preds": preds(probe).tolist(),
    }


def main():
    rng = np.random.default_rng(20240607)
    os.makedirs(OUT, exist_ok=True)
    out = {"datasets": []}

    k, e = 4, 5
    x, y = make_data(rng, [14, 12, 12, 10], k, e, sep=1.2)
    probe = rng.normal(0.0, 1.5, size=(25, e)).astype(np.float32)
    out["datasets"].append({
        "name": "multinomial", "classes": k, "dim": e,
        "x": x.astype(np.float64).ravel().tolist(), "y": y.tolist(),
        "probe": probe.astype(np.float64).ravel().tolist(),
        "cases": [case(x, y, k, c, False, probe) for c in (0.05, 1.0, 50.0)],
    })

    k, e = 2, 4
    x, y = make_data(rng, [16, 13], k, e, sep=0.8)
    probe = rng.normal(0.0, 1.5, size=(20, e)).astype(np.float32)
    out["datasets"].append({
        "name": "binary", "classes": k, "dim": e,
        "x": x.astype(np.float64).ravel().tolist(), "y": y.tolist(),
        "probe": probe.astype(np.float64).ravel().tolist(),
        "cases": [case(x, y, k, c, True, probe) for c in (0.1, 3.0)],
    })

    with open(os.path.join(OUT, "fixture.json"), "w") as f:
        json.dump(out, f, indent=0)
        f.write("\n")


if __name__ == "__main__":
    main()
