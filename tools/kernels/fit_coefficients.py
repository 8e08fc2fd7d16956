#!/usr/bin/env python3
"""Derives the polynomial coefficients of the vectorised exp and erf in
Sources/KataribeCKernels/vecmath.c, and prints their worst-case error in float32 arithmetic.

    erf(x) ~= x * P(x^2) / Q(x^2) on |x| <= 3.92 (beyond, erf rounds to +-1 in float32);
              P of degree 6, Q of degree 4 with Q(0) = 1, fitted by Sanathanan-Koerner iteration
              (repeated linear least squares on Chebyshev-spaced points).
    exp(r) ~= 1 + r + c2 r^2 + ... + c6 r^6 on |r| <= ln2/2 (after exp(x) = 2^n exp(r)),
              least squares on relative error.

Usage: python tools/kernels/fit_coefficients.py
"""
import math

import numpy as np

ERF_LIMIT = 3.92


def fit_erf():
    xs = ERF_LIMIT / 2 * (1 - np.cos(np.linspace(0, np.pi, 40001)))
    f = np.array([math.erf(x) / x if x > 0 else 2 / math.sqrt(math.pi) for x in xs])
    t = xs ** 2
    n_p, n_q = 7, 5
    weights = np.ones_like(t)
    for _ in range(30):
        design = np.hstack([np.vstack([t ** k for k in range(n_p)]).T,
                            -(f[:, None] * np.vstack([t ** k for k in range(1, n_q)]).T)])
        solution, *_ = np.linalg.lstsq(design * weights[:, None], f * weights, rcond=None)
        p = solution[:n_p]
        q = np.concatenate([[1.0], solution[n_p:]])
        weights = 1 / np.abs(sum(q[k] * t ** k for k in range(n_q)))
    return p, q


def erf32(x, p, q):
    x = np.clip(x.astype(np.float32), np.float32(-ERF_LIMIT), np.float32(ERF_LIMIT))
    t = x * x
    num = np.float32(p[-1])
    for c in p[-2::-1]:
        num = num * t + np.float32(c)
    den = np.float32(q[-1])
    for c in q[-2::-1]:
        den = den * t + np.float32(c)
    return x * num / den


def fit_exp():
    half = math.log(2) / 2
    r = half * np.cos(np.linspace(0, np.pi, 4001))
    design = np.vstack([r ** k for k in range(2, 7)]).T
    target = np.exp(r) - 1 - r
    c, *_ = np.linalg.lstsq(design / np.exp(r)[:, None], target / np.exp(r), rcond=None)
    return c


def main():
    p, q = fit_erf()
    xs = np.linspace(-6, 6, 300001).astype(np.float32)
    error = np.max(np.abs(erf32(xs, p, q).astype(np.float64) - np.array([math.erf(float(v)) for v in xs])))
    print("erf P:", ", ".join(f"{v:.9e}f" for v in p))
    print("erf Q:", ", ".join(f"{v:.9e}f" for v in q))
    print(f"erf max |error| in float32 on [-6, 6]: {error:.2e}")
    c = fit_exp()
    print("exp c2..c6:", ", ".join(f"{v:.9e}f" for v in c))
    r = np.linspace(-math.log(2) / 2, math.log(2) / 2, 100001).astype(np.float32)
    value = np.float32(c[-1])
    for coefficient in list(c[-2::-1]) + [1.0, 1.0]:
        value = value * r + np.float32(coefficient)
    print(f"exp max relative error on the reduced range: {np.max(np.abs(value / np.exp(r.astype(np.float64)) - 1)):.2e}")


if __name__ == "__main__":
    main()
