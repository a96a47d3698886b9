"""Fixtures for the serve tests: a real server (uvicorn in a subprocess) with test settings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from serve.harness import API_TOKEN, GITHUB_SECRET, JIRA_SECRET, SLACK_SECRET, Server

# Runs are one sample: the verdict is not the point here, the plumbing is.
QUICK = {"runs": {"samples": 1, "interval": 0}}


def base_env() -> dict[str, str]:
    return {
        "KLEAK_SLACK_SIGNING_SECRET": SLACK_SECRET,
        "KLEAK_SERVE_HOSTS": "localhost,127.0.0.2,db*",
        "KLEAK_API_TOKEN": API_TOKEN,
        "KLEAK_GITHUB_WEBHOOK_SECRET": GITHUB_SECRET,
        "KLEAK_JIRA_WEBHOOK_SECRET": JIRA_SECRET,
    }


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """``make_server(env=..., config=...)``: a started server; stopped at the end of the test."""
    servers: list[Server] = []

    def make(
        env: dict[str, str] | None = None, config: dict[str, Any] | None = None, start: bool = True, bare: bool = False
    ) -> Server:
        """``bare``: no --config at all (the Contract's start from the environment alone)."""
        settings = None if bare else {**QUICK, **(config or {})}
        server = Server(tmp_path / f"s{len(servers)}", {**base_env(), **(env or {})}, settings)
        servers.append(server)
        return server.start() if start else server

    yield make
    for server in servers:
        if server.proc is not None and server.proc.poll() is None:
            server.stop()
        server.client.close()
