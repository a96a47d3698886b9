"""Where the shipped runbooks and playbooks are: inside the wheel, or in a source checkout."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    for candidate in (_HERE / name, _HERE.parent.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"kleak-runbook installation is missing its {name}/ directory")


def runbook_dir() -> Path:
    return _find("runbooks")


def playbook_dir() -> Path:
    return _find("playbooks")


def knowledge_dir() -> Path:
    return runbook_dir() / "knowledge"
