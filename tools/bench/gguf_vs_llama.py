#!/usr/bin/env python3
"""Kataribe and llama.cpp on the same GGUF files, interleaved over several rounds: prompt (pp) and
generation (tg) tokens per second, medians, and Kataribe / llama.cpp ratios. Start it on an idle
machine; every run records the 1-minute load average when it started. Besides the ratio of the
medians, the median of the per-round ratios is printed: on a shared machine whose memory bandwidth
drifts, the two systems of one round ran under much the same conditions.

    python3 tools/bench/gguf_vs_llama.py --llama-bench /work/llama.cpp-build/build/bin/llama-bench \\
        ~/.cache/kataribe/gguf/SmolLM2-135M-Instruct.Q4_1.gguf ~/.cache/kataribe/gguf/gemma-3-270m-q4_k_m.gguf
"""
import argparse
import json
import os
import statistics
import subprocess


def kataribe(binary, model, threads, prompt, gen):
    out = subprocess.run([binary, "bench", "--model", model, "--threads", str(threads), "--prompt-tokens", str(prompt),
                          "--gen-tokens", str(gen), "--context", "0", "--json"],
                         check=True, capture_output=True, text=True).stdout
    report = json.loads(out)
    return report["prompt_tokens_per_second"], report["generation_tokens_per_second"]


def llama(binary, model, threads, prompt, gen):
    out = subprocess.run([binary, "-m", model, "-t", str(threads), "-p", str(prompt), "-n", str(gen), "-r", "1", "-o", "json"],
                         check=True, capture_output=True, text=True).stdout
    rows = json.loads(out)
    pp = next(r["avg_ts"] for r in rows if r["n_prompt"] > 0 and r["n_gen"] == 0)
    tg = next(r["avg_ts"] for r in rows if r["n_gen"] > 0 and r["n_prompt"] == 0)
    return pp, tg


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("models", nargs="+")
    parser.add_argument("--kataribe", default=".build/release/kataribe")
    parser.add_argument("--llama-bench", required=True)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prompt", type=int, default=128)
    parser.add_argument("--gen", type=int, default=64)
    args = parser.parse_args()
    print(f"| model | system | pp{args.prompt} tok/s | tg{args.gen} tok/s | load at start |")
    print("| --- | --- | ---: | ---: | --- |")
    for model in args.models:
        runs = {"kataribe": [], "llama.cpp": []}
        loads = []
        for _ in range(args.rounds):
            for name, run, binary in (("kataribe", kataribe, args.kataribe), ("llama.cpp", llama, args.llama_bench)):
                loads.append(os.getloadavg()[0])
                runs[name].append(run(binary, model, args.threads, args.prompt, args.gen))
        medians = {name: (statistics.median(r[0] for r in rs), statistics.median(r[1] for r in rs)) for name, rs in runs.items()}
        for name, (pp, tg) in medians.items():
            print(f"| {os.path.basename(model)} | {name} | {pp:.1f} | {tg:.1f} | {min(loads):.2f}–{max(loads):.2f} |")
        k, l = medians["kataribe"], medians["llama.cpp"]
        print(f"| {os.path.basename(model)} | ratio | {k[0] / l[0]:.2f}× | {k[1] / l[1]:.2f}× | |")
        per_round = [(a[0] / b[0], a[1] / b[1]) for a, b in zip(runs["kataribe"], runs["llama.cpp"])]
        print(f"| {os.path.basename(model)} | median of per-round ratios | {statistics.median(r[0] for r in per_round):.2f}× | "
              f"{statistics.median(r[1] for r in per_round):.2f}× | |")


if __name__ == "__main__":
    main()
