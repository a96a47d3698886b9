"""Jira sink (REST v2, requests): report.md and the evidence bundle attached to the issue
(``POST /rest/api/2/issue/{key}/attachments``, multipart field ``file``, ``X-Atlassian-Token:
no-check``), then a comment with the verdict that links to both. A file over the attachment
limit (Jira's default: 10 MiB) is not sent; the comment says so and where the file is instead.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from kleak_runbook.deliver.http import call
from kleak_runbook.deliver.saved import SavedReport, bundle_tarball, summary_text

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024  # Jira's default attachment size limit (10485760 bytes)


def credentials(user: str | None, token: str) -> tuple[tuple[str, str] | None, dict[str, str]]:
    """requests' ``auth`` and headers: basic auth with user and API token (Jira Cloud); with a
    token and no user, a bearer personal access token (Jira Data Center)."""
    headers = {"Accept": "application/json"}
    if not user:
        headers["Authorization"] = f"Bearer {token}"
    return ((user, token) if user else None), headers


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MiB"


def comment_text(report: SavedReport, attached: dict[str, str], left_out: dict[str, int], limit: int) -> str:
    """Jira wiki markup (REST v2 comments are not markdown): ``[^file]`` links an attachment.
    ``attached``: what -> file name; ``left_out``: what -> size, for files over ``limit``."""
    lines = ["*kleak-runbook*", "{noformat}", summary_text(report.doc), "{noformat}"]
    if attached:
        lines.append(" · ".join(f"{what.capitalize()}: [^{name}]" for what, name in attached.items()))
    where = f"the run page [{report.link}]" if report.link else f"{report.report_dir} on the machine that posted it"
    for what, size in left_out.items():
        lines.append(
            f"{what.capitalize()} not attached: {_mib(size)} is over the attachment limit of {_mib(limit)}; see {where}"
        )
    if report.link:
        lines.append(f"Run page: [{report.link}]")
    return "\n".join(lines)


class JiraIssue:
    """``jira:KEY-123``."""

    def __init__(
        self,
        key: str,
        label: str,
        base_url: str,
        user: str | None,
        token: str,
        timeout: float,
        max_attachment: int = MAX_ATTACHMENT_BYTES,
    ) -> None:
        self.key, self.label, self.timeout, self.max_attachment = key, label, timeout, max_attachment
        self.api = f"{base_url.rstrip('/')}/rest/api/2/issue/{key}"
        self.auth, self.headers = credentials(user, token)

    def send(self, report: SavedReport) -> str:
        report_name, bundle_name = f"{report.stem}-report.md", f"{report.stem}-evidence.tar.gz"
        with tempfile.TemporaryDirectory(prefix="kleak-post-") as tmp:
            bundle = bundle_tarball(report.report_dir, Path(tmp) / bundle_name).read_bytes()
        wanted = {
            "report": (report_name, report.markdown.encode("utf-8"), "text/markdown"),
            "evidence bundle": (bundle_name, bundle, "application/gzip"),
        }
        fits = {what: f for what, f in wanted.items() if len(f[1]) <= self.max_attachment}
        left_out = {what: len(f[1]) for what, f in wanted.items() if what not in fits}
        files: list[tuple[str, Any]] = [("file", f) for f in fits.values()]
        if files:
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
        attached = {what: f[0] for what, f in fits.items()}
        call(
            "POST",
            f"{self.api}/comment",
            label=self.label,
            service="Jira",
            timeout=self.timeout,
            expect=(201,),
            auth=self.auth,
            headers=self.headers,
            json={"body": comment_text(report, attached, left_out, self.max_attachment)},
        )
        what = f"{' and '.join(attached.values())} attached" if attached else "nothing attached"
        if left_out:
            what += f"; {' and '.join(left_out)} over the attachment limit, not attached"
        return f"Jira issue {self.key} (comment, {what})"
