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
                            Replace/ByteFallback/Fuse/Strip decoders, <s> template. Its config.json (llama) and
                            tokenizer_config.json (LlamaTokenizer, legacy false) make transformers 5 rebuild the
                            pipeline (Metaspace, prepend_scheme "first"): reference_transformers.jsonl.
  llama3-style-bpe/         Llama 3 / Llama-3.1-Swallow / Llama-3-ELYZA-JP: Split with the Llama 3 regex, ByteLevel
                            without regex, ignore_merges, specials 128000-style after the vocabulary;
                            PreTrainedTokenizerFast config, reference_transformers.jsonl.
  qwen2-style-bpe/          Qwen2.5 / TinySwallow: NFC, Split with the Qwen2 regex, ByteLevel, 22 added tokens
                            (<|im_start|>..., 8 of them not special); Qwen2Tokenizer config (transformers 5
                            rebuilds the pipeline from the class), reference_transformers.jsonl.
  gemma-style-bpe/          gemma-2 / gemma-3: Replace " " -> "▁", BPE with byte_fallback and fuse_unk, <0xXX> pieces
                            in the vocabulary only; GemmaTokenizer config, reference_transformers.jsonl.
  llmjp3-style-unigram/     llm-jp-3: Unigram with byte_fallback, specials 0-7 (<unk> <s> </s> <MASK|LLM-jp>...),
                            the (?<!\\n)^ Replace normalizers; PreTrainedTokenizerFast with add_bos_token,
                            reference_transformers.jsonl.
  wordlevel-zoo/            WordLevel with NFKC/Lowercase/StripAccents/Strip normalizers and a Sequence of
                            Split/Digits/Punctuation/Whitespace pre-tokenizers.

The chat-model folders carry a config.json with the real model_type, since transformers 5 chooses the
tokenizer class from it together with tokenizer_config.json; their reference_transformers.jsonl is
AutoTokenizer's output on fixture_strings.chat_strings (the common strings plus chat markup and code).
BPE training is not reproducible byte for byte, so remake only the folders you change (--only).

Usage (from the repository root, with tools/requirements.txt installed):
  python tools/tokenizers/make_fixtures.py --corpus ../shared/corpus/ja_no_manpages.txt [--only FOLDER ...]
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
from fixture_strings import ENGLISH_AND_CODE, all_strings, chat_strings, training_lines  # noqa: E402

OUT = "Tests/Fixtures/tokenizers"
LLAMA3_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_json(path, value):
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(value, handle, ensure_ascii=False, indent=2)
        handle.write("\n")


def edit_json(path, change):
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    change(data)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False)


def added_tokens_decoder(tokenizer):
    """`added_tokens_decoder` as transformers writes it in tokenizer_config.json."""
    return {
        str(index): {
            "content": token.content,
            "lstrip": token.lstrip,
            "normalized": token.normalized,
            "rstrip": token.rstrip,
            "single_word": token.single_word,
            "special": token.special,
        }
        for index, token in sorted(tokenizer.get_added_tokens_decoder().items())
    }


def transformers_reference(folder, strings):
    """What transformers 5's AutoTokenizer does with the model folder (config.json decides the
    tokenizer class together with tokenizer_config.json, exactly as for the real model)."""
    from transformers import AutoTokenizer

    auto = AutoTokenizer.from_pretrained(folder)
    rows = []
    for text in strings:
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
    return rows


def assert_same_ids_with_variant(folder, change, rows):
    """Checks that transformers gives `rows`' ids for a copy of `folder` whose tokenizer.json was
    edited by `change`: the tokenizer class, not the file, decides the pipeline."""
    with tempfile.TemporaryDirectory() as scratch:
        copy = os.path.join(scratch, os.path.basename(folder))
        shutil.copytree(folder, copy)
        edit_json(os.path.join(copy, "tokenizer.json"), change)
        for row in transformers_reference(copy, [row["text"] for row in rows]):
            expected = next(r for r in rows if r["text"] == row["text"])
            assert row["ids"] == expected["ids"], f"{folder}: variant differs on {row['text']!r}"


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


