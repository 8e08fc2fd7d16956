#!/usr/bin/env python3
"""Runs llama.cpp's convert_hf_to_gguf.py on a GPT-NeoX directory with transformers 5 installed.

transformers 5 folds `rotary_pct` into `rope_parameters` when it parses config.json, but the
converter's GPT-NeoX code reads `rotary_pct` from the parsed config's dict. This wrapper puts the
keys transformers dropped back into that dict and changes nothing else.

A benchmark model whose tokenizer.json was cut to a smaller vocabulary (make_random_model.py
--shape rinna-3.6b) is no tokenizer the converter knows by its fingerprint; with
KATARIBE_GGUF_PRE=gpt-2 in the environment the converter is told to treat it as GPT-2-style byte
level BPE (the ids a benchmark feeds are random, so only the file's layout matters).

Usage: python tools/bench/convert_to_gguf.py LLAMA_CPP_DIR MODEL_DIR --outtype f16 --outfile OUT.gguf
"""
import json
import os
import runpy
import sys

import transformers

_from_pretrained = transformers.AutoConfig.from_pretrained


def _with_raw_keys(path, *args, **kwargs):
    config = _from_pretrained(path, *args, **kwargs)
    raw_file = os.path.join(str(path), "config.json")
    if not os.path.isfile(raw_file):
        return config
    with open(raw_file, encoding="utf-8") as f:
        raw = json.load(f)
    to_dict = config.to_dict

    def merged():
        values = to_dict()
        for key, value in raw.items():
            values.setdefault(key, value)
        return values

    config.to_dict = merged
    return config


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    llama_cpp = sys.argv[1]
    transformers.AutoConfig.from_pretrained = _with_raw_keys
    script = os.path.join(llama_cpp, "convert_hf_to_gguf.py")
    sys.path.insert(0, llama_cpp)
    pre_tokenizer = os.environ.get("KATARIBE_GGUF_PRE")
    if pre_tokenizer:
        from conversion import base

        base.TextModel.get_vocab_base_pre = lambda self, tokenizer: pre_tokenizer
    sys.argv = [script] + sys.argv[2:]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
