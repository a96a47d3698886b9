"""Where the shipped runbooks, playbooks and knowledge are (inside the wheel, or in a source
checkout), and the site-local knowledge directories the environment names."""

from __future__ import annotations

import os
from collections.abc import Mapping
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


KNOWLEDGE_ENV = "KLEAK_KNOWLEDGE"  # site-local knowledge directories, os.pathsep-separated


def env_knowledge_dirs(environ: Mapping[str, str] | None = None) -> tuple[Path, ...]:
    """The site-local knowledge directories named in ``KLEAK_KNOWLEDGE`` (``os.pathsep``-separated)."""
    value = (os.environ if environ is None else environ).get(KNOWLEDGE_ENV, "")
    return tuple(Path(part) for part in value.split(os.pathsep) if part.strip())
