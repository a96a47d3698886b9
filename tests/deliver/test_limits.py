"""What the sinks keep off the wire and off the command line: Jira attachments over the size
limit (the comment says where the file is instead) and webhook URLs that carry their secret
(``webhook:env:NAME`` reads them from the environment, never from argv)."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

from standins.jira import JiraAPI
from standins.webhook import WebhookReceiver
from support.cli import command

from kleak_runbook.deliver.saved import bundle_tarball

from .conftest import LINK, Kleak


def test_bundle_over_the_attachment_limit_is_left_out(
    kleak: Kleak, report: Path, jira_api: JiraAPI, tmp_path: Path
) -> None:
    md = (report / "report.md").stat().st_size
    (report / "evidence").mkdir(exist_ok=True)
    (report / "evidence" / "noise").write_bytes(os.urandom(md + 4096))  # incompressible: the bundle is bigger
    cap = md + 1024
    assert bundle_tarball(report, tmp_path / "b.tar.gz").stat().st_size > cap
    run = kleak("post", str(report), "--to", "jira:OPS-12", "--link", LINK,
                env={"KLEAK_JIRA_MAX_ATTACHMENT_BYTES": str(cap)})  # fmt: skip
    assert run.returncode == 0, run.explain()
    jira_api.assert_clean()
    assert [a.filename for a in jira_api.attachments] == ["kleak-kmalloc-leak-report.md"]
    comment = jira_api.comments[0].body
    assert "Report: [^kleak-kmalloc-leak-report.md]" in comment
    assert "Evidence bundle not attached:" in comment and "over the attachment limit of" in comment
    assert f"see the run page [{LINK}]" in comment
    assert "evidence bundle over the attachment limit, not attached" in run.stdout, run.explain()


def test_nothing_fits_comment_only(kleak: Kleak, report: Path, jira_api: JiraAPI) -> None:
    run = kleak("post", str(report), "--to", "jira:KERN-7", env={"KLEAK_JIRA_MAX_ATTACHMENT_BYTES": "100"})
    assert run.returncode == 0, run.explain()
    jira_api.assert_clean()
    assert not jira_api.attachments and [c.path.rsplit("/", 1)[1] for c in jira_api.calls] == ["comment"]
    comment = jira_api.comments[0].body
    assert "Report not attached" in comment and "Evidence bundle not attached" in comment
    assert str(report) in comment  # no run page: where the files are on the machine that posted them


def test_default_limit_is_jiras_and_a_bad_one_is_exit_2(kleak: Kleak, report: Path, jira_api: JiraAPI) -> None:
    run = kleak("post", str(report), "--to", "jira:OPS-12")
    assert run.returncode == 0 and len(jira_api.attachments) == 2, run.explain()
    with tarfile.open(fileobj=io.BytesIO(jira_api.attachments[1].data)) as tar:
        assert "report/result.json" in tar.getnames()
    bad = kleak("post", str(report), "--to", "jira:OPS-12", env={"KLEAK_JIRA_MAX_ATTACHMENT_BYTES": "10MB"})
    assert bad.returncode == 2 and "KLEAK_JIRA_MAX_ATTACHMENT_BYTES='10MB'" in bad.stderr, bad.explain()


def test_webhook_url_from_the_environment(
    kleak: Kleak, report: Path, webhook_receiver: WebhookReceiver, tmp_path: Path
) -> None:
    secret = webhook_receiver.hook_url.rsplit("/", 1)[1]
    run = kleak("post", str(report), "--to", "webhook:env:OPS_HOOK", env={"OPS_HOOK": webhook_receiver.hook_url})
    assert run.returncode == 0, run.explain()
    assert secret not in " ".join(command(*run.args))  # the process table shows the variable's name only
    assert len(webhook_receiver.payloads) == 1 and webhook_receiver.calls[0].path.endswith(secret)
    url_file = tmp_path / "hook-url"
    url_file.write_text(webhook_receiver.hook_url + "\n")
    from_file = kleak("post", str(report), "--to", "webhook:env:OPS_HOOK", env={"OPS_HOOK_FILE": str(url_file)})
    assert from_file.returncode == 0 and len(webhook_receiver.payloads) == 2, from_file.explain()
    webhook_receiver.assert_clean()


def test_webhook_env_target_mistakes_are_exit_2_without_the_value(
    kleak: Kleak, report: Path, webhook_receiver: WebhookReceiver
) -> None:
    unset = kleak("post", str(report), "--to", "webhook:env:NO_SUCH_HOOK")
    assert unset.returncode == 2 and "NO_SUCH_HOOK (or NO_SUCH_HOOK_FILE) is not set" in unset.stderr, unset.explain()
    not_url = kleak("post", str(report), "--to", "webhook:env:OPS_HOOK", env={"OPS_HOOK": "s3cr3t-not-a-url"})
    assert not_url.returncode == 2 and "the value of OPS_HOOK is not an http(s) URL" in not_url.stderr
    assert "s3cr3t" not in not_url.stderr
    bad_name = kleak("post", str(report), "--to", "webhook:env:$(id)")
    assert bad_name.returncode == 2 and "expected an environment variable name" in bad_name.stderr
    assert not webhook_receiver.calls
