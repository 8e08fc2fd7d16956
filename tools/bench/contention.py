#!/usr/bin/env python3
"""Generation speed of `kataribe bench` with the default thread count against --threads 1 and
--threads 2, on an idle machine and while other CPU-bound processes compete for the same cores
(issue: the thread pool must survive a busy machine).

Each round runs every (binary, threads) configuration once, in a rotating order, so the
configurations share the machine's state; medians over rounds are reported. With --busy N, N
processes spinning in a loop run for the whole measurement.

    python3 tools/bench/contention.py --kataribe .build/release/kataribe --model Models/demo-calm \
        --busy 2 --rounds 5
    # before/after: --kataribe old=/tmp/kataribe-old --kataribe new=.build/release/kataribe
"""
import argparse, json, os, statistics, subprocess, sys


def bench(binary, model, threads, gen_tokens, dtype):
    command = [binary, "bench", "--model", model, "--context", "0", "--prompt-tokens", "16",
               "--gen-tokens", str(gen_tokens), "--json"]
    if threads is not None:
        command += ["--threads", str(threads)]
    if dtype:
        command += ["--dtype", dtype]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed: {result.stderr}")
    return json.loads(result.stdout)["generation_tokens_per_second"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kataribe", action="append", required=True, help="binary, or NAME=binary (repeatable)")
    parser.add_argument("--model", required=True)
    parser.add_argument("--dtype")
    parser.add_argument("--busy", type=int, default=2, help="competing CPU-bound processes (0: idle machine)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--gen-tokens", type=int, default=64)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    binaries = [tuple(b.split("=", 1)) if "=" in b else (os.path.basename(b), b) for b in args.kataribe]
    configurations = [(name, path, threads) for name, path in binaries for threads in (1, 2, None)]
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy)]
    speeds = {(name, threads): [] for name, _, threads in configurations}
    try:
        for round_index in range(args.rounds):
            shift = round_index % len(configurations)
            for name, path, threads in configurations[shift:] + configurations[:shift]:
                speeds[(name, threads)].append(bench(path, args.model, threads, args.gen_tokens, args.dtype))
    finally:
        for hog in hogs:
            hog.kill()
    rows = []
    for name, _ in binaries:
        medians = {t: statistics.median(speeds[(name, t)]) for t in (1, 2, None)}
        best = max(medians[1], medians[2])
        rows.append({"binary": name, "busy": args.busy, "threads_1": medians[1], "threads_2": medians[2],
                     "default": medians[None], "default_over_best": medians[None] / best,
                     "runs": {str(t): speeds[(name, t)] for t in (1, 2, None)}})
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"model {args.model}, {args.busy} competing processes, {args.rounds} rounds, {os.cpu_count()} cores; "
              "generation tokens/s, medians")
        print("| binary | --threads 1 | --threads 2 | default | default / best |")
        print("|---|---:|---:|---:|---:|")
        for r in rows:
            print(f"| {r['binary']} | {r['threads_1']:.1f} | {r['threads_2']:.1f} | {r['default']:.1f} | {r['default_over_best']:.2f} |")


if __name__ == "__main__":
    main()