def llama_style_transformers(chat):
    """Adds to llama-style-bpe (whose tokenizer.json it reads as committed, since BPE training is not
    reproducible byte for byte) the files of a Llama 2-style model folder: config.json with model_type
    llama and tokenizer_config.json with LlamaTokenizer, legacy false. transformers 5 then rebuilds the
    pipeline from the class: Metaspace with prepend_scheme "first" instead of the file's
    Prepend/Replace normalizers, so text after a special token gets no "▁"."""
    folder = os.path.join(OUT, "llama-style-bpe")
    write_json(os.path.join(folder, "config.json"), {"architectures": ["LlamaForCausalLM"], "model_type": "llama"})
    write_json(
        os.path.join(folder, "tokenizer_config.json"),
        {
            "add_bos_token": True,
            "add_eos_token": False,
            "bos_token": "<s>",
            "clean_up_tokenization_spaces": False,
            "eos_token": "</s>",
            "legacy": False,
            "pad_token": None,
            "sp_model_kwargs": {},
            "tokenizer_class": "LlamaTokenizer",
            "unk_token": "<unk>",
        },
    )
    write_jsonl(os.path.join(folder, "reference_transformers.jsonl"), transformers_reference(folder, chat))


# Llama 3's special tokens as they open its added_tokens (ids 128000-128010 in the real file): all
# of them come after the model vocabulary, none is in it.
LLAMA3_SPECIALS = [
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|reserved_special_token_0|>",
    "<|reserved_special_token_1|>",
    "<|finetune_right_pad_id|>",
    "<|reserved_special_token_2|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eom_id|>",
    "<|eot_id|>",
    "<|python_tag|>",
]


def llama3_style(corpus_lines, strings, chat):
    """Llama 3 / Llama-3.1-Swallow / Llama-3-ELYZA-JP: the layout of meta-llama's tokenizer.json
    (Split with the Llama 3 regex, ByteLevel without regex, BPE with ignore_merges, ByteLevel +
    <|begin_of_text|> template, specials only in added_tokens) and tokenizer_config.json
    (PreTrainedTokenizerFast, so transformers 5 uses tokenizer.json as it is)."""
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
        vocab_size=1500, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tokenizer.train_from_iterator(corpus_lines + ENGLISH_AND_CODE, trainer)
    tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in LLAMA3_SPECIALS])
    bos = tokenizer.token_to_id("<|begin_of_text|>")
    tokenizer.post_processor = processors.Sequence(
        [
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(
                single="<|begin_of_text|> $A",
                pair="<|begin_of_text|> $A <|begin_of_text|> $B:1",
                special_tokens=[("<|begin_of_text|>", bos)],
            ),
        ]
    )
    tokenizer = save_tokenizer(tokenizer, folder)
    write_jsonl(os.path.join(folder, "reference.jsonl"), hf_reference(tokenizer, strings))
    write_json(os.path.join(folder, "config.json"), {"architectures": ["LlamaForCausalLM"], "model_type": "llama"})
    write_json(
        os.path.join(folder, "tokenizer_config.json"),
        {
            "added_tokens_decoder": added_tokens_decoder(tokenizer),
            "bos_token": "<|begin_of_text|>",
            "clean_up_tokenization_spaces": True,
            "eos_token": "<|eot_id|>",
            "model_input_names": ["input_ids", "attention_mask"],
            "model_max_length": 131072,
            "tokenizer_class": "PreTrainedTokenizerFast",
        },
    )
    write_jsonl(os.path.join(folder, "reference_transformers.jsonl"), transformers_reference(folder, chat))


