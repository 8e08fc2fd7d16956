#!/usr/bin/env python3
"""Runs kataribe, llama.cpp and transformers on the same model, interleaved over several rounds,
and prints the side-by-side table and the target ratios (medians over rounds). See
docs/benchmarks.md for how to build the peers and make the models.

Usage:
    python tools/bench/run_benchmarks.py \
        --model /work/bench-models/open-calm-1b-random \
        --gguf /work/bench-models/open-calm-1b-random \
        --llama-bench /path/to/llama.cpp/build/bin/llama-bench \
        [--kataribe .build/release/kataribe] [--rounds 3] [--threads 2] [--prompt 128] [--gen 64]
        [--context 1024] [--systems kataribe-f16,llama-f16,...] [--json results.json]
        [--stream-read /tmp/stream_read]

`--gguf PREFIX` means PREFIX-f16.gguf, PREFIX-q8_0.gguf and PREFIX-q4_0.gguf. Every run records
the load average and CPU pressure when it started; the machine should be otherwise idle.

On shared (virtual) machines the memory bandwidth can change several-fold within minutes, and
generation speed follows it. `--stream-read` (tools/bench/stream_read.c, compiled) measures the
two-thread read bandwidth just before every run, and each ratio is also given as the median of
the per-round ratios: the two systems of a round ran minutes apart, under much the same bandwidth.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ALL_SYSTEMS = ["kataribe-f16", "kataribe-bf16", "kataribe-q8", "kataribe-q4", "llama-f16", "llama-q8_0", "llama-q4_0",
               "transformers-f32", "transformers-bf16"]


def cpu_pressure():
    try:
        with open("/proc/pressure/cpu") as f:
            return float(f.readline().split()[1].split("=")[1])
    except (OSError, IndexError, ValueError):
        return None


def kataribe_environment(args):
    """KATARIBE_ISA caps Kataribe's kernels (--kataribe-isa avx2 measures an AVX2-only CPU's paths)."""
    env = dict(os.environ)
    if args.kataribe_isa:
        env["KATARIBE_ISA"] = args.kataribe_isa
    return env


def timed_rss(command, env=None):
    """Runs command under /usr/bin/time; returns (stdout, peak RSS bytes or None)."""
    if os.path.exists("/usr/bin/time"):
        command = ["/usr/bin/time", "-f", "KATARIBE_MAXRSS_KB=%M"] + command
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
    rss = None
    for line in result.stderr.splitlines():
        if line.startswith("KATARIBE_MAXRSS_KB="):
            rss = int(line.split("=")[1]) * 1024
    return result.stdout, rss


def run_kataribe(args, dtype):
    command = [args.kataribe, "bench", "--model", args.model, "--dtype", dtype, "--threads", str(args.threads),
               "--prompt-tokens", str(args.prompt), "--gen-tokens", str(args.gen), "--context", str(args.context),
               "--json"]
    out, _ = timed_rss(command, env=kataribe_environment(args))
    report = json.loads(out)
    return {
        "prompt": report["prompt_tokens_per_second"],
        "generation": report["generation_tokens_per_second"],
        "long_context": report.get("long_context_tokens_per_second"),
        "load_seconds": report["load_seconds"],
        "peak_rss": report["peak_rss_bytes"],
        "detail": report,
    }


def run_llama(args, quant):
    command = [args.llama_bench, "-m", f"{args.gguf}-{quant}.gguf", "-t", str(args.threads), "-p", str(args.prompt),
               "-n", str(args.gen), "-r", "1", "-o", "json"]
    if args.llama_depth:
        command += ["-d", f"0,{args.context}"]
    out, rss = timed_rss(command)
    result = {"peak_rss": rss, "long_context": None}
    for test in json.loads(out):
        depth = test.get("n_depth", 0)
        if test["n_prompt"] > 0 and depth == 0:
            result["prompt"] = test["avg_ts"]
        elif test["n_gen"] > 0 and depth == 0:
            result["generation"] = test["avg_ts"]
        elif test["n_gen"] > 0:
            result["long_context"] = test["avg_ts"]
    return result


def run_transformers(args, dtype):
    command = [args.python, os.path.join(HERE, "transformers_bench.py"), args.model, "--dtype", dtype,
               "--threads", str(args.threads), "--prompt-tokens", str(args.prompt), "--gen-tokens", str(args.gen)]
    out, rss = timed_rss(command)
    report = json.loads(out.strip().splitlines()[-1])
    return {"prompt": report["prompt_tokens_per_second"], "generation": report["generation_tokens_per_second"],
            "long_context": None, "load_seconds": report["load_seconds"], "peak_rss": rss or report["peak_rss_bytes"]}


def run(args, system):
    family, variant = system.split("-", 1)
    if family == "kataribe":
        return run_kataribe(args, variant)
    if family == "llama":
        return run_llama(args, variant)
    return run_transformers(args, variant)


def read_bandwidth(args):
    """Two-thread read GB/s from stream_read, or None without --stream-read."""
    if not args.stream_read:
        return None
    out = subprocess.run([args.stream_read, str(args.threads)], capture_output=True, text=True, check=True).stdout
    words = out.split()
    return float(words[words.index("read") + 1])


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--gguf", help="prefix of the llama.cpp GGUF files")
    parser.add_argument("--llama-bench")
    parser.add_argument("--kataribe", default=".build/release/kataribe")
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prompt", type=int, default=128)
    parser.add_argument("--gen", type=int, default=64)
    parser.add_argument("--context", type=int, default=1024)
    parser.add_argument("--llama-depth", action="store_true", help="also measure llama.cpp generation at --context")
    parser.add_argument("--systems", default=",".join(ALL_SYSTEMS))
    parser.add_argument("--kataribe-isa", choices=["avx2", "portable"],
                        help="cap Kataribe's kernels at this instruction set (KATARIBE_ISA)")
    parser.add_argument("--json", help="write every run here")
    parser.add_argument("--stream-read", help="a compiled tools/bench/stream_read.c, run before every system's run")
    args = parser.parse_args()
    systems = args.systems.split(",")

    # Quantized kataribe models are made (and saved) once before timing; the rounds map them.
    prepared = {}
    for system in systems:
        if system in ("kataribe-q8", "kataribe-q4"):
            dtype = system.split("-")[1]
            out, _ = timed_rss([args.kataribe, "bench", "--model", args.model, "--dtype", dtype, "--threads",
                                str(args.threads), "--prompt-tokens", "8", "--gen-tokens", "1", "--context", "0", "--json"],
                               env=kataribe_environment(args))
            prepared[system] = json.loads(out)
            print(f"prepared {system}: {prepared[system]['weight_source']} in {prepared[system]['load_seconds']:.1f} s",
                  file=sys.stderr)

    runs = {system: [] for system in systems}
    for round_index in range(args.rounds):
        order = systems[round_index % len(systems):] + systems[:round_index % len(systems)]
        for system in order:
            load = os.getloadavg()[0]
            pressure = cpu_pressure()
            bandwidth = read_bandwidth(args)
            started = time.time()
            result = run(args, system)
            result.update({"round": round_index, "loadavg_1m": load, "cpu_pressure_avg10": pressure,
                           "read_gbps": bandwidth, "seconds": time.time() - started})
            runs[system].append(result)
            read = "" if bandwidth is None else f", read {bandwidth:.1f} GB/s"
            print(f"round {round_index + 1} {system}: prompt {result.get('prompt', 0):.2f} gen "
                  f"{result.get('generation', 0):.2f} tok/s (load {load:.2f}{read})", file=sys.stderr)

    summary = {}
    for system, results in runs.items():
        summary[system] = {key: median([r.get(key) for r in results])
                           for key in ("prompt", "generation", "long_context", "load_seconds", "peak_rss", "loadavg_1m",
                                       "read_gbps")}

    def fmt(value, digits=2):
        return "-" if value is None else f"{value:.{digits}f}"

    print(f"\nMedians of {args.rounds} rounds, {args.threads} threads, prompt {args.prompt}, "
          f"generation {args.gen} tokens, long context {args.context}.\n")
    print("| system | prompt tok/s | generation tok/s | generation @%d tok/s | load s | peak RSS GiB | load avg "
          "| read GB/s |" % args.context)
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for system in systems:
        s = summary[system]
        rss = None if s["peak_rss"] is None else s["peak_rss"] / 2**30
        print(f"| {system} | {fmt(s['prompt'])} | {fmt(s['generation'])} | {fmt(s['long_context'])} | "
              f"{fmt(s['load_seconds'], 3)} | {fmt(rss)} | {fmt(s['loadavg_1m'])} | {fmt(s['read_gbps'], 1)} |")
    bandwidths = [r["read_gbps"] for results in runs.values() for r in results if r.get("read_gbps") is not None]
    if bandwidths:
        print(f"\nTwo-thread read bandwidth before the runs: {min(bandwidths):.1f}-{max(bandwidths):.1f} GB/s, "
              f"median {statistics.median(bandwidths):.1f}.")

    def ratio(a, b, key_a, key_b=None):
        """(ratio of the medians, median of the per-round ratios)."""
        if a not in summary or b not in summary:
            return None
        x, y = summary[a][key_a], summary[b][key_b or key_a]
        if x is None or y is None or y == 0:
            return None
        per_round = [ra.get(key_a) / rb.get(key_b or key_a) for ra, rb in zip(runs[a], runs[b])
                     if ra.get(key_a) is not None and rb.get(key_b or key_a)]
        return x / y, median(per_round)

    # Issue #20's goals (an AVX-512 machine); the first round's (issue #7) were 1.1x / 1.2x / 1.0x
    # for generation and 1.0x for the f16 prompt against transformers bf16.
    targets = [
        ("generation f16 vs llama.cpp f16", ratio("kataribe-f16", "llama-f16", "generation"), 1.2),
        ("generation q8 vs llama.cpp q8_0", ratio("kataribe-q8", "llama-q8_0", "generation"), 1.3),
        ("generation q4 vs llama.cpp q4_0", ratio("kataribe-q4", "llama-q4_0", "generation"), 1.3),
        ("prompt bf16 vs transformers bf16", ratio("kataribe-bf16", "transformers-bf16", "prompt"), 1.1),
        ("prompt q8 vs llama.cpp q8_0", ratio("kataribe-q8", "llama-q8_0", "prompt"), 1.2),
        ("prompt q4 vs llama.cpp q4_0", ratio("kataribe-q4", "llama-q4_0", "prompt"), 1.2),
        ("prompt f16 vs transformers bf16", ratio("kataribe-f16", "transformers-bf16", "prompt"), 1.0),
        ("prompt f16 vs llama.cpp f16", ratio("kataribe-f16", "llama-f16", "prompt"), None),
    ]
    for dtype in ("f16", "q8", "q4"):
        targets.append((f"generation @{args.context} / @{args.prompt} ({dtype})",
                        ratio(f"kataribe-{dtype}", f"kataribe-{dtype}", "long_context", "generation"), 0.8))
    print("\n| target | ratio of medians | median of per-round ratios | goal |")
    print("| --- | ---: | ---: | ---: |")
    for name, value, goal in targets:
        if value is not None:
            print(f"| {name} | {value[0]:.2f}x | {fmt(value[1])}x | {'-' if goal is None else f'>= {goal}x'} |")
    for system, report in prepared.items():
        print(f"\n{system}: first load ({report['weight_source']}) took {report['load_seconds']:.1f} s", end="")
    print()

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"runs": runs, "summary": summary, "prepared": prepared, "arguments": vars(args)}, f, indent=2)


if __name__ == "__main__":
    main()
