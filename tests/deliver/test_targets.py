"""``kleak_runbook.deliver.targets`` in-process, as the server calls it (pytest turns any warning
from requests or slack-sdk into an error here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from standins.jira import JiraAPI
from standins.slack import SlackAPI

from kleak_runbook.deliver.targets import (
    DeliverSettings,
    DeliveryError,
    bundle_tarball,
    deliver,
    parse_target,
    summary_text,
)
from kleak_runbook.errors import KleakError, UsageError

from .conftest import LINK


def test_deliver_returns_where_it_went(saved_report: Path, slack_api: SlackAPI, jira_api: JiraAPI) -> None:
    settings = DeliverSettings.from_env({**slack_api.env(), **jira_api.env()})
    assert deliver("slack:#oncall", saved_report, settings, LINK).startswith("Slack channel #oncall (message ")
    assert deliver("jira:OPS-12", saved_report, settings).startswith("Jira issue OPS-12 (comment, ")
    where = deliver(f"slack-response:{slack_api.response_url()}", saved_report, DeliverSettings())
    assert where == "the Slack command's channel (response_url)"
    slack_api.assert_clean()
    jira_api.assert_clean()


def test_errors_carry_their_exit_codes(saved_report: Path, jira_api: JiraAPI) -> None:
    jira_api.fail(502, body={"errorMessages": ["upstream\ndown"], "errors": {}})
    with pytest.raises(DeliveryError) as failed:
        deliver("jira:OPS-12", saved_report, DeliverSettings.from_env(jira_api.env()))
    assert isinstance(failed.value, KleakError) and failed.value.exit_code == 3
    assert str(failed.value) == "jira:OPS-12: Jira answered HTTP 502 (upstream down)"
    with pytest.raises(UsageError) as bad:
        deliver("jira:OPS12", saved_report, DeliverSettings())
    assert bad.value.exit_code == 2


def test_settings_from_env_and_files(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("xoxb-from-file\n")
    s = DeliverSettings.from_env(
        {"KLEAK_SLACK_BOT_TOKEN_FILE": str(secret), "KLEAK_GITHUB_API_URL": "https://ghe/api/v3"}
    )
    assert s.slack_bot_token == "xoxb-from-file" and s.github_api_url == "https://ghe/api/v3"
    assert s.slack_api_url == "https://slack.com/api/" and s.timeout_s == 20.0
    assert "xoxb" not in repr(s)
    with pytest.raises(UsageError, match="KLEAK_JIRA_TOKEN_FILE=/nonexistent"):
        DeliverSettings.from_env({"KLEAK_JIRA_TOKEN_FILE": "/nonexistent"})
    with pytest.raises(UsageError, match="KLEAK_DELIVER_TIMEOUT"):
        DeliverSettings.from_env({"KLEAK_DELIVER_TIMEOUT": "nan"})


def test_target_labels_hide_url_paths() -> None:
    assert parse_target("webhook:https://hooks.example.com/T0/B0/SECRET").label == "webhook:https://hooks.example.com/…"
    assert parse_target("slack-response:https://hooks.slack.com/commands/T/1/SECRET").label.endswith(".com/…")
    assert parse_target("github:acme/ops.repo#7").value == "acme/ops.repo#7"
    with pytest.raises(UsageError) as bad:
        parse_target("webhook:nope/SECRET")
    assert "SECRET" not in str(bad.value)


def test_url_targets_from_the_environment(tmp_path: Path) -> None:
    env = {"HOOK": "https://hooks.example.com/T0/B0/SECRET", "REPLY": " https://hooks.slack.com/commands/T/1/S \n"}
    target = parse_target("webhook:env:HOOK", env)
    assert target.value == env["HOOK"] and target.label == "webhook:https://hooks.example.com/…"
    assert parse_target("slack-response:env:REPLY", env).value == "https://hooks.slack.com/commands/T/1/S"
    (tmp_path / "url").write_text(env["HOOK"] + "\n")
    assert parse_target("webhook:env:HOOK", {"HOOK_FILE": str(tmp_path / "url")}).value == env["HOOK"]
    for text, environ, says in [
        ("webhook:env:HOOK", {}, "HOOK (or HOOK_FILE) is not set"),
        ("webhook:env:HOOK", {**env, "HOOK_FILE": "/x"}, "HOOK and HOOK_FILE are both set"),
        ("webhook:env:HOOK", {"HOOK": "file:///SECRET"}, "the value of HOOK is not an http(s) URL"),
        (
            "webhook:env:HOOK",
            {"HOOK_FILE": "/nonexistent/SECRET-url"},
            "HOOK_FILE=/nonexistent/SECRET-url: cannot read",
        ),
        ("webhook:env:9LIVES", {}, "expected an environment variable name"),
    ]:
        with pytest.raises(UsageError) as bad:
            parse_target(text, environ)
        assert says in str(bad.value) and "file:///SECRET" not in str(bad.value)


def test_summary_text_of_a_sparse_document() -> None:
    assert summary_text({"verdict": "inconclusive", "kind": "unknown", "host": "db7"}) == "⚪ INCONCLUSIVE on db7"
    text = summary_text({"verdict": "no-leak", "culprits": [{"name": "x"}], "kernel": "not a dict"})
    assert text.splitlines() == ["🟢 NO-LEAK on unknown host", "Top culprit: x (?, size not in the evidence)"]


def test_bundle_of_a_replayed_report(saved_report: Path, tmp_path: Path) -> None:
    import tarfile

    dest = bundle_tarball(saved_report, tmp_path / "b.tar.gz")
    with tarfile.open(dest) as tar:
        assert sorted(tar.getnames()) == ["report/report.md", "report/result.json"]  # replay writes no evidence/
        member = tar.extractfile("report/result.json")
        assert member is not None and json.load(member)["verdict"] == "leak"


@pytest.mark.parametrize(
    ("target", "says"),
    [
        ("slack", "unknown target"),
        ("fax:+4930123", "unknown target"),
        ("slack:oncall", "expected slack:#channel"),
        ("slack:#On Call", "expected slack:#channel"),
        ("jira:ops-12", "expected jira:KEY-123"),
        ("jira:OPS-12; rm -rf /", "expected jira:KEY-123"),
        ("github:acme/ops", "expected github:owner/repo#12"),
        ("github:acme/../ops#1/../../x", "expected github:owner/repo#12"),
        ("webhook:file:///etc/passwd", "expected webhook:https://host/path"),
        ("webhook:ftp://example.com/x", "expected webhook:https://host/path"),
        ("webhook:https://exa mple.com/x", "expected webhook:https://host/path"),
        ("slack-response:not-a-url", "expected slack-response:"),
    ],
)
def test_bad_target_syntax(target: str, says: str) -> None:
    with pytest.raises(UsageError) as bad:
        parse_target(target)
    assert says in str(bad.value) and "\n" not in str(bad.value)
