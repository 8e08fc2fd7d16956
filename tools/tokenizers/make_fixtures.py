#!/usr/bin/env python3
"""Trains the small tokenizers committed under Tests/Fixtures/tokenizers/ and writes their reference
outputs with the Python libraries, so that `swift test` covers every tokenizer code path on a fresh
clone (without ../shared).

Training text: the public-domain Aozora Bunko part (first 2216 lines) of
../shared/corpus/ja_no_manpages.txt. Every fixture stays under 300 KB.

Fixtures (each folder has reference.jsonl: text, ids, pieces, decoded, decoded_skip_special,
ids_with_special, normalized):
  opencalm-style-bpe/       byte-level BPE tokenizer.json like open-calm (NFC, ByteLevel, <|endoftext|>=0,
                            <|padding|>=1, NeoX-style whitespace-run added tokens) + tokenizer_config.json;
                            reference_transformers.jsonl from transformers' AutoTokenizer on the folder.
  rinna-style-unigram/      SentencePiece unigram like rinna's spiece.model (byte_fallback, nmt_nfkc,
                            no dummy prefix, whitespace kept, pad/unk/bos/eos=0/1/2/3, user-defined <NL>)
                            + tokenizer_config.json/special_tokens_map.json like rinna's. Its
                            reference_t5_slow.jsonl comes from make_t5_slow_reference.py.
  spm-bpe/                  SentencePiece BPE (identity normalizer, dummy prefix, extra-whitespace removal,
                            byte_fallback, user-defined and control symbols).
  custom-charsmap-unigram/  SentencePiece unigram with a custom (small) normalization charsmap, no byte
                            fallback (unknown pieces), and t5-style tokenizer.json built from it
                            (Precompiled normalizer, WhitespaceSplit + Metaspace, Unigram, </s> template).
  llmjp-style-unigram/      tokenizer.json like llm-jp's: Unigram with byte_fallback, Replace normalizers
                            with the Oniguruma look-behind `(?<!\\n)^`, ByteFallback/Replace/Fuse decoders.
  llama-style-bpe/          tokenizer.json like Llama 2: BPE with byte_fallback, Prepend/Replace normalizers,
                            Replace/ByteFallback/Fuse/Strip decoders, <s> template.
  llama3-style-bpe/         tokenizer.json like Llama 3: Split with the Llama 3 regex, ByteLevel without
                            regex, ignore_merges.
  wordlevel-zoo/            WordLevel with NFKC/Lowercase/StripAccents/Strip normalizers and a Sequence of
                            Split/Digits/Punctuation/Whitespace pre-tokenizers.

Usage (from the repository root, with tools/requirements.txt installed):
  python tools/tokenizers/make_fixtures.py --corpus ../shared/corpus/ja_no_manpages.txt
"""
import argparse
import json
import os
import shutil
import sys
import tempfile

import sentencepiece as spm
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

sys.path.insert(0, os.path.dirname(__file__))
from fixture_strings import all_strings, training_lines  # noqa: E402

OUT = "Tests/Fixtures/tokenizers"
LLAMA3_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def hf_reference(tokenizer, strings):
    rows = []
    for text in strings:
        encoding = tokenizer.encode(text, add_special_tokens=False)
        normalized = tokenizer.normalizer.normalize_str(text) if tokenizer.normalizer is not None else text
        rows.append(
            {
                "text": text,
                "ids": encoding.ids,
                "pieces": encoding.tokens,
                "decoded": tokenizer.decode(encoding.ids, skip_special_tokens=False),
                "decoded_skip_special": tokenizer.decode(encoding.ids, skip_special_tokens=True),
                "ids_with_special": tokenizer.encode(text, add_special_tokens=True).ids,
                "normalized": normalized,
            }
        )
    return rows


def spm_reference(processor, strings):
    return [
        {
            "text": text,
            "ids": processor.encode(text),
            "pieces": processor.encode(text, out_type=str),
            "decoded": processor.decode(processor.encode(text)),
            "normalized": processor.normalize(text),
        }
        for text in strings
    ]


def save_tokenizer(tokenizer, folder):
    path = os.path.join(folder, "tokenizer.json")
    tokenizer.save(path)
    return Tokenizer.from_file(path)


