"""``kleak-runbook post REPORT_DIR --to TARGET`` through the real CLI, against the stand-ins."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
from standins.github import GitHubAPI
from standins.jira import JiraAPI
from standins.slack import SlackAPI
from standins.webhook import WebhookReceiver

from .conftest import LINK, Kleak


def test_one_command_posts_to_every_kind_of_target(
    kleak: Kleak,
    saved_report: Path,
    slack_api: SlackAPI,
    jira_api: JiraAPI,
    github_api: GitHubAPI,
    webhook_receiver: WebhookReceiver,
) -> None:
    doc = json.loads((saved_report / "result.json").read_text())
    markdown = (saved_report / "report.md").read_text()
    run = kleak("post", str(saved_report), "--link", LINK,
                "--to", "slack:#oncall", "--to", "slack:C0KLEAK02", "--to", f"slack-response:{slack_api.response_url()}",
                "--to", "jira:OPS-12", "--to", "github:acme/ops#12", "--to", f"webhook:{webhook_receiver.hook_url}")  # fmt: skip
    assert run.returncode == 0, run.explain()
    assert len(run.stdout.splitlines()) == 6 and not run.stderr, run.explain()
    for server in (slack_api, jira_api, github_api, webhook_receiver):
        server.assert_clean()

    # Slack: a message per channel, report.md uploaded in its thread through the three steps
    assert [m.channel for m in slack_api.messages] == ["C0KLEAK01", "C0KLEAK02"]
    for message in slack_api.messages:
        assert "LEAK: slab-unreclaimable on kmalloc-leak" in message.text and "kmalloc-4k" in message.text
        assert LINK in message.text
    steps = [c.path.split("/")[-1] if c.path.startswith("/api/") else "upload" for c in slack_api.calls[:4]]
    assert steps == ["chat.postMessage", "files.getUploadURLExternal", "upload", "files.completeUploadExternal"]
    assert [(u.channel_id, u.thread_ts) for u in slack_api.completed] == [(m.channel, m.ts) for m in slack_api.messages]
    assert all(u.data == markdown.encode() for u in slack_api.completed)
    assert slack_api.responses[0]["response_type"] == "in_channel" and LINK in slack_api.responses[0]["text"]

    # Jira: both attachments, then a comment naming them
    names = [a.filename for a in jira_api.attachments]
    assert names == ["kleak-kmalloc-leak-report.md", "kleak-kmalloc-leak-evidence.tar.gz"]
    assert jira_api.attachments[0].data == markdown.encode()
    with tarfile.open(fileobj=io.BytesIO(jira_api.attachments[1].data)) as tar:
        members = set(tar.getnames())
        assert {"report/report.md", "report/result.json"} <= members
        result = tar.extractfile("report/result.json")
        assert result is not None and json.load(result) == doc
    assert jira_api.calls[-1].path.endswith("/comment")
    comment = jira_api.comments[0].body
    assert "[^kleak-kmalloc-leak-report.md]" in comment and "LEAK" in comment and LINK in comment

    # GitHub: the report itself, after the link
    assert github_api.comments[0].body == f"[Run page and full report]({LINK})\n\n{markdown}"

    # webhook: the result document as it is on disk
    payload = webhook_receiver.payloads[0]
    assert payload["result"] == doc and payload["verdict"] == "leak" and payload["link"] == LINK


def test_bundle_carries_the_evidence_of_a_live_report(kleak: Kleak, jira_api: JiraAPI, tmp_path: Path) -> None:
    """A report directory with evidence/ (what ``run`` writes) is bundled with it."""
    report = tmp_path / "live"
    (report / "evidence" / "samples" / "000" / "proc").mkdir(parents=True)
    (report / "evidence" / "samples" / "000" / "proc" / "meminfo").write_text("MemTotal: 1 kB\n")
    (report / "evidence" / "escape").symlink_to("/etc/passwd")
    (report / "result.json").write_text(json.dumps({"host": "db7", "verdict": "no-leak", "kind": "none"}))
    (report / "report.md").write_text("# no leak\n")
    run = kleak("post", str(report), "--to", "jira:KERN-7")
    assert run.returncode == 0, run.explain()
    jira_api.assert_clean()
    with tarfile.open(fileobj=io.BytesIO(jira_api.attachments[1].data)) as tar:
        assert "live/evidence/samples/000/proc/meminfo" in tar.getnames()
        link = tar.getmember("live/evidence/escape")
        assert link.issym() and link.size == 0  # stored as a link, /etc/passwd not pulled in


def test_report_too_long_for_github_is_cut_with_a_note(kleak: Kleak, report: Path, github_api: GitHubAPI) -> None:
    lines = [f"| cache-{i:06d} | {i} |" for i in range(6000)]  # ~120,000 characters
    (report / "report.md").write_text("# big\n" + "\n".join(lines) + "\n")
    run = kleak("post", str(report), "--to", "github:acme/kernel#3", "--link", LINK)
    assert run.returncode == 0, run.explain()
    github_api.assert_clean()  # the stand-in answers 422 and records a violation past 65,536
    body = github_api.comments[0].body
    assert 60000 < len(body) <= 65536
    assert "Report cut at" in body.splitlines()[-1] and LINK in body.splitlines()[-1]
    assert body.splitlines()[-4].startswith("| cache-") and body.splitlines()[-4].endswith(" |")  # cut at a line end


def test_slack_without_bot_token_replies_through_response_url(kleak: Kleak, report: Path, slack_api: SlackAPI) -> None:
    run = kleak("post", str(report), "--to", f"slack-response:{slack_api.response_url()}",
                env={"KLEAK_SLACK_BOT_TOKEN": None})  # fmt: skip
    assert run.returncode == 0, run.explain()
    slack_api.assert_clean()
    assert len(slack_api.responses) == 1 and not slack_api.messages


def test_secrets_from_files(kleak: Kleak, report: Path, github_api: GitHubAPI, tmp_path: Path) -> None:
    token_file = tmp_path / "gh-token"
    token_file.write_text(github_api.token + "\n")
    run = kleak("post", str(report), "--to", "github:acme/ops#12",
                env={"KLEAK_GITHUB_TOKEN": None, "KLEAK_GITHUB_TOKEN_FILE": str(token_file)})  # fmt: skip
    assert run.returncode == 0, run.explain()
    github_api.assert_clean()
    both = kleak("post", str(report), "--to", "github:acme/ops#12", env={"KLEAK_GITHUB_TOKEN_FILE": str(token_file)})
    assert both.returncode == 2 and "KLEAK_GITHUB_TOKEN and KLEAK_GITHUB_TOKEN_FILE" in both.stderr, both.explain()


@pytest.mark.parametrize(
    ("target", "says"),
    [
        ("fax:+4930123", "unknown target"),
        ("jira:OPS-12; rm -rf /", "expected jira:KEY-123"),
        ("webhook:file:///etc/passwd", "expected webhook:https://host/path"),
    ],  # every rule of the syntax: test_targets.py, in-process
)
def test_bad_target_is_one_line_and_exit_2(
    kleak: Kleak, report: Path, target: str, says: str, slack_api: SlackAPI, webhook_receiver: WebhookReceiver
) -> None:
    run = kleak("post", str(report), "--to", f"webhook:{webhook_receiver.hook_url}", "--to", target)
    assert run.returncode == 2, run.explain()
    assert run.stderr.count("\n") == 1 and says in run.stderr and "Traceback" not in run.stderr, run.explain()
    assert not webhook_receiver.calls and not slack_api.calls  # checked before anything is sent


def test_missing_setting_names_the_variable(kleak: Kleak, report: Path) -> None:
    run = kleak("post", str(report), "--to", "jira:OPS-12", env={"KLEAK_JIRA_URL": None})
    assert run.returncode == 2 and "needs KLEAK_JIRA_URL" in run.stderr, run.explain()


@pytest.mark.parametrize("what", ["missing", "file", "empty-dir", "bad-json", "no-report-md"])
def test_bad_report_dir_is_one_line_and_exit_2(kleak: Kleak, report: Path, what: str, jira_api: JiraAPI) -> None:
    path = report
    if what == "missing":
        path = report / "nope"
    elif what == "file":
        path = report / "report.md"
    elif what == "empty-dir":
        path = report / "empty"
        path.mkdir()
    elif what == "bad-json":
        (report / "result.json").write_text("{not json")
    else:
        (report / "report.md").unlink()
    run = kleak("post", str(path), "--to", "jira:OPS-12")
    assert run.returncode == 2, run.explain()
    assert run.stderr.count("\n") == 1 and str(path) in run.stderr and "Traceback" not in run.stderr
    assert not jira_api.calls
