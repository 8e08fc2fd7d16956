#!/usr/bin/env python3
"""Single-thread encode speed of the reference libraries on a corpus (one encode call per line).

Usage:
  python tools/tokenizers/bench_reference.py --corpus ../shared/corpus/ja.txt \
      --hf ../shared/tokenizers/synth-opencalm-style-bytelevel-bpe-hf/tokenizer.json \
      --spm ../shared/tokenizers/synth-rinna-style-unigram-spm/synth-rinna-style-unigram.model \
      [--repeat 3]

Prints one line per tokenizer: best CPU and wall seconds over --repeat runs, MiB/s (of CPU time, the
unit the Swift benchmark prints) and the total token count, which the Swift benchmark (`kataribe
tokenize --benchmark`) must reproduce.
"""
import argparse
import os
import time

# The Rust library would otherwise use a thread pool for some calls; the comparison is single-thread.
os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"


def best_of(repeat, fn):
    """Best wall and best CPU seconds over `repeat` runs. CPU time is the fairer figure on a shared
    machine: wall time also counts the time other processes hold the cores."""
    best_wall, best_cpu, result = None, None, None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        best_wall = wall if best_wall is None else min(best_wall, wall)
        best_cpu = cpu if best_cpu is None else min(best_cpu, cpu)
    return best_wall, best_cpu, result


def report(library, path, wall, cpu, size_mib, count):
    print(
        f"{library} {os.path.basename(os.path.dirname(path))}/{os.path.basename(path)}: "
        f"cpu {cpu:.3f} s ({size_mib / cpu:.2f} MiB/s)  wall {wall:.3f} s  tokens={count}",
        flush=True,
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--hf", action="append", default=[], help="tokenizer.json (repeatable)")
    parser.add_argument("--spm", action="append", default=[], help="SentencePiece .model (repeatable)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with open(args.corpus, encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    size_mib = sum(len(line.encode("utf-8")) for line in lines) / (1 << 20)

    for path in args.hf:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(path)
        wall, cpu, count = best_of(
            args.repeat, lambda: sum(len(tokenizer.encode(line, add_special_tokens=False).ids) for line in lines)
        )
        report("tokenizers", path, wall, cpu, size_mib, count)

    for path in args.spm:
        import sentencepiece

        processor = sentencepiece.SentencePieceProcessor(model_file=path)
        wall, cpu, count = best_of(args.repeat, lambda: sum(len(processor.encode(line)) for line in lines))
        report("sentencepiece", path, wall, cpu, size_mib, count)


if __name__ == "__main__":
    main()
