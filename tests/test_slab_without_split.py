"""Slab with no reclaimable split (kernels before 2.6.19, a grep of "Slab" and "MemAvailable"
alone): its growth is judged, and MemAvailable tells its kind."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from kleak_runbook.derive.series import Series

CASES = Path(__file__).parent / "cases"


def _replay(path: Path, out: Path) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-m", "kleak_runbook.cli", "replay", str(path), "--out", str(out), "--format", "json", "-q"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.stdout.strip(), proc.stderr
    return dict(json.loads(proc.stdout))


def test_slab_that_took_memavailable_with_it_is_an_unreclaimable_leak(tmp_path: Path) -> None:
    # real: OSWatcher's meminfo samples ("zzz ***<date> CEST"), 30 s apart, before an OOM
    doc = _replay(CASES / "blog-nenadnoveljic-slab-oom-series" / "input.txt", tmp_path / "r")
    assert (doc["verdict"], doc["kind"]) == ("leak", "slab-unreclaimable")
    assert "Slab (no reclaimable split" in str(doc["summary"])


def test_slab_that_left_memavailable_alone_is_reclaimable(tmp_path: Path) -> None:
    # synthetic (edge case): Slab grows 2 GB a minute while MemAvailable barely moves
    lines = []
    for i, (avail, slab) in enumerate([(50_000_000, 2_900_000), (49_900_000, 4_900_000), (49_800_000, 6_900_000)]):
        lines += [f"Mon Nov 30 10:0{i}:00 UTC 2026", f"MemAvailable:   {avail} kB", f"Slab:           {slab} kB"]
    paste = tmp_path / "paste.txt"
    paste.write_text("\n".join(lines) + "\n")
    doc = _replay(paste, tmp_path / "r")
    assert doc["kind"] == "slab-reclaimable" and doc["verdict"] == "inconclusive"  # no reclaim test consented


def test_a_dip_under_one_percent_of_the_rise_is_noise() -> None:
    rise = Series.of([2_928_720, 2_928_428, 2_928_400, 47_753_392, 52_054_036], (0.0, 30.0, 60.0, 90.0, 120.0))
    assert rise.steady
    assert not Series.of([100, 90, 200, 300], (0.0, 1.0, 2.0, 3.0)).steady  # 10 of a rise of 200: given back
