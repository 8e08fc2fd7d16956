#!/usr/bin/env python3
"""Checks `kataribe score --json` against transformers from the outside.

    HF_HUB_OFFLINE=1 ../venv/bin/python tools/parity/score_parity.py --model DIR --ids 1,2,3 \
        [--kataribe .build/release/kataribe] [--top 10] [--tolerance 1e-4] [--native]

transformers runs the same checkpoint upcast to float32 (Kataribe accumulates in float32 whatever
the stored dtype); --native instead runs it in the checkpoint's own dtype, to see how far
half-precision CPU inference drifts. Prints the largest differences and exits 1 when a logprob or
top logit differs by more than --tolerance or the top ids differ.
"""
import argparse
import json
import os
import subprocess
import sys

import torch
from transformers import AutoModelForCausalLM


def transformers_scores(model_dir, ids, top, native):
    dtype = "auto" if native else torch.float32
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype).eval()
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].float()
    logprobs = torch.log_softmax(logits, dim=-1)
    scores = [float(logprobs[i, ids[i + 1]]) for i in range(len(ids) - 1)]
    last = logits[-1]
    order = sorted(range(last.numel()), key=lambda j: (-float(last[j]), j))[:top]
    return scores, [(j, float(last[j]), float(logprobs[-1, j])) for j in order], str(model.dtype)


def kataribe_scores(binary, model_dir, ids, top):
    out = subprocess.run([binary, "score", "--model", model_dir, "--ids", ",".join(map(str, ids)),
                          "--top", str(top), "--json"], check=True, capture_output=True, text=True).stdout
    doc = json.loads(out)
    return [s["logprob"] for s in doc["scores"]], [(c["id"], c["logit"], c["logprob"]) for c in doc["top"]]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--ids", required=True, help="comma-separated token ids")
    parser.add_argument("--kataribe", default=os.path.join(".build", "release", "kataribe"))
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--tolerance", type=float, default=1e-4)
    parser.add_argument("--native", action="store_true", help="run transformers in the stored dtype")
    args = parser.parse_args()
    ids = [int(x) for x in args.ids.split(",")]

    ref_scores, ref_top, dtype = transformers_scores(args.model, ids, args.top, args.native)
    our_scores, our_top = kataribe_scores(args.kataribe, args.model, ids, args.top)

    score_diff = max((abs(a - b) for a, b in zip(ref_scores, our_scores)), default=0.0)
    logit_diff = max((abs(a[1] - b[1]) for a, b in zip(ref_top, our_top)), default=0.0)
    same_ids = [t[0] for t in ref_top] == [t[0] for t in our_top]
    ok = len(ref_scores) == len(our_scores) and score_diff <= args.tolerance and logit_diff <= args.tolerance and same_ids
    print(f"{args.model}: transformers dtype {dtype}; max |Δ logprob| = {score_diff:.3g}, "
          f"max |Δ top logit| = {logit_diff:.3g}, top ids {'identical' if same_ids else 'DIFFER'} -> "
          f"{'OK' if ok else 'MISMATCH'}")
    if not same_ids:
        print("  transformers:", [t[0] for t in ref_top])
        print("  kataribe:    ", [t[0] for t in our_top])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
