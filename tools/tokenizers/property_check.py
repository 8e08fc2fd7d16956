#!/usr/bin/env python3
"""Randomized parity check: `kataribe tokenize --jsonl` against the Python libraries.

Generates --count random strings from --seed (mixes of Japanese, ASCII, emoji with modifiers and
ZWJ, combining marks, full/half-width forms, whitespace runs, control characters and special-looking
tokens), encodes them with `tokenizers` / `sentencepiece` and with kataribe, and compares ids,
pieces and decoded text. Exits 1 on any mismatch.

Needs only `pip install -r tools/requirements-ci.txt` (sentencepiece, tokenizers); no torch or
transformers. By default it checks the committed fixtures (single files: plain library behaviour).

Usage:
  swift build --product kataribe
  python3 tools/tokenizers/property_check.py --kataribe .build/debug/kataribe --count 1000 --seed 1
  python3 tools/tokenizers/property_check.py --tokenizer ../shared/tokenizers/gpt-neox-20b-hf/20B_tokenizer.json
"""
import argparse
import glob
import json
import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from fixture_strings import random_text  # noqa: E402

FIXTURES = "Tests/Fixtures/tokenizers"


def default_tokenizers():
    paths = sorted(glob.glob(os.path.join(FIXTURES, "*", "tokenizer.json")))
    paths += sorted(glob.glob(os.path.join(FIXTURES, "*", "*.model")))
    return paths


def python_reference(path, texts):
    if path.endswith(".json"):
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(path)
        results = []
        for text in texts:
            encoding = tokenizer.encode(text, add_special_tokens=False)
            results.append(
                {"ids": encoding.ids, "pieces": encoding.tokens, "decoded": tokenizer.decode(encoding.ids, skip_special_tokens=False)}
            )
        return results
    import sentencepiece

    processor = sentencepiece.SentencePieceProcessor(model_file=path)
    results = []
    for text in texts:
        ids = processor.encode(text)
        results.append({"ids": ids, "pieces": processor.encode(text, out_type=str), "decoded": processor.decode(ids)})
    return results


def kataribe_results(binary, path, texts):
    payload = "".join(json.dumps({"text": text}, ensure_ascii=False) + "\n" for text in texts)
    process = subprocess.run(
        [binary, "tokenize", "--tokenizer", path, "--jsonl"],
        input=payload.encode("utf-8"),
        capture_output=True,
        check=False,
    )
    if process.returncode != 0:
        sys.exit(f"kataribe failed on {path}: {process.stderr.decode('utf-8', 'replace')}")
    # Split on "\n" only: str.splitlines() would also split inside values at U+2028, U+0085 ...
    lines = process.stdout.decode("utf-8").split("\n")[:-1]
    if len(lines) != len(texts):
        sys.exit(f"kataribe returned {len(lines)} lines for {len(texts)} inputs on {path}")
    return [json.loads(line) for line in lines]


def random_strings(seed, count):
    rng = random.Random(seed)
    texts = []
    for index in range(count):
        text = random_text(rng, max_pieces=16 if index % 10 else 60)
        texts.append(text)
    return texts


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--kataribe", default=".build/debug/kataribe", help="path to the kataribe binary")
    parser.add_argument("--tokenizer", action="append", help="tokenizer.json or .model (repeatable); default: fixtures")
    parser.add_argument("--seed", type=int, default=int(os.environ.get("KATARIBE_PROPERTY_SEED", "1")))
    parser.add_argument("--count", type=int, default=500)
    args = parser.parse_args()

    texts = random_strings(args.seed, args.count)
    failures = 0
    for path in args.tokenizer or default_tokenizers():
        expected = python_reference(path, texts)
        actual = kataribe_results(args.kataribe, path, texts)
        mismatches = [
            (text, want, got)
            for text, want, got in zip(texts, expected, actual)
            if want["ids"] != got["ids"] or want["pieces"] != got["pieces"] or want["decoded"] != got["decoded"]
        ]
        status = "ok" if not mismatches else f"{len(mismatches)} MISMATCHES"
        print(f"{path}: {len(texts)} strings, {status}")
        for text, want, got in mismatches[:5]:
            print(f"  text={text!r}\n    python  ={want}\n    kataribe={got}")
        failures += len(mismatches)
    print(f"seed {args.seed}: {'FAIL' if failures else 'PASS'}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