# Qwen2.5's pre-tokenizer pattern (also hard-coded in transformers' Qwen2Tokenizer): single digits,
# and no \p{M} (Qwen3.5's tokenizer.json adds [\p{L}\p{M}]+, which Qwen2Tokenizer discards).
QWEN2_PATTERN = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
QWEN35_PATTERN = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
# Qwen2.5's added tokens in id order (151643...): (content, special).
QWEN2_ADDED = [
    ("<|endoftext|>", True),
    ("<|im_start|>", True),
    ("<|im_end|>", True),
    ("<|object_ref_start|>", True),
    ("<|object_ref_end|>", True),
    ("<|box_start|>", True),
    ("<|box_end|>", True),
    ("<|quad_start|>", True),
    ("<|quad_end|>", True),
    ("<|vision_start|>", True),
    ("<|vision_end|>", True),
    ("<|vision_pad|>", True),
    ("<|image_pad|>", True),
    ("<|video_pad|>", True),
    ("<tool_call>", False),
    ("</tool_call>", False),
    ("<|fim_prefix|>", False),
    ("<|fim_middle|>", False),
    ("<|fim_suffix|>", False),
    ("<|fim_pad|>", False),
    ("<|repo_name|>", False),
    ("<|file_sep|>", False),
]


def qwen2_style(corpus_lines, strings, chat):
    """Qwen2.5 / TinySwallow: the layout of Qwen's tokenizer.json (NFC, Split with the Qwen2 regex,
    ByteLevel without regex or offset trimming, BPE with empty prefix/suffix, 22 added tokens after the
    vocabulary, 8 of them not special) and tokenizer_config.json (Qwen2Tokenizer: transformers 5
    rebuilds the pipeline from the class and keeps only vocab, merges and post-processor)."""
    folder = fresh("qwen2-style-bpe")
    tokenizer = Tokenizer(models.BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    tokenizer.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    trainer = trainers.BpeTrainer(vocab_size=1500, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(corpus_lines + ENGLISH_AND_CODE, trainer)
    for content, special in QWEN2_ADDED:
        token = AddedToken(content, special=special, normalized=False)
        if special:
            tokenizer.add_special_tokens([token])
        else:
            tokenizer.add_tokens([token])
    path = os.path.join(folder, "tokenizer.json")
    tokenizer.save(path)
    # Qwen's file spells the absent prefix/suffix as "" (the trainer writes null); same behaviour.
    edit_json(path, lambda d: d["model"].update(continuing_subword_prefix="", end_of_word_suffix=""))
    tokenizer = Tokenizer.from_file(path)
    write_jsonl(os.path.join(folder, "reference.jsonl"), hf_reference(tokenizer, strings))
    write_json(os.path.join(folder, "config.json"), {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2"})
    write_json(
        os.path.join(folder, "tokenizer_config.json"),
        {
            "add_bos_token": False,
            "add_prefix_space": False,
            "added_tokens_decoder": added_tokens_decoder(tokenizer),
            "additional_special_tokens": [content for content, special in QWEN2_ADDED[1:] if special],
            "bos_token": None,
            "clean_up_tokenization_spaces": False,
            "eos_token": "<|im_end|>",
            "errors": "replace",
            "model_max_length": 131072,
            "pad_token": "<|endoftext|>",
            "split_special_tokens": False,
            "tokenizer_class": "Qwen2Tokenizer",
            "unk_token": None,
        },
    )
    rows = transformers_reference(folder, chat)
    write_jsonl(os.path.join(folder, "reference_transformers.jsonl"), rows)

    # transformers ignores the file's pipeline for this class: a tokenizer.json without NFC and with
    # Qwen3.5's pattern gives the same ids (the Swift tests load such a variant against this reference).
    def qwen35(d):
        d["normalizer"] = None
        d["pre_tokenizer"]["pretokenizers"][0]["pattern"] = {"Regex": QWEN35_PATTERN}

    assert_same_ids_with_variant(folder, qwen35, rows)


GEMMA_SPECIALS = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "<start_of_turn>", "<end_of_turn>"]


def gemma_style(corpus_lines, strings, chat):
    """gemma-2 / gemma-3 it: the layout of Gemma's tokenizer.json (Replace " " -> "▁", no
    pre-tokenizer, BPE with byte_fallback and fuse_unk, <0xXX> pieces and the specials in the vocabulary,
    Replace/ByteFallback/Fuse decoder, <bos> template) and tokenizer_config.json (GemmaTokenizer:
    transformers 5 rebuilds the pipeline from the class)."""
    folder = fresh("gemma-style-bpe")
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tokenizer.normalizer = normalizers.Replace(" ", "▁")
    tokenizer.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()])
    trainer = trainers.BpeTrainer(
        vocab_size=1500,
        special_tokens=GEMMA_SPECIALS + [f"<0x{b:02X}>" for b in range(256)],
        limit_alphabet=300,
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus_lines + ENGLISH_AND_CODE, trainer)
    bos = tokenizer.token_to_id("<bos>")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<bos> $A", pair="<bos> $A <bos> $B:1", special_tokens=[("<bos>", bos)]
    )
    path = os.path.join(folder, "tokenizer.json")
    tokenizer.save(path)
    # Only the real specials are added tokens; the byte pieces are plain vocabulary entries, so text
    # such as "<0x41>" is not read as a token.
    edit_json(path, lambda d: d.update(added_tokens=[t for t in d["added_tokens"] if t["content"] in GEMMA_SPECIALS]))
    tokenizer = Tokenizer.from_file(path)
    write_jsonl(os.path.join(folder, "reference.jsonl"), hf_reference(tokenizer, strings))
    write_json(os.path.join(folder, "config.json"), {"architectures": ["Gemma2ForCausalLM"], "model_type": "gemma2"})
    write_json(
        os.path.join(folder, "tokenizer_config.json"),
        {
            "add_bos_token": True,
            "add_eos_token": False,
            "added_tokens_decoder": added_tokens_decoder(tokenizer),
            "additional_special_tokens": ["<start_of_turn>", "<end_of_turn>"],
            "bos_token": "<bos>",
            "clean_up_tokenization_spaces": False,
            "eos_token": "<eos>",
            "model_max_length": 1000000000000000019884624838656,
            "pad_token": "<pad>",
            "sp_model_kwargs": {},
            "spaces_between_special_tokens": False,
            "tokenizer_class": "GemmaTokenizer",
            "unk_token": "<unk>",
            "use_default_system_prompt": False,
        },
    )
    rows = transformers_reference(folder, chat)
    write_jsonl(os.path.join(folder, "reference_transformers.jsonl"), rows)

    # GemmaTokenizer rebuilds normalizer, pre-tokenizer and decoder: a file without the space
    # normalizer (spaces would fall back to <0x20>) still gives the same ids through transformers.
    def no_normalizer(d):
        d["normalizer"] = None
        d["pre_tokenizer"] = {"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithPrevious", "invert": False}

    assert_same_ids_with_variant(folder, no_normalizer, rows)


