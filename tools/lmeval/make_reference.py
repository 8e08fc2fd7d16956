#!/usr/bin/env python3
"""The independent reference tools/lmeval/check_lmeval.py compares lm-eval's numbers with: every
choice's log-likelihood on a Kataribe eval task, computed by transformers (float32) with the
model's Hugging Face tokenizer, the request split as lm-evaluation-harness's `_encode_pair` makes
it (trailing whitespace of the context moves to the continuation; the continuation's ids are those
of context + continuation after the context's) and the continuation joined with target_delimiter "".

  /work/venv/bin/python tools/lmeval/make_reference.py Models/demo-calm Examples/eval/jcommonsense-mini.jsonl \
      tools/lmeval/reference/demo-calm-jcommonsense-mini.json
(torch and transformers from PyPI, in a virtual environment outside the repository.)
"""
import json
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


def encode_pair(tokenizer, context, continuation):
    spaces = len(context) - len(context.rstrip())
    if spaces > 0:
        continuation = context[-spaces:] + continuation
        context = context[:-spaces]
    whole = tokenizer(context + continuation, add_special_tokens=False).input_ids
    context_ids = tokenizer(context, add_special_tokens=False).input_ids
    return context_ids, whole[len(context_ids):]


def main():
    model_dir, task, out = sys.argv[1:4]
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    items = []
    for line in open(task, encoding="utf-8"):
        if not line.strip():
            continue
        doc = json.loads(line)
        logliks = []
        for choice in doc["choices"]:
            context_ids, continuation_ids = encode_pair(tokenizer, doc["context"], doc.get("delimiter", "") + choice)
            ids = torch.tensor([context_ids + continuation_ids])
            with torch.no_grad():
                logprobs = torch.log_softmax(model(ids).logits[0].double(), dim=-1)
            start = len(context_ids)
            logliks.append(sum(logprobs[start - 1 + k, token].item() for k, token in enumerate(continuation_ids)))
        items.append({"id": doc["id"], "logliks": logliks})
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"model": model_dir, "task": task, "source": "transformers float32, lm-eval _encode_pair", "items": items},
                  f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
