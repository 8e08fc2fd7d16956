#!/usr/bin/env python3
"""Writes Tests/Fixtures/tokenizers/rinna-style-unigram/reference_t5_slow.jsonl: what transformers'
slow T5Tokenizer (use_fast=False) does with the rinna-style fixture folder.

transformers 5 no longer has slow tokenizers (T5Tokenizer is rebuilt on `tokenizers` with
whitespace splitting, which does not reproduce rinna's SentencePiece model), so this reference needs
transformers 4.57.1, the last release with them. Install it beside, not into, the main venv:

  ../venv/bin/pip install --target /tmp/transformers4 --no-deps transformers==4.57.1 tokenizers==0.22.1 \
      huggingface_hub==0.35.3 requests==2.32.3 urllib3==2.2.3 idna==3.10 certifi==2024.8.30 \
      charset-normalizer==3.4.0 protobuf
  PYTHONPATH=/tmp/transformers4 ../venv/bin/python tools/tokenizers/make_t5_slow_reference.py \
      --corpus ../shared/corpus/ja_no_manpages.txt
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from fixture_strings import all_strings  # noqa: E402

FOLDER = "Tests/Fixtures/tokenizers/rinna-style-unigram"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", default="../shared/corpus/ja_no_manpages.txt")
    args = parser.parse_args()
    import transformers
    from transformers import AutoTokenizer

    if int(transformers.__version__.split(".")[0]) >= 5:
        sys.exit(f"needs transformers 4.x (slow tokenizers), found {transformers.__version__}")
    tokenizer = AutoTokenizer.from_pretrained(FOLDER, use_fast=False)
    assert type(tokenizer).__name__ == "T5Tokenizer", type(tokenizer)
    cleaning = AutoTokenizer.from_pretrained(FOLDER, use_fast=False, clean_up_tokenization_spaces=True)
    strings = all_strings(args.corpus)
    strings += [text + "[CLS]前[SEP]後[MASK]" for text in strings[:60]]
    strings += ["<unk> a </s>", "[PAD][PAD]", " [CLS] ", "<s>こんにちは</s>", "改行<NL>[SEP]<NL>"]
    strings += ["Isn't it ? Yes , it is . Wow ! I 'm here , you 've seen ' it ' .", "hello ,world . [SEP] ok !"]
    with open(os.path.join(FOLDER, "reference_t5_slow.jsonl"), "w", encoding="utf-8") as handle:
        for text in strings:
            ids = tokenizer.encode(text, add_special_tokens=False)
            row = {
                "text": text,
                "ids": ids,
                "ids_with_special": tokenizer.encode(text, add_special_tokens=True),
                "decoded": tokenizer.decode(ids),
                "decoded_skip_special": tokenizer.decode(ids, skip_special_tokens=True),
                "decoded_clean_up": cleaning.decode(ids),
            }
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
