"""Files of a run for the API and the pages: only regular files inside the run's report directory.

A name from a URL is checked part by part (no ``..``, no hidden parts, no link on the way) and
must resolve inside the directory, so no request reads anything else on the server.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

RUN_ID = re.compile(r"^[0-9]{8}T[0-9]{6}-[0-9a-f]{8}$")
PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:+-]{0,200}$")
MAX_LISTED = 2000


def valid_id(run_id: str) -> bool:
    return RUN_ID.match(run_id) is not None


def safe_file(root: Path, name: str) -> Path | None:
    """``root/name`` if it is a regular file reached without links and lying inside ``root``."""
    parts = name.split("/")
    if not name or len(parts) > 20 or not all(PART.match(p) and p not in (".", "..") for p in parts):
        return None
    path = root
    for part in parts:
        path = path / part
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            return None
        if stat.S_ISLNK(mode):
            return None
    if not stat.S_ISREG(mode) or not path.resolve().is_relative_to(root.resolve()):
        return None
    return path


def listing(root: Path) -> list[tuple[str, int]]:
    """Regular files under ``root`` as (relative name, size), links and odd names left out."""
    found: list[tuple[str, int]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if PART.match(d))
        for fname in sorted(filenames):
            path = Path(dirpath) / fname
            rel = path.relative_to(root).as_posix()
            if safe_file(root, rel) is not None:
                found.append((rel, path.stat().st_size))
            if len(found) >= MAX_LISTED:
                return found
    return found


def result_doc(report_dir: Path) -> dict[str, Any] | None:
    path = safe_file(report_dir, "result.json")
    if path is None:
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None
