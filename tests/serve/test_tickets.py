"""Jira and GitHub webhooks: signed, filtered, and answered on the issue through the sinks."""

from __future__ import annotations

import json

from serve.harness import github_comment, github_headers, jira_headers, jira_issue


def test_jira_issue_with_the_label_gets_a_comment_and_attachments(make_server, jira_api):
    server = make_server(env=jira_api.env())
    unlabelled = jira_issue("OPS-12", "localhost is slow", ["perf"])
    assert "ignored" in server.client.post("/hooks/jira", content=unlabelled, headers=jira_headers(unlabelled)).json()
    body = jira_issue("OPS-12", "Kernel memory grows on localhost since Monday", ["kleak", "oncall"])
    headers = jira_headers(body)
    reply = server.client.post("/hooks/jira", content=body, headers=headers)
    assert reply.status_code == 200, reply.text
    run_id = reply.json()["run"]
    redelivered = server.client.post("/hooks/jira", content=body, headers=headers)
    assert redelivered.json() == {"ignored": "delivery already handled"}
    doc = server.wait_run(run_id)
    assert doc["host"] == "localhost" and doc["who"] == "jira:5b10ac8d82e05b22cc7d4ef5"
    assert doc["replies"] == [{"target": "jira", "delivered": True, "error": None}]
    jira_api.assert_clean()
    [comment] = jira_api.comments
    assert comment.issue == "OPS-12" and f"{server.url}/runs/{run_id}" in comment.body
    assert len(jira_api.attachments) == 2
    # the comment is an issue_updated without a label change: it must not start another run
    update = json.loads(body)
    update.update(webhookEvent="jira:issue_updated", changelog={"items": [{"field": "comment"}]})
    raw = json.dumps(update).encode()
    assert "ignored" in server.client.post("/hooks/jira", content=raw, headers=jira_headers(raw)).json()
    no_host = jira_issue("OPS-13", "something leaks somewhere", ["kleak"])
    assert server.client.post("/hooks/jira", content=no_host, headers=jira_headers(no_host)).status_code == 422


def test_jira_bearer_secret_and_host_field(make_server, jira_api):
    server = make_server(env=jira_api.env(), config={"jira": {"host_field": "customfield_10042"}})
    payload = json.loads(jira_issue("KERN-7", "memory", ["kleak"]))
    payload["issue"]["fields"]["customfield_10042"] = {"value": "localhost"}
    body = json.dumps(payload).encode()
    auth = {"Content-Type": "application/json", "Authorization": "Bearer jira-webhook-secret"}
    reply = server.client.post("/hooks/jira", content=body, headers=auth)
    assert reply.status_code == 200, reply.text
    server.wait_run(reply.json()["run"])
    assert [c.issue for c in jira_api.comments] == ["KERN-7"]


def test_github_comment_command_gets_a_reply_comment(make_server, github_api):
    server = make_server(env=github_api.env(), config={"github": {"repos": ["acme/ops"]}})
    body = github_comment("/kleak localhost samples=1\nplease check")
    reply = server.client.post("/hooks/github", content=body, headers=github_headers(body))
    assert reply.status_code == 200, reply.text
    doc = server.wait_run(reply.json()["run"])
    assert doc["who"] == "github:octocat" and doc["replies"][0]["delivered"]
    github_api.assert_clean()
    [comment] = github_api.comments
    assert f"/runs/{doc['id']}" in comment.body
    other = github_comment("/kleak localhost", repo="someone/else")
    assert server.client.post("/hooks/github", content=other, headers=github_headers(other)).status_code == 403
    inject = github_comment("/kleak db7 -e ansible_ssh_common_args=-oProxyCommand=id")
    assert server.client.post("/hooks/github", content=inject, headers=github_headers(inject)).status_code == 400
    chat = github_comment("thanks, looks fine")
    assert "ignored" in server.client.post("/hooks/github", content=chat, headers=github_headers(chat)).json()
    ping = b'{"zen": "Keep it logically awesome."}'
    assert (
        server.client.post("/hooks/github", content=ping, headers=github_headers(ping, event="ping")).status_code == 200
    )