def fresh(folder):
    path = os.path.join(OUT, folder)
    if os.path.isdir(path):
        shutil.rmtree(path)
    os.makedirs(path)
    return path


def read_field(data, wanted):
    """Tiny protobuf reader: the payload of the first length-delimited field `wanted`."""
    pos = 0
    while pos < len(data):
        key, pos = varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, pos = varint(data, pos)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            length, pos = varint(data, pos)
            if number == wanted:
                return data[pos : pos + length]
            pos += length
        else:
            raise ValueError("unsupported wire type")
    return b""


def varint(data, pos):
    result, shift = 0, 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def precompiled_charsmap(model_path):
    with open(model_path, "rb") as handle:
        normalizer_spec = read_field(handle.read(), 3)
    return read_field(normalizer_spec, 2)


def opencalm_style(corpus_lines, strings):
    folder = fresh("opencalm-style-bpe")
    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)
    tokenizer.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)
    trainer = trainers.BpeTrainer(
        vocab_size=1800,
        special_tokens=["<|endoftext|>", "<|padding|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus_lines, trainer)
    # GPT-NeoX adds runs of spaces as normalized, non-special tokens.
    tokenizer.add_tokens([AddedToken(" " * n, normalized=True, special=False) for n in (8, 4, 3, 2)])
    tokenizer = save_tokenizer(tokenizer, folder)
    write_jsonl(os.path.join(folder, "reference.jsonl"), hf_reference(tokenizer, strings))
    config = {
        "tokenizer_class": "GPTNeoXTokenizer",
        "bos_token": "<|endoftext|>",
        "eos_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>",
        "pad_token": "<|padding|>",
        "additional_special_tokens": ["<|user|>"],
        "add_prefix_space": False,
    }
    with open(os.path.join(folder, "tokenizer_config.json"), "w", encoding="utf-8") as handle:
        json.dump(config, handle, ensure_ascii=False, indent=2)
    try:
        from transformers import AutoTokenizer
    except ImportError:
        print("transformers not installed: skipping reference_transformers.jsonl", file=sys.stderr)
        return
    auto = AutoTokenizer.from_pretrained(folder)
    extra = [text + "<|user|>" for text in strings[:40]] + ["<|user|>こんにちは<|endoftext|>"]
    rows = []
    for text in strings + extra:
        ids = auto.encode(text, add_special_tokens=False)
        rows.append(
            {
                "text": text,
                "ids": ids,
                "ids_with_special": auto.encode(text, add_special_tokens=True),
                "decoded": auto.decode(ids),
                "decoded_skip_special": auto.decode(ids, skip_special_tokens=True),
            }
        )
    write_jsonl(os.path.join(folder, "reference_transformers.jsonl"), rows)


def train_spm(corpus_lines, prefix, **options):
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt", delete=False) as handle:
        handle.write("\n".join(corpus_lines))
        corpus = handle.name
    try:
        spm.SentencePieceTrainer.train(
            input=corpus, model_prefix=prefix, minloglevel=2, shuffle_input_sentence=False, **options
        )
    finally:
        os.unlink(corpus)
    os.unlink(prefix + ".vocab")
    return prefix + ".model"


def rinna_style(corpus_lines, strings):
    folder = fresh("rinna-style-unigram")
    model = train_spm(
        corpus_lines,
        os.path.join(folder, "spiece"),
        model_type="unigram",
        vocab_size=2500,
        character_coverage=0.98,
        byte_fallback=True,
        normalization_rule_name="nmt_nfkc",
        add_dummy_prefix=False,
        remove_extra_whitespaces=False,
        pad_id=0,
        unk_id=1,
        bos_id=2,
        eos_id=3,
        user_defined_symbols=["<NL>"],
    )
    processor = spm.SentencePieceProcessor(model_file=model)
    write_jsonl(os.path.join(folder, "reference.jsonl"), spm_reference(processor, strings))
    config = {
        "tokenizer_class": "T5Tokenizer",
        "do_lower_case": False,
        "extra_ids": 0,
        "additional_special_tokens": [],
        "sp_model_kwargs": {},
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
    }
    special = {
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": "[PAD]",
        "cls_token": "[CLS]",
        "sep_token": "[SEP]",
        "mask_token": "[MASK]",
    }
    with open(os.path.join(folder, "tokenizer_config.json"), "w", encoding="utf-8") as handle:
        json.dump(config, handle, ensure_ascii=False, indent=2)
    with open(os.path.join(folder, "special_tokens_map.json"), "w", encoding="utf-8") as handle:
        json.dump(special, handle, ensure_ascii=False, indent=2)
    return processor


def spm_bpe(corpus_lines, strings):
    folder = fresh("spm-bpe")
    model = train_spm(
        corpus_lines,
        os.path.join(folder, "bpe"),
        model_type="bpe",
        vocab_size=2500,
        character_coverage=0.98,
        byte_fallback=True,
        normalization_rule_name="identity",
        split_digits=True,
        user_defined_symbols=["<NL>", "【注】"],
        control_symbols=["<ctrl>"],
    )
    processor = spm.SentencePieceProcessor(model_file=model)
    write_jsonl(os.path.join(folder, "reference.jsonl"), spm_reference(processor, strings))


def custom_rules_tsv(path):
    rules = []
    for code in range(0xFF01, 0xFF5F):  # full-width ASCII
        rules.append((f"{code:X}", f"{code - 0xFEE0:X}"))
    rules += [
        ("3000", "20"),
        ("FF76 FF9E", "30AC"),  # ｶﾞ -> ガ
        ("FF8A FF9F", "30D1"),  # ﾊﾟ -> パ
        ("FF76", "30AB"),
        ("FF8A", "30CF"),
        ("200B", ""),  # removed
        ("2460", "31"),  # ① -> 1
        ("FB01", "66 69"),  # ﬁ -> fi
        ("3099", "309B"),
    ]
    with open(path, "w", encoding="utf-8") as handle:
        for source, target in rules:
            handle.write(f"{source}\t{target}\n")


def custom_charsmap(corpus_lines, strings):
    folder = fresh("custom-charsmap-unigram")
    tsv = os.path.join(folder, "rules.tsv")
    custom_rules_tsv(tsv)
    model = train_spm(
        corpus_lines,
        os.path.join(folder, "custom"),
        model_type="unigram",
        vocab_size=2500,
        character_coverage=0.98,
        normalization_rule_tsv=tsv,
        add_dummy_prefix=True,
        remove_extra_whitespaces=True,
    )
    os.unlink(tsv)
    processor = spm.SentencePieceProcessor(model_file=model)
    write_jsonl(os.path.join(folder, "reference.jsonl"), spm_reference(processor, strings))

    # A T5-style tokenizer.json over the same vocabulary: how transformers converts such a model.
    vocab = [(processor.id_to_piece(i), processor.get_score(i)) for i in range(processor.get_piece_size())]
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=processor.unk_id(), byte_fallback=False))
    tokenizer.normalizer = normalizers.Precompiled(precompiled_charsmap(model))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)]
    )
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tokenizer.add_special_tokens(["<unk>", "<s>", "</s>"])
    tokenizer.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", processor.eos_id())]
    )
    folder_t5 = fresh("t5-style-unigram")
    tokenizer = save_tokenizer(tokenizer, folder_t5)
    write_jsonl(os.path.join(folder_t5, "reference.jsonl"), hf_reference(tokenizer, strings))


