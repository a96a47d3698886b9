"""top's summary lines pasted into a ticket (parsers/top.py): every layout procps printed.

Real lines: tests/cases/gh-zfs-3677-top-arc-adapt (procps-ng before 3.3.10), blog-chatdba-run-tmpfs-sessions
(3.3.10 and later), gh-openzfs-292-arc-reclaim-missing (procps 3.2, "k" on each figure),
gh-pulse-694-top-cache (MiB), gh-moby-41384-opentsdb-unaccounted (a figure top cut short)."""

from __future__ import annotations

import pytest

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.pasted import split_pasted
from kleak_runbook.parsers.top import parse_top_summary

KiB = 1024


def test_every_layout() -> None:
    new = parse_top_summary("KiB Mem : 32780028 total, 905684 free, 19957900 used, 11916444 buff/cache\n")
    assert (new["MemTotal"], new["MemFree"], new["Cached"], new["Used"]) == (
        32780028 * KiB,
        905684 * KiB,
        11916444 * KiB,
        19957900 * KiB,
    )
    old = parse_top_summary(
        "Mem:   4024644k total,  3839860k used,   184784k free,     5392k buffers\n"
        "Swap:  2097148k total,    12345k used,  2084803k free,   123456k cached\n"
    )
    assert old["MemTotal"] == 4024644 * KiB and old["Cached"] == (5392 + 123456) * KiB
    mib = parse_top_summary(
        "MiB Mem :  50168.8 total,   1227.3 free,   5261.9 used,  45200.2 buff/cache\n"
        "MiB Swap:   2048.0 total,   2048.0 free,      0.0 used.  44906.9 avail Mem\n"
    )
    assert mib["MemTotal"] == round(50168.8 * 1024**2) and mib["MemAvailable"] == round(44906.9 * 1024**2)
    with pytest.raises(ParseError):  # "13121584+total": top cut the figure to fit
        parse_top_summary("KiB Mem : 13121584+total, 16477996 free, 11203886+used,  2698980 buff/cache\n")


def test_a_top_screen_in_a_ticket_is_read() -> None:
    text = (
        "top - 04:42:57 up 1 day,  7:36,  3 users,  load average: 129.59, 131.21, 127.61\n"
        "KiB Mem:  16415460 total, 16289720 used,   125740 free,      640 buffers\n"
        "KiB Swap:  3999740 total,   153912 used,  3845828 free.     7456 cached Mem\n"
    )
    blocks = split_pasted(text)
    assert blocks.meminfo_forms == ("top",)
    assert parse_top_summary(blocks.meminfo[0])["MemTotal"] == 16415460 * KiB
    # free's Mem row is not top's line
    assert split_pasted(
        "              total        used        free\nMem:        2048        1638        410\n"
    ).meminfo_forms == ("free",)


def test_reclaimable_caches_beside_totals_that_show_no_slab(tmp_path: object) -> None:
    # tests/cases/blog-besthub-nas-xfs-inode-ili, shortened: top's totals, then slabtop's biggest rows
    import json
    import subprocess
    import sys
    from pathlib import Path

    text = (
        "Mem: 63.050G total, 62.639G used, 420.973M free, 33.973M buffers\n\n"
        "Active / Total Objects (% used)    : 31807723 / 35664583 (89.2%)\n"
        "Active / Total Slabs (% used)      : 3259180 / 3259251 (100.0%)\n"
        "Active / Total Size (% used)       : 11242773.43K / 12756788.05K (88.1%)\n"
        "  OBJS ACTIVE  USE OBJ SIZE  SLABS OBJ/SLAB CACHE SIZE NAME\n"
        "8480676 7565420  89%    1.00K 2120169        4   8480676K xfs_inode\n"
        "8351794 7565375  90%    0.22K 491282       17   1965128K xfs_ili\n"
    )
    path = Path(str(tmp_path)) / "t.txt"
    path.write_text(text, encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "kleak_runbook.cli", "replay", str(path), "--out", str(path) + ".out", "--format", "json"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    doc = json.loads(run.stdout)
    assert (doc["verdict"], doc["kind"]) == ("no-leak", "slab-reclaimable"), doc["summary"]
