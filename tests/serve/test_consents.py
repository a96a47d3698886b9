"""Intrusive consents through groups: a Slack user group's members (``usergroups.users.list``)
and a Jira group's members (Jira REST, Cloud and Data Center) may give the consents their group
grants; anyone else is refused in the reply and the audit log, and a membership that cannot be
checked grants nothing (fail closed) and says why."""

from __future__ import annotations

import json

from standins.jira import JiraAPI

from serve.harness import jira_headers, jira_issue, slack_form, slack_headers

MEMBER, OUTSIDER = "U0KERNEL1", "U2147483697"
JIRA_MEMBER, JIRA_OUTSIDER = "5b10a2844c20165700ede21g", "5b10ac8d82e05b22cc7d4ef5"
SLACK_GROUPS = {"slack": {"intrusive_groups": {"S0614TZR7": ["drop_caches"]}}}
JIRA_GROUPS = {"jira": {"intrusive_groups": {"kernel-oncall": ["drop_caches"]}}}


def _slack(server, text, user):
    body = slack_form(text, user=user)
    reply = server.client.post("/hooks/slack", content=body, headers=slack_headers(body))
    assert reply.status_code == 200, reply.text
    return reply.json()["text"]


def _lookups(slack_api):
    return [c for c in slack_api.calls if c.path == "/api/usergroups.users.list"]


def _jira(server, labels, user, summary="Kernel memory grows on localhost"):
    payload = json.loads(jira_issue("OPS-12", summary, ["kleak", *labels]))
    payload["user"] = user
    body = json.dumps(payload).encode()
    return server.client.post("/hooks/jira", content=body, headers=jira_headers(body))


def test_slack_group_member_may_consent_and_others_are_refused(make_server, slack_api):
    server = make_server(env=slack_api.env(), config=SLACK_GROUPS)
    text = _slack(server, "localhost samples=1 allow=drop_caches", OUTSIDER)
    assert text == f"kleak: refused: slack:{OUTSIDER} may not consent to drop_caches"
    refused = server.audit()[-1]
    assert refused["outcome"] == "refused" and refused["status"] == 403 and refused["who"] == f"slack:{OUTSIDER}"
    assert refused["what"]["consents"] == ["drop_caches"]
    # the group grants drop_caches only: trace is refused without asking Slack
    assert "may not consent to trace" in _slack(server, "localhost allow=trace", MEMBER)
    assert len(_lookups(slack_api)) == 1

    text = _slack(server, "localhost samples=1 allow=drop_caches", MEMBER)
    assert text.startswith("kleak: running on localhost…"), text
    assert len(_lookups(slack_api)) == 1  # the group's members were kept (group_cache_s)
    [lookup] = _lookups(slack_api)
    assert lookup.form()["usergroup"] == "S0614TZR7"
    assert lookup.header("Authorization") == f"Bearer {slack_api.token}"
    accepted = server.audit()[-1]
    assert accepted["outcome"] == "queued" and accepted["consented_via"] == ["slack-group:S0614TZR7"]
    run_id = text.split("/runs/")[1].split("|")[0]
    doc = server.wait_run(run_id)
    # the consent reached the run: its command line (--allow-intrusive) and its result document
    assert doc["consents"] == ["drop_caches"] and doc["state"] == "done", doc
    assert doc["result"]["consent"] == ["drop_caches"]
    assert [e["outcome"] for e in server.audit()] == ["refused", "refused", "queued", "done"]
    slack_api.assert_clean()


def test_slack_group_lookup_that_fails_denies_and_says_why(make_server, slack_api):
    # the environment's form of slack.intrusive_groups
    server = make_server(env={**slack_api.env(), "KLEAK_SLACK_INTRUSIVE_GROUPS": "S0614TZR7=drop_caches"})
    where = "/api/usergroups.users.list"
    slack_api.fail(200, body={"ok": False, "error": "missing_scope", "needed": "usergroups:read"}, path_prefix=where)
    text = _slack(server, "localhost allow=drop_caches", MEMBER)
    why = "could not check Slack user group S0614TZR7: Slack answered missing_scope"
    assert text == f"kleak: refused: slack:{MEMBER} may not consent to drop_caches ({why})"
    entry = server.audit()[-1]
    assert entry["outcome"] == "refused" and entry["status"] == 403 and why in entry["reason"]
    slack_api.fail(500, body="upstream error", path_prefix=where)
    text = _slack(server, "localhost samples=2 allow=drop_caches", MEMBER)  # another text: the same is a replay
    assert text.endswith("(could not check Slack user group S0614TZR7: Slack answered HTTP 500)"), text
    assert not server.api("GET", "/api/runs").json()
    # a failure is not kept: once Slack answers again, the member may consent
    assert "running on localhost" in _slack(server, "localhost allow=drop_caches samples=1", MEMBER)
    assert len(_lookups(slack_api)) == 3


