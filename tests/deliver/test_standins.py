"""The stand-ins catch clients that break the contract: each check below is one a wrong sink
would trip, so a clean ``assert_clean()`` in the other tests means something."""

from __future__ import annotations

import json

import requests
from standins.github import GitHubAPI
from standins.jira import JiraAPI
from standins.slack import SlackAPI
from standins.webhook import WebhookReceiver

T = 5


def test_slack_answers_bad_calls_as_slack_does(slack_api: SlackAPI) -> None:
    api = f"{slack_api.url}/api"
    auth = {"Authorization": f"Bearer {slack_api.token}"}
    assert requests.post(f"{api}/chat.postMessage", json={"channel": "#oncall", "text": "x"}, timeout=T).json() == {
        "ok": False,
        "error": "not_authed",
    }
    bad = requests.post(f"{api}/chat.postMessage", headers={"Authorization": "Bearer xoxb-wrong"}, json={"channel": "#oncall", "text": "x"}, timeout=T)  # fmt: skip
    assert bad.status_code == 200 and bad.json()["error"] == "invalid_auth"
    token_in_json = requests.post(f"{api}/chat.postMessage", json={"token": slack_api.token, "channel": "#oncall", "text": "x"}, timeout=T)  # fmt: skip
    assert token_in_json.json()["error"] == "not_authed"
    no_text = requests.post(f"{api}/chat.postMessage", headers=auth, json={"channel": "#oncall"}, timeout=T)
    assert no_text.json() == {"ok": False, "error": "no_text"}
    form = requests.post(f"{api}/chat.postMessage", data={"token": slack_api.token, "channel": "#oncall", "text": "hi"}, timeout=T)  # fmt: skip
    assert form.json()["ok"] is True and form.json()["channel"] == "C0KLEAK01"  # a form token is fine
    assert len(slack_api.violations) == 5  # the JSON token counts twice: misplaced, and so missing


def test_slack_upload_flow_is_checked_step_by_step(slack_api: SlackAPI) -> None:
    api, auth = f"{slack_api.url}/api", {"Authorization": f"Bearer {slack_api.token}"}
    step1 = requests.post(f"{api}/files.getUploadURLExternal", headers=auth, data={"filename": "r.md", "length": "5"}, timeout=T).json()  # fmt: skip
    assert step1["ok"] and step1["upload_url"].startswith(slack_api.url) and step1["file_id"]
    files = json.dumps([{"id": step1["file_id"], "title": "r"}])
    early = requests.post(f"{api}/files.completeUploadExternal", headers=auth, data={"files": files, "channel_id": "C0KLEAK01"}, timeout=T)  # fmt: skip
    assert early.json() == {"ok": False, "error": "file_not_found"}
    assert requests.post(f"{slack_api.url}/upload/v1/made-up", data=b"hello", timeout=T).status_code == 404
    assert requests.post(step1["upload_url"], data=b"hello, world", timeout=T).status_code == 200  # 12 bytes, not 5
    by_name = requests.post(f"{api}/files.completeUploadExternal", headers=auth, data={"files": files, "channel_id": "#oncall"}, timeout=T)  # fmt: skip
    assert by_name.json()["error"] == "channel_not_found"
    assert "completed before its bytes" in slack_api.violations[0]
    assert "did not hand out" in slack_api.violations[1]
    assert "uploaded 12 bytes" in slack_api.violations[2]
    assert "not a channel ID" in slack_api.violations[3]


def test_jira_requires_the_xsrf_header_and_the_file_field(jira_api: JiraAPI) -> None:
    url, auth = f"{jira_api.url}/rest/api/2/issue/OPS-12/attachments", (jira_api.user, jira_api.token)
    no_header = requests.post(url, auth=auth, files={"file": ("a.md", b"x")}, timeout=T)
    assert no_header.status_code == 403
    wrong_field = requests.post(url, auth=auth, headers={"X-Atlassian-Token": "no-check"}, files={"attachment": ("a.md", b"x")}, timeout=T)  # fmt: skip
    assert wrong_field.status_code == 400
    assert (
        requests.post(url, auth=("someone", jira_api.token), files={"file": ("a.md", b"x")}, timeout=T).status_code
        == 401
    )
    empty = requests.post(f"{jira_api.url}/rest/api/2/issue/OPS-12/comment", auth=auth, json={"body": " "}, timeout=T)
    assert empty.status_code == 400 and empty.json()["errors"] == {"comment": "Comment body can not be empty!"}
    assert requests.post(f"{jira_api.url}/rest/api/2/issue/NOPE-1/comment", auth=auth, json={"body": "x"}, timeout=T).status_code == 404  # fmt: skip
    assert [v.split(": ", 1)[1][:30] for v in jira_api.violations] == [
        "attachments without X-Atlassia",
        "multipart part named 'attachme",
        "missing or wrong credentials",
        "comment without a body string",
    ]


def test_github_answers_401_and_422_in_its_shapes(github_api: GitHubAPI) -> None:
    url = f"{github_api.url}/repos/acme/ops/issues/12/comments"
    good = {"Authorization": f"Bearer {github_api.token}", "Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}  # fmt: skip
    anon = requests.post(url, json={"body": "x"}, timeout=T)
    assert anon.status_code == 401 and anon.json()["message"] == "Requires authentication"
    bad = requests.post(url, headers={**good, "Authorization": "Bearer ghp_wrong"}, json={"body": "x"}, timeout=T)
    assert bad.status_code == 401 and bad.json()["message"] == "Bad credentials"
    long = requests.post(url, headers=good, json={"body": "x" * 65537}, timeout=T)
    assert long.status_code == 422 and long.json()["errors"][0]["field"] == "body"
    no_body = requests.post(url, headers=good, json={"text": "x"}, timeout=T)
    assert no_body.status_code == 422
    plain = requests.post(url, headers={"Authorization": good["Authorization"]}, json={"body": "x"}, timeout=T)
    assert plain.status_code == 201
    assert len(github_api.violations) == 6  # anon, bad, long, no body, then no Accept and no version


def test_webhook_checks_token_and_payload(webhook_receiver: WebhookReceiver) -> None:
    auth = {"Authorization": f"Bearer {webhook_receiver.token}"}
    assert requests.post(webhook_receiver.hook_url, json={"verdict": "leak"}, timeout=T).status_code == 401
    assert (
        requests.post(webhook_receiver.hook_url, headers=auth, json={"verdict": "leak"}, timeout=T).status_code == 400
    )
    assert len(webhook_receiver.violations) == 2 and not webhook_receiver.payloads
