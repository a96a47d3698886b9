"""Every report accounts for all of MemTotal and names the biggest consumer (real lab bundles)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import SAMPLES, run_cli

BUNDLES = ["lab-debian-6.1/healthy", "lab-debian-6.1/kmalloc-leak", "lab-debian-6.1/pages-leak", "this-machine"]


@pytest.mark.parametrize("bundle", BUNDLES)
def test_parts_add_up_to_memtotal(bundle: str, tmp_path: Path) -> None:
    out = tmp_path / "r"
    proc = run_cli("replay", str(SAMPLES / bundle), "--out", str(out), "-q")
    assert proc.returncode in (0, 1, 3), proc.stderr
    doc = json.loads((out / "result.json").read_text())
    memory = doc["memory"]
    assert memory["total_bytes"] == doc["mem_total_bytes"]
    assert sum(p["bytes"] for p in memory["parts"]) == memory["total_bytes"]
    sizes = [p["bytes"] for p in memory["parts"]]
    assert sizes == sorted(sizes, reverse=True)
    biggest = next(p for p in memory["parts"] if p["kind"] != "free")
    assert memory["biggest"] == biggest["name"]
    report = (out / "report.md").read_text()
    assert "## Where the memory is" in report and biggest["label"] in report
    if doc["verdict"] == "no-leak":
        assert f"The biggest consumer of memory is {biggest['label'].lower()}" in doc["summary"]


def test_pages_leak_shows_in_no_field(tmp_path: Path) -> None:
    out = tmp_path / "r"
    run_cli("replay", str(SAMPLES / "lab-debian-6.1/pages-leak"), "--out", str(out), "-q")
    parts = {p["name"]: p for p in json.loads((out / "result.json").read_text())["memory"]["parts"]}
    assert parts["unaccounted"]["kind"] == "unaccounted" and parts["unaccounted"]["bytes"] > 0
