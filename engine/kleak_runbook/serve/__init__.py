"""``kleak-runbook serve``: the chat-ops and ticket service (FastAPI on uvicorn, huey queue).

Nothing here is imported by ``run``; the service's libraries are the ``serve`` extra and are
imported only once ``serve`` is asked for.
"""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path
from typing import Any

from kleak_runbook.errors import UsageError

NEEDS = ("fastapi", "uvicorn", "huey", "prometheus_client", "multipart", "markdown_it")
MISSING = "kleak-runbook serve needs its extra: pip install 'kleak-runbook[serve]'"


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    sp = sub.add_parser("serve", help="the chat-ops and ticket service (Alertmanager, Slack, Jira, GitHub, API)")
    sp.add_argument("--listen", default="127.0.0.1:8080", metavar="HOST:PORT", help="default 127.0.0.1:8080")
    sp.add_argument("--config", type=Path, help="YAML settings; the environment overrides them (README)")
    sp.add_argument("--state-dir", type=Path, help="queue, run records, reports and audit log (default ./kleak-serve)")


def listen_address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--listen {text[:60]}: expected HOST:PORT, e.g. 127.0.0.1:8080")
    return host, int(port)


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, made here so a busy port is one line and exit 2, not a uvicorn traceback."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"--listen {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(256)
    return sock


def main(args: argparse.Namespace) -> int:
    try:
        for name in NEEDS:
            __import__(name)
    except ImportError:
        sys.stderr.write(f"kleak-runbook: {MISSING}\n")
        return 2
    from kleak_runbook.serve.server import serve

    host, port = listen_address(args.listen)
    return serve(host, port, args.config, args.state_dir, bind)
