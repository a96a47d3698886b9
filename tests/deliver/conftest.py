"""A real report directory (a replay of the lab's kmalloc-leak bundle) and the environment that
points kleak-runbook's sinks at the stand-in servers."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from standins.github import GitHubAPI
from standins.jira import JiraAPI
from standins.slack import SlackAPI
from standins.webhook import WebhookReceiver
from support.cli import Run, run_kleak

BUNDLE = Path(__file__).parent.parent / "samples" / "lab-debian-6.1" / "kmalloc-leak"
LINK = "http://kleak.test/runs/42"

Kleak = Callable[..., Run]


def base_env() -> dict[str, str]:
    """The user's environment without any KLEAK_* setting that could point elsewhere."""
    return {k: v for k, v in os.environ.items() if not k.startswith("KLEAK_")}


@pytest.fixture(scope="session")
def saved_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A report directory written by ``kleak-runbook replay`` (never modified by tests)."""
    work = tmp_path_factory.mktemp("saved")
    run = run_kleak("replay", str(BUNDLE), "--out", str(work / "report"), "-q", env=base_env(), cwd=work)
    assert run.returncode == 1, run.explain()  # the lab bundle is a leak
    return work / "report"


@pytest.fixture
def report(saved_report: Path, tmp_path: Path) -> Path:
    """A copy of the saved report that a test may change."""
    return Path(shutil.copytree(saved_report, tmp_path / "report"))


@pytest.fixture
def stand_env(
    slack_api: SlackAPI, jira_api: JiraAPI, github_api: GitHubAPI, webhook_receiver: WebhookReceiver
) -> dict[str, str]:
    return {**base_env(), **slack_api.env(), **jira_api.env(), **github_api.env(), **webhook_receiver.env()}


@pytest.fixture
def kleak(stand_env: dict[str, str], tmp_path: Path) -> Kleak:
    """``kleak-runbook ARGS`` as a subprocess with the stand-ins' settings (``env=`` adds or,
    with a None value, removes variables)."""

    def run(*args: str, env: dict[str, str | None] | None = None, timeout: float = 240) -> Run:
        full = dict(stand_env)
        for key, value in (env or {}).items():
            if value is None:
                full.pop(key, None)
            else:
                full[key] = value
        return run_kleak(*args, env=full, cwd=tmp_path, timeout=timeout)

    return run
