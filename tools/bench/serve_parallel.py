#!/usr/bin/env python3
"""Aggregate generation speed of `kataribe serve --parallel N` with N concurrent streaming clients,
against the same requests sent one after another to the same server (issue #18's target: >= 3x at
N = 8 on the open-calm-1b shape at q8 with 2 threads).

Standard library only. Every request asks for exactly --tokens new tokens (min_tokens = max_tokens,
so a random model's early EOS cannot shorten one), each with its own seed and prompt.

  python3 tools/bench/serve_parallel.py --kataribe .build/release/kataribe \
      --model /path/to/open-calm-1b-shaped-folder --dtype q8 --threads 2 --parallel 8 --tokens 64

Prints one JSON object: sequential and concurrent wall time, tokens, aggregate tokens/s, the ratio,
and /health as seen mid-run (slots in use).
"""
import argparse
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request

PROMPTS = ["吾輩は猫である。名前はまだ無い。", "東京は日本の首都で、", "むかしむかし、あるところに", "今日は天気が良いので",
           "人工知能の研究は", "京都の秋は", "私の趣味は", "明日の会議では"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post_stream(base, prompt, seed, tokens):
    body = json.dumps({"prompt": prompt, "max_tokens": tokens, "min_tokens": tokens, "temperature": 1.0, "seed": seed,
                       "stream": True, "stream_options": {"include_usage": True}}).encode()
    request = urllib.request.Request(base + "/v1/completions", data=body, headers={"Content-Type": "application/json"})
    chunks = 0
    with urllib.request.urlopen(request, timeout=600) as response:
        for line in response:
            if line.startswith(b"data: ") and not line.startswith(b"data: [DONE]"):
                event = json.loads(line[6:])
                if event.get("choices"):
                    chunks += 1
                usage = event.get("usage")
                if usage:
                    return usage["completion_tokens"]
    return chunks


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--kataribe", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--dtype", default="q8")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=64)
    args = parser.parse_args()

    port = free_port()
    server = subprocess.Popen([args.kataribe, "serve", "--model", args.model, "--dtype", args.dtype, "--threads", str(args.threads),
                               "--parallel", str(args.parallel), "--max-queue", str(4 * args.parallel), "--port", str(port),
                               "--max-tokens", str(args.tokens)], stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 600
        while True:
            try:
                get_json(base + "/health")
                break
            except OSError:
                if server.poll() is not None or time.time() > deadline:
                    sys.exit("the server did not start: " + (server.stderr.read() if server.stderr else ""))
                time.sleep(0.5)
        requests = [(PROMPTS[i % len(PROMPTS)], 100 + i) for i in range(args.parallel)]
        post_stream(base, PROMPTS[0], 1, 4)  # warm-up: pages in the weights

        start = time.time()
        sequential_tokens = sum(post_stream(base, prompt, seed, args.tokens) for prompt, seed in requests)
        sequential_seconds = time.time() - start

        results = [0] * len(requests)
        health_seen = []

        def client(index):
            prompt, seed = requests[index]
            results[index] = post_stream(base, prompt, seed, args.tokens)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(len(requests))]
        start = time.time()
        for thread in threads:
            thread.start()
        time.sleep(min(2.0, sequential_seconds / len(requests) / 2))
        health_seen.append(get_json(base + "/health"))
        for thread in threads:
            thread.join()
        concurrent_seconds = time.time() - start
        concurrent_tokens = sum(results)
        report = {
            "parallel": args.parallel, "tokens_per_request": args.tokens, "threads": args.threads, "dtype": args.dtype,
            "sequential_seconds": round(sequential_seconds, 3), "sequential_tokens": sequential_tokens,
            "sequential_tokens_per_second": round(sequential_tokens / sequential_seconds, 2),
            "concurrent_seconds": round(concurrent_seconds, 3), "concurrent_tokens": concurrent_tokens,
            "concurrent_tokens_per_second": round(concurrent_tokens / concurrent_seconds, 2),
            "ratio": round((concurrent_tokens / concurrent_seconds) / (sequential_tokens / sequential_seconds), 2),
            "health_mid_run": health_seen[0],
        }
        print(json.dumps(report, ensure_ascii=False))
    finally:
        server.terminate()
        server.wait(timeout=60)


if __name__ == "__main__":
    main()
