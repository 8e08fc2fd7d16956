#!/usr/bin/env python3
"""Prompt and generation speed of transformers on CPU, measured like `kataribe bench`.

Random token ids (seeded); the prompt is one forward pass over --prompt-tokens, generation is
--gen-tokens single-token steps with the KV cache after it (greedy choice, no sampling overhead).
Prints one JSON object: prompt_tokens_per_second, generation_tokens_per_second, load_seconds,
peak_rss_bytes.

Usage: python tools/bench/transformers_bench.py MODEL_DIR --dtype bf16 [--threads 2]
       [--prompt-tokens 128] [--gen-tokens 64]
"""
import argparse
import json
import resource
import time

import torch
from transformers import AutoModelForCausalLM


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--dtype", choices=["f32", "bf16", "f16"], default="f32")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prompt-tokens", type=int, default=128)
    parser.add_argument("--gen-tokens", type=int, default=64)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    dtype = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}[args.dtype]
    start = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=dtype)
    model.eval()
    load_seconds = time.perf_counter() - start

    generator = torch.Generator().manual_seed(args.seed)
    vocab = model.config.vocab_size
    prompt = torch.randint(0, vocab, (1, args.prompt_tokens), generator=generator)
    with torch.inference_mode():
        model(torch.randint(0, vocab, (1, 8), generator=generator))  # warm-up

        start = time.perf_counter()
        out = model(prompt, use_cache=True)
        prompt_seconds = time.perf_counter() - start

        past = out.past_key_values
        token = out.logits[:, -1:].argmax(-1)
        start = time.perf_counter()
        for _ in range(args.gen_tokens):
            out = model(token, past_key_values=past, use_cache=True)
            past = out.past_key_values
            token = out.logits[:, -1:].argmax(-1)
        generation_seconds = time.perf_counter() - start

    print(json.dumps({
        "dtype": args.dtype,
        "threads": args.threads,
        "prompt_tokens": args.prompt_tokens,
        "gen_tokens": args.gen_tokens,
        "load_seconds": load_seconds,
        "prompt_tokens_per_second": args.prompt_tokens / prompt_seconds,
        "generation_tokens_per_second": args.gen_tokens / generation_seconds,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }))


if __name__ == "__main__":
    main()
