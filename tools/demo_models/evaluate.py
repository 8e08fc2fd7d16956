"""Measure a demo model: held-out perplexity against a unigram baseline, and sample outputs.

Perplexity is computed on the held-out split (corpus.py), each paragraph followed by the eos token as in
training, with 256-token windows advanced 128 tokens at a time (every scored token sees at least 128
tokens of context, except at the start). Only the paragraphs' own tokens are scored, not the eos
separators, so the per-token figure is comparable with the baseline and the per-character figure
(exp(total NLL / characters)) with the other model, whose tokenizer differs.

Baseline: a token unigram model estimated on the training split (add-one smoothed over the vocabulary),
scored on the same held-out tokens.

Samples: transformers `generate` with the model card's preset (common.CALM_PRESET / RINNA_PRESET),
3 per task, seeded with common.SEED before each task.

  python evaluate.py --model calm [--checkpoint /work/demo-train/rinna/pretrain.ckpt] [--out results/x.json]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import Counter
from pathlib import Path

import torch
import torch.nn.functional as F

import corpus
from common import (CALM_DIR, CALM_PRESET, RINNA_DIR, RINNA_PRESET, SEED, TASKS, RinnaTokenizer,
                    calm_tokenizer, rinna_chat_prompt, rinna_display)
from specs import SPECS

WINDOW, STRIDE = 256, 128


def load_model(model: str, checkpoint: Path | None = None):
    """The shipped model in float32, or a training checkpoint rounded to fp16 the way export stores it."""
    from transformers import AutoModelForCausalLM, GPTNeoXConfig, GPTNeoXForCausalLM

    model_dir = CALM_DIR if model == "calm" else RINNA_DIR
    if checkpoint is None:
        m = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    else:
        m = GPTNeoXForCausalLM(GPTNeoXConfig(**SPECS[model].classic_config()))
        state = torch.load(checkpoint, map_location="cpu")["model"]
        m.load_state_dict({k: v.to(torch.float16).to(torch.float32) for k, v in state.items()})
    return m.eval()


def encoder_decoder(model: str):
    if model == "calm":
        tok = calm_tokenizer(CALM_DIR)
        return (lambda t: tok.encode(t).ids), (lambda ids: tok.decode(ids, skip_special_tokens=True)), tok.get_vocab_size()
    tok = RinnaTokenizer(RINNA_DIR)
    return tok.encode, tok.decode, len(tok)


def stream_with_targets(lines, encode, eos: int) -> tuple[list[int], list[bool]]:
    """Paragraphs each preceded by eos (as in training, where every paragraph follows one)."""
    ids, scored = [eos], [False]
    for line in lines:
        t = encode(line.text)
        ids += t + [eos]
        scored += [True] * len(t) + [False]
    return ids, scored


@torch.no_grad()
def model_nll(m, ids: list[int], scored: list[bool]) -> tuple[float, int]:
    """Sum of NLL (nats) over scored positions with strided windows; each position scored once."""
    x = torch.tensor(ids)
    total, count, done = 0.0, 0, 1  # position 0 has no context and is never a target
    start = 0
    while done < len(ids):
        end = min(start + WINDOW, len(ids))
        logits = m(input_ids=x[start:end].unsqueeze(0)).logits[0].float()
        logp = F.log_softmax(logits[:-1], dim=-1)
        targets = x[start + 1:end]
        nll = -logp.gather(1, targets.unsqueeze(1)).squeeze(1)
        for j in range(len(targets)):
            pos = start + 1 + j
            if pos >= done and scored[pos]:
                total += nll[j].item()
                count += 1
        done = end
        if end == len(ids):
            break
        start = end - (WINDOW - STRIDE)
    return total, count


def unigram_nll(train_ids: list[int], train_scored: list[bool], ids: list[int], scored: list[bool],
                vocab: int) -> tuple[float, int]:
    counts = Counter(i for i, s in zip(train_ids, train_scored) if s)
    n = sum(counts.values())
    total = sum(-math.log((counts[i] + 1) / (n + vocab)) for i, s in zip(ids, scored) if s)
    return total, sum(scored)


def perplexities(model: str, m) -> dict:
    spec = SPECS[model]
    split = corpus.load_split()
    encode, _, vocab = encoder_decoder(model)
    ids, scored = stream_with_targets(split.heldout, encode, spec.eos_id)
    train_ids, train_scored = stream_with_targets(split.train, encode, spec.eos_id)
    chars = sum(len(l.text) for l in split.heldout)
    nll, count = model_nll(m, ids, scored)
    base_nll, base_count = unigram_nll(train_ids, train_scored, ids, scored, vocab)
    assert count == base_count
    return {
        "heldout_paragraphs": len(split.heldout), "heldout_chars": chars, "heldout_tokens": count,
        "model_ppl_per_token": math.exp(nll / count), "model_ppl_per_char": math.exp(nll / chars),
        "model_bits_per_char": nll / chars / math.log(2),
        "unigram_ppl_per_token": math.exp(base_nll / count), "unigram_ppl_per_char": math.exp(base_nll / chars),
    }


@torch.no_grad()
def samples(model: str, m, per_task: int = 3) -> dict:
    from transformers import set_seed

    encode, decode, _ = encoder_decoder(model)
    spec = SPECS[model]
    out = {}
    for task, prompts in TASKS.items():
        set_seed(SEED)
        if model == "calm":
            prompt, preset = prompts["base"], CALM_PRESET
        else:
            prompt, preset = rinna_chat_prompt([("ユーザー", prompts["instruction"])]), RINNA_PRESET
        input_ids = torch.tensor([encode(prompt)])
        texts, ended = [], []
        for _ in range(per_task):
            generated = m.generate(input_ids, attention_mask=torch.ones_like(input_ids), **preset,
                                   pad_token_id=0 if model == "rinna" else 1,
                                   bos_token_id=spec.bos_id, eos_token_id=spec.eos_id)
            new_ids = generated[0, input_ids.shape[1]:].tolist()
            ended.append(bool(new_ids) and new_ids[-1] == spec.eos_id)
            if model == "calm":
                texts.append(prompt + decode(new_ids))  # open-calm's card prints prompt + continuation
            else:
                texts.append(rinna_display(decode(new_ids)))
        out[task] = {"prompt": prompt, "samples": texts, "ended_with_eos": ended}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=sorted(SPECS), required=True)
    ap.add_argument("--checkpoint", type=Path, help="evaluate a training checkpoint instead of Models/")
    ap.add_argument("--no-samples", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.time()
    m = load_model(args.model, args.checkpoint)
    result = {"model": SPECS[args.model].name, "weights": str(args.checkpoint or "Models/" + SPECS[args.model].name),
              "parameters": sum(p.numel() for p in m.parameters())}
    result["perplexity"] = perplexities(args.model, m)
    print(json.dumps(result["perplexity"], indent=1))
    if not args.no_samples:
        result["samples"] = samples(args.model, m)
        for task, s in result["samples"].items():
            print(f"== {task}: {s['prompt']!r}")
            for text in s["samples"]:
                print("  -", text.replace("\n", "⏎"))
    result["seconds"] = round(time.time() - t0)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
