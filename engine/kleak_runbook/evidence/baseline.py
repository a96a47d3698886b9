"""Earlier runs of a host as a baseline: find their report directories and load their evidence.

A run writes ``<reports>/<host>-<time>/``; the next run of the same host looks beside its own
report directory (or in ``--baseline DIR``, repeatable: a report directory, or a directory of
them) and loads the newest few bundles whose manifest names the host. Which of them are of the
same boot is decided later, from the boot ids (``derive.baseline``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from kleak_runbook.errors import KleakError, UsageError
from kleak_runbook.evidence.collector import Request
from kleak_runbook.evidence.store import EvidenceStore

MAX_RUNS = 20  # the newest runs of the host; older ones add little to a fit and cost a load each


def _is_report(path: Path) -> bool:
    return (path / "evidence" / "manifest.json").is_file() or (path / "manifest.json").is_file()


def _manifest(path: Path) -> dict[str, object]:
    for rel in ("evidence/manifest.json", "manifest.json"):
        try:
            data = json.loads((path / rel).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            return data
    return {}


def _candidates(dirs: Iterable[Path]) -> Iterator[Path]:
    for d in dirs:
        if _is_report(d):
            yield d
            continue
        try:
            children = sorted(d.iterdir())
        except OSError:
            continue
        for child in children:
            if child.is_dir() and not child.is_symlink() and _is_report(child):
                yield child


def check_dirs(dirs: Iterable[Path]) -> None:
    for d in dirs:
        if not d.is_dir():
            raise UsageError(f"--baseline {d}: not a directory")


def find_runs(host: str, dirs: Iterable[Path], exclude: Path | None = None) -> list[Path]:
    """The newest report directories of ``host`` in ``dirs``, oldest first (``exclude``: this run's own)."""
    found: dict[Path, str] = {}
    skip = exclude.resolve() if exclude is not None else None
    for path in _candidates(dirs):
        real = path.resolve()
        if real == skip or real in found:
            continue
        manifest = _manifest(path)
        if manifest.get("host") == host and not manifest.get("unreachable"):
            found[real] = str(manifest.get("started_at", ""))
    newest = sorted(found, key=lambda p: found[p])[-MAX_RUNS:]
    return newest


def load_run(path: Path) -> tuple[EvidenceStore, dict[str, Any]] | None:
    """One earlier run's evidence (read-only store) and its result document; None when unreadable."""
    from kleak_runbook.evidence.replay import ReplayCollector  # replay's readers: links, sizes, FIFOs refused

    try:
        collector = ReplayCollector(path)
    except KleakError:
        return None
    store = EvidenceStore(collector.host)
    try:
        collector.collect(Request(step="baseline"), None, lambda _h: store)
    except KleakError:
        return None
    finally:
        collector.close()
    try:
        result = json.loads((path / "result.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        result = {}
    return store, result if isinstance(result, dict) else {}