def llmjp_style(processor, strings):
    folder = fresh("llmjp-style-unigram")
    vocab = [(processor.id_to_piece(i), processor.get_score(i)) for i in range(processor.get_piece_size())]
    vocab.append(("<EOD>", 0.0))
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=processor.unk_id(), byte_fallback=True))
    tokenizer.normalizer = normalizers.Sequence(
        [normalizers.Replace(Regex("(?<!\\n)^"), "▁"), normalizers.Replace(Regex(" "), "▁")]
    )
    tokenizer.decoder = decoders.Sequence(
        [
            decoders.ByteFallback(),
            decoders.Replace(Regex("▁"), " "),
            decoders.Fuse(),
            decoders.Replace(Regex("(?<!\\n)^ "), ""),
        ]
    )
    tokenizer.add_special_tokens(["<pad>", "<unk>", "<s>", "</s>", "<EOD>"])
    eod = tokenizer.token_to_id("<EOD>")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="$A <EOD>", pair="$A <EOD> $B:1 <EOD>:1", special_tokens=[("<EOD>", eod)]
    )
    tokenizer = save_tokenizer(tokenizer, folder)
    write_jsonl(os.path.join(folder, "reference.jsonl"), hf_reference(tokenizer, strings))


def llama_style(corpus_lines, strings):
    folder = fresh("llama-style-bpe")
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tokenizer.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tokenizer.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]
    )
    trainer = trainers.BpeTrainer(
        vocab_size=1200,
        special_tokens=["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)],
        limit_alphabet=300,
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus_lines, trainer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", tokenizer.token_to_id("<s>"))]
    )
    tokenizer = save_tokenizer(tokenizer, folder)
    write_jsonl(os.path.join(folder, "reference.jsonl"), hf_reference(tokenizer, strings))


def llama3_style(corpus_lines, strings):
    folder = fresh("llama3-style-bpe")
    tokenizer = Tokenizer(models.BPE(ignore_merges=True))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=1500,
        special_tokens=["<|begin_of_text|>", "<|end_of_text|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus_lines, trainer)
    tokenizer.post_processor = processors.Sequence(
        [
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(
                single="<|begin_of_text|> $A",
                pair="<|begin_of_text|> $A <|begin_of_text|> $B:1",
                special_tokens=[("<|begin_of_text|>", tokenizer.token_to_id("<|begin_of_text|>"))],
            ),
        ]
    )
    tokenizer = save_tokenizer(tokenizer, folder)
    write_jsonl(os.path.join(folder, "reference.jsonl"), hf_reference(tokenizer, strings))


def wordlevel_zoo(corpus_lines, strings):
    folder = fresh("wordlevel-zoo")
    tokenizer = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Sequence(
        [normalizers.NFKC(), normalizers.Lowercase(), normalizers.NFD(), normalizers.StripAccents(), normalizers.Strip()]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.WhitespaceSplit(),
            pre_tokenizers.Split(Regex(r"\p{Han}+|[ぁ-ゖ]+|[ァ-ヺー]+"), behavior="isolated"),
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.Punctuation(behavior="contiguous"),
            pre_tokenizers.Whitespace(),
        ]
    )
    trainer = trainers.WordLevelTrainer(vocab_size=2000, special_tokens=["[UNK]", "[SEP]"], show_progress=False)
    tokenizer.train_from_iterator(corpus_lines, trainer)
    tokenizer.add_special_tokens([AddedToken("[SEP]", lstrip=True, rstrip=True)])
    tokenizer.add_tokens([AddedToken("猫", single_word=True), AddedToken("吾輩", normalized=True)])
    tokenizer.post_processor = processors.BertProcessing(("[SEP]", tokenizer.token_to_id("[SEP]")), ("[UNK]", 0))
    tokenizer = save_tokenizer(tokenizer, folder)
    extra = ["猫 が 猫猫 猫", "a [SEP] b  [SEP]c", "ＡＢＣ Ａｂｃ ÀÉÎ"]
    write_jsonl(os.path.join(folder, "reference.jsonl"), hf_reference(tokenizer, strings + extra))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", default="../shared/corpus/ja_no_manpages.txt")
    args = parser.parse_args()
    corpus_lines = training_lines(args.corpus)
    strings = all_strings(args.corpus)
    opencalm_style(corpus_lines, strings)
    processor = rinna_style(corpus_lines, strings)
    spm_bpe(corpus_lines, strings)
    custom_charsmap(corpus_lines, strings)
    llmjp_style(processor, strings)
    llama_style(corpus_lines, strings)
    llama3_style(corpus_lines, strings)
    wordlevel_zoo(corpus_lines, strings)
    for root, _, files in os.walk(OUT):
        for name in files:
            size = os.path.getsize(os.path.join(root, name))
            assert size < 300_000, f"{os.path.join(root, name)} is {size} bytes"


if __name__ == "__main__":
    main()
