"""Sinks: where a finished ``Result`` goes. The report directory is the first; chat and ticket
destinations implement the same protocol (README, "Where things go").
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from kleak_runbook.decide.result import Result


class Sink(Protocol):
    def deliver(self, result: Result, report_dir: Path) -> str:
        """Deliver ``result`` (whose files are in ``report_dir``); return where it went, for the user."""
        ...
