"""The Contract: a server configured from the environment alone takes a signed slash command,
answers within 3 s, runs on localhost and posts the result back through Slack."""

from __future__ import annotations

import time

from serve.harness import slack_form, slack_headers


def _command(server, text, response_url=""):
    body = slack_form(text, response_url)
    began = time.monotonic()
    reply = server.client.post("/hooks/slack", content=body, headers=slack_headers(body))
    return reply, time.monotonic() - began


def test_slash_command_with_bot_token_posts_message_and_report(make_server, slack_api, tmp_path):
    server = make_server(env=slack_api.env(), bare=True)  # no --config: the environment alone (Contract)
    reply, took = _command(server, "localhost samples=1")
    assert reply.status_code == 200, reply.text
    assert took < 3, f"acknowledged after {took:.1f} s"
    ack = reply.json()
    assert ack["text"].startswith("kleak: running on localhost…"), ack
    run_id = ack["text"].split("/runs/")[1].split("|")[0]
    doc = server.wait_run(run_id)
    assert doc["state"] == "done" and doc["verdict"] in ("no-leak", "leak", "suspected-leak", "inconclusive")
    assert doc["samples"] == 1 and doc["trigger"] == "slack" and doc["who"] == "slack:U2147483697"
    assert doc["replies"] == [{"target": "slack", "delivered": True, "error": None}]
    slack_api.assert_clean()
    [message] = slack_api.messages
    assert message.channel == "C0KLEAK01"
    assert f"{server.url}/runs/{run_id}" in message.text, message.text
    assert doc["verdict"].upper() in message.text
    [upload] = slack_api.completed
    assert upload.filename.endswith("report.md") and upload.channel_id == "C0KLEAK01"
    assert upload.data == server.client.get(f"/runs/{run_id}/files/report.md").content
    assert server.client.get(f"/runs/{run_id}").status_code == 200


def test_slash_command_without_bot_token_answers_the_response_url(make_server, slack_api):
    env = {"KLEAK_SLACK_API_URL": f"{slack_api.url}/api/"}
    server = make_server(env=env, config={"slack": {"response_url_prefixes": [slack_api.url + "/commands/"]}})
    reply, _ = _command(server, "localhost samples=1", slack_api.response_url())
    assert reply.status_code == 200 and "running on localhost" in reply.json()["text"]
    run_id = reply.json()["text"].split("/runs/")[1].split("|")[0]
    doc = server.wait_run(run_id)
    assert doc["replies"][0] == {"target": "slack-response", "delivered": True, "error": None}
    slack_api.assert_clean()
    assert not slack_api.messages
    [answer] = slack_api.responses
    assert f"/runs/{run_id}" in answer["text"]


def test_second_command_for_the_same_host_joins_the_running_one(make_server, slack_api):
    server = make_server(env=slack_api.env(), config={"runs": {"samples": 3, "interval": 1}})
    first, _ = _command(server, "localhost")
    second, _ = _command(server, "localhost samples=2")
    assert "running on localhost" in first.json()["text"]
    assert "already running on localhost" in second.json()["text"]
    run_id = first.json()["text"].split("/runs/")[1].split("|")[0]
    assert run_id in second.json()["text"]
    server.wait_run(run_id)
    assert len(slack_api.messages) == 1  # same channel: one subscriber, one answer
    outcomes = [e["outcome"] for e in server.audit() if e["trigger"] == "slack"]
    assert outcomes == ["queued", "joined", "done"]


def test_a_run_that_fails_before_its_report_is_still_answered(make_server, slack_api, tmp_path):
    # the server's own settings are wrong (a key file that does not exist): the CLI refuses them
    # with one line and no report; whoever asked still hears why, and the page shows it
    config = {"runs": {"private_key": str(tmp_path / "missing-key")}}
    server = make_server(env=slack_api.env(), config=config)
    reply, _ = _command(server, "127.0.0.2 samples=1")
    assert reply.status_code == 200 and "running on 127.0.0.2" in reply.json()["text"], reply.text
    run_id = reply.json()["text"].split("/runs/")[1].split("|")[0]
    doc = server.wait_run(run_id)
    assert doc["state"] == "failed" and "--private-key" in (doc["error"] or ""), doc
    assert doc["replies"] == [{"target": "slack", "delivered": True, "error": None}], doc
    slack_api.assert_clean()
    [message] = slack_api.messages
    assert "INCONCLUSIVE" in message.text and f"/runs/{run_id}" in message.text, message.text
    page = server.client.get(f"/runs/{run_id}")
    assert page.status_code == 200 and "did not finish" in page.text
