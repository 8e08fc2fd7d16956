#!/usr/bin/env python3
"""Reference next-token log-probs of the two real GGUF models, from transformers and llama.cpp.

Writes Tests/Fixtures/gguf/real-model-reference.json: for each model (tools/gguf/fetch_models.py
puts them in the cache) the token ids of four fixed held-out Japanese passages (the model's own
transformers tokenizer read from the GGUF, BOS added the way that tokenizer does; the first
--tokens ids), and per position from transformers float32 (the GGUF dequantized by
`from_pretrained(dir, gguf_file=...)`): the log-prob of the actual next token, the argmax id and
the top-5 ids with their log-probs; plus the greedy continuation (16 new tokens) of three short
prompts. Ids only, no logit rows, so the file stays small.

With --llama-python (a Python that can `import llama_cpp`, e.g. /work/llama-venv/bin/python after
tools/bench/build_llama_cpp.sh) and LLAMA_CPP_LIB_PATH (or --llama-lib), the same ids are run through
llama.cpp (all logits of one batch, 2 threads) and a `llama_cpp` section is added per model (whole passage in one batch; `llama_cpp_sequential`:
the same ids one token per decode call):
mean / max |delta log-prob| of the actual next token against transformers, argmax agreement,
perplexity of both engines, llama.cpp's own tokenization of the passages and its greedy
continuations. Those numbers say how far a correct engine running the quantized weights may be
from the dequantized float32 reference: they are the yardstick for Kataribe's tolerances.

The passages (fixed here, 1-based inclusive line ranges of ../shared/corpus/ja.txt, joined with
"\\n") come from the held-out split of tools/demo_models/corpus.py (every 20th block of 40 lines,
phase 7), so nothing of Kataribe's was trained on them; the two pretrained models were made
elsewhere and never saw this corpus as such. One passage per permissive source.

    /work/venv/bin/python tools/gguf/reference_logprobs.py \\
        --llama-python /work/llama-venv/bin/python --llama-lib /work/llama.cpp-build/build/bin
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CORPUS = REPO_ROOT.parent / "shared" / "corpus" / "ja.txt"
DEFAULT_OUT = REPO_ROOT / "Tests" / "Fixtures" / "gguf" / "real-model-reference.json"

MODELS = [
    ("SmolLM2-135M-Instruct.Q4_1.gguf",
     "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"),
    ("gemma-3-270m-q4_k_m.gguf",
     "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"),
]

# name, source, first line, last line (1-based, inclusive, as `sed -n FIRST,LASTp ja.txt`).
PASSAGES = [
    ("aozora-dialogue", "aozora-wagahaiwa-nekodearu", 281, 290),
    ("maint-guide-rules", "maint-guide-ja", 4694, 4696),
    ("handbook-config", "debian-handbook-ja", 6297, 6299),
    ("libreoffice-input-mask", "libreoffice-help-ja", 8101, 8110),
]

PROMPTS = [
    "The capital of France is",
    "日本で一番高い山は",
    "吾輩は猫である。名前は",
]
NEW_TOKENS = 16
TOP_K = 5


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def load_passages(corpus: Path) -> list[dict]:
    lines = corpus.read_text(encoding="utf-8").split("\n")
    out = []
    for name, source, first, last in PASSAGES:
        text = "\n".join(lines[first - 1:last])
        out.append({"name": name, "source": source, "lines": [first, last], "text": text,
                    "text_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()})
    return out


# ----------------------------------------------------------------------------------------------
# llama.cpp worker: runs under the llama-cpp-python interpreter, JSON on stdin / stdout.

def llama_worker() -> None:
    import numpy as np
    import llama_cpp

    job = json.load(sys.stdin)
    llm = llama_cpp.Llama(model_path=job["model"], n_ctx=job["n_ctx"], n_batch=job["n_ctx"],
                          n_ubatch=job["n_ctx"], logits_all=True, n_threads=job["threads"],
                          n_threads_batch=job["threads"], verbose=False)

    def logsoftmax(rows):
        rows = rows.astype(np.float64)
        m = rows.max(axis=-1, keepdims=True)
        return rows - m - np.log(np.exp(rows - m).sum(axis=-1, keepdims=True))

    res = {"passages": [], "generations": [], "tokenized": [], "system_info":
           llama_cpp.llama_print_system_info().decode(), "version": llama_cpp.__version__}
    def score(ids, one_at_a_time):
        llm.reset()
        if one_at_a_time:  # decoding: one token per llama_decode call
            for t in ids:
                llm.eval([t])
        else:  # prompt processing: the whole passage in one batch
            llm.eval(ids)
        lp = logsoftmax(np.array(llm.scores[:len(ids)]))
        return {
            "logprob_next": [float(lp[i, ids[i + 1]]) for i in range(len(ids) - 1)],
            "argmax": [int(lp[i].argmax()) for i in range(len(ids) - 1)],
        }

    res["passages_sequential"] = []
    for ids in job["passages"]:
        res["passages"].append(score(ids, False))
        if job.get("sequential"):
            res["passages_sequential"].append(score(ids, True))
    for text in job["texts"]:
        res["tokenized"].append(llm.tokenize(text.encode("utf-8"), add_bos=True, special=False))
    for ids in job["prompts"]:
        llm.reset()
        seq = list(ids)
        llm.eval(seq)
        new = []
        for _ in range(job["new_tokens"]):
            nxt = int(np.argmax(llm.scores[llm.n_tokens - 1]))
            new.append(nxt)
            if llama_cpp.llama_vocab_is_eog(llm._model.vocab, nxt):
                break  # transformers' generate stops at eos too
            llm.eval([nxt])
        res["generations"].append(new)
    json.dump(res, sys.stdout)


def run_llama(python: str, lib: str | None, model: Path, passages: list[list[int]],
              texts: list[str], prompts: list[list[int]], threads: int,
              sequential: bool = False) -> dict:
    env = dict(os.environ)
    if lib:
        env["LLAMA_CPP_LIB_PATH"] = lib
    job = {"model": str(model), "n_ctx": 512, "threads": threads, "passages": passages,
           "texts": texts, "prompts": prompts, "new_tokens": NEW_TOKENS,
           "sequential": sequential}
    r = subprocess.run([python, str(Path(__file__).resolve()), "--llama-worker"],
                       input=json.dumps(job), capture_output=True, text=True, env=env, cwd="/")
    if r.returncode != 0:
        raise SystemExit(f"llama.cpp worker failed (exit {r.returncode}):\n{r.stderr[-4000:]}")
    return json.loads(r.stdout)


# ----------------------------------------------------------------------------------------------

def transformers_reference(model_dir: Path, name: str, passages: list[dict], n_tokens: int):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(model_dir, gguf_file=name, dtype=torch.float32)
    model.eval()
    out_passages = []
    with torch.no_grad():
        for p in passages:
            full = tok(p["text"])["input_ids"]
            if len(full) < n_tokens:
                raise SystemExit(f"{name}: passage {p['name']} has only {len(full)} tokens")
            ids = full[:n_tokens]
            logits = model(torch.tensor([ids])).logits[0].double()
            lp = torch.log_softmax(logits, dim=-1)
            top = torch.topk(lp, TOP_K, dim=-1)
            nxt = torch.tensor(ids[1:])
            actual = lp[:-1].gather(1, nxt[:, None])[:, 0]
            out_passages.append({
                "name": p["name"], "source": p["source"], "lines": p["lines"],
                "text_sha256": p["text_sha256"], "text": p["text"],
                "full_token_count": len(full), "ids": ids,
                "logprob_next": [round(float(x), 5) for x in actual],
                "argmax": [int(x) for x in lp[:-1].argmax(-1)],
                "top5_ids": [[int(t) for t in row] for row in top.indices[:-1]],
                "top5_logprobs": [[round(float(v), 4) for v in row] for row in top.values[:-1]],
            })
        gens = []
        for prompt in PROMPTS:
            enc = tok(prompt, return_tensors="pt")
            g = model.generate(**enc, do_sample=False, max_new_tokens=NEW_TOKENS,
                               pad_token_id=tok.pad_token_id
                               if tok.pad_token_id is not None else tok.eos_token_id)
            prompt_ids = enc["input_ids"][0].tolist()
            new = g[0, len(prompt_ids):].tolist()
            gens.append({"prompt": prompt, "prompt_ids": prompt_ids, "new_ids": new,
                         "text": tok.decode(new, skip_special_tokens=False)})
    tok_info = {"class": type(tok).__name__, "bos_token_id": tok.bos_token_id,
                "eos_token_id": tok.eos_token_id, "vocab_size": len(tok),
                "adds_bos": bool(passages) and out_passages[0]["ids"][0] == tok.bos_token_id}
    return tok, out_passages, gens, tok_info, {"class": type(model).__name__,
                                               "model_type": model.config.model_type}


def summarize(ref_passages: list[dict], cpp: dict, key: str = "passages") -> dict:
    deltas, agree, n = [], 0, 0
    top5_hit = 0
    per = []
    nll_t, nll_c = 0.0, 0.0
    for rp, cp in zip(ref_passages, cpp[key]):
        d = [abs(a - b) for a, b in zip(rp["logprob_next"], cp["logprob_next"])]
        ag = sum(int(a == b) for a, b in zip(rp["argmax"], cp["argmax"]))
        k = len(d)
        per.append({"name": rp["name"], "positions": k,
                    "mean_abs_delta_logprob": round(sum(d) / k, 5),
                    "max_abs_delta_logprob": round(max(d), 5),
                    "argmax_agreement": round(ag / k, 4),
                    "perplexity_transformers": round(math.exp(-sum(rp["logprob_next"]) / k), 4),
                    "perplexity_llama_cpp": round(math.exp(-sum(cp["logprob_next"]) / k), 4)})
        deltas += d
        agree += ag
        n += k
        top5_hit += sum(int(a in t) for a, t in zip(cp["argmax"], rp["top5_ids"]))
        nll_t -= sum(rp["logprob_next"])
        nll_c -= sum(cp["logprob_next"])
    ds = sorted(deltas)
    return {"positions": n,
            "mean_abs_delta_logprob": round(sum(deltas) / n, 5),
            "p99_abs_delta_logprob": round(ds[min(n - 1, int(0.99 * n))], 5),
            "max_abs_delta_logprob": round(max(deltas), 5),
            "argmax_agreement": round(agree / n, 4),
            "llama_argmax_in_transformers_top5": round(top5_hit / n, 4),
            "perplexity_transformers": round(math.exp(nll_t / n), 4),
            "perplexity_llama_cpp": round(math.exp(nll_c / n), 4),
            "per_passage": per}


def dump(obj, indent=0) -> str:
    """JSON with lists of scalars (and lists of lists of scalars) on one line."""
    pad = " " * indent
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [f'{pad} {json.dumps(k)}: {dump(v, indent + 1)}' for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list):
        flat = all(not isinstance(x, (dict, list)) for x in obj)
        flat2 = all(isinstance(x, list) and all(not isinstance(y, (dict, list)) for y in x)
                    for x in obj)
        if flat or flat2:
            return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
        items = [f"{pad} {dump(v, indent + 1)}" for v in obj]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return json.dumps(obj, ensure_ascii=False)


def main() -> int:
    if "--llama-worker" in sys.argv:
        llama_worker()
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model-dir", type=Path, default=Path(os.environ.get(
        "KATARIBE_GGUF_CACHE", Path.home() / ".cache" / "kataribe" / "gguf")))
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--tokens", type=int, default=128, help="ids per passage (BOS included)")
    ap.add_argument("--llama-python", default=None,
                    help="python with llama_cpp importable; omit to skip the llama.cpp comparison")
    ap.add_argument("--llama-lib", default=os.environ.get("LLAMA_CPP_LIB_PATH"),
                    help="folder with libllama.so (sets LLAMA_CPP_LIB_PATH for the worker)")
    ap.add_argument("--llama-dequantized-dir", type=Path, default=None,
                    help="folder with <name without .gguf>.F32.gguf made by `llama-quantize "
                         "--allow-requantize IN OUT F32`: also compare llama.cpp running the "
                         "dequantized float32 weights (section llama_cpp_f32; isolates what "
                         "llama.cpp's quantized kernels add)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import torch
    import transformers
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    passages = load_passages(args.corpus)
    fixture = {
        "description": "Next-token log-probs of real pretrained GGUF models from transformers "
                       "float32 (dequantized GGUF), made by tools/gguf/reference_logprobs.py. "
                       "logprob_next[i], argmax[i], top5_*[i] are for the position after ids[i] "
                       "(predicting ids[i+1]); passages are lines of ../shared/corpus/ja.txt "
                       "(1-based, inclusive) joined with '\\n', truncated to the first ids.",
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "corpus_file": "../shared/corpus/ja.txt",
        "tokens_per_passage": args.tokens,
        "greedy_new_tokens": NEW_TOKENS,
        "models": [],
    }
    for name, want in MODELS:
        path = args.model_dir / name
        got = sha256_file(path)
        if got != want:
            raise SystemExit(f"{path}: sha256 {got} != {want}; run tools/gguf/fetch_models.py")
        t0 = time.time()
        tok, ref, gens, tok_info, archs = transformers_reference(args.model_dir, name, passages,
                                                                 args.tokens)
        print(f"{name}: transformers done in {time.time() - t0:.1f}s", file=sys.stderr)
        entry = {"file": name, "sha256": got, "transformers_model": archs, "tokenizer": tok_info,
                 "passages": ref, "generations": gens}
        if args.llama_python:
            t0 = time.time()
            cpp = run_llama(args.llama_python, args.llama_lib, path,
                            [p["ids"] for p in ref], [p["text"] for p in passages],
                            [g["prompt_ids"] for g in gens], args.threads, sequential=True)
            print(f"{name}: llama.cpp done in {time.time() - t0:.1f}s", file=sys.stderr)
            s = summarize(ref, cpp)
            tok_same = [c[:args.tokens] == p["ids"] for c, p in zip(cpp["tokenized"], ref)]
            gen_same = [c == g["new_ids"] for c, g in zip(cpp["generations"], gens)]
            entry["llama_cpp"] = {
                "llama_cpp_python_version": cpp["version"],
                "system_info": cpp["system_info"].strip(),
                "threads": args.threads,
                **s,
                "tokenization_matches_transformers": tok_same,
                "greedy_matches_transformers": gen_same,
                "greedy_new_ids": cpp["generations"],
                "logprob_next": [[round(x, 4) for x in p["logprob_next"]]
                                 for p in cpp["passages"]],
            }
            # The same ids decoded one token per llama_decode call (what generation does);
            # the section above evaluates each passage in one batch (prompt processing).
            entry["llama_cpp_sequential"] = {
                "note": "llama.cpp, quantized GGUF as stored, one token per decode call",
                **summarize(ref, cpp, "passages_sequential")}
            print(json.dumps(entry["llama_cpp_sequential"], ensure_ascii=False), file=sys.stderr)
            print(json.dumps({k: v for k, v in entry["llama_cpp"].items()
                              if k not in ("logprob_next", "system_info", "greedy_new_ids")},
                             ensure_ascii=False), file=sys.stderr)
            if args.llama_dequantized_dir:
                f32 = args.llama_dequantized_dir / (name[:-len(".gguf")] + ".F32.gguf")
                cpp32 = run_llama(args.llama_python, args.llama_lib, f32,
                                  [p["ids"] for p in ref], [], [g["prompt_ids"] for g in gens],
                                  args.threads)
                s32 = summarize(ref, cpp32)
                entry["llama_cpp_f32"] = {
                    "file": f32.name, "note": "llama.cpp on the GGUF dequantized to F32 by "
                    "llama-quantize --allow-requantize (same weights as transformers' float32)",
                    **s32,
                    "greedy_matches_transformers": [c == g["new_ids"] for c, g in
                                                    zip(cpp32["generations"], gens)],
                }
                print(json.dumps({k: v for k, v in entry["llama_cpp_f32"].items()},
                                 ensure_ascii=False), file=sys.stderr)
        for g in gens:
            print(f"  greedy {g['prompt']!r} -> {g['text']!r}", file=sys.stderr)
        fixture["models"].append(entry)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(dump(fixture) + "\n", encoding="utf-8")
    os.replace(tmp, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
