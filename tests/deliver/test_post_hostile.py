"""Services that fail, rate-limit, stall or echo a credential: one line naming the target, exit 3,
the report still on disk, and no secret in any output or process command line."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from standins.base import StandIn
from standins.github import GitHubAPI
from standins.jira import JiraAPI
from standins.slack import SlackAPI
from standins.webhook import WebhookReceiver
from support.cli import command

from .conftest import Kleak


def _unchanged(report: Path, before: dict[str, bytes]) -> bool:
    return {p.name: p.read_bytes() for p in report.iterdir() if p.is_file()} == before


def _pick(
    service: str, slack: SlackAPI, jira: JiraAPI, github: GitHubAPI, webhook: WebhookReceiver
) -> tuple[StandIn, str]:
    """The stand-in of ``service`` and a target on it."""
    servers: dict[str, tuple[StandIn, str]] = {
        "slack": (slack, "slack:#oncall"),
        "jira": (jira, "jira:OPS-12"),
        "github": (github, "github:acme/ops#12"),
        "webhook": (webhook, f"webhook:{webhook.hook_url}"),
    }
    return servers[service]


def _files(report: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in report.iterdir() if p.is_file()}


@pytest.mark.parametrize("service", ["slack", "jira", "github", "webhook"])
def test_server_error_is_one_line_exit_3_and_the_report_stays(
    kleak: Kleak,
    report: Path,
    service: str,
    slack_api: SlackAPI,
    jira_api: JiraAPI,
    github_api: GitHubAPI,
    webhook_receiver: WebhookReceiver,
) -> None:
    server, target = _pick(service, slack_api, jira_api, github_api, webhook_receiver)
    server.fail(500, times=10, body="<html>Internal Server Error</html>")
    before = _files(report)
    run = kleak(
        "post", str(report), "--to", target, "--to", "github:acme/kernel#3" if service != "github" else "jira:KERN-7"
    )
    assert run.returncode == 3, run.explain()
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in run.stderr, run.explain()
    assert "500" in lines[0] and str(report) in lines[0]
    assert lines[0].startswith(f"kleak-runbook: {target.split(':')[0]}:")
    assert len(run.stdout.splitlines()) == 1, "the other target still got the report"
    assert _unchanged(report, before)
    assert webhook_receiver.hook_url.rsplit("/", 1)[1] not in run.stderr  # a webhook URL's path is a secret


def test_429_is_retried_after_retry_after(kleak: Kleak, report: Path, github_api: GitHubAPI, jira_api: JiraAPI) -> None:
    github_api.fail(429, headers={"Retry-After": "1"}, body={"message": "API rate limit exceeded"})
    jira_api.fail(429, headers={"Retry-After": "1"}, path_prefix="/rest/api/2/issue/OPS-12/comment")
    start = time.monotonic()
    run = kleak("post", str(report), "--to", "github:acme/ops#12", "--to", "jira:OPS-12")
    assert run.returncode == 0, run.explain()
    assert time.monotonic() - start >= 2  # waited as told, twice
    assert len(github_api.calls) == 2 and len(github_api.comments) == 1
    assert len(jira_api.comments) == 1
    github_api.assert_clean()
    jira_api.assert_clean()


def test_slack_429_is_retried(kleak: Kleak, report: Path, slack_api: SlackAPI) -> None:
    slack_api.fail(429, headers={"Retry-After": "1"}, body={"ok": False, "error": "ratelimited"},
                   path_prefix="/api/chat.postMessage")  # fmt: skip
    run = kleak("post", str(report), "--to", "slack:#oncall")
    assert run.returncode == 0, run.explain()
    assert len(slack_api.messages) == 1 and len(slack_api.completed) == 1
    slack_api.assert_clean()


@pytest.mark.parametrize("service", ["slack", "github"])
def test_long_retry_after_fails_at_once(
    kleak: Kleak, report: Path, service: str, slack_api: SlackAPI, github_api: GitHubAPI
) -> None:
    server: StandIn = slack_api if service == "slack" else github_api
    server.fail(429, times=5, headers={"Retry-After": "3600"}, body={"ok": False, "error": "ratelimited"})
    start = time.monotonic()
    run = kleak("post", str(report), "--to", "slack:#oncall" if service == "slack" else "github:acme/ops#12")
    assert run.returncode == 3, run.explain()
    assert time.monotonic() - start < 30
    assert "429" in run.stderr and "rate limited" in run.stderr and "3600" in run.stderr, run.explain()
    assert len(server.calls) == 1


def test_429_without_end_gives_up_after_bounded_retries(kleak: Kleak, report: Path, jira_api: JiraAPI) -> None:
    jira_api.fail(429, times=100, headers={"Retry-After": "0"})
    run = kleak("post", str(report), "--to", "jira:OPS-12")
    assert run.returncode == 3 and "rate limited" in run.stderr, run.explain()
    assert len(jira_api.calls) == 3


@pytest.mark.parametrize("service", ["slack", "jira", "github", "webhook"])
def test_slow_server_times_out(
    kleak: Kleak,
    report: Path,
    service: str,
    slack_api: SlackAPI,
    jira_api: JiraAPI,
    github_api: GitHubAPI,
    webhook_receiver: WebhookReceiver,
) -> None:
    server, target = _pick(service, slack_api, jira_api, github_api, webhook_receiver)
    server.delay_s = 30
    start = time.monotonic()
    run = kleak("post", str(report), "--to", target, env={"KLEAK_DELIVER_TIMEOUT": "1"})
    took = time.monotonic() - start
    assert run.returncode == 3, run.explain()
    assert took < 15, f"a 1 s timeout took {took:.1f} s"
    assert len(run.stderr.splitlines()) == 1 and ("within 1 s" in run.stderr or "timed out" in run.stderr), (
        run.explain()
    )


def test_unknown_channel_and_issue_are_named(
    kleak: Kleak, report: Path, slack_api: SlackAPI, github_api: GitHubAPI, jira_api: JiraAPI
) -> None:
    run = kleak("post", str(report), "--to", "slack:#nowhere", "--to", "github:acme/ops#999", "--to", "jira:NOPE-1")
    assert run.returncode == 3, run.explain()
    lines = run.stderr.splitlines()
    assert len(lines) == 3
    assert "slack:#nowhere" in lines[0] and "channel_not_found" in lines[0]
    assert "github:acme/ops#999" in lines[1] and "404" in lines[1] and "Not Found" in lines[1]
    assert "jira:NOPE-1" in lines[2] and "Issue does not exist" in lines[2]


def _cmdlines(skip: int) -> list[str]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != skip:
            try:
                out.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
            except OSError:
                continue
    return out


def test_tokens_never_reach_output_or_a_command_line(
    stand_env: dict[str, str],
    report: Path,
    tmp_path: Path,
    slack_api: SlackAPI,
    jira_api: JiraAPI,
    github_api: GitHubAPI,
    webhook_receiver: WebhookReceiver,
) -> None:
    tokens = [slack_api.token, jira_api.token, github_api.token, webhook_receiver.token]
    # services that echo the credential in their error: the message must still not show it
    github_api.fail(401, body={"message": f"Bad credentials: {github_api.token}"})
    jira_api.fail(403, body={"errorMessages": [f"token {jira_api.token} refused"]}, path_prefix="/rest/api/2/issue/OPS-12/attachments")  # fmt: skip
    slack_api.delay_s = 0.5  # long enough for the process table to be read during the calls
    args = command("post", str(report), "--to", "slack:#oncall", "--to", "jira:OPS-12",
                   "--to", "github:acme/ops#12", "--to", f"webhook:{webhook_receiver.hook_url}")  # fmt: skip
    proc = subprocess.Popen(
        args, env=stand_env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    seen: list[str] = []
    polls = 0
    while proc.poll() is None:
        seen += [line for line in _cmdlines(os.getpid()) if any(t in line for t in tokens)]
        polls += 1
        time.sleep(0.02)
    out, err = proc.communicate(timeout=60)
    assert polls > 10, "the run ended before the process table could be watched"
    assert proc.returncode == 3, err
    assert "Bad credentials: ***" in err and "token *** refused" in err, err
    assert not seen, seen
    for token in tokens:
        assert token not in out and token not in err
    assert len(slack_api.messages) == 1 and len(webhook_receiver.payloads) == 1
