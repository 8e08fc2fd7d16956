"""Check that Models/demo-* load in transformers like the real open-calm / rinna checkpoints and still
produce Tests/Fixtures/demo/greedy_reference.json. Exits 1 on any mismatch.

Checks, per model folder:
  - size <= 15 MB; weights are fp16 in the intended container (torch zip pickle / safetensors);
  - config.json is in the classic spelling and transformers reads rotary_pct / rotary_emb_base into the
    same rope_parameters as the equivalent transformers-5 config;
  - AutoTokenizer loads (demo-calm) and gives the reference input ids; for demo-rinna-sft the sentencepiece
    ids (the reference) are also compared with transformers' own sentencepiece class, and what
    AutoTokenizer(use_fast=False) does under transformers 5 is reported (it differs; see README);
  - AutoModelForCausalLM in float32 regenerates the greedy ids exactly and the top-10 logits within 1e-4.

  python check_transformers_load.py
"""

from __future__ import annotations

import json
import sys
import zipfile

import torch

from common import CALM_DIR, REFERENCE_JSON, REPO_ROOT, RINNA_DIR, RinnaTokenizer
from specs import SPECS

MAX_FOLDER_BYTES = 15_000_000
LOGIT_TOLERANCE = 1e-4
CLASSIC_KEYS = {"rotary_pct", "rotary_emb_base", "use_parallel_residual", "hidden_act", "torch_dtype"}

failures: list[str] = []


def check(ok: bool, what: str) -> None:
    print(("  ok   " if ok else "  FAIL ") + what)
    if not ok:
        failures.append(what)


def check_files(model: str, model_dir) -> None:
    spec = SPECS[model]
    size = sum(p.stat().st_size for p in model_dir.iterdir() if p.is_file())
    check(size <= MAX_FOLDER_BYTES, f"{model_dir.name}: {size:,} bytes in total (limit {MAX_FOLDER_BYTES:,})")
    weights = model_dir / spec.weights_file
    if spec.weights_file == "pytorch_model.bin":
        check(zipfile.is_zipfile(weights), f"{weights.name} is torch's zip format")
        state = torch.load(weights, map_location="cpu", weights_only=True)
    else:
        from safetensors.torch import load_file

        state = load_file(str(weights))
    dtypes = {v.dtype for v in state.values()}
    check(dtypes == {torch.float16}, f"{weights.name}: {len(state)} tensors, dtypes {sorted(map(str, dtypes))}")

    from transformers import AutoConfig, GPTNeoXConfig

    raw = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    check(CLASSIC_KEYS <= raw.keys() and "rope_parameters" not in raw, "config.json uses the classic keys")
    loaded = AutoConfig.from_pretrained(model_dir)
    modern = GPTNeoXConfig(**{k: v for k, v in raw.items() if k not in ("rotary_pct", "rotary_emb_base")},
                           rope_parameters={"rope_type": "default", "rope_theta": raw["rotary_emb_base"],
                                            "partial_rotary_factor": raw["rotary_pct"]})
    check(loaded.rope_parameters == modern.rope_parameters,
          f"classic rotary keys read as {loaded.rope_parameters}")
    check(loaded.use_parallel_residual is False and loaded.hidden_act == "gelu"
          and loaded.tie_word_embeddings is False, "sequential residual, gelu, untied embeddings")


def check_tokenizers(model: str, model_dir, entry: dict) -> None:
    from transformers import AutoTokenizer

    if model == "calm":
        from common import calm_tokenizer

        tok = AutoTokenizer.from_pretrained(model_dir)
        raw = calm_tokenizer(model_dir)
        print(f"  AutoTokenizer -> {type(tok).__name__}")
        for case in entry["cases"]:
            ids = tok.encode(case["prompt"], add_special_tokens=False)
            check(ids == case["input_ids"], f"{case['task']}: AutoTokenizer ids match the reference")
            check(raw.encode(case["prompt"]).ids == case["input_ids"], f"{case['task']}: tokenizers ids match")
        return

    sp = RinnaTokenizer(model_dir)
    from transformers.tokenization_utils_sentencepiece import SentencePieceBackend

    slow = SentencePieceBackend.from_pretrained(model_dir, vocab_file=str(model_dir / "spiece.model"))
    for case in entry["cases"]:
        check(sp.encode(case["prompt"]) == case["input_ids"], f"{case['task']}: sentencepiece ids match")
        check(slow.encode(case["prompt"], add_special_tokens=False) == case["input_ids"],
              f"{case['task']}: transformers' SentencePieceBackend ids match")
    # Informational: transformers 5 ignores use_fast=False and converts spiece.model into a tokenizers
    # Unigram with T5's whitespace splitting and dummy prefix (and needs protobuf to do so).
    try:
        auto = AutoTokenizer.from_pretrained(model_dir, use_fast=False)
        same = sum(auto.encode(c["prompt"], add_special_tokens=False) == c["input_ids"] for c in entry["cases"])
        print(f"  note AutoTokenizer(use_fast=False) -> {type(auto).__name__}; "
              f"{same}/{len(entry['cases'])} prompts tokenized like sentencepiece")
    except Exception as e:  # noqa: BLE001 - reported, not a failure of the model files
        print(f"  note AutoTokenizer(use_fast=False) fails under transformers 5: {str(e).splitlines()[0][:120]}")


def check_reference(stored: dict, fresh: dict) -> None:
    for old, new in zip(stored["models"], fresh["models"]):
        print(f"{old['name']}: reference")
        for a, b in zip(old["cases"], new["cases"]):
            t = a["task"]
            check(a["prompt"] == b["prompt"] and a["input_ids"] == b["input_ids"], f"{t}: prompt and input ids")
            check(a["greedy_ids"] == b["greedy_ids"], f"{t}: greedy ids {b['greedy_ids'][:8]}…")
            check(a["greedy_text"] == b["greedy_text"], f"{t}: decoded text {b['greedy_text'][:24]!r}…")
            check(a["last_logits_top10"]["ids"] == b["last_logits_top10"]["ids"], f"{t}: top-10 logit ids")
            diff = max(abs(x - y) for x, y in zip(a["last_logits_top10"]["values"], b["last_logits_top10"]["values"]))
            check(diff <= LOGIT_TOLERANCE, f"{t}: top-10 logit values within {diff:.2e}")


def main() -> int:
    import make_reference

    torch.set_num_threads(2)
    stored = json.loads(REFERENCE_JSON.read_text(encoding="utf-8"))
    by_name = {m["name"]: m for m in stored["models"]}
    for model, model_dir in (("calm", CALM_DIR), ("rinna", RINNA_DIR)):
        print(f"{model_dir.relative_to(REPO_ROOT)}")
        check_files(model, model_dir)
        check_tokenizers(model, model_dir, by_name[SPECS[model].name])
    check_reference(stored, make_reference.build_reference())
    print("all checks passed" if not failures else f"{len(failures)} check(s) failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
