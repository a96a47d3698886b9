"""One run as a subprocess of the installed CLI: isolated, killable, and restart-safe.

The command line is built from validated fields only (host, samples, consents, runbook name)
and the server's own settings; nothing a request sent is passed as text to an option.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kleak_runbook.serve.settings import Settings
from kleak_runbook.serve.store import Run
from kleak_runbook.session import LOCAL

KEEP_ENV = ("KLEAK_KNOWLEDGE", "KLEAK_DEBUG")


def argv(run: Run, settings: Settings, out: Path) -> list[str]:
    # --host=H as one word: a host can never be read as an option, even if validation missed it
    cmd = [sys.executable, "-m", "kleak_runbook.cli", "run", f"--host={run.host}", "--out", str(out)]
    cmd += ["--format", "json", "--quiet", "--runbook", run.runbook]
    samples = run.samples or settings.runs.samples
    if samples is not None:
        cmd += ["--samples", str(samples)]
    if settings.runs.interval is not None:
        cmd += ["--interval", repr(settings.runs.interval)]
    if run.consents:
        cmd += ["--allow-intrusive", ",".join(run.consents)]
    if run.host not in LOCAL:
        if settings.runs.user:
            cmd += ["--user", settings.runs.user]
        if settings.runs.port:
            cmd += ["--port", str(settings.runs.port)]
        if settings.runs.private_key:
            cmd += ["--private-key", str(settings.runs.private_key)]
    if settings.runs.become:
        cmd.append("--become")
    return cmd


def child_env() -> dict[str, str]:
    """The server's environment without its secrets: a run needs none of them."""
    return {k: v for k, v in os.environ.items() if not k.startswith("KLEAK_") or k in KEEP_ENV}


@dataclass(frozen=True)
class Outcome:
    state: str  # done | interrupted | failed
    exit_code: int | None
    doc: dict[str, Any] | None
    error: str | None


def outcome(out: Path, exit_code: int | None, log: Path, cut_off: bool) -> Outcome:
    """What a run left behind; its result.json decides. ``cut_off``: the server stopped it (or
    found it orphaned), so a run without a report was interrupted rather than failed."""
    doc: dict[str, Any] | None = None
    try:
        loaded = json.loads((out / "result.json").read_text(encoding="utf-8"))
        doc = loaded if isinstance(loaded, dict) else None
    except (OSError, ValueError):
        doc = None
    if doc is not None and exit_code is None:  # an orphan the server did not wait for
        exit_code = doc.get("exit_code") if isinstance(doc.get("exit_code"), int) else None
    if doc is not None and doc.get("interrupted"):
        return Outcome("interrupted", exit_code, doc, f"interrupted {doc['interrupted']}")
    if doc is not None and exit_code in (0, 1, 3):
        return Outcome("done", exit_code, doc, None)
    if cut_off:
        return Outcome("interrupted", exit_code, doc, "interrupted before it wrote a report")
    return Outcome("failed", exit_code, doc, _last_line(log) or f"the run exited with {exit_code}")


def _last_line(log: Path) -> str | None:
    try:
        lines = [x for x in log.read_text(encoding="utf-8", errors="replace").splitlines() if x.strip()]
    except OSError:
        return None
    return lines[-1][:300] if lines else None


def start(run: Run, settings: Settings, out: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as err:
        # own session: the server's Ctrl-C does not reach it, and interrupt() stops Ansible's children too
        return subprocess.Popen(
            argv(run, settings, out),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=child_env(),
            cwd=out.parent,
            start_new_session=True,
        )


def interrupt(pid: int, grace_s: float = 30) -> None:
    """Ctrl-C for the run's process group (the CLI then writes its partial report), SIGKILL after grace."""
    try:
        os.killpg(pid, signal.SIGINT)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if not alive(pid):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie of ours counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def is_run(pid: int, out: Path) -> bool:
    """The pid still belongs to this run (pids are reused): its command line names the report dir."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return str(out).encode() in cmdline and b"kleak_runbook.cli" in cmdline
