"""Start-up: settings, state directory, the app, and uvicorn on the socket ``serve`` bound."""

from __future__ import annotations

import os
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path

import uvicorn

from kleak_runbook.deliver.targets import DeliverSettings
from kleak_runbook.errors import UsageError
from kleak_runbook.serve import settings as settings_mod
from kleak_runbook.serve.app import create_app
from kleak_runbook.serve.policy import Refused
from kleak_runbook.serve.protocol import with_head_deadline


def serve(
    host: str, port: int, config: Path | None, state_dir: Path | None, bind: Callable[[str, int], socket.socket]
) -> int:
    settings = settings_mod.load(config, state_dir=state_dir)
    if not settings.hosts:
        raise UsageError("no hosts may be run: set KLEAK_SERVE_HOSTS or hosts: in --config")
    try:
        settings.state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"state dir {settings.state_dir}: {exc.strerror or exc}") from None
    if not os.access(settings.state_dir, os.W_OK | os.X_OK):
        raise UsageError(f"state dir {settings.state_dir}: not writable")
    DeliverSettings.from_env()  # a bad delivery setting stops the server now, not at the first reply
    shown = f"[{host}]" if ":" in host else host
    base_url = settings.base_url or f"http://{shown}:{port}"
    sock = bind(host, port)
    # the node names this serving machine in run records: stable across its restarts
    app = create_app(settings, base_url, f"{socket.gethostname()}:{port}")
    sys.stderr.write(f"kleak-runbook serve: listening on {base_url} (state in {settings.state_dir})\n")
    service = app.state.service
    timeout = settings.limits.body_timeout_s

    def refused(client: str) -> None:
        service.refuse("other", "-", client, {}, Refused(408, f"request head not received within {timeout:g} s"))

    config_ = uvicorn.Config(
        app,
        http=with_head_deadline(timeout, refused),
        log_level="info",
        timeout_graceful_shutdown=60,
        h11_max_incomplete_event_size=65536,
    )
    # uvicorn re-raises the stop signal after its graceful shutdown; with these handlers in place
    # that lands here, and a clean stop exits 0 instead of dying of SIGTERM or a KeyboardInterrupt
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _stopped)
    uvicorn.Server(config_).run(sockets=[sock])
    return 0


def _stopped(signum: int, frame: object) -> None:
    sys.stderr.write(f"kleak-runbook serve: stopped ({signal.Signals(signum).name})\n")
