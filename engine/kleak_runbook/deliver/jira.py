"""Jira sink (REST v2, requests): report.md and the evidence bundle attached to the issue
(``POST /rest/api/2/issue/{key}/attachments``, multipart field ``file``, ``X-Atlassian-Token:
no-check``), then a comment with the verdict that links to both.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from kleak_runbook.deliver.http import call
from kleak_runbook.deliver.saved import SavedReport, bundle_tarball, summary_text


def comment_text(report: SavedReport, report_name: str, bundle_name: str) -> str:
    """Jira wiki markup (REST v2 comments are not markdown): ``[^file]`` links an attachment."""
    lines = ["*kleak-runbook*", "{noformat}", summary_text(report.doc), "{noformat}"]
    lines.append(f"Report: [^{report_name}] · evidence bundle: [^{bundle_name}]")
    if report.link:
        lines.append(f"Run page: [{report.link}]")
    return "\n".join(lines)


class JiraIssue:
    """``jira:KEY-123``. Basic auth with user and API token (Jira Cloud); with a token and no
    user, a bearer personal access token (Jira Data Center)."""

    def __init__(self, key: str, label: str, base_url: str, user: str | None, token: str, timeout: float) -> None:
        self.key, self.label, self.timeout = key, label, timeout
        self.api = f"{base_url.rstrip('/')}/rest/api/2/issue/{key}"
        self.auth = (user, token) if user else None
        self.headers = {"Accept": "application/json"}
        if not user:
            self.headers["Authorization"] = f"Bearer {token}"

    def send(self, report: SavedReport) -> str:
        report_name, bundle_name = f"{report.stem}-report.md", f"{report.stem}-evidence.tar.gz"
        with tempfile.TemporaryDirectory(prefix="kleak-post-") as tmp:
            bundle = bundle_tarball(report.report_dir, Path(tmp) / bundle_name).read_bytes()
        files = [
            ("file", (report_name, report.markdown.encode("utf-8"), "text/markdown")),
            ("file", (bundle_name, bundle, "application/gzip")),
        ]
        call(
            "POST",
            f"{self.api}/attachments",
            label=self.label,
            service="Jira",
            timeout=self.timeout,
            expect=(200,),
            auth=self.auth,
            headers={**self.headers, "X-Atlassian-Token": "no-check"},  # else Jira's XSRF check refuses it
            files=files,
        )
        call(
            "POST",
            f"{self.api}/comment",
            label=self.label,
            service="Jira",
            timeout=self.timeout,
            expect=(201,),
            auth=self.auth,
            headers=self.headers,
            json={"body": comment_text(report, report_name, bundle_name)},
        )
        return f"Jira issue {self.key} (comment, {report_name} and {bundle_name} attached)"
