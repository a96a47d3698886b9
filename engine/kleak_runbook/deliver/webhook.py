"""Plain webhook sink (requests): the result document and a summary as one JSON POST, with an
optional bearer token."""

from __future__ import annotations

from typing import Any

from kleak_runbook.deliver.http import call, site
from kleak_runbook.deliver.saved import SavedReport, summary_text


def payload(report: SavedReport) -> dict[str, Any]:
    return {
        "source": "kleak-runbook",
        "host": report.host,
        "verdict": report.doc.get("verdict"),
        "kind": report.doc.get("kind"),
        "summary": summary_text(report.doc),
        "link": report.link,
        "result": report.doc,
    }


class Webhook:
    """``webhook:https://…``."""

    def __init__(self, url: str, label: str, token: str | None, timeout: float) -> None:
        self.url, self.label, self.timeout = url, label, timeout
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def send(self, report: SavedReport) -> str:
        call(
            "POST",
            self.url,
            label=self.label,
            service="the webhook",
            timeout=self.timeout,
            headers=self.headers,
            json=payload(report),
        )
        return f"webhook at {site(self.url)}"
