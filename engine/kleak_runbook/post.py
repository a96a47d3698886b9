"""``kleak-runbook post REPORT_DIR --to TARGET`` and ``run``/``replay`` ``--post TARGET``: send
reports to chat, tickets and webhooks through the sinks of ``deliver/targets.py``.

Every target is checked (syntax, settings) before anything is sent or run, so a typo fails at
once with exit 2 instead of after a ten-minute run. A target that fails is one line on stderr and
does not stop the others; the report stays on disk. ``post`` then exits 3; after ``run``/``replay``
the run's own exit code stands (a leak is still 1), as DESIGN's codes are about the verdict.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from kleak_runbook.deliver.targets import DeliverSettings

TARGET_HELP = (
    "slack:#channel, slack:C0123ABC, slack-response:URL, jira:KEY-123, github:owner/repo#12, webhook:URL or "
    "webhook:env:NAME (the URL in $NAME: keeps a secret URL out of the process table; repeatable; tokens "
    "and API URLs from KLEAK_* environment variables, see the README)"
)


def add_parser(sub: Any) -> None:
    """Register ``post`` on the CLI's subparsers."""
    p = sub.add_parser("post", help="send a saved report to Slack, Jira, GitHub or a webhook")
    p.add_argument("report_dir", type=Path, metavar="REPORT_DIR", help="a report directory written by run or replay")
    p.add_argument("--to", "-t", action="append", required=True, metavar="TARGET", help=TARGET_HELP)
    p.add_argument("--link", metavar="URL", help="a web page for the run, linked from every message")


def add_post_option(sp: argparse.ArgumentParser) -> None:
    """``--post TARGET`` on ``run`` and ``replay``."""
    sp.add_argument("--post", action="append", default=[], metavar="TARGET", help=f"post each report to {TARGET_HELP}")


@dataclass(frozen=True)
class Posting:
    """Targets checked up front; ``send`` delivers one report directory to each."""

    targets: tuple[str, ...]
    settings: DeliverSettings
    link: str | None = None

    @classmethod
    def prepare(cls, targets: Sequence[str], link: str | None = None) -> Posting | None:
        """None without targets; a bad target or a missing setting raises UsageError (exit 2)."""
        if not targets:
            return None
        from kleak_runbook.deliver.targets import DeliverSettings, check, parse_target  # requests: only when posting

        settings = DeliverSettings.from_env()
        for target in targets:
            check(parse_target(target), settings)
        return cls(tuple(targets), settings, link)

    def send(self, report_dir: Path, out: TextIO) -> int:
        """Deliver to every target; one line per target (where it went on ``out``, a failure on
        stderr). Returns the number of failures."""
        from kleak_runbook.deliver.targets import DeliveryError, deliver

        failures = 0
        for target in self.targets:
            try:
                where = deliver(target, report_dir, self.settings, self.link)
            except DeliveryError as exc:
                sys.stderr.write(f"kleak-runbook: {exc} (the report stays in {report_dir})\n")
                failures += 1
                continue
            out.write(f"posted {report_dir} to {where}\n")
        return failures


def run(args: argparse.Namespace) -> int:
    """The ``post`` command: 0 when every target took the report, 3 when one did not."""
    from kleak_runbook.deliver.saved import SavedReport

    SavedReport.load(args.report_dir)  # a directory that is not a report: exit 2 before any call
    posting = Posting.prepare(args.to, args.link)
    assert posting is not None  # --to is required
    return 3 if posting.send(args.report_dir, sys.stdout) else 0
