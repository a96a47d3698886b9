from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SAMPLES = Path(__file__).parent / "samples"
REPO = Path(__file__).parent.parent

# Stand-in Slack, Jira, GitHub and webhook servers: fixtures slack_api, jira_api, github_api,
# webhook_receiver (tests/standins/; tests/ is on sys.path, as this conftest has no __init__.py).
pytest_plugins = ["standins.plugin"]


@pytest.fixture
def samples() -> Path:
    return SAMPLES


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The real entry point, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "kleak_runbook.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )
