"""Hostile requests: each is refused with the right status, starts no run, and is audited."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from serve.harness import (
    API_TOKEN,
    GITHUB_SECRET,
    JIRA_SECRET,
    SLACK_SECRET,
    alert_payload,
    github_comment,
    github_headers,
    jira_headers,
    jira_issue,
    raw_exchange,
    slack_form,
    slack_headers,
    status_of,
)

INJECTIONS = [
    '"db7 -e ansible_ssh_common_args=-oProxyCommand={touch}"',
    "db7 -e ansible_ssh_common_args=-oProxyCommand={touch}",
    "localhost; {touch}",
    "localhost samples=1;{touch}",
    "$({touch})",
    "`{touch}`",
    "--host=localhost -e @/etc/shadow",
    "-i /etc/passwd",
    "@/etc/shadow",
    "localhost allow=drop_caches,$({touch})",
    "localhost samples=1 samples=2",
    "localhost extra=1",
    "localhost samples=１",  # a full-width digit is no number here
]


def _runs(server):
    return server.api("GET", "/api/runs").json()


def _slack(server, text, **kw):
    body = slack_form(text)
    return server.client.post("/hooks/slack", content=body, headers=slack_headers(body, **kw))


def test_forged_stale_and_replayed_slack_requests_get_401(make_server):
    server = make_server()
    assert _slack(server, "localhost", secret="not-the-secret").status_code == 401
    assert _slack(server, "localhost", timestamp=int(time.time()) - 6 * 60).status_code == 401
    body = slack_form("localhost")
    unsigned = {"Content-Type": "application/x-www-form-urlencoded"}
    assert server.client.post("/hooks/slack", content=body, headers=unsigned).status_code == 401
    headers = slack_headers(slack_form("definitely-not-allowed.example"))
    first = server.client.post("/hooks/slack", content=slack_form("definitely-not-allowed.example"), headers=headers)
    again = server.client.post("/hooks/slack", content=slack_form("definitely-not-allowed.example"), headers=headers)
    assert first.status_code == 200 and again.status_code == 401
    assert "replayed" in again.json()["error"]
    refused = [(e["status"], e["reason"]) for e in server.audit() if e["outcome"] == "refused"]
    assert [s for s, _ in refused] == [401, 401, 401, 403, 401]
    assert not _runs(server)


def test_host_not_allowed_is_refused_in_the_reply_and_the_audit_log(make_server):
    server = make_server()
    reply = _slack(server, "10.1.2.3 samples=1")
    assert reply.status_code == 200
    assert reply.json() == {
        "response_type": "ephemeral",
        "text": "kleak: refused: host 10.1.2.3 is not in the allowed hosts",
    }
    [entry] = server.audit()
    assert entry["outcome"] == "refused" and entry["status"] == 403 and entry["who"] == "slack:U2147483697"
    assert entry["what"] == {"host": "10.1.2.3", "runbook": "kernel-memory-leak", "samples": 1}
    assert not _runs(server)


@pytest.mark.parametrize("template", INJECTIONS)
def test_injection_in_the_command_text_is_refused(make_server, tmp_path, template):
    marker = tmp_path / "pwned"
    server = make_server()
    reply = _slack(server, template.format(touch=f"touch {marker}"))
    assert reply.status_code == 200
    assert reply.json()["text"].startswith("kleak: refused:"), reply.json()
    assert "usage: /kleak HOST" in reply.json()["text"] or "consent" in reply.json()["text"]
    [entry] = server.audit()
    assert entry["outcome"] == "refused" and entry["status"] == 400
    time.sleep(0.5)
    assert not _runs(server) and not marker.exists()


def test_intrusive_consent_only_from_configured_users(make_server):
    server = make_server(config={"slack": {"intrusive_users": ["U0ADMIN"]}})
    reply = _slack(server, "localhost allow=drop_caches")
    assert reply.json()["text"] == "kleak: refused: slack:U2147483697 may not consent to drop_caches"
    assert server.audit()[-1]["status"] == 403
    reply = server.api("POST", "/api/runs", json={"host": "localhost", "consents": ["drop_caches"]})
    assert reply.status_code == 403
    assert not _runs(server)


def test_ten_megabyte_body_gets_413(make_server):
    server = make_server()
    size = 10 * 1024 * 1024
    head = (
        f"POST /hooks/slack HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {size}\r\n\r\n"
    ).encode()
    raw = raw_exchange(server.port, head, [b"a" * 65536] * (size // 65536))
    assert status_of(raw) == 413, raw[:200]
    chunked = b"POST /api/runs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    parts = [b"10000\r\n" + b"b" * 65536 + b"\r\n"] * 160 + [b"0\r\n\r\n"]
    assert status_of(raw_exchange(server.port, chunked, parts)) == 413
    assert [e["status"] for e in server.audit()] == [413, 413]
    assert [e["trigger"] for e in server.audit()] == ["slack", "api"]


def test_slow_client_gets_408(make_server):
    server = make_server(config={"limits": {"body_timeout_s": 2}})
    head = (
        b"POST /hooks/alertmanager HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n"
    )
    began = time.monotonic()
    raw = raw_exchange(server.port, head, [b"{"] * 4, pause_s=1.5)
    assert status_of(raw) == 408, raw[:200]
    assert time.monotonic() - began < 10
    [entry] = server.audit()
    assert entry["status"] == 408 and entry["trigger"] == "alertmanager"
    # slowloris: the request head itself, a header line every 1.5 s, never finished
    began = time.monotonic()
    raw = raw_exchange(server.port, b"POST /hooks/slack HTTP/1.1\r\nHost: x\r\n", [b"X-a: b\r\n"] * 5, pause_s=1.5)
    assert status_of(raw) == 408 and time.monotonic() - began < 10, raw[:200]
    assert server.audit()[-1]["status"] == 408
    assert server.client.get("/healthz").status_code == 200  # and the server still serves


def test_bad_credentials_on_every_way_in(make_server):
    server = make_server(env={"KLEAK_ALERTMANAGER_TOKEN": "am-token"})
    alert = alert_payload(["localhost:9100"])
    assert server.client.post("/hooks/alertmanager", json=alert).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert server.client.post("/hooks/alertmanager", json=alert, headers=wrong).status_code == 401
    body = github_comment("/kleak localhost")
    assert server.client.post("/hooks/github", content=body, headers=github_headers(body, "x")).status_code == 401
    body = jira_issue("OPS-12", "localhost leaks", ["kleak"])
    assert server.client.post("/hooks/jira", content=body, headers=jira_headers(body, "x")).status_code == 401
    assert server.client.post("/api/runs", json={"host": "localhost"}).status_code == 401
    assert server.client.get("/api/runs", headers={"Authorization": "Bearer wrong"}).status_code == 401
    statuses = [(e["trigger"], e["status"]) for e in server.audit()]
    assert statuses == [("alertmanager", 401)] * 2 + [("github", 401), ("jira", 401), ("api", 401), ("api", 401)]
    assert not _runs(server)


def test_rate_limit_per_source(make_server):
    server = make_server(config={"limits": {"rate_per_minute": 1, "rate_burst": 2}})
    codes = [_slack(server, f"10.9.9.{i}").json()["text"] for i in range(3)]  # distinct: a copy is a replay
    assert "not in the allowed hosts" in codes[0] and "not in the allowed hosts" in codes[1]
    assert codes[2] == "kleak: refused: too many requests from slack:U2147483697; try later"
    assert server.audit()[-1]["status"] == 429
    ok = server.api("POST", "/api/runs", json={"host": "10.9.9.9"})  # another source: its own bucket
    assert ok.status_code == 403


def test_files_cannot_be_read_outside_a_run(make_server):
    server = make_server()
    created = server.api("POST", "/api/runs", json={"host": "localhost"}).json()
    server.wait_run(created["id"])
    evidence = server.state_dir / "runs" / created["id"] / "evidence"
    (evidence / "link").symlink_to("/etc/passwd")
    (evidence / "dirlink").symlink_to(server.state_dir)
    page = server.client.get(f"/runs/{created['id']}").text
    assert "evidence/link" not in page and "dirlink" not in page
    for path in (
        f"/runs/{created['id']}/files/evidence/link",
        f"/runs/{created['id']}/files/evidence/dirlink/audit.jsonl",
        f"/runs/{created['id']}/files/%2e%2e/%2e%2e/runs.db",
        f"/runs/{created['id']}/files/..%2f..%2faudit.jsonl",
        f"/runs/{created['id']}/files/evidence",
        "/runs/..%2f..%2fetc/files/passwd",
        f"/api/runs/{created['id']}%2f..%2f..",
    ):
        reply = server.client.get(path)
        assert reply.status_code in (401, 404), (path, reply.status_code)
        assert b"root:" not in reply.content and b"SQLite" not in reply.content
    raw = raw_exchange(
        server.port, f"GET /runs/{created['id']}/files/../../audit.jsonl HTTP/1.1\r\nHost: x\r\n\r\n".encode(), []
    )
    assert status_of(raw) == 404


def test_no_secret_in_logs_or_audit(make_server):
    server = make_server()
    _slack(server, "localhost", secret="forged")
    created = server.api("POST", "/api/runs", json={"host": "localhost"}).json()
    server.wait_run(created["id"])
    server.stop()
    texts = [server.log.read_text(), (server.state_dir / "audit.jsonl").read_text()]
    texts += [p.read_text() for p in Path(server.state_dir / "logs").iterdir()]
    for secret in (SLACK_SECRET, API_TOKEN, GITHUB_SECRET, JIRA_SECRET):
        assert not any(secret in t for t in texts)


def test_report_text_is_escaped_on_the_page(make_server):
    server = make_server()
    run_id = server.api("POST", "/api/runs", json={"host": "localhost"}).json()["id"]
    server.wait_run(run_id)
    # host data reaches the report (cache and module names): a hostile one must stay text
    report = server.state_dir / "runs" / run_id / "report.md"
    report.write_text(
        "# x\n\n<script>alert(1)</script>\n\n[click](javascript:alert(1))\n\n<img src=x onerror=alert(1)>\n"
    )
    page = server.client.get(f"/runs/{run_id}")
    assert page.status_code == 200
    assert "<script>" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert 'href="javascript:' not in page.text and "<img" not in page.text
    assert "script-src" not in page.headers["content-security-policy"]  # no scripts at all: default-src 'none'
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
