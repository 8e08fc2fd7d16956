#!/usr/bin/env python3
"""Writes Tests/Fixtures/kernels/bf16-linear.json: what torch computes for a bfloat16 nn.Linear,
the reference for Kataribe's `--dtype bf16` products (WeightMatrix.bfloat16Activations and the
AVX-512 BF16 GEMM).

Three shapes (one token, a 5-token prompt, a 33-token prompt crossing the kernels' 16-token
groups). For each: float32 weights already on the bfloat16 grid, float32 inputs NOT on it (the
products must round them), a float32 bias, and
  - `exact`: float64 math on the bfloat16-rounded inputs and weights plus the bias (what exact
    products with float32 sums approach),
  - `torch_bf16`: torch.nn.functional.linear on bfloat16 tensors (inputs, weights, bias in
    bfloat16, output rounded to bfloat16), as a bfloat16 model in transformers computes it.

Usage: /work/venv/bin/python tools/kernels/make_bf16_linear_fixture.py
"""
import json
import os

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "Tests", "Fixtures", "kernels", "bf16-linear.json")


def case(rows, cols, n, seed):
    g = torch.Generator().manual_seed(seed)
    w = (torch.randn(rows, cols, generator=g) * 0.05).bfloat16().float()
    x = torch.randn(n, cols, generator=g) * 1.7
    b = torch.randn(rows, generator=g) * 0.1
    exact = x.bfloat16().double() @ w.double().T + b.double()
    with torch.no_grad():
        torch_bf16 = torch.nn.functional.linear(x.bfloat16(), w.bfloat16(), b.bfloat16()).float()
    return {"rows": rows, "cols": cols, "n": n, "weights": short(w), "x": short(x), "bias": short(b),
            "exact": exact.flatten().tolist(), "torch_bf16": short(torch_bf16)}


def short(t):
    """float32 values in their shortest round-tripping decimal form (a smaller file, same floats)."""
    return [float(str(np.float32(v))) for v in t.flatten().tolist()]


def main():
    cases = [case(24, 64, 1, 1), case(19, 130, 5, 2), case(16, 256, 33, 3)]
    meta = {"torch": torch.__version__, "cases": cases}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(meta, f, separators=(",", ":"))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
