"""Paths, prompts, generation presets and tokenizer helpers shared by the demo-model scripts."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
MODELS_DIR = REPO_ROOT / "Models"
CALM_DIR = MODELS_DIR / "demo-calm"
RINNA_DIR = MODELS_DIR / "demo-rinna-sft"
REFERENCE_JSON = REPO_ROOT / "Tests" / "Fixtures" / "demo" / "greedy_reference.json"

SEED = 20240605

# The seed article's three tasks: a plain-completion prompt for base models and an instruction for
# instruction-tuned ones.
TASKS: dict[str, dict[str, str]] = {
    "story": {
        "base": "昔々あるところに、",
        "instruction": "「昔々あるところに」から始まる物語を考えてください。",
    },
    "recipe": {
        "base": "おいしいカレーライスの作り方を紹介します。まず、",
        "instruction": "おいしいカレーライスの作り方を教えてください。",
    },
    "reply": {
        "base": "友人から「明日、一緒に映画を見に行かない?」とメッセージが来たので、こう返信した。「",
        "instruction": "友人から「明日、一緒に映画を見に行かない?」とメッセージが来ました。返信の文面を考えてください。",
    },
}

# open-calm's model card.
CALM_PRESET = dict(do_sample=True, temperature=0.7, top_p=0.9, repetition_penalty=1.05, max_new_tokens=64)
# rinna/japanese-gpt-neox-3.6b-instruction-sft-v2's model card.
RINNA_PRESET = dict(do_sample=True, temperature=0.7, repetition_penalty=1.1, max_new_tokens=128)

NL = "<NL>"


def rinna_chat_prompt(turns: list[tuple[str, str]]) -> str:
    """rinna's chat format: `speaker: text` turns joined by <NL>, newlines inside a turn written as <NL>,
    ending with the system's open turn `システム: `."""
    body = NL.join(f"{speaker}: {text.replace(chr(10), NL)}" for speaker, text in turns)
    return body + NL + "システム: "


def rinna_display(text: str) -> str:
    """What rinna's card does to a decoded answer: <NL> back to newlines, the trailing </s> dropped."""
    text = text.replace(NL, "\n")
    if text.endswith("</s>"):
        text = text[: -len("</s>")]
    return text


class RinnaTokenizer:
    """rinna's tokenizer as its card uses it (`use_fast=False`, `add_special_tokens=False`).

    Under transformers 4 that meant the slow, sentencepiece-backed T5Tokenizer. transformers 5 ignores
    `use_fast=False` and builds a `tokenizers` Unigram with T5's hard-wired whitespace split and dummy
    prefix, which tokenizes rinna-style models differently from sentencepiece (see the README). So the
    reference here is the sentencepiece library itself; for text without special-token strings (all our
    prompts and data) that is exactly what the old slow tokenizer produced.
    """

    def __init__(self, model_dir: Path):
        import sentencepiece as spm

        self.sp = spm.SentencePieceProcessor(model_file=str(model_dir / "spiece.model"))
        self.pad_id, self.unk_id = self.sp.pad_id(), self.sp.unk_id()
        self.bos_id, self.eos_id = self.sp.bos_id(), self.sp.eos_id()

    def encode(self, text: str) -> list[int]:
        return self.sp.encode(text)

    def decode(self, ids: list[int]) -> str:
        # sentencepiece's decode drops control pieces; rinna's card then strips a trailing "</s>",
        # which the slow tokenizer's decode (special tokens kept) would have written out.
        text = self.sp.decode([i for i in ids if i != self.eos_id])
        return text + ("</s>" if ids and ids[-1] == self.eos_id else "")

    def __len__(self) -> int:
        return self.sp.get_piece_size()


def calm_tokenizer(model_dir: Path):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(model_dir / "tokenizer.json"))
