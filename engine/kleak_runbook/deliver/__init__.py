"""Sinks: where a finished ``Result`` goes. The report directory is the first; chat and ticket
destinations implement the same protocol (README, "Where things go").
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from kleak_runbook.decide.result import Result
from kleak_runbook.deliver.saved import SavedReport


class Sink(Protocol):
    def deliver(self, result: Result, report_dir: Path) -> str:
        """Deliver ``result`` (whose files are in ``report_dir``); return where it went, for the user."""
        ...


class ReportSink(Protocol):
    """A destination away from this machine (chat, ticket, webhook; ``deliver/targets.py``): it
    sends a report already written by the report directory sink, read back as a ``SavedReport``,
    so ``post`` can send any report on disk and ``run --post`` and the server send the same."""

    def send(self, report: SavedReport) -> str:
        """Send ``report``; return where it went, in one line, for the user."""
        ...
