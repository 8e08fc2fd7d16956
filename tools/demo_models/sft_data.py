"""Instruction-tuning data for demo-rinna-sft, in rinna's chat format.

A sample is `ユーザー: {instruction}<NL>システム: {answer}</s>`, newlines inside an utterance written as
<NL>. Sources (all from the training split or the FAQ, never the held-out text):

  faq      the 118 Q&A pairs of faq_ja.jsonl (Debian FAQ headings that are questions + their section),
           repeated FAQ_REPEAT times since they are the only human-written Q&A.
  story    「{opening}」から始まる物語を考えてください。 -> an Aozora paragraph that starts with that opening.
  howto    {X}方法を教えてください。 -> a LibreOffice help / handbook paragraph "{X}には、…".
  explain  「{X}」について説明してください。 -> a handbook / maint-guide / LibreOffice paragraph "{X}は、…".
  reply    「{A}」と言われました。返事を考えてください。 -> {B}, where 「A」「B」 are consecutive lines of
           dialogue in one Aozora paragraph.

The instruction templates are ours; every answer is corpus text, unchanged.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

import corpus
from common import NL, SEED, rinna_chat_prompt

FAQ_REPEAT = 3
PER_KIND_LIMIT = 400

STORY_TEMPLATES = ["「{x}」から始まる物語を考えてください。", "「{x}」で始まる短いお話を書いてください。",
                   "「{x}」という書き出しで物語を書いてください。"]
HOWTO_TEMPLATES = ["{x}方法を教えてください。", "{x}にはどうすればよいですか?", "{x}手順を説明してください。"]
EXPLAIN_TEMPLATES = ["「{x}」について説明してください。", "{x}とは何ですか?", "{x}について教えてください。"]
REPLY_TEMPLATES = ["「{x}」と言われました。返事を考えてください。", "「{x}」というメッセージに返信の文面を考えてください。",
                   "友人から「{x}」と言われました。どう返事をしますか?"]


@dataclass(frozen=True)
class Sample:
    kind: str
    instruction: str
    answer: str


def _story(lines: list[corpus.Line], rng: random.Random) -> list[Sample]:
    out = []
    for line in lines:
        m = re.match(r"^([^、。「」]{3,20})[、。]", line.text)
        if m and not line.text.startswith("「") and len(line.text) >= 40:
            out.append(Sample("story", rng.choice(STORY_TEMPLATES).format(x=m.group(1)), line.text))
    return out


def _howto(lines: list[corpus.Line], rng: random.Random) -> list[Sample]:
    out = []
    for line in lines:
        m = re.match(r"^([^、。「」\[\]]{4,30}?[るすくうむぶぐつ])には、", line.text)
        if m and len(line.text) >= 30:
            out.append(Sample("howto", rng.choice(HOWTO_TEMPLATES).format(x=m.group(1)), line.text))
    return out


def _explain(lines: list[corpus.Line], rng: random.Random) -> list[Sample]:
    out = []
    for line in lines:
        m = re.match(r"^([^、。「」()（）\s]{2,12}|[A-Za-z][\w\-. ]{1,20})は、", line.text)
        if not m or re.match(r"^(この|その|これ|それ|あの|次|以下|下記|上記|通常|現在|今回|多く|一般)", m.group(1)):
            continue
        if re.search(r"([\u3040-\u309f]|場合|時)$", m.group(1)):  # "…には、", "…場合は、": not a topic
            continue
        if len(line.text) >= 40:
            out.append(Sample("explain", rng.choice(EXPLAIN_TEMPLATES).format(x=m.group(1).strip()), line.text))
    return out


def _reply(lines: list[corpus.Line], rng: random.Random) -> list[Sample]:
    """「A」 followed by 「B」: two quotes in a row inside a paragraph, or a paragraph that opens with a
    quote right after one that does."""
    out = []
    for prev, line in zip([None] + lines, lines):
        inline = re.match(r"^「([^「」]{4,80})」「([^「」]{4,160})」", line.text)
        if inline:
            a, b = inline.groups()
        else:
            ma = prev and prev.index + 1 == line.index and re.match(r"^「([^「」]{4,80})」", prev.text)
            mb = re.match(r"^「([^「」]{4,160})」", line.text)
            if not (ma and mb):
                continue
            a, b = ma.group(1), mb.group(1)
        out.append(Sample("reply", rng.choice(REPLY_TEMPLATES).format(x=a), b))
    return out


def is_english_prose(paragraph: str) -> bool:
    """No kana and a run of eight English words: a paragraph the Japanese FAQ left untranslated."""
    return not re.search(r"[\u3040-\u30ff]", paragraph) and bool(
        re.search(r"[A-Za-z]+(?:[ ,']+[A-Za-z]+){7,}", paragraph))


def japanese_part(answer: str) -> str:
    """The answer's paragraphs before its first untranslated one ("" when it starts in English), so
    that the model is not taught to switch into English."""
    kept = []
    for paragraph in answer.split("\n"):
        if is_english_prose(paragraph):
            break
        kept.append(paragraph)
    return "\n".join(kept).strip()


def build_samples(split: corpus.Split, faq: list[dict]) -> list[Sample]:
    rng = random.Random(SEED)
    samples = [Sample("faq", q["question"], a) for q in faq if (a := japanese_part(q["answer"]))
               for _ in range(FAQ_REPEAT)]
    by_source: dict[str, list[corpus.Line]] = {}
    for line in split.train:
        by_source.setdefault(line.source, []).append(line)
    aozora = by_source["aozora-wagahaiwa-nekodearu"]
    docs = by_source["debian-handbook-ja"] + by_source["maint-guide-ja"] + by_source["libreoffice-help-ja"]
    for kind in (_story(aozora, rng), _howto(docs, rng), _explain(docs, rng), _reply(aozora, rng)):
        rng.shuffle(kind)
        samples.extend(kind[:PER_KIND_LIMIT])
    return samples


def summary(samples: list[Sample]) -> str:
    counts: dict[str, int] = {}
    for s in samples:
        counts[s.kind] = counts.get(s.kind, 0) + 1
    return ", ".join(f"{k} {v}" for k, v in counts.items())


def encode_sample(tok, sample: Sample, context: int) -> tuple[list[int], list[bool]]:
    """Token ids and loss mask (True on answer tokens and </s>).

    The prompt is tokenized on its own, exactly as it will be at inference, and the answer after it,
    so the prompt's ids are always a prefix of the sample's. An answer too long for the window loses
    whole trailing paragraphs first, then trailing sentences, and keeps its </s> whenever that fits."""
    prompt = tok.encode(rinna_chat_prompt([("ユーザー", sample.instruction)]))
    budget = context - len(prompt) - 1
    paragraphs = sample.answer.split("\n")
    answer = tok.encode(NL.join(paragraphs))
    while len(answer) > budget and len(paragraphs) > 1:
        paragraphs.pop()
        answer = tok.encode(NL.join(paragraphs))
    text = NL.join(paragraphs)
    while len(answer) > budget and "。" in text[:-1]:
        text = text[: text[:-1].rindex("。") + 1]
        answer = tok.encode(text)
    ids = prompt + answer[:budget] + ([tok.eos_id] if len(answer) <= budget else [])
    mask = [False] * len(prompt) + [True] * (len(ids) - len(prompt))
    return ids, mask


if __name__ == "__main__":
    from collections import Counter

    from common import RINNA_DIR, RinnaTokenizer

    split = corpus.load_split()
    samples = build_samples(split, corpus.load_faq())
    print(summary(samples))
    tok = RinnaTokenizer(RINNA_DIR)
    rng = random.Random(0)
    for s in rng.sample(samples, 8):
        print(f"[{s.kind}] {s.instruction} -> {s.answer[:60]}")
    enc = [encode_sample(tok, s, 256) for s in samples]
    print("with </s>:", sum(ids[-1] == tok.eos_id for ids, _ in enc), "of", len(enc),
          "mean length", sum(len(i) for i, _ in enc) / len(enc))
    # How often would tokenizing the whole sample string differ from prompt ids + answer ids?
    differ = Counter()
    for s in samples:
        prompt = rinna_chat_prompt([("ユーザー", s.instruction)])
        whole = tok.encode(prompt + s.answer.replace("\n", NL))
        differ[s.kind] += whole[: len(tok.encode(prompt))] != tok.encode(prompt)
    print("prompt not a prefix of whole-string tokenization:", dict(differ))
