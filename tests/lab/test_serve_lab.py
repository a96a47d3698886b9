"""The chat-ops service end to end on a real kernel: a real server takes an Alertmanager alert for the lab
host while its module leaks, runs the runbook over SSH, and the result arrives as a Slack message
with the report file, a Jira comment with the attachments, and a /runs/{id} page in chromium."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest
from serve.harness import API_TOKEN, Server, alert_payload
from vm import LabVM

pytestmark = pytest.mark.lab


def test_alert_for_the_leaking_lab_host_reaches_slack_jira_and_the_page(
    leaky: LabVM, tmp_path: Path, slack_api, jira_api
) -> None:
    config = {
        "hosts": ["127.0.0.1"],
        "runs": {
            "samples": 3,
            "interval": 4,
            "user": "root",
            "port": leaky.port,
            "private_key": str(leaky.private_key),
        },
        "alertmanager": {"notify": ["slack:#oncall", "jira:OPS-12"]},
    }
    server = Server(tmp_path / "serve", {**slack_api.env(), **jira_api.env(), "KLEAK_API_TOKEN": API_TOKEN}, config)
    server.start()
    try:
        with leaky.leaking("kmalloc", rate_kib=1024, total_kib=96 * 1024):
            reply = server.client.post("/hooks/alertmanager", json=alert_payload(["127.0.0.1:9100"]))
            assert reply.status_code == 200, reply.text
            [run] = reply.json()["runs"]
            doc = server.wait_run(run["run"], timeout=600)
        assert (doc["verdict"], doc["kind"]) == ("leak", "slab-unreclaimable"), doc
        assert doc["result"]["culprits"][0]["name"] == "kmalloc-4k", doc["result"]["culprits"][:3]
        slack_api.assert_clean()
        jira_api.assert_clean()
        [message] = slack_api.messages
        assert "LEAK" in message.text and f"/runs/{run['run']}" in message.text
        [upload] = slack_api.completed
        assert b"kmalloc-4k" in (upload.data or b"")
        [comment] = jira_api.comments
        assert comment.issue == "OPS-12" and f"/runs/{run['run']}" in comment.body
        assert len(jira_api.attachments) == 2
        shots = Path(os.environ.get("KLEAK_ARTIFACTS") or tempfile.mkdtemp(prefix="kleak-artifacts-"))
        shots.mkdir(parents=True, exist_ok=True)
        page = subprocess.run(
            ["/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'c'}",
             f"--screenshot={shots / 'lab-run-page.png'}", "--dump-dom", f"{server.url}/runs/{run['run']}"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert page.returncode == 0 and ">leak</span>" in page.stdout and "kmalloc-4k" in page.stdout
    finally:
        server.stop()
        server.client.close()
