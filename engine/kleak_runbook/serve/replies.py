"""Posting a finished run to everyone waiting for it, through the delivery sinks (``deliver.targets``)."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

from kleak_runbook.deliver.targets import DeliverSettings, DeliveryError, deliver
from kleak_runbook.errors import KleakError
from kleak_runbook.serve.metrics import Metrics
from kleak_runbook.serve.settings import Settings
from kleak_runbook.serve.store import Run, Store

log = logging.getLogger("kleak_runbook.serve")


def deliver_settings(settings: Settings) -> DeliverSettings:
    """The sinks' settings from the environment, with the Slack ones this server was configured with."""
    base = DeliverSettings.from_env()
    token = settings.slack.bot_token.get_secret_value() if settings.slack.bot_token else base.slack_bot_token
    return dataclasses.replace(base, slack_bot_token=token, slack_api_url=settings.slack.api_url)


class Replies:
    def __init__(self, settings: Settings, store: Store, metrics: Metrics, base_url: str) -> None:
        self.sinks = deliver_settings(settings)
        self.store, self.metrics, self.base_url = store, metrics, base_url.rstrip("/")

    def link(self, run_id: str) -> str:
        return f"{self.base_url}/runs/{run_id}"

    def __call__(self, run_id: str) -> None:
        report_dir = self.store.report_dir(run_id)
        run = self.store.get(run_id)
        if run is not None and run.state == "failed" and not (report_dir / "result.json").is_file():
            _failure_report(run, report_dir)  # whoever asked still gets an answer, and the page a report
        for target in self.store.undelivered(run_id):
            error: str | None = None
            try:
                deliver(target, report_dir, self.sinks, link=self.link(run_id))
            except (DeliveryError, KleakError) as exc:
                error = str(exc)[:500]
            except Exception as exc:  # a sink bug must not lose the other replies
                error = f"internal error: {type(exc).__name__}"
            if error:
                self.metrics.failures.labels("delivery").inc()
                log.warning("run %s: delivery failed: %s", run_id, error)
            self.store.delivered(run_id, target, error)


def _failure_report(run: Run, report_dir: Path) -> None:
    """A run that ended without a report (it could not start, or the CLI refused the server's
    settings) is still answered: a minimal report that says so, where the run's would have been."""
    why = (run.error or "no report was written").strip().rstrip(".")
    summary = f"The run did not finish: {why}. No evidence was judged; see the server's settings and log."
    doc: dict[str, Any] = {
        "host": run.host,
        "runbook": run.runbook,
        "verdict": "inconclusive",
        "kind": "unknown",
        "summary": summary,
        "culprits": [],
        "known_bugs": [],
        "evidence_gaps": [{"item": "run", "status": "error", "reason": why}],
        "exit_code": run.exit_code if run.exit_code is not None else 3,
    }
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "result.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    (report_dir / "report.md").write_text(f"# ⚪ INCONCLUSIVE on {run.host}\n\n{summary}\n", encoding="utf-8")
