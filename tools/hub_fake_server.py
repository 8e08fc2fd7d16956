"""A loopback stand-in for the Hugging Face Hub, for checking cache interoperability with huggingface_hub.

It serves one or more in-memory repositories with the hub's protocol as huggingface_hub uses it:
  GET  /api/models/{repo}/revision/{rev}           model info (sha, siblings)
  GET  /api/models/{repo}/tree/{rev}?recursive=..  file listing (huggingface_hub >= 1.x snapshot_download)
  HEAD/GET /{repo}/resolve/{rev}/{path}           X-Repo-Commit, ETag / X-Linked-Etag, X-Linked-Size;
                                                   LFS files redirect to /cdn/{sha256} on a second port
  GET  /cdn/{sha256}                               the bytes, with Range support

Used by make_hub_cache_fixture.py (to let huggingface_hub itself build a cache fixture) and, with --serve,
to run `kataribe download` against it by hand. Binds to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def git_blob_sha1(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


@dataclass
class FakeRepo:
    repo_id: str
    commit: str
    files: dict[str, bytes]
    lfs: set[str]
    refs: dict[str, str] = field(default_factory=dict)

    def resolve(self, revision: str) -> str | None:
        if revision == self.commit:
            return self.commit
        return self.refs.get(revision)


class FakeHub:
    def __init__(self, repos: list[FakeRepo]):
        self.repos = {repo.repo_id: repo for repo in repos}
        self.requests: list[tuple[str, str]] = []
        self.hub = ThreadingHTTPServer(("127.0.0.1", 0), self._handler(is_cdn=False))
        self.cdn = ThreadingHTTPServer(("127.0.0.1", 0), self._handler(is_cdn=True))
        self.threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (self.hub, self.cdn)]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.hub.server_address[1]}"

    @property
    def cdn_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.cdn.server_address[1]}"

    def __enter__(self) -> "FakeHub":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        for server in (self.hub, self.cdn):
            server.shutdown()
            server.server_close()

    def _handler(self, is_cdn: bool):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def do_HEAD(self) -> None:
                self._serve(head=True)

            def do_GET(self) -> None:
                self._serve(head=False)

            def _reply(self, status: int, headers: dict[str, str], body: bytes, head: bool) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    if name != "Content-Length":
                        self.send_header(name, value)
                self.send_header("Content-Length", headers.get("Content-Length", str(len(body))))
                self.end_headers()
                if not head and body:
                    self.wfile.write(body)

            def _serve(self, head: bool) -> None:
                hub.requests.append((self.command, self.path))
                parsed = urllib.parse.urlsplit(self.path)
                path = parsed.path
                if is_cdn:
                    return self._serve_cdn(path, head)
                match = re.fullmatch(r"/api/models/([^/]+/[^/]+)/(revision|tree)/([^/]+)", path)
                if match:
                    return self._serve_api(match.group(1), match.group(2), urllib.parse.unquote(match.group(3)), head)
                match = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
                if match:
                    return self._serve_resolve(
                        match.group(1), urllib.parse.unquote(match.group(2)), urllib.parse.unquote(match.group(3)), head
                    )
                self._reply(404, {}, b"not found", head)

            def _serve_api(self, repo_id: str, kind: str, revision: str, head: bool) -> None:
                repo = hub.repos.get(repo_id)
                if repo is None:
                    return self._reply(401, {"X-Error-Code": "RepoNotFound"}, b"{}", head)
                commit = repo.resolve(revision)
                if commit is None:
                    return self._reply(404, {"X-Error-Code": "RevisionNotFound"}, b"{}", head)
                if kind == "revision":
                    body = {"id": repo_id, "sha": commit, "siblings": [{"rfilename": p} for p in sorted(repo.files)]}
                else:
                    body = []
                    for name in sorted(repo.files):
                        content = repo.files[name]
                        entry = {"type": "file", "path": name, "size": len(content), "oid": git_blob_sha1(content)}
                        if name in repo.lfs:
                            entry["lfs"] = {"oid": hashlib.sha256(content).hexdigest(), "size": len(content), "pointerSize": 134}
                        body.append(entry)
                self._reply(200, {"Content-Type": "application/json"}, json.dumps(body).encode(), head)

            def _serve_resolve(self, repo_id: str, revision: str, name: str, head: bool) -> None:
                repo = hub.repos.get(repo_id)
                if repo is None:
                    return self._reply(401, {"X-Error-Code": "RepoNotFound"}, b"", head)
                commit = repo.resolve(revision)
                if commit is None:
                    return self._reply(404, {"X-Error-Code": "RevisionNotFound"}, b"", head)
                if name not in repo.files:
                    return self._reply(404, {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": commit}, b"", head)
                content = repo.files[name]
                if name in repo.lfs:
                    sha = hashlib.sha256(content).hexdigest()
                    return self._reply(302, {
                        "X-Repo-Commit": commit,
                        "X-Linked-Etag": f'"{sha}"',
                        "X-Linked-Size": str(len(content)),
                        "ETag": f'"{git_blob_sha1(content)}"',
                        "Location": f"{hub.cdn_endpoint}/cdn/{sha}?signed=1",
                        "Content-Length": "0",
                    }, b"", head)
                self._reply(200, {"X-Repo-Commit": commit, "ETag": f'"{git_blob_sha1(content)}"'}, content, head)

            def _serve_cdn(self, path: str, head: bool) -> None:
                sha = path.rsplit("/", 1)[-1]
                for repo in hub.repos.values():
                    for name, content in repo.files.items():
                        if hashlib.sha256(content).hexdigest() == sha:
                            start = 0
                            match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
                            if match:
                                start = int(match.group(1))
                                return self._reply(206, {
                                    "Content-Range": f"bytes {start}-{len(content) - 1}/{len(content)}"
                                }, content[start:], head)
                            return self._reply(200, {}, content, head)
                self._reply(404, {}, b"", head)

        return Handler


def load_repo_from_folder(repo_id: str, commit: str, folder: Path, lfs_suffixes: tuple[str, ...]) -> FakeRepo:
    files = {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
    lfs = {name for name in files if name.endswith(lfs_suffixes)}
    return FakeRepo(repo_id, commit, files, lfs, refs={"main": commit})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", required=True, help="a folder whose files form the repository")
    parser.add_argument("--repo", default="kataribe-test/tiny-neox")
    parser.add_argument("--commit", default="0123456789abcdef0123456789abcdef01234567")
    args = parser.parse_args()
    repo = load_repo_from_folder(args.repo, args.commit, Path(args.serve), (".safetensors", ".bin", ".model"))
    with FakeHub([repo]) as hub:
        print(f"HF_ENDPOINT={hub.endpoint}", flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
