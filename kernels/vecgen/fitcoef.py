#!/usr/bin/python3
"""Fit the polynomial coefficients of the vector Gelu and Tanh kernels.

Run with Debian's python3 (numpy, mpmath):  python3 fitcoef.py
It prints the float32 coefficients that vecgen/main.go hard-codes; vecgen
itself does not run this script.

Gelu: Phi(-a) = exp(-a*a/2) * Q(a) for a = |x| >= 0, where
Q(a) = erfcx(a/sqrt2)/2 is smooth, Q(0) = 1/2 and Q(a) ~ 1/(a sqrt(2 pi)).
Q is approximated on [0, 14.5] by a rational P4(a)/R5(a) (R5(0) = 1) with
minimal relative error (linearised Loeb iteration with Lawson reweighting).

Tanh: for |x| < 0.625, tanh(x) = x + x^3 T(x^2) with T a degree-4
polynomial of minimal relative error of tanh.
"""
import mpmath as mp
import numpy as np

mp.mp.dps = 40
U = 2.0**-24


def q_exact(a):
    a = mp.mpf(a)
    return float(mp.erfc(a / mp.sqrt(2)) * mp.exp(a * a / 2) / 2)


def fit_q(m=4, amax=14.5, iters=80):
    n = 2000
    th = np.cos(np.pi * (np.arange(n) + 0.5) / n)
    a = np.sort(np.concatenate([amax / 2 + amax / 2 * th, np.linspace(0, 3, 600)]))
    y = np.array([q_exact(v) for v in a])
    vp = np.vander(a, m + 1, increasing=True)
    vr = np.vander(a, m + 2, increasing=True)[:, 1:]
    rprev = np.ones_like(a)
    w = np.ones_like(a)
    for _ in range(iters):
        W = w / (np.abs(y) * np.abs(rprev))
        M = np.hstack([vp, -(y[:, None] * vr)])
        c, *_ = np.linalg.lstsq(M * W[:, None], y * W, rcond=None)
        p, r = c[: m + 1], np.concatenate([[1.0], c[m + 1 :]])
        rprev = np.polyval(r[::-1], a)
        err = np.polyval(p[::-1], a) / rprev / y - 1
        w = w * np.sqrt(np.abs(err)) + 1e-300
        w /= w.sum()
    p32, r32 = p.astype(np.float32), r.astype(np.float32)
    e32 = np.polyval(p32.astype(float)[::-1], a) / np.polyval(r32.astype(float)[::-1], a) / y - 1
    return p32, r32, np.max(np.abs(err)), np.max(np.abs(e32))


def fit_tanh(deg=4, xmax=0.625, iters=80):
    n = 3000
    x = xmax * (0.5 + 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n))
    x = x[x > 1e-4]
    t = np.array([float(mp.tanh(mp.mpf(v))) for v in x])
    z = x * x
    y = (t - x) / (x * z)  # T(z)
    V = np.vander(z, deg + 1, increasing=True)
    w = np.ones_like(x)
    for _ in range(iters):
        W = w * x * z / np.abs(t)  # relative error of tanh
        c, *_ = np.linalg.lstsq(V * W[:, None], y * W, rcond=None)
        err = (x + x * z * (V @ c)) / t - 1
        w = w * np.sqrt(np.abs(err)) + 1e-300
        w /= w.sum()
    c32 = c.astype(np.float32)
    e32 = (x + x * z * (V @ c32.astype(float))) / t - 1
    return c32, np.max(np.abs(err)), np.max(np.abs(e32))


def go(name, cs):
    return "\n".join(f"\t{name}{i} = {float(v)!r}" for i, v in enumerate(cs))


if __name__ == "__main__":
    p, r, e, e32 = fit_q()
    print(f"// Q(a) = P(a)/R(a) on [0, 14.5]: max rel error {e:.3g} (float64 coefficients), {e32:.3g} (float32)")
    print(go("geluP", p))
    print(go("geluR", r))
    c, e, e32 = fit_tanh()
    print(f"// tanh(x) = x + x^3 T(x^2) on [0, 0.625]: max rel error {e:.3g} (float64 coefficients), {e32:.3g} (float32)")
    print(go("tanhT", c))
