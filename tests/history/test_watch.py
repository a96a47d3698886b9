"""``run --watch``: samples for the whole duration, a partial report on the way, and Ctrl-C
ending it with a report judged on the samples taken (real runs of this machine)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from support.cli import command


def test_watch_writes_partial_reports_and_ctrl_c_ends_it_with_a_verdict(tmp_path: Path) -> None:
    out = tmp_path / "r"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLEAK_PROMETHEUS")}
    args = ("run", "--host", "localhost", "--watch", "60s", "--interval", "2", "--out", str(out))
    proc = subprocess.Popen(
        command(*args, "--no-baseline", "--progress", "--format", "json"),
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # Ctrl-C reaches the CLI and everything it started
    )
    try:
        partial = None
        deadline = time.monotonic() + 90
        while partial is None and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
            try:
                partial = json.loads((out / "result.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
        assert partial is not None, "no partial report while the watch ran"
        assert partial["partial"].startswith("--watch still running") and partial["samples"]["count"] >= 3
        os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    doc = json.loads(stdout)
    assert "interrupted" not in doc and doc["watch"].startswith("ended by Ctrl-C in step measure"), stderr
    assert doc["verdict"] != "inconclusive" and proc.returncode == doc["exit_code"]
    assert doc["samples"]["count"] >= partial["samples"]["count"]
    assert "min left" in stderr and "Traceback" not in stderr
    assert json.loads((out / "result.json").read_text())["watch"] == doc["watch"]
