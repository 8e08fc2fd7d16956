"""Checks that huggingface_hub reads a cache written by `kataribe download`, offline.

    HF_HOME=... kataribe download ORG/NAME
    HF_HOME=... /work/venv/bin/python tools/check_hub_cache_with_python.py ORG/NAME

Runs huggingface_hub's scan_cache_dir (which raises on any layout it considers corrupt), then
snapshot_download and hf_hub_download with local_files_only=True for every file of the snapshot,
comparing the bytes, and try_to_load_from_cache on the optional files Kataribe marked absent.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main() -> None:
    repo_id = sys.argv[1]
    os.environ["HF_HUB_OFFLINE"] = "1"
    from huggingface_hub import hf_hub_download, scan_cache_dir, snapshot_download, try_to_load_from_cache
    from huggingface_hub.file_download import _CACHED_NO_EXIST

    info = scan_cache_dir()
    if info.warnings:
        raise SystemExit(f"scan_cache_dir warnings: {info.warnings}")
    repo = next(r for r in info.repos if r.repo_id == repo_id)
    print(f"scan_cache_dir: {repo.repo_id} {repo.size_on_disk_str}, revisions:",
          [(r.commit_hash[:12], sorted(r.refs), r.nb_files) for r in repo.revisions])

    folder = Path(snapshot_download(repo_id, local_files_only=True))
    print("snapshot_download(local_files_only=True):", folder)
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = file.relative_to(folder).as_posix()
        path = hf_hub_download(repo_id, name, local_files_only=True)
        assert Path(path).read_bytes() == file.read_bytes(), name
        print("  hf_hub_download ok:", name)
    no_exist = repo.repo_path / ".no_exist"
    for marker in sorted(no_exist.rglob("*")) if no_exist.exists() else []:
        if marker.is_file():
            assert try_to_load_from_cache(repo_id, marker.name) is _CACHED_NO_EXIST, marker
            print("  known absent:", marker.name)
    print("OK")


if __name__ == "__main__":
    main()
