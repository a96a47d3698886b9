"""A bearer token, as a real deployment checks it: Prometheus has no token auth of its own, so
sites put an authenticating reverse proxy in front of it (oauth2-proxy, nginx). Here that proxy is
a few lines on loopback that refuse any request without ``Authorization: Bearer <token>`` (401,
as such proxies answer) and pass the rest, unchanged, to a real Prometheus holding a week of
SYNTHETIC history (tests/history/conftest.py). The token comes from a file; it never reaches a
command line, stdout, stderr or the report directory."""

from __future__ import annotations

import os
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from support.cli import run_kleak

from history.conftest import Prom

TOKEN = "kleak-bearer-4d1c9e"


class AuthProxy:
    """Loopback proxy: checks the bearer token, forwards GET and POST to ``upstream``."""

    def __init__(self, upstream: str) -> None:
        self.seen: list[str] = []  # the Authorization header of every request, as received
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                proxy.seen.append(self.headers.get("Authorization", ""))
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", "Bearer")
                    self.end_headers()
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                req = urllib.request.Request(upstream + self.path, data=body, method=self.command)
                if self.headers.get("Content-Type"):
                    req.add_header("Content-Type", self.headers["Content-Type"])
                try:
                    with urllib.request.urlopen(req, timeout=60) as resp:
                        status, data, ctype = resp.status, resp.read(), resp.headers.get("Content-Type", "")
                except urllib.error.HTTPError as exc:
                    status, data, ctype = exc.code, exc.read(), exc.headers.get("Content-Type", "")
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = _forward
            do_POST = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(leak_prometheus: Prom) -> Iterator[AuthProxy]:
    p = AuthProxy(leak_prometheus.url)
    try:
        yield p
    finally:
        p.close()


def _run(tmp_path: Path, url: str, **env: str) -> tuple[Any, dict[str, Any]]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("KLEAK_PROMETHEUS")}
    out = tmp_path / "r"
    run = run_kleak(
        "run", "--host", "localhost", "--samples", "2", "--interval", "1", "--no-baseline", "--format", "json",
        "--quiet", "--out", str(out), "--prometheus", url,
        env={**base, **env}, cwd=tmp_path,
    )  # fmt: skip
    for path in out.rglob("*"):
        if path.is_file():
            assert TOKEN not in path.read_text(errors="replace"), path
    assert TOKEN not in run.stdout + run.stderr
    return run, run.json()


def test_a_bearer_token_from_a_file_reaches_prometheus_behind_its_proxy(tmp_path: Path, proxy: AuthProxy) -> None:
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    run, doc = _run(tmp_path, proxy.url, KLEAK_PROMETHEUS_TOKEN_FILE=str(token))
    assert proxy.seen and all(h == f"Bearer {TOKEN}" for h in proxy.seen), proxy.seen
    assert doc.get("history", {}).get("source") == "prometheus", run.explain()
    assert not [g for g in doc["evidence_gaps"] if g["item"] == "prometheus"]


def test_a_wrong_token_is_a_gap_and_the_live_verdict_stands(tmp_path: Path, proxy: AuthProxy) -> None:
    run, doc = _run(tmp_path, proxy.url, KLEAK_PROMETHEUS_TOKEN="not-" + TOKEN)
    gaps = [g for g in doc["evidence_gaps"] if g["item"] == "prometheus"]
    assert gaps and "credentials refused" in gaps[0]["reason"], run.explain()
    assert "history" not in doc and doc["verdict"] in ("no-leak", "leak", "suspected-leak")