LLMJP3_SPECIALS = ["<unk>", "<s>", "</s>", "<MASK|LLM-jp>", "<PAD|LLM-jp>", "<CLS|LLM-jp>", "<SEP|LLM-jp>", "<EOD|LLM-jp>"]


def llmjp3_style(processor, strings, chat):
    """llm-jp-3: the layout of its tokenizer.json (Unigram with byte_fallback, specials 0-7 then the
    <0xXX> pieces, Replace normalizers with the look-behind `(?<!\n)^`, no pre-tokenizer,
    ByteFallback/Replace/Fuse/Replace decoder) and tokenizer_config.json (PreTrainedTokenizerFast with
    add_bos_token, as in llm-jp-tokenizer's hf/ver3.0 configs). The pieces are rinna-style-unigram's."""
    folder = fresh("llmjp3-style-unigram")
    vocab = [(token, 0.0) for token in LLMJP3_SPECIALS] + [(f"<0x{b:02X}>", 0.0) for b in range(256)]
    for i in range(processor.get_piece_size()):
        if not (processor.is_control(i) or processor.is_unknown(i) or processor.is_byte(i) or processor.is_unused(i)):
            piece = processor.id_to_piece(i)
            if piece != "<NL>":
                vocab.append((piece, processor.get_score(i)))
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=0, byte_fallback=True))
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
    tokenizer.add_special_tokens(LLMJP3_SPECIALS)
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B:1", special_tokens=[("<s>", tokenizer.token_to_id("<s>"))]
    )
    tokenizer = save_tokenizer(tokenizer, folder)
    write_jsonl(os.path.join(folder, "reference.jsonl"), hf_reference(tokenizer, strings))
    write_json(os.path.join(folder, "config.json"), {"architectures": ["LlamaForCausalLM"], "model_type": "llama"})
    write_json(
        os.path.join(folder, "tokenizer_config.json"),
        {
            "add_bos_token": True,
            "add_eos_token": False,
            "unk_token": "<unk>",
            "bos_token": "<s>",
            "eos_token": "</s>",
            "pad_token": "<PAD|LLM-jp>",
            "cls_token": "<CLS|LLM-jp>",
            "sep_token": "<SEP|LLM-jp>",
            "eod_token": "</s>",
            "mask_token": "<MASK|LLM-jp>",
            "extra_ids": 0,
            "model_max_length": 1000000000000000019884624838656,
            "clean_up_tokenization_spaces": False,
            "tokenizer_class": "PreTrainedTokenizerFast",
        },
    )
    write_jsonl(os.path.join(folder, "reference_transformers.jsonl"), transformers_reference(folder, chat))


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


