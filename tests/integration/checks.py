"""Checks every integration test applies to a run's result document and evidence bundle."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from support.cli import EXIT_CODES, KINDS, RESULT_FIELDS, VERDICTS, Run

CULPRIT_TYPES = ("slab-cache", "vmalloc-caller", "backtrace", "module")
_MEMINFO_LINE = re.compile(r"^([A-Za-z0-9_()]+):\s+(\d+)( kB)?$")


def iso_utc(value: str) -> datetime:
    """Parse an ISO 8601 UTC timestamp (``Z`` or ``+00:00``); fail on anything else."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert parsed.tzinfo is not None and parsed.utcoffset() == timezone.utc.utcoffset(None), value
    return parsed


def meminfo_fields(text: str) -> list[str]:
    """Field names of a /proc/meminfo text, in order; every line must have meminfo's shape."""
    assert text.endswith("\n") and "\r" not in text, "meminfo text is not clean LF-terminated lines"
    names = []
    for line in text.splitlines():
        m = _MEMINFO_LINE.match(line)
        assert m, f"not a meminfo line: {line!r}"
        names.append(m.group(1))
    return names


def live_meminfo_fields() -> list[str]:
    return meminfo_fields(Path("/proc/meminfo").read_text(encoding="ascii"))


def check_result(run: Run, doc: dict[str, Any], host: str) -> None:
    """The result document (README, "What a run writes"), consistent with the process exit code."""
    missing = [f for f in RESULT_FIELDS if f not in doc]
    assert not missing, f"result lacks {missing}\n{run.explain()}"
    assert doc["host"] == host
    assert doc["verdict"] in VERDICTS
    assert doc["kind"] in KINDS
    assert doc["exit_code"] == EXIT_CODES[doc["verdict"]], doc["verdict"]
    assert run.returncode == doc["exit_code"], run.explain()
    assert "release" in doc["kernel"]
    assert iso_utc(doc["started_at"]) <= iso_utc(doc["finished_at"])
    for gap in doc["evidence_gaps"]:
        assert set(gap) >= {"item", "status", "reason"}, gap
    # measured culprits come biggest growth first (biggest size first from one snapshot), then attributed code
    timed = doc["samples"]["count"] >= 2 and doc["samples"]["times_s"]
    for type_ in ("slab-cache", "vmalloc-caller"):
        keys = [c["growth_bytes_per_s"] if timed else c["bytes"] for c in doc["culprits"] if c["type"] == type_]
        assert keys == sorted(keys, reverse=True), f"{type_} culprits are not ranked"
    for c in doc["culprits"] + doc["largest"]:
        assert c["type"] in CULPRIT_TYPES and c["name"], c
    if doc["verdict"] == "no-leak":
        assert not doc["culprits"], "a no-leak verdict names the largest, never culprits"
    # The path is a chain: every visited step names the rule that fired and where it led.
    path = doc["path"]
    assert path, "no step visited"
    for here, there in zip(path, path[1:]):
        assert here.get("rule"), f"step {here['step']} does not say which rule fired"
        assert here.get("next") == there["step"], path
    assert "next" not in path[-1], "the walk did not end on a terminal step"
    assert "Traceback" not in run.stderr, run.explain()


def check_report(report_dir: Path, doc: dict[str, Any]) -> None:
    """report.md's first line names the verdict; result.json on disk is the same document."""
    first = (report_dir / "report.md").read_text(encoding="utf-8").splitlines()[0]
    named = re.findall(r"(?<![\w-])(suspected-leak|no-leak|leak|inconclusive)(?![\w-])", first, re.IGNORECASE)
    assert [n.lower() for n in named] == [doc["verdict"]], first
    on_disk = json.loads((report_dir / "result.json").read_text(encoding="utf-8"))
    assert "report_dir" not in on_disk
    assert {**on_disk, "report_dir": str(report_dir)} == doc, "stdout JSON differs from result.json"


def gaps(doc: dict[str, Any]) -> dict[str, str]:
    return {g["item"]: g["status"] for g in doc["evidence_gaps"]}


def samples_dir(report_dir: Path) -> Path:
    return report_dir / "evidence" / "samples"


def visited(doc: dict[str, Any]) -> list[str]:
    return [v["step"] for v in doc["path"]]
