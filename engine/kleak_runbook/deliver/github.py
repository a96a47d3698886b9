"""GitHub sink (REST, requests): the report as a comment on an issue or pull request
(``POST /repos/{owner}/{repo}/issues/{n}/comments``), cut to GitHub's 65,536-character limit.
"""

from __future__ import annotations

from kleak_runbook.deliver.http import call
from kleak_runbook.deliver.saved import SavedReport

API_VERSION = "2022-11-28"
MAX_BODY = 65536  # characters; GitHub answers 422 "body is too long" beyond it


def comment_body(report: SavedReport, limit: int = MAX_BODY) -> str:
    """The report, with the run's page first; a report too long is cut at a line end, with a
    note saying where the whole of it is."""
    head = f"[Run page and full report]({report.link})\n\n" if report.link else ""
    body = head + report.markdown
    if len(body) <= limit:
        return body
    where = report.link or f"`{report.report_dir / 'report.md'}` on the machine that posted it"
    note = f"\n\n---\n*Report cut at {{n:,}} of {len(body):,} characters (GitHub's limit); the whole report: {where}*\n"
    room = limit - len(note.format(n=limit))
    cut = body.rfind("\n", 0, room)
    cut = cut if cut > room // 2 else room
    return body[:cut] + note.format(n=cut)


class GitHubIssue:
    """``github:owner/repo#12`` (an issue or a pull request: they share comments)."""

    def __init__(self, owner: str, repo: str, number: int, label: str, api_url: str, token: str, timeout: float):
        self.slug, self.number, self.label, self.timeout = f"{owner}/{repo}", number, label, timeout
        self.url = f"{api_url.rstrip('/')}/repos/{owner}/{repo}/issues/{number}/comments"
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
        }

    def send(self, report: SavedReport) -> str:
        resp = call(
            "POST",
            self.url,
            label=self.label,
            service="GitHub",
            timeout=self.timeout,
            expect=(201,),
            headers=self.headers,
            json={"body": comment_body(report)},
        )
        try:
            where = resp.json().get("html_url")
        except (ValueError, AttributeError):
            where = None
        return f"GitHub {self.slug}#{self.number}" + (f" ({where})" if isinstance(where, str) else "")
