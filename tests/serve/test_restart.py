"""A restart loses nothing: queued runs run after it; the run in flight is cut off, marked
interrupted, and its partial report posted (after a clean stop, and after the server was killed)."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from contextlib import closing
from pathlib import Path

from serve.harness import alert_payload

CONFIG = {"runs": {"samples": 40, "interval": 1}, "queue": {"workers": 1}}


def _alert(server, host: str) -> str:
    reply = server.client.post("/hooks/alertmanager", json=alert_payload([host], group=f"g-{host}"))
    assert reply.status_code == 200, reply.text
    return str(reply.json()["runs"][0]["run"])


def _running_with_samples(server, run_id: str, samples: int = 2) -> int:
    """Wait until the run is in flight and has written ``samples`` samples; returns its pid."""
    deadline = time.monotonic() + 60
    store = server.state_dir / "runs" / run_id / "evidence" / "samples"
    while time.monotonic() < deadline:
        if server.run(run_id)["state"] == "running" and store.is_dir() and len(list(store.iterdir())) >= samples:
            with closing(sqlite3.connect(server.state_dir / "runs.db")) as db:
                return int(db.execute("select pid from runs where id = ?", (run_id,)).fetchone()[0])
        time.sleep(0.3)
    raise AssertionError(f"run {run_id} never got going: {server.run(run_id)}\n{server.log_text()}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_clean_stop_with_queued_runs_and_one_in_flight(make_server, webhook_receiver):
    config = {**CONFIG, "alertmanager": {"notify": [f"webhook:{webhook_receiver.hook_url}"]}}
    server = make_server(env=webhook_receiver.env(), config=config)
    flying = _alert(server, "localhost")
    pid = _running_with_samples(server, flying)
    queued = [_alert(server, "127.0.0.2"), _alert(server, "db-a")]
    assert [server.run(r)["state"] for r in queued] == ["queued", "queued"]
    assert server.stop() == 0
    assert not _alive(pid)
    # the cut-off run was posted before the server went away, with its partial report
    [posted] = webhook_receiver.payloads
    assert posted["link"].endswith(f"/runs/{flying}") and posted["verdict"] == "inconclusive"
    assert "interrupted" in posted["result"]
    server.start()
    doc = server.run(flying)
    assert doc["state"] == "interrupted" and "of 40 samples" in doc["result"]["interrupted"]
    assert [server.wait_run(r)["state"] for r in queued] == ["done", "done"]
    webhook_receiver.assert_clean()
    assert sorted(p["link"].rsplit("/", 1)[1] for p in webhook_receiver.payloads) == sorted([flying, *queued])


def test_killed_server_leaves_nothing_behind(make_server, webhook_receiver):
    config = {**CONFIG, "alertmanager": {"notify": [f"webhook:{webhook_receiver.hook_url}"]}}
    server = make_server(env=webhook_receiver.env(), config=config)
    flying = _alert(server, "localhost")
    pid = _running_with_samples(server, flying)
    queued = _alert(server, "db-b")
    server.stop(signal.SIGKILL)
    assert _alive(pid)  # the run survives its server (own session) ...
    server.start()
    deadline = time.monotonic() + 60
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(pid)  # ... until the next server stops it and settles it
    doc = server.wait_run(flying)
    assert doc["state"] == "interrupted" and doc["error"] == "interrupted: the server stopped"
    assert doc["result"] is not None and "interrupted" in doc["result"]
    assert server.wait_run(queued)["state"] == "done"
    webhook_receiver.assert_clean()
    assert sorted(p["link"].rsplit("/", 1)[1] for p in webhook_receiver.payloads) == sorted([flying, queued])
