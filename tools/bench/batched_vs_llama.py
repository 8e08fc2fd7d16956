#!/usr/bin/env python3
"""Batched decoding: `kataribe bench --batch 1,2,4,8,16` next to llama.cpp's `llama-batched-bench`
(shared prompt, -pps) on the same model shape, interleaved rounds, medians.

  python3 tools/bench/batched_vs_llama.py --kataribe .build/release/kataribe \
      --model /work/bench-models/open-calm-1b-random --dtype q8 \
      --gguf /work/bench-models/open-calm-1b-random-q8_0.gguf \
      --llama-batched-bench /work/llama.cpp-build/build/bin/llama-batched-bench --rounds 3

Prints a Markdown table: total generation tokens/s per batch size for both, each one's ratio to
its own B = 1, and Kataribe over llama.cpp; then the JSON of every run.
"""
import argparse
import json
import os
import statistics
import subprocess


def kataribe(args, batches):
    out = subprocess.run([args.kataribe, "bench", "--model", args.model, "--dtype", args.dtype, "--threads", str(args.threads),
                          "--prompt-tokens", str(args.prompt), "--gen-tokens", str(args.gen), "--context", "0",
                          "--batch", ",".join(map(str, batches)), "--json"], check=True, capture_output=True, text=True,
                         env=dict(os.environ, **({"KATARIBE_ISA": args.isa} if args.isa else {})))
    report = json.loads(out.stdout)
    return {b["sequences"]: b["total_tokens_per_second"] for b in report["batches"]}, report["instruction_set"]


def llama(args, batches):
    out = subprocess.run([args.llama_batched_bench, "-m", args.gguf, "-c", str((args.prompt + args.gen) * max(batches) + 64),
                          "-b", "2048", "-ub", "512", "-npp", str(args.prompt), "-ntg", str(args.gen),
                          "-npl", ",".join(map(str, batches)), "-t", str(args.threads), "-pps"],
                         check=True, capture_output=True, text=True)
    speeds = {}
    for line in out.stdout.splitlines() + out.stderr.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 10 and cells[0].isdigit():
            speeds[int(cells[2])] = float(cells[7])  # S_TG t/s: generated tokens of all sequences per second
    return speeds


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--kataribe", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--dtype", default="q8")
    parser.add_argument("--gguf", required=True)
    parser.add_argument("--llama-batched-bench", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prompt", type=int, default=128)
    parser.add_argument("--gen", type=int, default=64)
    parser.add_argument("--batches", default="1,2,4,8,16")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--isa", help="KATARIBE_ISA for Kataribe (avx2 measures the AVX2 kernels on an AVX-512 CPU)")
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",")]

    runs = {"kataribe": [], "llama.cpp": []}
    isa = None
    for _ in range(args.rounds):
        speeds, isa = kataribe(args, batches)
        runs["kataribe"].append(speeds)
        runs["llama.cpp"].append(llama(args, batches))
    median = {name: {b: statistics.median(r[b] for r in rounds) for b in batches} for name, rounds in runs.items()}
    k, l = median["kataribe"], median["llama.cpp"]
    print(f"Kataribe {args.dtype} ({isa} kernels) vs llama.cpp q8_0, {args.threads} threads, prompt {args.prompt} shared, "
          f"{args.gen} tokens per sequence, medians of {args.rounds} rounds")
    print("| B | Kataribe total tok/s | × its B=1 | llama.cpp total tok/s | × its B=1 | Kataribe / llama.cpp |")
    print("|---:|---:|---:|---:|---:|---:|")
    for b in batches:
        print(f"| {b} | {k[b]:.2f} | {k[b] / k[batches[0]]:.2f} | {l[b]:.2f} | {l[b] / l[batches[0]]:.2f} | {k[b] / l[b]:.2f} |")
    print(json.dumps(runs))


if __name__ == "__main__":
    main()
