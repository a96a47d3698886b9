from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

SAMPLES = Path(__file__).parent / "samples"

# the memo of validation parses and compiled templates (kleak_runbook.memo): the suite's own,
# shared by every command it runs, never the user's ~/.cache
os.environ.setdefault("KLEAK_CACHE_DIR", tempfile.mkdtemp(prefix="kleak-test-cache-"))
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
