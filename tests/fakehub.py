"""A local stand-in for the Hugging Face hub (HF_ENDPOINT points at it): the model-info API
with file sizes and LFS checksums, and `resolve` downloads with HEAD, ranges (resume),
gating, an optional slow pace (to interrupt a download) and a recorded request log."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

COMMIT = "0123456789abcdef0123456789abcdef01234567"
SMALL = 10_000_000  # files above this are "LFS" files (checksummed with SHA-256), as on the hub


class FakeHub:
    def __init__(self) -> None:
        self.repos: dict[str, dict[str, bytes | Path]] = {}
        self.gated: set[str] = set()
        self.requests: list[dict] = []
        self.pace_s = 0.0  # sleep per 64 KiB sent: slow enough to interrupt
        self.corrupt: set[str] = set()  # files served with one byte flipped
        self.download_fault = ""  # "503", "garbage" or "stall": the listing answers, the file does not
        self.private: set[str] = set()  # repos created private
        self.commits = 0
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_HEAD(self):
                hub.serve(self, body=False)

            def do_GET(self):
                hub.serve(self, body=True)

            def do_POST(self):
                hub.serve_post(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def add(self, repo: str, files: dict[str, bytes | Path]) -> None:
        self.repos[repo] = files

    def serve_post(self, handler: BaseHTTPRequestHandler) -> None:
        _serve_post(self, handler)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _data(self, repo: str, name: str) -> bytes:
        item = self.repos[repo][name]
        data = item.read_bytes() if isinstance(item, Path) else item
        if name in self.corrupt:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        return data

    def _siblings(self, repo: str) -> list[dict]:
        siblings = []
        for name in self.repos[repo]:
            data = self._data(repo, name) if name not in self.corrupt else self._true(repo, name)
            entry = {"rfilename": name, "size": len(data), "blobId": _git_sha1(data)}
            if len(data) > SMALL or name.endswith(".safetensors"):
                entry["lfs"] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "pointerSize": 134}
            siblings.append(entry)
        return siblings

    def _tree(self, handler: BaseHTTPRequestHandler, repo: str, under: str, body: bool) -> None:
        """The repo's files (recursive listing, as newer huggingface_hub lists before a snapshot)."""
        entries = []
        for sibling in self._siblings(repo):
            if under and not sibling["rfilename"].startswith(under + "/"):
                continue
            entry = {"type": "file", "oid": sibling["blobId"], "size": sibling["size"], "path": sibling["rfilename"]}
            if "lfs" in sibling:
                entry["lfs"] = {"oid": sibling["lfs"]["sha256"], "size": sibling["size"], "pointerSize": 134}
            entries.append(entry)
        _reply(handler, 200, json.dumps(entries).encode(), {"Content-Type": "application/json"}, body)

    def _true(self, repo: str, name: str) -> bytes:
        item = self.repos[repo][name]
        return item.read_bytes() if isinstance(item, Path) else item

    def _etag(self, repo: str, name: str) -> str:
        data = self._true(repo, name)
        return hashlib.sha256(data).hexdigest() if len(data) > SMALL or name.endswith(".safetensors") else _git_sha1(data)

    def serve(self, handler: BaseHTTPRequestHandler, body: bool) -> None:
        path = handler.path.split("?", 1)[0]
        self.requests.append(
            {
                "method": handler.command,
                "path": path,
                "range": handler.headers.get("Range"),
                "auth": handler.headers.get("Authorization"),
            }
        )
        tree = re.match(r"^/api/models/([^/]+/[^/]+)/tree/[^/]+(?:/(.*))?$", path)
        if tree and tree.group(1) in self.repos:
            return self._tree(handler, tree.group(1), (tree.group(2) or "").strip("/"), body)
        info = re.match(r"^/api/models/([^/]+/[^/]+?)(?:/revision/([^/]+))?$", path)
        resolve = re.match(r"^/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$", path)
        repo = (info or resolve).group(1) if (info or resolve) else None
        if repo is None or repo not in self.repos:
            return _reply(handler, 404, b'{"error":"Repository not found"}', {"X-Error-Code": "RepoNotFound"})
        if repo in self.gated and not handler.headers.get("Authorization"):
            return _reply(
                handler,
                401,
                b'{"error":"Access to this model is restricted"}',
                {
                    "X-Error-Code": "GatedRepo",
                    "X-Error-Message": "Access to model is restricted and you are not in the authorized list.",
                },
            )
        if info:
            data = json.dumps(
                {
                    "id": repo,
                    "modelId": repo,
                    "sha": COMMIT,
                    "private": False,
                    "gated": False,
                    "disabled": False,
                    "tags": [],
                    "downloads": 0,
                    "likes": 0,
                    "siblings": self._siblings(repo),
                }
            ).encode()
            return _reply(handler, 200, data, {"Content-Type": "application/json"}, body)
        name = resolve.group(3)
        if self.download_fault == "503":
            return _reply(handler, 503, b'{"error":"Service Unavailable"}', {})
        if self.download_fault == "garbage":
            handler.wfile.write(b"\x00\x01 not http at all\r\n\r\n")
            handler.close_connection = True
            return
        if self.download_fault == "stall":
            time.sleep(30)
            return
        if name not in self.repos[repo]:
            return _reply(handler, 404, b'{"error":"Entry not found"}', {"X-Error-Code": "EntryNotFound"})
        data = self._data(repo, name)
        headers = {
            "X-Repo-Commit": COMMIT,
            "ETag": f'"{self._etag(repo, name)}"',
            "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream",
        }
        start = 0
        wanted = handler.headers.get("Range")
        if wanted and body:
            match = re.match(r"bytes=(\d+)-", wanted)
            start = int(match.group(1)) if match else 0
        if start:
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        chunk = data[start:]
        handler.send_response(206 if start else 200)
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(chunk) if body else len(data)))
        handler.end_headers()
        if not body:
            return
        try:
            for offset in range(0, len(chunk), 65536):
                handler.wfile.write(chunk[offset : offset + 65536])
                if self.pace_s:
                    time.sleep(self.pace_s)
        except (BrokenPipeError, ConnectionResetError):
            pass


def _serve_post(hub: FakeHub, handler: BaseHTTPRequestHandler) -> None:
    """The write side: creating a repo, and commits (every file uploaded inline, as the
    hub's commit API takes small files), so a mirror can be sent here and read back."""
    path = handler.path.split("?", 1)[0]
    data = handler.rfile.read(int(handler.headers.get("Content-Length", 0) or 0))
    hub.requests.append({"method": "POST", "path": path, "range": None, "auth": handler.headers.get("Authorization")})
    if path == "/api/repos/create":
        body = json.loads(data or b"{}")
        name = body.get("name", "")
        repo = name if "/" in name else f"{body.get('organization')}/{name}"
        hub.repos.setdefault(repo, {})
        if body.get("private") or body.get("visibility") == "private":
            hub.private.add(repo)
        return _reply(
            handler, 200, json.dumps({"url": f"{hub.url}/{repo}", "name": repo}).encode(), {"Content-Type": "application/json"}
        )
    preupload = re.match(r"^/api/models/([^/]+/[^/]+)/preupload/[^/]+$", path)
    if preupload:
        files = json.loads(data)["files"]
        answer = {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]}
        return _reply(handler, 200, json.dumps(answer).encode(), {"Content-Type": "application/json"})
    commit = re.match(r"^/api/models/([^/]+/[^/]+)/commit/[^/]+$", path)
    if commit and commit.group(1) in hub.repos:
        files = hub.repos[commit.group(1)]
        for line in data.decode().splitlines():
            entry = json.loads(line)
            value = entry.get("value", {})
            if entry.get("key") == "file":
                files[value["path"]] = base64.b64decode(value["content"])
            elif entry.get("key") == "deletedFile":
                files.pop(value["path"], None)
            elif entry.get("key") == "deletedFolder":
                for name in [n for n in files if n.startswith(value["path"].rstrip("/") + "/")]:
                    files.pop(name)
        hub.commits += 1
        answer = {"commitUrl": f"{hub.url}/{commit.group(1)}/commit/{COMMIT}", "commitOid": COMMIT, "pullRequestUrl": None}
        return _reply(handler, 200, json.dumps(answer).encode(), {"Content-Type": "application/json"})
    return _reply(handler, 404, b'{"error":"Not Found"}', {})


def _reply(handler, status: int, data: bytes, headers: dict, body: bool = True) -> None:
    handler.send_response(status)
    for key, value in headers.items():
        handler.send_header(key, value)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    if body:
        handler.wfile.write(data)


def _git_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class FaultServer:
    """A port that fails the way a rental's network does: `stall` accepts and never answers
    (a timeout), `garbage` answers something that is not HTTP, `status` answers with an HTTP
    error status (a hub or a proxy in trouble)."""

    def __init__(self, mode: str, status: int = 503) -> None:
        import socketserver

        self.mode, self.status = mode, status
        server = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                self.request.settimeout(30)
                try:
                    self.request.recv(65536)
                    if server.mode == "stall":
                        time.sleep(30)
                    elif server.mode == "garbage":
                        self.request.sendall(b"SSH-2.0-OpenSSH_9.6\r\n\x00\x01garbage\r\n\r\n")
                    else:
                        body = b'{"error":"upstream trouble"}'
                        reason = {407: "Proxy Authentication Required", 503: "Service Unavailable"}.get(server.status, "Error")
                        self.request.sendall(
                            f"HTTP/1.1 {server.status} {reason}\r\nContent-Type: application/json\r\n"
                            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                            + body
                        )
                except OSError:
                    pass

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def closed_port() -> int:
    """A local port nothing listens on: connecting is refused."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
