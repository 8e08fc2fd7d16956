"""The demo models' training text: permissively licensed slices of ../shared/corpus/ja.txt.

ja.txt is the concatenation of the sources in the order of stats.json, one paragraph per line, so a
source is a line range. Both models use the same train / held-out split so that their per-character
perplexities are measured on exactly the same text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CORPUS_DIR = REPO_ROOT.parent / "shared" / "corpus"

# Sources we train on, with the licence that allows shipping a model trained on them.
# Left out on purpose: the GPL-only Debian manuals (debian-reference, developers-reference, policy,
# aptitude-doc) and the man pages (per-page licences, terse reference style).
PERMISSIVE_SOURCES: dict[str, str] = {
    "aozora-wagahaiwa-nekodearu": "public domain (Natsume Soseki, d. 1916; Aozora Bunko text)",
    "maint-guide-ja": "GPL-2+ or MIT (dual licence; used under MIT)",
    "debian-faq-ja": "Debian FAQ licence (permissive verbatim/modified copying, GPL-compatible)",
    "debian-handbook-ja": "GPL-2.0+ or CC-BY-SA-3.0 (used under CC-BY-SA-3.0)",
    "libreoffice-help-ja": "MPL-2.0",
}

# Held-out evaluation text: every 20th block of 40 consecutive lines (5 %), so that every source is
# represented and neighbouring near-duplicate paragraphs mostly stay on one side of the split.
HELDOUT_BLOCK_LINES = 40
HELDOUT_EVERY = 20
HELDOUT_PHASE = 7
# The FAQ source is entirely training text: its Q&A pairs are the SFT data, so any held-out FAQ line
# would be seen again during SFT.
NO_HELDOUT_SOURCES = {"debian-faq-ja"}


@dataclass(frozen=True)
class Line:
    source: str
    index: int  # line number in ja.txt (0-based)
    text: str


@dataclass(frozen=True)
class Split:
    train: list[Line]
    heldout: list[Line]


def source_ranges(corpus_dir: Path) -> dict[str, tuple[int, int]]:
    """Line range [start, end) of each source in ja.txt, from stats.json."""
    stats = json.loads((corpus_dir / "stats.json").read_text(encoding="utf-8"))
    ranges, start = {}, 0
    for name, info in stats.items():
        if name.startswith("_"):
            continue
        ranges[name] = (start, start + info["lines"])
        start += info["lines"]
    return ranges


def load_split(corpus_dir: Path = DEFAULT_CORPUS_DIR) -> Split:
    lines = (corpus_dir / "ja.txt").read_text(encoding="utf-8").split("\n")
    ranges = source_ranges(corpus_dir)
    stats = json.loads((corpus_dir / "stats.json").read_text(encoding="utf-8"))
    train, heldout = [], []
    for name in PERMISSIVE_SOURCES:
        start, end = ranges[name]
        chars = sum(len(t) for t in lines[start:end])
        if chars != stats[name]["chars"]:
            raise SystemExit(f"{corpus_dir}/ja.txt: source {name} has {chars} chars, stats.json says "
                             f"{stats[name]['chars']}; the corpus layout changed")
        for i in range(start, end):
            block = (i - start) // HELDOUT_BLOCK_LINES
            is_heldout = name not in NO_HELDOUT_SOURCES and block % HELDOUT_EVERY == HELDOUT_PHASE
            (heldout if is_heldout else train).append(Line(name, i, lines[i]))
    return Split(train, heldout)


def load_faq(corpus_dir: Path = DEFAULT_CORPUS_DIR) -> list[dict]:
    with (corpus_dir / "faq_ja.jsonl").open(encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


def describe(split: Split) -> dict:
    """Line and character counts per source and side, for the model cards."""
    out: dict[str, dict] = {}
    for side, rows in (("train", split.train), ("heldout", split.heldout)):
        for line in rows:
            entry = out.setdefault(line.source, {"licence": PERMISSIVE_SOURCES[line.source]})
            entry[f"{side}_lines"] = entry.get(f"{side}_lines", 0) + 1
            entry[f"{side}_chars"] = entry.get(f"{side}_chars", 0) + len(line.text)
    return out


if __name__ == "__main__":
    s = load_split()
    print(json.dumps(describe(s), ensure_ascii=False, indent=1))
    print("train", len(s.train), sum(len(l.text) for l in s.train),
          "heldout", len(s.heldout), sum(len(l.text) for l in s.heldout))