def test_jira_group_member_may_consent_by_label_and_others_are_refused(make_server, jira_api):
    server = make_server(env=jira_api.env(), config=JIRA_GROUPS)
    outsider = _jira(server, ["kleak-allow-drop_caches"], {"accountId": JIRA_OUTSIDER, "displayName": "On Call"})
    assert outsider.status_code == 403
    assert outsider.json()["error"] == f"jira:{JIRA_OUTSIDER} may not consent to drop_caches"
    entry = server.audit()[-1]
    assert entry["outcome"] == "refused" and entry["what"]["consents"] == ["drop_caches"]
    unknown = _jira(server, ["kleak-allow-everything"], {"accountId": JIRA_MEMBER})
    assert unknown.status_code == 400 and "unknown consent 'everything'" in unknown.json()["error"]

    member = _jira(server, ["kleak-allow-drop_caches"], {"accountId": JIRA_MEMBER, "displayName": "Kernel"})
    assert member.status_code == 200, member.text
    assert server.audit()[-1]["consented_via"] == ["jira-group:kernel-oncall"]
    doc = server.wait_run(member.json()["run"])
    assert doc["consents"] == ["drop_caches"] and doc["result"]["consent"] == ["drop_caches"], doc
    lookups = [c for c in jira_api.calls if c.path == "/rest/api/2/user/groups"]
    assert [c.query["accountId"] for c in lookups] == [[JIRA_OUTSIDER], [JIRA_MEMBER]]
    assert all(c.method == "GET" and (c.header("Authorization") or "").startswith("Basic ") for c in lookups)
    # without a consent label the issue runs as before, asking Jira nothing
    plain = _jira(server, [], {"accountId": JIRA_OUTSIDER}, summary="localhost again")
    assert plain.status_code == 200, plain.text
    assert server.wait_run(plain.json()["run"])["consents"] == []
    assert len([c for c in jira_api.calls if c.path.startswith("/rest/api/2/user")]) == 2
    jira_api.assert_clean()


def test_jira_data_center_groups_by_user_name(make_server, tmp_path):
    dc = JiraAPI(deployment="datacenter").start()
    try:
        # Data Center: a personal access token (no user), and webhooks name users by ``name``
        server = make_server(env={**dc.env(), "KLEAK_JIRA_USER": ""}, config=JIRA_GROUPS)
        refused = _jira(server, ["kleak-allow-drop_caches"], {"name": "mallory", "key": "JIRAUSER10200"})
        assert refused.status_code == 403 and "jira:mallory may not consent" in refused.json()["error"]
        member = _jira(server, ["kleak-allow-drop_caches"], {"name": "jdoe", "key": "JIRAUSER10100"})
        assert member.status_code == 200, member.text
        run = server.run(member.json()["run"])
        assert run["consents"] == ["drop_caches"] and run["who"] == "jira:jdoe"
        [first, second] = [c for c in dc.calls if c.path == "/rest/api/2/user"]
        assert first.query == {"username": ["mallory"], "expand": ["groups"]} and second.query["username"] == ["jdoe"]
        assert second.header("Authorization") == f"Bearer {dc.token}"
        dc.assert_clean()
    finally:
        dc.stop()


def test_jira_group_lookup_that_fails_denies(make_server, jira_api):
    server = make_server(env=jira_api.env(), config=JIRA_GROUPS)
    jira_api.fail(503, body={"errorMessages": ["Service unavailable"], "errors": {}}, path_prefix="/rest/api/2/user")
    reply = _jira(server, ["kleak-allow-drop_caches"], {"accountId": JIRA_MEMBER})
    assert reply.status_code == 403
    why = f"could not check Jira groups of {JIRA_MEMBER}: Jira answered HTTP 503 (Service unavailable)"
    assert reply.json()["error"] == f"jira:{JIRA_MEMBER} may not consent to drop_caches ({why})"
    assert server.audit()[-1]["reason"] == reply.json()["error"]
    nobody = _jira(server, ["kleak-allow-drop_caches"], {})  # Jira Automation may send no user at all
    assert nobody.status_code == 403 and "the webhook names no user" in nobody.json()["error"]
    assert not server.api("GET", "/api/runs").json()
    jira_api.assert_clean()
