"""Builds Tests/Fixtures/hub/python-cache: a Hugging Face cache made by huggingface_hub itself.

huggingface_hub's own snapshot_download and hf_hub_download fetch a tiny repository from the loopback fake
hub in hub_fake_server.py. KataribeHubTests then check that Kataribe reuses this cache as it is (offline
and online, without downloading again) and lays out the same repository identically.

    /work/venv/bin/python tools/make_hub_cache_fixture.py
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "Fixtures" / "hub" / "python-cache"
REPO_ID = "kataribe-test/tiny-neox"
COMMIT = "5b3c1f0e9d8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c"


def repository_files() -> dict[str, bytes]:
    import numpy as np
    from safetensors.numpy import save

    weights = {"gpt_neox.embed_in.weight": np.arange(12, dtype=np.float32).reshape(4, 3)}
    config = {"architectures": ["GPTNeoXForCausalLM"], "model_type": "gpt_neox", "hidden_size": 3, "vocab_size": 4}
    return {
        "config.json": json.dumps(config, indent=2).encode() + b"\n",
        "generation_config.json": b'{"bos_token_id": 0, "eos_token_id": 0}\n',
        "tokenizer_config.json": b'{"model_max_length": 2048}\n',
        "special_tokens_map.json": b'{"eos_token": "</s>"}\n',
        "model.safetensors": save(weights, metadata={"format": "pt"}),
    }


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from hub_fake_server import FakeHub, FakeRepo

    with tempfile.TemporaryDirectory() as home:
        os.environ["HF_HOME"] = home
        os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
        os.environ.pop("HF_TOKEN", None)
        from huggingface_hub import hf_hub_download, snapshot_download
        from huggingface_hub.errors import EntryNotFoundError

        files = repository_files()
        repo = FakeRepo(REPO_ID, COMMIT, files, lfs={"model.safetensors"}, refs={"main": COMMIT})
        cache = Path(home) / "hub"
        with FakeHub([repo]) as hub:
            folder = snapshot_download(REPO_ID, revision="main", cache_dir=cache, endpoint=hub.endpoint, token=False)
            try:
                # transformers asks for optional files like this; the miss is cached as a .no_exist marker.
                hf_hub_download(REPO_ID, "tokenizer.json", revision="main", cache_dir=cache, endpoint=hub.endpoint, token=False)
            except EntryNotFoundError:
                pass
        print("huggingface_hub placed the snapshot at", folder)

        if OUT.exists():
            shutil.rmtree(OUT)
        OUT.mkdir(parents=True)
        # The repository folder as huggingface_hub left it (symlinks kept). .locks and the tree listing
        # cache are huggingface_hub's private bookkeeping and not part of the layout under test.
        repo_folder = cache / f"models--{REPO_ID.replace('/', '--')}"
        shutil.copytree(repo_folder, OUT / repo_folder.name, symlinks=True, ignore=shutil.ignore_patterns("trees"))
        shutil.copy(cache / "CACHEDIR.TAG", OUT / "CACHEDIR.TAG")
    for path in sorted(OUT.rglob("*")):
        kind = f"-> {os.readlink(path)}" if path.is_symlink() else ("/" if path.is_dir() else f"{path.stat().st_size} B")
        print(path.relative_to(OUT), kind)


if __name__ == "__main__":
    main()
