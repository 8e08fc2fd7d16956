#!/usr/bin/env python3
"""lm-evaluation-harness against `kataribe serve`, as a user runs it: `local-completions` with the
default tokenizer detection (the server's /tokenizer_info and /tokenize, no Hugging Face hub), on a
multiple-choice task in Kataribe's eval format written as an lm-eval task with local data. Checks:

- every choice's log-likelihood lm-eval got through the server equals an independent reference
  (transformers float32 on the same model, tools/lmeval/make_reference.py, committed JSON) within
  --tolerance;
- `kataribe eval --json` on the same task reports the same log-likelihoods, acc and acc_norm.

  python tools/lmeval/check_lmeval.py --kataribe .build/debug/kataribe
Exit status 0 when everything agrees, 1 otherwise (2 for a setup error). Needs `lm-eval[api]` in the
running Python (.ci/run installs it into a virtual environment).
"""
import argparse
import glob
import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TASK_YAML = """task: kataribe_mc
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: "{{{{context}}}}"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: "{{{{label}}}}"
target_delimiter: ""
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
  - metric: acc_norm
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1.0
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url, server, seconds=120):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if server.poll() is not None:
            sys.exit(f"setup: the server exited with status {server.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(0.3)
    sys.exit("setup: the server did not answer in time")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--kataribe", default=os.path.join(ROOT, ".build/debug/kataribe"))
    parser.add_argument("--model", default="demo-calm")
    parser.add_argument("--task", default=os.path.join(ROOT, "Examples/eval/jcommonsense-mini.jsonl"))
    parser.add_argument("--reference", default=os.path.join(ROOT, "tools/lmeval/reference/demo-calm-jcommonsense-mini.json"))
    parser.add_argument("--tolerance", type=float, default=2e-4)
    args = parser.parse_args()

    with open(args.reference, encoding="utf-8") as f:
        reference = {item["id"]: item["logliks"] for item in json.load(f)["items"]}
    docs = [json.loads(line) for line in open(args.task, encoding="utf-8") if line.strip()]

    work = tempfile.mkdtemp(prefix="kataribe-lmeval-")
    with open(os.path.join(work, "kataribe_mc.yaml"), "w", encoding="utf-8") as f:
        f.write(TASK_YAML.format(data=json.dumps(os.path.abspath(args.task))))
    port = free_port()
    server = subprocess.Popen([args.kataribe, "serve", "--model", args.model, "--port", str(port), "--parallel", "4"],
                              stderr=subprocess.DEVNULL)
    failures = []
    try:
        wait_for(f"http://127.0.0.1:{port}/health", server)
        env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
        command = [sys.executable, "-m", "lm_eval", "--model", "local-completions", "--model_args",
                   f"model={args.model},base_url=http://127.0.0.1:{port}/v1/completions,num_concurrent=2,max_retries=1,"
                   "tokenized_requests=True",
                   "--tasks", "kataribe_mc", "--include_path", work, "--batch_size", "3",
                   "--output_path", os.path.join(work, "out"), "--log_samples"]
        run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        if run.returncode != 0:
            print(run.stdout[-4000:], run.stderr[-4000:])
            sys.exit(f"lm_eval failed with status {run.returncode}")
        if "Using remote tokenizer" not in run.stderr + run.stdout and "remote tokenizer" not in (run.stderr + run.stdout).lower():
            failures.append("lm-eval did not detect the server's tokenizer (remote tokenizer backend)")
        samples_files = glob.glob(os.path.join(work, "out", "**", "samples_kataribe_mc_*.jsonl"), recursive=True)
        if not samples_files:
            sys.exit("setup: lm_eval wrote no samples file")
        lmeval = {}
        for line in open(samples_files[0], encoding="utf-8"):
            sample = json.loads(line)
            lmeval[sample["doc"]["id"]] = [float(resp[0][0]) for resp in sample["resps"]]
        worst = 0.0
        for doc in docs:
            got, expected = lmeval.get(doc["id"]), reference.get(doc["id"])
            if got is None or expected is None or len(got) != len(expected):
                failures.append(f"{doc['id']}: lm-eval {got}, reference {expected}")
                continue
            for choice, (a, b) in enumerate(zip(got, expected)):
                worst = max(worst, abs(a - b))
                if abs(a - b) > args.tolerance:
                    failures.append(f"{doc['id']} choice {choice}: lm-eval {a:.6f}, reference {b:.6f}")
        results_files = glob.glob(os.path.join(work, "out", "**", "results_*.json"), recursive=True)
        metrics = json.load(open(results_files[0], encoding="utf-8"))["results"]["kataribe_mc"]
        print(f"lm-eval through kataribe serve: {len(lmeval)} documents, acc {metrics['acc,none']:.4f}, "
              f"acc_norm {metrics['acc_norm,none']:.4f}; largest difference from the reference {worst:.2e}")

        ours = subprocess.run([args.kataribe, "eval", "--model", args.model, "--task", args.task, "--json"],
                              capture_output=True, text=True, timeout=600)
        if ours.returncode != 0:
            failures.append(f"kataribe eval failed: {ours.stderr[-500:]}")
        else:
            report = json.loads(ours.stdout)
            if isinstance(report, list):
                report = report[0]
            for item in report["items"]:
                got = lmeval.get(item["id"])
                if got is None or any(abs(a - b) > args.tolerance for a, b in zip(item["logliks"], got)):
                    failures.append(f"kataribe eval {item['id']}: {item['logliks']} vs lm-eval {got}")
            for key in ("acc", "acc_norm"):
                if not math.isclose(report[key], metrics[f"{key},none"], abs_tol=1e-9):
                    failures.append(f"kataribe eval {key} {report[key]} vs lm-eval {metrics[key + ',none']}")
    finally:
        server.terminate()
        server.wait(timeout=30)
    if failures:
        print("\n".join(failures[:40]))
        sys.exit(1)
    print("lm-eval, kataribe eval and the reference agree")


if __name__ == "__main__":
    main()
