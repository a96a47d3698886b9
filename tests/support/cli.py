"""Run the real ``kleak-runbook`` entry point as a subprocess, as a user would (stdlib only)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Integration runs are short: two samples one second apart; the verdict is not the point.
QUICK = ("--samples", "2", "--interval", "1", "--format", "json")
# README, "Exit codes": exit code per verdict.
EXIT_CODES = {"no-leak": 0, "leak": 1, "suspected-leak": 1, "inconclusive": 3}
# The fields every result document has, for one host (README).
RESULT_FIELDS = (
    "host",
    "runbook",
    "started_at",
    "finished_at",
    "kernel",
    "verdict",
    "kind",
    "culprits",
    "path",
    "known_bugs",
    "evidence_gaps",
    "exit_code",
)
VERDICTS = ("leak", "suspected-leak", "no-leak", "inconclusive")
KINDS = ("slab-unreclaimable", "slab-reclaimable", "vmalloc", "page-allocator", "percpu", "none", "unknown")


@dataclass(frozen=True)
class Run:
    """One finished CLI run."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """The ``--format json`` document on stdout; fails with the run's output if it is not JSON."""
        try:
            return json.loads(self.stdout)
        except json.JSONDecodeError:
            raise AssertionError(f"stdout is not JSON (exit {self.returncode})\n{self.explain()}") from None

    def explain(self) -> str:
        return (
            f"$ kleak-runbook {' '.join(self.args)}  -> exit {self.returncode}\n"
            f"--- stdout\n{self.stdout[-3000:]}\n--- stderr\n{self.stderr[-3000:]}"
        )


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "kleak_runbook.cli", *args]


def run_kleak(*args: str, env: dict[str, str], cwd: Path, timeout: float = 240) -> Run:
    done = subprocess.run(
        command(*args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=cwd,
        check=False,
    )
    return Run(tuple(args), done.returncode, done.stdout, done.stderr)
