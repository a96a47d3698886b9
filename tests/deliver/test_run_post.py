"""``run --post`` on this machine and ``replay --post`` on a saved bundle: each host's report is
posted at the end of the run, and a delivery failure leaves the report and the verdict intact."""

from __future__ import annotations

import json
from pathlib import Path

from standins.github import GitHubAPI
from standins.jira import JiraAPI
from standins.slack import SlackAPI
from standins.webhook import WebhookReceiver
from support.cli import QUICK

from .conftest import BUNDLE, Kleak


def test_replay_posts_its_report(
    kleak: Kleak, tmp_path: Path, slack_api: SlackAPI, jira_api: JiraAPI, github_api: GitHubAPI
) -> None:
    out = tmp_path / "replayed"
    run = kleak("replay", str(BUNDLE), "--out", str(out), "--format", "json", "-q",
                "--post", "slack:#kernel", "--post", "jira:OPS-12", "--post", "github:acme/ops#12")  # fmt: skip
    assert run.returncode == 1, run.explain()  # the leak's exit code, as without --post
    doc = run.json()  # stdout is still the JSON document alone: "posted ..." lines go to stderr
    assert doc["verdict"] == "leak"
    assert run.stderr.count("posted ") == 3, run.explain()
    markdown = (out / "report.md").read_text()
    assert slack_api.completed[0].data == markdown.encode() and slack_api.messages[0].channel == "C0KLEAK02"
    assert jira_api.attachments[0].data == markdown.encode() and len(jira_api.comments) == 1
    assert github_api.comments[0].body == markdown
    for server in (slack_api, jira_api, github_api):
        server.assert_clean()


def test_localhost_run_posts_its_report(
    kleak: Kleak, tmp_path: Path, webhook_receiver: WebhookReceiver, github_api: GitHubAPI
) -> None:
    out = tmp_path / "live"
    run = kleak("run", "--host", "localhost", "--out", str(out), *QUICK, "-q",
                "--post", f"webhook:{webhook_receiver.hook_url}", "--post", "github:acme/kernel#3")  # fmt: skip
    doc = run.json()
    assert run.returncode == doc["exit_code"], run.explain()
    payload = webhook_receiver.payloads[0]
    assert payload["host"] == "localhost" and payload["result"] == json.loads((out / "result.json").read_text())
    assert github_api.comments[0].body == (out / "report.md").read_text()
    webhook_receiver.assert_clean()
    github_api.assert_clean()


def test_bad_post_target_stops_the_run_before_it_starts(kleak: Kleak, tmp_path: Path) -> None:
    out = tmp_path / "never"
    run = kleak("run", "--host", "localhost", "--out", str(out), *QUICK, "--post", "jira:not-a-key")
    assert run.returncode == 2 and "--to jira:not-a-key: bad target" in run.stderr, run.explain()
    assert not out.exists()
    unset = kleak(
        "replay", str(BUNDLE), "--out", str(out), "--post", "github:acme/ops#1", env={"KLEAK_GITHUB_TOKEN": None}
    )
    assert unset.returncode == 2 and "KLEAK_GITHUB_TOKEN" in unset.stderr, unset.explain()
    assert not out.exists()


def test_failed_post_keeps_the_report_and_the_runs_exit_code(
    kleak: Kleak, tmp_path: Path, jira_api: JiraAPI, webhook_receiver: WebhookReceiver
) -> None:
    jira_api.fail(500, times=5)
    out = tmp_path / "kept"
    run = kleak("replay", str(BUNDLE), "--out", str(out), "--format", "json", "-q",
                "--post", "jira:OPS-12", "--post", f"webhook:{webhook_receiver.hook_url}")  # fmt: skip
    assert run.returncode == 1, (
        run.explain()
    )  # the leak's exit code stands (README, "Exit codes"): delivery is not the verdict
    assert run.json()["verdict"] == "leak"  # the verdict still reached stdout
    errors = [line for line in run.stderr.splitlines() if not line.startswith("posted ")]
    assert len(errors) == 1 and "jira:OPS-12: Jira answered HTTP 500" in errors[0], run.explain()
    assert (out / "report.md").is_file() and json.loads((out / "result.json").read_text())["verdict"] == "leak"
    assert len(webhook_receiver.payloads) == 1  # the other target still got it
    # the same failure from `post` is its own exit code 3
    jira_api.fail(500, times=5)
    again = kleak("post", str(out), "--to", "jira:OPS-12")
    assert again.returncode == 3 and again.stderr.count("\n") == 1, again.explain()
