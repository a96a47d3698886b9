"""The machinery shared by the stand-in API servers: a real ``ThreadingHTTPServer`` on an
ephemeral 127.0.0.1 port that records every call, checks it against the service's contract
(each subclass's ``handle``), and can be told to misbehave (answer 500 or 429, or stall).

A contract break is recorded in ``violations`` *and* answered the way the real service answers
it, so a client that ignores the answer is still caught by the test's ``assert_clean()``.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

MAX_BODY = 64 * 1024 * 1024
S = TypeVar("S", bound="StandIn")


@dataclass(frozen=True)
class Part:
    """One part of a multipart/form-data body."""

    name: str | None
    filename: str | None
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    @property
    def content_type(self) -> str:
        return (self.header("Content-Type") or "").split(";")[0].strip().lower()

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    def form(self) -> dict[str, str]:
        """Form fields (urlencoded body, then the query string), first value of each."""
        fields = {k: v[0] for k, v in self.query.items()}
        if self.content_type == "application/x-www-form-urlencoded":
            fields.update({k: v[0] for k, v in parse_qs(self.body.decode("utf-8"), keep_blank_values=True).items()})
        elif self.content_type == "multipart/form-data":
            fields.update(
                {p.name: p.data.decode("utf-8", "replace") for p in self.parts() if p.name and not p.filename}
            )
        return fields

    def parts(self) -> list[Part]:
        if self.content_type != "multipart/form-data":
            return []
        head = f"Content-Type: {self.header('Content-Type')}\r\n\r\n".encode()
        msg = BytesParser(policy=HTTP).parsebytes(head + self.body)
        out = []
        for part in msg.iter_parts():
            payload = part.get_payload(decode=True)
            out.append(
                Part(
                    name=part.get_param("name", header="content-disposition"),  # type: ignore[arg-type]
                    filename=part.get_filename(),
                    content_type=part.get_content_type(),
                    data=payload if isinstance(payload, bytes) else b"",
                )
            )
        return out


@dataclass
class Reply:
    status: int
    body: Any = None  # dict/list → JSON; str/bytes → as is
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> tuple[bytes, str]:
        if isinstance(self.body, (dict, list)):
            return json.dumps(self.body).encode(), "application/json; charset=utf-8"
        if isinstance(self.body, bytes):
            return self.body, "application/octet-stream"
        return str(self.body or "").encode(), "text/plain; charset=utf-8"


@dataclass
class Fault:
    reply: Reply
    times: int
    path_prefix: str


class StandIn:
    """Subclasses set ``service`` and implement ``handle(call) -> Reply``."""

    service = "stand-in"

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.violations: list[str] = []
        self.delay_s = 0.0  # a slow server: every answer waits this long
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # --- what tests use
    @property
    def url(self) -> str:
        assert self._server is not None, "stand-in not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def fail(self, status: int, *, times: int = 1, body: Any = None, headers: dict[str, str] | None = None,
             path_prefix: str = "") -> None:  # fmt: skip
        """Answer the next ``times`` calls (under ``path_prefix``) with ``status`` instead."""
        with self._lock:
            self._faults.append(Fault(Reply(status, body, headers or {}), times, path_prefix))

    def assert_clean(self) -> None:
        assert not self.violations, f"{self.service} contract violations: {self.violations}"

    def env(self) -> dict[str, str]:
        """The KLEAK_* variables that point kleak-runbook at this stand-in."""
        return {}

    # --- for subclasses
    def violation(self, call: Call, message: str) -> None:
        with self._lock:
            self.violations.append(f"{call.method} {call.path}: {message}")

    def handle(self, call: Call) -> Reply:
        raise NotImplementedError

    # --- plumbing
    def start(self: S) -> S:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
                pass

            def _serve(self) -> None:
                standin._serve(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False  # a stalled answer must not hold up the test's teardown
        threading.Thread(target=self._server.serve_forever, name=f"standin-{self.service}", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _take_fault(self, path: str) -> Reply | None:
        with self._lock:
            for fault in self._faults:
                if fault.times > 0 and path.startswith(fault.path_prefix):
                    fault.times -= 1
                    return fault.reply
        return None

    def _read_body(self, h: BaseHTTPRequestHandler) -> bytes:
        if (h.headers.get("Transfer-Encoding") or "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(h.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    h.rfile.readline()
                    return b"".join(chunks)
                chunks.append(h.rfile.read(size))
                h.rfile.readline()
        length = int(h.headers.get("Content-Length") or 0)
        return h.rfile.read(min(length, MAX_BODY))

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        call = Call(h.command, parts.path, parse_qs(parts.query, keep_blank_values=True), h.headers, self._read_body(h))
        with self._lock:
            self.calls.append(call)
        if self.delay_s:
            time.sleep(self.delay_s)
        reply = self._take_fault(call.path)
        if reply is None:
            try:
                reply = self.handle(call)
            except Exception as exc:  # a stand-in bug must show as a failure, not a hang
                self.violation(call, f"stand-in could not handle the call: {type(exc).__name__}: {exc}")
                reply = Reply(500, {"error": "stand-in error"})
        body, ctype = reply.encoded()
        try:
            h.send_response(reply.status)
            h.send_header("Content-Type", reply.headers.get("Content-Type", ctype))
            h.send_header("Content-Length", str(len(body)))
            for k, v in reply.headers.items():
                if k.lower() != "content-type":
                    h.send_header(k, v)
            h.end_headers()
            h.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout tests)
            pass
