#!/usr/bin/env python3
"""Writes a GPT-NeoX model with random float16 weights in the shape of cyberagent/open-calm-1b.

The benchmark needs a model of the real size, not real weights: speed depends only on the shapes
and the dtype. Output (keep it OUTSIDE the repository, it is ~2.8 GB):

    DIR/config.json         open-calm-1b's architecture (hidden 2048, 24 layers, 16 heads,
                            intermediate 8192, vocab 52096, rotary_pct 1.0, sequential residual)
    DIR/model.safetensors   float16 weights, N(0, 0.02) like GPT-NeoX's initializer,
                            LayerNorm weight 1 / bias 0
    DIR/tokenizer.json      copied from --tokenizer when given (llama.cpp's converter needs one;
                            any GPT-NeoX-20B-style byte-level BPE works: unused ids are padded, and
                            a tokenizer larger than the vocabulary is cut to its first ids)

Usage:
    python tools/bench/make_random_model.py /work/bench-models/open-calm-1b-random \
        [--tokenizer ../shared/tokenizers/gpt-neox-20b-hf/20B_tokenizer.json] [--layers 24] [--seed 0]
    python tools/bench/make_random_model.py /work/bench-models/rinna-3.6b-random --shape rinna-3.6b \
        --tokenizer ../shared/tokenizers/gpt-neox-20b-hf/20B_tokenizer.json     # ~7.2 GB

The tensors are streamed to disk one at a time, so memory use stays near the largest tensor.
"""

import argparse
import json
import os
import struct

import numpy as np


def tensor_specs(hidden, layers, intermediate, vocab):
    """(name, shape, kind) in the order transformers saves GPT-NeoX."""
    specs = [("gpt_neox.embed_in.weight", (vocab, hidden), "w")]
    for n in range(layers):
        p = f"gpt_neox.layers.{n}."
        specs += [
            (p + "input_layernorm.weight", (hidden,), "one"),
            (p + "input_layernorm.bias", (hidden,), "zero"),
            (p + "post_attention_layernorm.weight", (hidden,), "one"),
            (p + "post_attention_layernorm.bias", (hidden,), "zero"),
            (p + "attention.query_key_value.weight", (3 * hidden, hidden), "w"),
            (p + "attention.query_key_value.bias", (3 * hidden,), "b"),
            (p + "attention.dense.weight", (hidden, hidden), "w"),
            (p + "attention.dense.bias", (hidden,), "b"),
            (p + "mlp.dense_h_to_4h.weight", (intermediate, hidden), "w"),
            (p + "mlp.dense_h_to_4h.bias", (intermediate,), "b"),
            (p + "mlp.dense_4h_to_h.weight", (hidden, intermediate), "w"),
            (p + "mlp.dense_4h_to_h.bias", (hidden,), "b"),
        ]
    specs += [
        ("gpt_neox.final_layer_norm.weight", (hidden,), "one"),
        ("gpt_neox.final_layer_norm.bias", (hidden,), "zero"),
        ("embed_out.weight", (vocab, hidden), "w"),
    ]
    return specs


# config.json values of the real checkpoints (the random weights only need the shapes).
SHAPES = {
    "open-calm-1b": dict(hidden=2048, layers=24, heads=16, intermediate=8192, vocab=52096),
    "rinna-3.6b": dict(hidden=2816, layers=36, heads=22, intermediate=11264, vocab=32000),
}


def copy_tokenizer(source, target, vocab):
    """Copies a byte-level BPE tokenizer.json, keeping only ids below `vocab`.

    llama.cpp's converter refuses a tokenizer with ids beyond the model's vocabulary; merges that
    would produce or use a dropped token go too, so what is left is still a consistent BPE."""
    with open(source, encoding="utf-8") as f:
        tokenizer = json.load(f)
    model = tokenizer["model"]
    model["vocab"] = {piece: i for piece, i in model["vocab"].items() if i < vocab}
    kept = model["vocab"]

    def parts(merge):
        return merge.split(" ", 1) if isinstance(merge, str) else merge

    model["merges"] = [m for m in model["merges"] if all(p in kept for p in parts(m)) and "".join(parts(m)) in kept]
    tokenizer["added_tokens"] = [t for t in tokenizer.get("added_tokens", []) if t["id"] < vocab]
    with open(target, "w", encoding="utf-8") as f:
        json.dump(tokenizer, f, ensure_ascii=False)


def make(kind, shape, rng):
    if kind == "one":
        return np.ones(shape, dtype=np.float16)
    if kind == "zero":
        return np.zeros(shape, dtype=np.float16)
    scale = 0.02 if kind == "w" else 0.01
    out = np.empty(shape, dtype=np.float16)
    flat = out.reshape(-1)
    step = 1 << 24
    for start in range(0, flat.size, step):
        end = min(flat.size, start + step)
        flat[start:end] = (rng.standard_normal(end - start, dtype=np.float32) * scale).astype(np.float16)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory")
    parser.add_argument("--shape", choices=sorted(SHAPES), default="open-calm-1b",
                        help="the real model whose config to copy (default open-calm-1b); the options below override it")
    parser.add_argument("--hidden", type=int)
    parser.add_argument("--layers", type=int)
    parser.add_argument("--heads", type=int)
    parser.add_argument("--intermediate", type=int)
    parser.add_argument("--vocab", type=int)
    parser.add_argument("--context", type=int, default=2048)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tokenizer", help="a tokenizer.json to copy next to the weights")
    args = parser.parse_args()
    for key, value in SHAPES[args.shape].items():
        if getattr(args, key) is None:
            setattr(args, key, value)

    os.makedirs(args.directory, exist_ok=True)
    config = {
        "architectures": ["GPTNeoXForCausalLM"],
        "model_type": "gpt_neox",
        "hidden_size": args.hidden,
        "num_hidden_layers": args.layers,
        "num_attention_heads": args.heads,
        "intermediate_size": args.intermediate,
        "vocab_size": args.vocab,
        "max_position_embeddings": args.context,
        "rotary_pct": 1.0,
        "rotary_emb_base": 10000,
        "use_parallel_residual": False,
        "tie_word_embeddings": False,
        "hidden_act": "gelu",
        "layer_norm_eps": 1e-5,
        "initializer_range": 0.02,
        "bos_token_id": 0,
        "eos_token_id": 0,
        "torch_dtype": "float16",
        "use_cache": True,
    }
    with open(os.path.join(args.directory, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    if args.tokenizer:
        copy_tokenizer(args.tokenizer, os.path.join(args.directory, "tokenizer.json"), args.vocab)

    specs = tensor_specs(args.hidden, args.layers, args.intermediate, args.vocab)
    header = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape, _ in specs:
        size = int(np.prod(shape)) * 2
        header[name] = {"dtype": "F16", "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)

    rng = np.random.default_rng(args.seed)
    path = os.path.join(args.directory, "model.safetensors")
    with open(path + ".partial", "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for name, shape, kind in specs:
            f.write(make(kind, shape, rng).tobytes())
    os.replace(path + ".partial", path)
    print(f"wrote {path}: {offset / 1e9:.2f} GB of float16 weights, {offset // 2:,} parameters")


if __name__ == "__main__":
    main()
