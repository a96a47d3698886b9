"""sar -r pasted into a ticket (parsers/sar.py, parsers/pasted.py): each row a timed sample.

The report is https://www.catalyst2.com/knowledgebase/server-management/investigating-memory-usage-with-sar/
(tests/cases/blog-catalyst2-sar-r); the later-sysstat and restart variants are synthetic edge cases,
labelled as such."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.pasted import split_pasted
from kleak_runbook.parsers.sar import parse_sar_memory, parse_sar_row

CASE = Path(__file__).parent / "cases" / "blog-catalyst2-sar-r" / "input.txt"


def test_every_row_is_a_sample_with_its_time_and_memtotal() -> None:
    blocks = split_pasted(CASE.read_text(encoding="utf-8"))
    assert blocks.meminfo_forms == ("sar",) * 8
    walls = [wall for _, wall in blocks.times]
    assert walls[0] == "2021-05-25T16:10:01" and walls[-1] == "2021-05-25T17:20:01"
    first = parse_sar_row(blocks.meminfo[0])
    assert first["MemTotal"] == (212980 + 801800) * 1024 and first["Cached"] == 293512 * 1024
    assert first["Committed_AS"] == 1247884 * 1024
    assert blocks.uname is not None and "3.10.0-1160.25.1.el7.x86_64" in blocks.uname


def test_later_sysstat_12_hour_clock_midnight_and_a_restart() -> None:
    # synthetic: sysstat 12's columns (kbavail; kbmemused without buffers and cache), AM/PM times,
    # a LINUX RESTART (the rows before it are another boot's) and the clock passing midnight
    text = (
        "Linux 5.15.0-91-generic (db7) \t2024-01-31 \t_x86_64_\t(8 CPU)\n"
        "11:40:01 PM kbmemfree   kbavail kbmemused  %memused kbbuffers  kbcached  kbcommit   %commit  kbactive   kbinact   kbdirty\n"
        "11:50:01 PM   1000000   5000000   2000000     25.00    100000   3000000   4000000     50.00   3000000   2000000        10\n"
        "11:55:01 PM       LINUX RESTART\t(8 CPU)\n"
        "11:58:01 PM   1000000   5000000   2000000     25.00    100000   3000000   4000000     50.00   3000000   2000000        10\n"
        "12:08:01 AM    900000   4900000   2100000     26.25    100000   3000000   4100000     51.25   3100000   2000000        10\n"
        "Average:       950000   4950000   2050000     25.62    100000   3000000   4050000     50.62   3050000   2000000        10\n"
    )
    sar = parse_sar_memory(text)
    assert sar.restarted and [s.clock for s in sar.samples] == ["23:58:01", "00:08:01"]
    assert sar.wall(sar.samples[1]) == "2024-02-01T00:08:01"
    assert sar.samples[0].meminfo["MemTotal"] == 8000000 * 1024  # kbmemused / %memused
    assert sar.samples[0].meminfo["MemAvailable"] == 5000000 * 1024
    with pytest.raises(ParseError):
        parse_sar_memory("kbmemfree kbmemused\nnothing here\n")


def test_a_sar_paste_is_judged_over_its_window(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "kleak_runbook.cli", "replay", str(CASE), "--out", str(tmp_path / "r"), "--format", "json"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    doc = json.loads(run.stdout)
    assert doc["samples"]["count"] == 8 and doc["samples"]["window_s"] == 4200.0
    assert doc["verdict"] == "no-leak"