FIXTURES = [
    "opencalm-style-bpe",
    "rinna-style-unigram",
    "spm-bpe",
    "custom-charsmap-unigram",
    "llmjp-style-unigram",
    "llama-style-bpe",
    "llama-style-bpe:transformers",
    "llama3-style-bpe",
    "qwen2-style-bpe",
    "gemma-style-bpe",
    "llmjp3-style-unigram",
    "wordlevel-zoo",
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", default="../shared/corpus/ja_no_manpages.txt")
    parser.add_argument("--only", nargs="*", choices=FIXTURES, help="remake only these folders (default: all)")
    args = parser.parse_args()
    only = set(args.only or FIXTURES)
    corpus_lines = training_lines(args.corpus)
    strings = all_strings(args.corpus)
    chat = chat_strings(args.corpus)
    if "opencalm-style-bpe" in only:
        opencalm_style(corpus_lines, strings)
    # rinna's processor is also the vocabulary of the llm-jp fixtures; it is retrained (deterministically)
    # into a scratch folder when rinna-style-unigram itself is not being remade.
    processor = None
    if only & {"rinna-style-unigram", "llmjp-style-unigram", "llmjp3-style-unigram"}:
        if "rinna-style-unigram" in only:
            processor = rinna_style(corpus_lines, strings)
        else:
            processor = spm.SentencePieceProcessor(
                model_file=os.path.join(OUT, "rinna-style-unigram", "spiece.model")
            )
    if "spm-bpe" in only:
        spm_bpe(corpus_lines, strings)
    if "custom-charsmap-unigram" in only:
        custom_charsmap(corpus_lines, strings)
    if "llmjp-style-unigram" in only:
        llmjp_style(processor, strings)
    if "llama-style-bpe" in only:
        llama_style(corpus_lines, strings)
    if only & {"llama-style-bpe", "llama-style-bpe:transformers"}:
        llama_style_transformers(chat)
    if "llama3-style-bpe" in only:
        llama3_style(corpus_lines, strings, chat)
    if "qwen2-style-bpe" in only:
        qwen2_style(corpus_lines, strings, chat)
    if "gemma-style-bpe" in only:
        gemma_style(corpus_lines, strings, chat)
    if "llmjp3-style-unigram" in only:
        llmjp3_style(processor, strings, chat)
    if "wordlevel-zoo" in only:
        wordlevel_zoo(corpus_lines, strings)
    for root, _, files in os.walk(OUT):
        for name in files:
            size = os.path.getsize(os.path.join(root, name))
            assert size < 300_000, f"{os.path.join(root, name)} is {size} bytes"


if __name__ == "__main__":
    main()
