"""A real ``kleak-runbook serve`` on a loopback port, and requests signed as each sender signs them.

Signatures follow the senders' documentation:
- Slack (https://api.slack.com/authentication/verifying-requests-from-slack): ``X-Slack-Signature:
  v0=<hex HMAC-SHA256 of "v0:<timestamp>:<raw body>">``, ``X-Slack-Request-Timestamp``; the slash
  command body is form-encoded (token, team_id, team_domain, channel_id, channel_name, user_id,
  user_name, command, text, api_app_id, is_enterprise_install, response_url, trigger_id).
- GitHub (https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries):
  ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>``, ``X-GitHub-Event``, ``X-GitHub-Delivery``.
- Jira admin webhooks (https://developer.atlassian.com/cloud/jira/platform/webhooks/#secure-admin-webhooks):
  ``X-Hub-Signature: sha256=<hex HMAC-SHA256 of the body>``, ``X-Atlassian-Webhook-Identifier``.
- Alertmanager (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config): a JSON
  POST, payload version 4, ``Authorization`` from ``http_config`` (bearer or basic).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import yaml

SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # the example secret of Slack's documentation
API_TOKEN = "test-api-token-0123456789"
GITHUB_SECRET = "github-webhook-secret"
JIRA_SECRET = "jira-webhook-secret"
FINAL = ("done", "interrupted", "failed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``kleak-runbook serve`` as a subprocess; ``restart()`` keeps the state dir and the port."""

    def __init__(
        self, tmp: Path, env: dict[str, str], config: dict[str, Any] | None = None, state_dir: Path | None = None
    ) -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        self.state_dir = state_dir or tmp / "state"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "ANSIBLE_HOST_KEY_CHECKING": "False", **env}
        self.env.pop("KLEAK_DEBUG", None)
        self.config: Path | None = None  # no --config: settings from the environment alone
        if config is not None:
            self.config = tmp / "serve.yaml"
            self.config.write_text(yaml.safe_dump(config), encoding="utf-8")
        self.log = tmp / "serve.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.client = httpx.Client(base_url=self.url, timeout=30)

    def argv(self) -> list[str]:
        listen = f"127.0.0.1:{self.port}"
        config = ["--config", str(self.config)] if self.config else []
        return [sys.executable, "-m", "kleak_runbook.cli", "serve", "--listen", listen, *config,
                "--state-dir", str(self.state_dir)]  # fmt: skip

    def start(self) -> Server:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(self.argv(), env=self.env, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited with {self.proc.returncode}:\n{self.log_text()}")
            try:
                if self.client.get("/healthz").status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"serve did not answer /healthz within 60 s:\n{self.log_text()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 90) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"serve did not stop within {timeout} s:\n{self.log_text()}") from None

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-6000:]

    def api(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {API_TOKEN}", **kw.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kw)

    def run(self, run_id: str) -> dict[str, Any]:
        reply = self.api("GET", f"/api/runs/{run_id}")
        assert reply.status_code == 200, reply.text
        doc: dict[str, Any] = reply.json()
        return doc

    def wait_run(self, run_id: str, timeout: float = 180, delivered: bool = True) -> dict[str, Any]:
        """The run once final (and, with ``delivered``, once every reply was attempted)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            doc = self.run(run_id)
            settled = all(r["delivered"] or r["error"] for r in doc["replies"])
            if doc["state"] in FINAL and (settled or not delivered):
                return doc
            time.sleep(0.3)
        raise AssertionError(f"run {run_id} not finished in {timeout} s: {self.run(run_id)}\n{self.log_text()}")

    def audit(self) -> list[dict[str, Any]]:
        path = self.state_dir / "audit.jsonl"
        if not path.exists():
            return []
        return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def slack_form(
    text: str,
    response_url: str = "https://hooks.slack.com/commands/T0001/1234/abcd",
    user: str = "U2147483697",
    channel: str = "C0KLEAK01",
) -> bytes:
    fields = {
        "token": "gIkuvaNzQIHg97ATvDxqgjtO",
        "team_id": "T0001",
        "team_domain": "example",
        "enterprise_id": "E0001",
        "enterprise_name": "Globular Construct Inc",
        "channel_id": channel,
        "channel_name": "oncall",
        "user_id": user,
        "user_name": "steve",
        "command": "/kleak",
        "text": text,
        "response_url": response_url,
        "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        "api_app_id": "A123456",
    }
    return urlencode(fields).encode()


def slack_headers(body: bytes, secret: str = SLACK_SECRET, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
        "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
    }


def github_comment(body_text: str, repo: str = "acme/ops", number: int = 12, login: str = "octocat") -> bytes:
    payload = {
        "action": "created",
        "issue": {"number": number, "title": "db7 memory", "user": {"login": login}},
        "comment": {"id": 1, "body": body_text, "user": {"login": login, "type": "User"}},
        "repository": {"full_name": repo, "name": repo.split("/")[1], "owner": {"login": repo.split("/")[0]}},
        "sender": {"login": login, "type": "User"},
    }
    return json.dumps(payload).encode()


def github_headers(body: bytes, secret: str = GITHUB_SECRET, event: str = "issue_comment") -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/044aadd",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-GitHub-Hook-ID": "292430182",
        "X-Hub-Signature-256": f"sha256={digest}",
    }


def jira_issue(key: str, summary: str, labels: list[str], event: str = "jira:issue_created") -> bytes:
    payload = {
        "timestamp": int(time.time() * 1000),
        "webhookEvent": event,
        "issue_event_type_name": "issue_created",
        "user": {"accountId": "5b10ac8d82e05b22cc7d4ef5", "displayName": "On Call"},
        "issue": {"id": "10002", "key": key, "fields": {"summary": summary, "labels": labels}},
    }
    return json.dumps(payload).encode()


def jira_headers(body: bytes, secret: str = JIRA_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-Atlassian-Webhook-Identifier": str(uuid.uuid4()),
        "X-Atlassian-Webhook-Flow": "Primary",
        "X-Hub-Signature": f"sha256={digest}",
    }


def alert_payload(hosts: list[str], group: str = "{}:{alertname=\"KernelMemoryGrowing\"}", status: str = "firing",
                  label: str = "instance") -> dict[str, Any]:  # fmt: skip
    alerts = [
        {
            "status": status,
            "labels": {"alertname": "KernelMemoryGrowing", label: h, "severity": "page"},
            "annotations": {"summary": f"SUnreclaim grows on {h}"},
            "startsAt": "2026-11-30T02:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=...",
            "fingerprint": hashlib.sha1(h.encode()).hexdigest()[:16],
        }
        for h in hosts
    ]
    return {
        "version": "4",
        "groupKey": group,
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "kleak",
        "groupLabels": {"alertname": "KernelMemoryGrowing"},
        "commonLabels": {"alertname": "KernelMemoryGrowing"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": alerts,
    }


def raw_exchange(port: int, head: bytes, body_parts: list[bytes], pause_s: float = 0, timeout: float = 30) -> bytes:
    """Send a request by hand (a huge or a slow body), then read whatever the server answers."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head)
        for part in body_parts:
            time.sleep(pause_s)
            try:
                sock.sendall(part)
            except OSError:  # the server answered early and closed: that answer is what we want
                break
        chunks = []
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                chunks.append(data)
        except OSError:
            pass
        return b"".join(chunks)


def status_of(raw: bytes) -> int:
    return int(raw.split(b" ", 2)[1]) if raw.startswith(b"HTTP/1.1 ") else 0
