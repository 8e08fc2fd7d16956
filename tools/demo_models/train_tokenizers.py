"""Train the two demo tokenizers on the training split (corpus.py) and write them into Models/.

demo-calm:      byte-level BPE tokenizer.json (tokenizers library), shaped like open-calm's / EleutherAI's
                GPT-NeoX tokenizer: NFC normalizer, ByteLevel pre-tokenizer/decoder/post-processor,
                <|endoftext|>=0, <|padding|>=1.
demo-rinna-sft: SentencePiece unigram spiece.model shaped like rinna's japanese-gpt-neox models:
                byte_fallback, nmt_nfkc, no dummy prefix, whitespace kept, <pad>/<unk>/<s>/</s> = 0/1/2/3,
                <NL> as a user-defined piece (rinna writes newlines as <NL>).

Deterministic: both trainers are single-pass over a fixed text in a fixed order.
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import sentencepiece as spm
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

import corpus
from common import CALM_DIR, RINNA_DIR

CALM_VOCAB = 6400
RINNA_VOCAB = 6400


def train_calm_tokenizer(texts: list[str], out_dir: Path, vocab_size: int) -> None:
    tok = Tokenizer(models.BPE(unk_token=None, fuse_unk=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)
    # tokenizers serializes this decoder's flags as add_prefix_space=true whatever is passed (its
    # constructor ignores them); decoding does not read them.
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=["<|endoftext|>", "<|padding|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer, length=len(texts))
    assert tok.token_to_id("<|endoftext|>") == 0 and tok.token_to_id("<|padding|>") == 1
    out_dir.mkdir(parents=True, exist_ok=True)
    tok.save(str(out_dir / "tokenizer.json"), pretty=False)

    # As cyberagent/open-calm-* ship them (GPTNeoXTokenizerFast; every special role is <|endoftext|>).
    (out_dir / "tokenizer_config.json").write_text(json.dumps({
        "add_prefix_space": False,
        "bos_token": "<|endoftext|>",
        "clean_up_tokenization_spaces": True,
        "eos_token": "<|endoftext|>",
        "model_max_length": 1000000000000000019884624838656,
        "tokenizer_class": "GPTNeoXTokenizer",
        "unk_token": "<|endoftext|>",
    }, indent=2) + "\n", encoding="utf-8")
    (out_dir / "special_tokens_map.json").write_text(json.dumps({
        "bos_token": "<|endoftext|>",
        "eos_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>",
    }, indent=2) + "\n", encoding="utf-8")


def train_rinna_tokenizer(texts: list[str], out_dir: Path, vocab_size: int) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts),
        model_writer=model,
        model_type="unigram",
        vocab_size=vocab_size,
        character_coverage=0.9995,
        byte_fallback=True,
        normalization_rule_name="nmt_nfkc",
        add_dummy_prefix=False,
        remove_extra_whitespaces=False,
        split_digits=False,
        pad_id=0, unk_id=1, bos_id=2, eos_id=3,
        pad_piece="<pad>", unk_piece="<unk>", bos_piece="<s>", eos_piece="</s>",
        user_defined_symbols=["<NL>"],
        input_sentence_size=0,
        shuffle_input_sentence=False,
        num_threads=1,  # the unigram EM is then deterministic
        minloglevel=2,
    )
    (out_dir / "spiece.model").write_bytes(model.getvalue())

    # As rinna/japanese-gpt-neox-3.6b-instruction-sft-v2 ships it: the slow T5Tokenizer over spiece.model.
    (out_dir / "tokenizer_config.json").write_text(json.dumps({
        "bos_token": "<s>",
        "do_lower_case": False,
        "eos_token": "</s>",
        "extra_ids": 0,
        "additional_special_tokens": [],
        "model_max_length": 1000000000000000019884624838656,
        "pad_token": "<pad>",
        "sp_model_kwargs": {},
        "tokenizer_class": "T5Tokenizer",
        "unk_token": "<unk>",
    }, indent=2) + "\n", encoding="utf-8")
    (out_dir / "special_tokens_map.json").write_text(json.dumps({
        "bos_token": "<s>",
        "eos_token": "</s>",
        "pad_token": "<pad>",
        "unk_token": "<unk>",
    }, indent=2) + "\n", encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=corpus.DEFAULT_CORPUS_DIR)
    ap.add_argument("--which", choices=["calm", "rinna", "both"], default="both")
    args = ap.parse_args()
    split = corpus.load_split(args.corpus)
    texts = [l.text for l in split.train]
    if args.which in ("calm", "both"):
        train_calm_tokenizer(texts, CALM_DIR, CALM_VOCAB)
        print("wrote", CALM_DIR / "tokenizer.json")
    if args.which in ("rinna", "both"):
        train_rinna_tokenizer(texts, RINNA_DIR, RINNA_VOCAB)
        print("wrote", RINNA_DIR / "spiece.model")


if __name__ == "__main__":
    main()
