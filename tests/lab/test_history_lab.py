"""A slow leak on a real kernel: too slow for one run, caught across two runs.

The leaky module leaks 16 KiB/s from its own cache (1.3 GiB a day, a quarter of the
short-window threshold): an ordinary run calls it no-leak. A second run some minutes later
finds the first in the same reports directory (same boot id), and the cross-run deltas name
the module's cache.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from test_scenarios import kleak_run
from vm import LabVM

pytestmark = pytest.mark.lab

SLOW_KIB = 16  # KiB/s: 1.3 GiB/day
BETWEEN_S = 360  # 5.6 MiB leaked between the runs: above the runbook's 4 MiB min_history_growth_bytes
CACHE = "slow_leak_obj"


def test_slow_leak_is_caught_from_a_baseline_run(leaky: LabVM, tmp_path: Path) -> None:
    reports = tmp_path / "kleak-reports"
    leaky.load_module("cache", rate_kib=SLOW_KIB, total_kib=SLOW_KIB * 900, size=512, cache_name=CACHE)
    time.sleep(5)
    first = kleak_run(leaky, reports / "first", baseline=True)
    assert first.result["verdict"] == "no-leak", first  # one ordinary run cannot see it
    assert "history" not in first.result
    time.sleep(BETWEEN_S)
    second = kleak_run(leaky, reports / "second", baseline=True)
    r = second.result
    assert (r["verdict"], r["kind"]) == ("leak", "slab-unreclaimable"), second
    hist = r["history"]
    assert hist["source"] == "runs" and hist["top"]["kind"] == "slab-unreclaimable", second
    rate = hist["kernel_memory"]["slab_unreclaimable"]["growth_bytes_per_day"]
    assert 0.5 * SLOW_KIB * 1024 * 86400 < rate < 2 * SLOW_KIB * 1024 * 86400, hist
    caches = second.culprits("slab-cache")
    assert caches and caches[0]["name"] == CACHE and caches[0]["source"] == "history", second
    assert CACHE in second.report and "minutes" in r["summary"]
