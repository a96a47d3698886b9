"""Every knowledge entry's affected ranges, checked on both sides of each bound with real release
strings of each stream (tests/knowledge/versions.yaml; the entries' sources are in their links)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from kleak_runbook.decide.knowledge import bundled_knowledge_dir, load_knowledge
from kleak_runbook.derive.kversion import check, identify

ROWS: list[dict[str, Any]] = yaml.safe_load((Path(__file__).parent / "knowledge" / "versions.yaml").read_text())
ENTRIES = {e.id: e for e in load_knowledge(bundled_knowledge_dir())}


def test_every_verified_entry_is_tested_inside_and_outside_its_ranges() -> None:
    seen: dict[str, set[bool]] = {}
    for row in ROWS:
        seen.setdefault(row["entry"], set()).add(bool(row["affected"]))
    untested = [e.id for e in ENTRIES.values() if e.verified and not e.trap and seen.get(e.id) != {True, False}]
    assert not untested, untested
    assert sum(e.verified for e in ENTRIES.values()) >= 40


@pytest.mark.parametrize("row", ROWS, ids=[f"{r['entry']}@{r['kernel']}" for r in ROWS])
def test_version_row(row: dict[str, Any]) -> None:
    identity = identify(
        row["kernel"],
        proc_version=row.get("proc_version"),
        os_release_id=row.get("os_release_id"),
        version_signature=row.get("version_signature"),
    )
    assert bool(check(identity, ENTRIES[row["entry"]].affected).affected) is row["affected"]
