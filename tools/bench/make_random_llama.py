#!/usr/bin/env python3
"""Writes a Llama model with random float16 weights in the shape of Llama-3.1-8B (the shape of
Llama-3.1-Swallow-8B and Llama-3-ELYZA-JP-8B): hidden 4096, 32 layers, 32 query / 8 key-value
heads, intermediate 14336, vocab 128256, llama3 rope scaling. Sharded like the released
checkpoints (model-0000N-of-0000M.safetensors + model.safetensors.index.json). ~16 GB: keep it
OUTSIDE the repository. Speed and memory depend only on shapes and dtypes.

    python3 tools/bench/make_random_llama.py /work/bench-models/llama-8b-random [--layers 32] [--seed 0]

numpy only; tensors are streamed one at a time, so memory stays near the largest tensor.
"""
import argparse, json, os, struct

import numpy as np

SHARD_BYTES = 5 * 1024**3


def specs(hidden, layers, heads, kv_heads, intermediate, vocab):
    d = hidden // heads
    out = [("model.embed_tokens.weight", (vocab, hidden), "w")]
    for n in range(layers):
        p = f"model.layers.{n}."
        out += [
            (p + "input_layernorm.weight", (hidden,), "one"),
            (p + "self_attn.q_proj.weight", (heads * d, hidden), "w"),
            (p + "self_attn.k_proj.weight", (kv_heads * d, hidden), "w"),
            (p + "self_attn.v_proj.weight", (kv_heads * d, hidden), "w"),
            (p + "self_attn.o_proj.weight", (hidden, heads * d), "w"),
            (p + "post_attention_layernorm.weight", (hidden,), "one"),
            (p + "mlp.gate_proj.weight", (intermediate, hidden), "w"),
            (p + "mlp.up_proj.weight", (intermediate, hidden), "w"),
            (p + "mlp.down_proj.weight", (hidden, intermediate), "w"),
        ]
    out += [("model.norm.weight", (hidden,), "one"), ("lm_head.weight", (vocab, hidden), "w")]
    return out


def make(kind, shape, rng):
    if kind == "one":
        return np.ones(shape, dtype=np.float16)
    out = np.empty(shape, dtype=np.float16)
    flat = out.reshape(-1)
    step = 1 << 24
    for start in range(0, flat.size, step):
        end = min(flat.size, start + step)
        flat[start:end] = (rng.standard_normal(end - start, dtype=np.float32) * 0.02).astype(np.float16)
    return out


def write_shard(path, tensors, rng):
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, shape, _ in tensors:
        size = int(np.prod(shape)) * 2
        header[name] = {"dtype": "F16", "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)
    with open(path + ".partial", "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for _, shape, kind in tensors:
            f.write(make(kind, shape, rng).tobytes())
    os.replace(path + ".partial", path)
    return offset


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory")
    parser.add_argument("--layers", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    hidden, heads, kv_heads, intermediate, vocab = 4096, 32, 8, 14336, 128256
    os.makedirs(args.directory, exist_ok=True)
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": hidden,
        "num_hidden_layers": args.layers, "num_attention_heads": heads, "num_key_value_heads": kv_heads,
        "intermediate_size": intermediate, "vocab_size": vocab, "max_position_embeddings": 131072,
        "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
        "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                         "original_max_position_embeddings": 8192, "rope_type": "llama3"},
        "attention_bias": False, "mlp_bias": False, "hidden_act": "silu", "tie_word_embeddings": False,
        "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "torch_dtype": "bfloat16",
    }
    with open(os.path.join(args.directory, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    all_specs = specs(hidden, args.layers, heads, kv_heads, intermediate, vocab)
    shards, current, size = [], [], 0
    for spec in all_specs:
        bytes_ = int(np.prod(spec[1])) * 2
        if current and size + bytes_ > SHARD_BYTES:
            shards.append(current)
            current, size = [], 0
        current.append(spec)
        size += bytes_
    shards.append(current)
    rng = np.random.default_rng(args.seed)
    weight_map, total = {}, 0
    for index, tensors in enumerate(shards):
        name = f"model-{index + 1:05d}-of-{len(shards):05d}.safetensors"
        total += write_shard(os.path.join(args.directory, name), tensors, rng)
        for tensor in tensors:
            weight_map[tensor[0]] = name
        print(f"wrote {name}")
    with open(os.path.join(args.directory, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    print(f"{total / 1e9:.2f} GB of float16 weights, {total // 2:,} parameters")


if __name__ == "__main__":
    main()
