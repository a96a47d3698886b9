"""Alertmanager's webhook: firing alerts only, host from the configured label, one run per host
per group, optional auth, and the result posted to the configured targets."""

from __future__ import annotations

import base64

from serve.harness import alert_payload


def test_firing_alert_runs_once_per_host_and_posts_to_slack_and_jira(make_server, slack_api, jira_api):
    config = {"alertmanager": {"notify": ["slack:#oncall", "jira:OPS-12"]}}
    server = make_server(
        env={**slack_api.env(), **jira_api.env(), "KLEAK_ALERTMANAGER_TOKEN": "am-token"}, config=config
    )
    payload = alert_payload(["localhost:9100", "localhost:9256"])  # two exporters of one host
    payload["alerts"].append({**payload["alerts"][0], "status": "resolved", "labels": {"instance": "db9:9100"}})
    auth = {"Authorization": "Bearer am-token"}
    reply = server.client.post("/hooks/alertmanager", json=payload, headers=auth)
    assert reply.status_code == 200, reply.text
    [run] = reply.json()["runs"]
    assert run["host"] == "localhost" and reply.json()["refused"] == []
    again = server.client.post("/hooks/alertmanager", json=payload, headers=auth)  # Alertmanager resends the group
    assert again.json()["runs"][0]["run"] == run["run"] and again.json()["runs"][0]["deduplicated"]
    doc = server.wait_run(run["run"])
    assert doc["state"] == "done" and doc["trigger"] == "alertmanager" and doc["who"] == "alertmanager:kleak"
    assert [r["delivered"] for r in doc["replies"]] == [True, True], doc["replies"]
    slack_api.assert_clean()
    jira_api.assert_clean()
    [message] = slack_api.messages
    assert message.channel == "C0KLEAK01" and f"/runs/{run['run']}" in message.text
    assert len(slack_api.completed) == 1
    [comment] = jira_api.comments
    assert comment.issue == "OPS-12" and f"/runs/{run['run']}" in comment.body
    names = sorted(a.filename for a in jira_api.attachments)
    assert any(n.endswith("report.md") for n in names) and any(n.endswith(".tar.gz") for n in names)
    outcomes = [e["outcome"] for e in server.audit()]
    assert outcomes == ["queued", "deduplicated", "done"]  # the trigger, its resend, the run's end


def test_host_labels_and_refusals(make_server):
    config = {"alertmanager": {"host_labels": ["nodename", "instance"]}}
    server = make_server(env={"KLEAK_ALERTMANAGER_USER": "am", "KLEAK_ALERTMANAGER_PASSWORD": "pw"}, config=config)
    auth = {"Authorization": "Basic " + base64.b64encode(b"am:pw").decode()}
    payload = alert_payload(["db-unknown", "evil.example.org"], label="nodename")
    reply = server.client.post("/hooks/alertmanager", json=payload, headers=auth)
    # db* is allowed (it will fail to connect: no such host); evil.example.org is not
    assert reply.status_code == 200
    assert [r["host"] for r in reply.json()["runs"]] == ["db-unknown"]
    assert reply.json()["refused"] == [
        {"host": "evil.example.org", "status": 403, "reason": "host evil.example.org is not in the allowed hosts"}
    ]
    only_bad = alert_payload(["evil.example.org:9100"], group="other")
    assert server.client.post("/hooks/alertmanager", json=only_bad, headers=auth).status_code == 403
    resolved = alert_payload(["localhost:9100"], status="resolved")
    assert server.client.post("/hooks/alertmanager", json=resolved, headers=auth).json() == {"runs": [], "refused": []}
    assert server.client.post("/hooks/alertmanager", json={"version": "3"}, headers=auth).status_code == 400
    bad_basic = {"Authorization": "Basic " + base64.b64encode(b"am:wrong").decode()}
    assert server.client.post("/hooks/alertmanager", json=payload, headers=bad_basic).status_code == 401
    doc = server.wait_run(reply.json()["runs"][0]["run"])
    assert doc["state"] == "done" and doc["verdict"] == "inconclusive"  # unreachable: the report says so
