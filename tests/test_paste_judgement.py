"""Judging pasted outputs by what an expert reads in them: times between outputs, motion without
times, old formats, OOM reports cut short, counts of memory cgroups. Every input here is a
synthetic edge case (labelled as such), shaped like the real ones in tests/cases; each test goes
through the real CLI (``kleak-runbook replay``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from kleak_runbook.parsers.pasted import split_pasted
from kleak_runbook.parsers.slabinfo import parse_slabinfo


def replay(text: str, tmp_path: Path) -> tuple[int, dict[str, Any]]:
    source = tmp_path / "ticket.txt"
    source.write_text(text)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "kleak_runbook.cli",
            "replay",
            str(source),
            "--out",
            str(tmp_path / "r"),
            "-q",
            "--format=json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode in (0, 1, 3), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def _grep(unreclaim_kb: int, reclaim_kb: int = 100000) -> str:
    return f"Slab: {unreclaim_kb + reclaim_kb} kB\nSReclaimable: {reclaim_kb} kB\nSUnreclaim: {unreclaim_kb} kB\n"


def test_uptime_lines_time_the_outputs_and_a_slow_steady_growth_is_suspected(tmp_path: Path) -> None:
    # synthetic: grep'd slab lines with `uptime` before each, hours apart (as in tests/cases/gh-rocm-176)
    text = ""
    for up, kb in (("up 12 min", 80000), ("up  1:40", 86000), ("up  3:05", 92000), ("up  5:30", 101000)):
        text += f"$ uptime; grep -i slab /proc/meminfo\n 10:00:00 {up},  2 users,  load average: 0.1, 0.1, 0.1\n"
        text += _grep(kb) + "\n"
    code, doc = replay(text, tmp_path)
    assert (code, doc["verdict"], doc["kind"]) == (1, "suspected-leak", "slab-unreclaimable")
    assert doc["samples"]["count"] == 4 and doc["samples"]["times_s"][-1] == (330 - 12) * 60
    assert "a day" in doc["summary"]


def test_the_same_growth_over_minutes_is_not_a_slow_leak(tmp_path: Path) -> None:
    # synthetic: the same values a minute apart: a short window proves nothing at this rate
    text = ""
    for up, kb in (("up 12 min", 80000), ("up 13 min", 80100), ("up 14 min", 80200)):
        text += f" 10:00:00 {up},  2 users,  load average: 0.1\n" + _grep(kb) + "\n"
    _code, doc = replay(text, tmp_path)
    assert doc["verdict"] != "suspected-leak" or doc["kind"] != "slab-unreclaimable", doc["summary"]


def test_date_lines_time_the_outputs(tmp_path: Path) -> None:
    # synthetic: `date` printed before each output (C locale, UTC)
    text = ""
    for hour, kb in ((8, 80000), (11, 90000), (14, 100000)):
        text += f"$ date; grep -i slab /proc/meminfo\nMon Nov 30 {hour:02d}:00:00 UTC 2026\n" + _grep(kb) + "\n"
    blocks = split_pasted(text)
    assert [t[1] for t in blocks.times] == [f"2026-11-30T{h:02d}:00:00Z" for h in (8, 11, 14)]
    _code, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("suspected-leak", "slab-unreclaimable")


def test_a_clock_line_after_an_output_belongs_to_it() -> None:
    # synthetic: "cat meminfo; uptime" for the first output, "uptime; cat meminfo" after that
    text = _grep(1000) + "up 1 min,\n\n$ date; uptime; grep slab\n 11:28:15 up 10 min,  1 user\n" + _grep(2000)
    assert [t[0] for t in split_pasted(text).times] == [60.0, 600.0]


def test_untimed_outputs_a_cache_grows_many_times_over(tmp_path: Path) -> None:
    # synthetic: grep'd slabinfo rows of one cache from successive dumps (as tests/cases/gh-gluon-1768)
    row = "kmalloc-4096 {a} {t} 4352 7 8 : tunables 0 0 0 : slabdata {s} {s} 0\n"
    text = "".join(row.format(a=n, t=n + 5, s=(n + 5) // 7) for n in (140, 700, 2100, 5500))
    code, doc = replay(text, tmp_path)
    assert (code, doc["verdict"], doc["kind"]) == (1, "suspected-leak", "slab-unreclaimable")
    assert doc["culprits"][0]["name"] == "kmalloc-4096"
    assert "no times" in doc["summary"]


def test_untimed_outputs_memory_given_back_is_no_leak(tmp_path: Path) -> None:
    # synthetic: VmallocUsed under load, then after the load stopped (as tests/cases/gh-openzfs-923)
    text = "Under load:\n```\nVmallocUsed:    10786912 kB\n```\nafter:\n```\nVmallocUsed:      465088 kB\n```\n"
    code, doc = replay(text, tmp_path)
    assert (code, doc["verdict"], doc["kind"]) == (0, "no-leak", "none")
    assert "gives back" in doc["summary"] or "given back" in doc["summary"]


def test_a_cache_missing_from_an_earlier_output_did_not_grow_from_zero(tmp_path: Path) -> None:
    # synthetic: a grep'd dentry row, then a slabtop that shows other caches too
    text = (
        "dentry 2369308 2369325 192 21 1 : tunables 0 0 0 : slabdata 112825 112825 0\n\n"
        "  OBJS ACTIVE  USE OBJ SIZE  SLABS OBJ/SLAB CACHE SIZE NAME\n"
        "2369325 2369308  99%    0.19K 112825       21    451300K dentry\n"
        "113232 113220  99%    0.19K   5392       21     21568K kmalloc-192\n"
    )
    _code, doc = replay(text, tmp_path)
    assert not (doc["culprits"] and doc["culprits"][0]["name"] == "kmalloc-192"), doc


def test_slabinfo_1_1_rows_of_a_2_4_kernel(tmp_path: Path) -> None:
    # synthetic: header-less slabinfo 1.1 rows quoted in a mail reply (as tests/cases/lkml-2004-xfs-...)
    text = (
        "> xfs_inode 931428 931428 408 103492 103492 1 : 124 62\n"
        "> dentry_cache 499222 518850 128 17295 17295 1 : 252 126\n"
        "> size-64 12000 12000 64 200 200 1 : 252 126\n"
    )
    assert parse_slabinfo(split_pasted(text).slabinfo[0]).by_name()["xfs_inode"].num_slabs == 103492
    code, doc = replay(text, tmp_path)
    # 0.5 GiB of slab, mostly inode and dentry caches, with no memory size given: nothing abnormal
    assert (code, doc["verdict"]) == (0, "no-leak")
    assert not [g for g in doc["evidence_gaps"] if g["item"] == "slabinfo"], doc["evidence_gaps"]


def test_an_oom_report_cut_before_its_page_counters_uses_the_node_lines(tmp_path: Path) -> None:
    # synthetic: the tail of a Mem-Info (kB per node, no active_anon:N line) on a 128 MB router
    text = (
        "<4>[ 3117.58] slab_reclaimable:159 slab_unreclaimable:3067\n"
        "<4>[ 3117.58] mapped:5 shmem:20 pagetables:9 bounce:0\n"
        "<4>[ 3117.58] free:3346 free_pcp:14 free_cma:0\n"
        "<4>[ 3117.58] Node 0 active_anon:212kB inactive_anon:44kB active_file:36kB inactive_file:32kB "
        "unevictable:0kB shmem:80kB\n"
        "<4>[ 3117.58] Normal free:13384kB min:16384kB kernel_stack:448kB pagetables:36kB\n"
        "<4>[ 3117.58] 32768 pages RAM\n<4>[ 3117.58] 1838 pages reserved\n"
    )
    code, doc = replay(text, tmp_path)
    assert (code, doc["verdict"], doc["kind"]) == (1, "suspected-leak", "page-allocator")
    assert "vmalloc and per-CPU" in doc["summary"]  # an OOM report does not count them


def test_an_oom_report_with_abnormal_slab_names_slab_before_the_residue(tmp_path: Path) -> None:
    # synthetic: unreclaimable slab at 30% of RAM and more memory in no counter: the residue mixes
    # vmalloc, per-CPU and pages, so the measured component decides
    text = (
        "Mem-Info:\nactive_anon:1000 inactive_anon:100 isolated_anon:0\n"
        " active_file:200 inactive_file:200 isolated_file:0\n unevictable:0 dirty:0 writeback:0\n"
        " slab_reclaimable:300 slab_unreclaimable:9800\n mapped:5 shmem:20 pagetables:50 bounce:0\n"
        " free:2000 free_pcp:10 free_cma:0\n32768 pages RAM\n768 pages reserved\n"
    )
    _code, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("suspected-leak", "slab-unreclaimable")


def test_meminfo_lines_with_web_page_line_numbers(tmp_path: Path) -> None:
    # synthetic: a blog's code block copied with its line numbers glued on (as tests/cases/blog-xujiayuxian)
    text = "1\n2Slab:            7021364 kB\n3\n4SReclaimable:    1001096 kB\n5\n6SUnreclaim:      6020268 kB\n"
    assert split_pasted(text).meminfo[0].splitlines()[0].startswith("Slab:")
    _code, doc = replay(text, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("suspected-leak", "slab-unreclaimable")


def test_meminfo_cut_before_slab_does_not_make_slab_unaccounted(tmp_path: Path) -> None:
    # synthetic: a full meminfo head cut at Shmem: (as tests/cases/gh-open-cas-892)
    text = (
        "MemTotal: 263588420 kB\nMemFree: 12139504 kB\nMemAvailable: 60175732 kB\nBuffers: 4297512 kB\n"
        "Cached: 44090212 kB\nActive: 113073788 kB\nInactive: 30906724 kB\nUnevictable: 0 kB\n"
        "Shmem: 4089832 kB\n"
    )
    _code, doc = replay(text, tmp_path)
    assert doc["kind"] != "page-allocator", doc["summary"]


def test_proc_cgroups_alone_with_a_plausible_count(tmp_path: Path) -> None:
    # synthetic: /proc/cgroups of a host running a few dozen containers
    text = "#subsys_name hierarchy num_cgroups enabled\ncpu 5 125 1\nmemory 8 229 1\npids 12 125 1\n"
    code, doc = replay(text, tmp_path)
    assert (code, doc["verdict"], doc["kind"]) == (0, "no-leak", "none")
    assert "229" in doc["summary"] and "/proc/meminfo" in doc["summary"]  # says what it cannot tell


def test_proc_cgroups_alone_with_tens_of_thousands(tmp_path: Path) -> None:
    # synthetic: the dying-memcg signature
    text = "#subsys_name hierarchy num_cgroups enabled\ncpu 5 125 1\nmemory 8 65535 1\n"
    _code, doc = replay(text, tmp_path)
    assert doc["verdict"] == "suspected-leak"


ZFS_TICKET = """\
$ grep -E 'MemTotal|MemFree|^Active:|^Inactive:|Unevictable|Slab|SReclaimable|SUnreclaim|VmallocUsed' /proc/meminfo
MemTotal:       32946612 kB
MemFree:         1200000 kB
Active:          6000000 kB
Inactive:        3000000 kB
Unevictable:           0 kB
Slab:            2500000 kB
SReclaimable:     300000 kB
SUnreclaim:      2200000 kB
VmallocUsed:      400000 kB
$ cat /proc/spl/kstat/zfs/arcstats
13 1 0x01 123 33456 5765224538 1093285432925
name                            type data
hits                            4    116389845
c_max                           4    16777216000
size                            4    {size}
"""


def test_zfs_arc_explains_memory_in_no_field(tmp_path: Path) -> None:
    # synthetic: 17 GiB in no meminfo field on a ZFS host, and arcstats says the ARC holds it
    code, doc = replay(ZFS_TICKET.format(size=18534335488), tmp_path)
    assert (code, doc["verdict"], doc["kind"]) == (0, "no-leak", "none")
    assert "ARC" in doc["summary"]


def test_memory_in_no_field_beyond_the_arc_is_still_found(tmp_path: Path) -> None:
    # synthetic: the same host with a 1 GiB ARC: 16 GiB are still in no field
    _code, doc = replay(ZFS_TICKET.format(size=1073741824), tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("suspected-leak", "page-allocator")


def test_the_lab_oom_report_names_the_leaking_cache(tmp_path: Path) -> None:
    # real: an OOM report of a kmalloc(4096) leak captured in the lab (tests/samples/README.md, lab-oom)
    text = (Path(__file__).parent / "samples" / "lab-oom" / "dmesg-oom.txt").read_text()
    code, doc = replay(text, tmp_path)
    assert (code, doc["verdict"], doc["kind"]) == (1, "suspected-leak", "slab-unreclaimable")
    assert doc["culprits"][0]["name"] == "kmalloc-4k"
    assert doc["kernel"]["release"] == "6.1.0-50-amd64" and doc["host"] == "ticket"


def test_slabtop_summary_without_its_rows(tmp_path: Path) -> None:
    # synthetic: slabtop's summary lines only (as tests/cases/gh-coreos-bugs-1927): much slab, no rows
    text = (
        "```\n Active / Total Objects (% used)    : 36046033 / 39377405 (91.5%)\n"
        " Active / Total Slabs (% used)      : 1173649 / 1173649 (100.0%)\n"
        " Active / Total Size (% used)       : 4787598.38K / 5399366.70K (88.7%)\n```\n"
    )
    code, doc = replay(text, tmp_path)
    assert (code, doc["verdict"], doc["kind"]) == (1, "suspected-leak", "unknown")
    assert "rows are not in the evidence" in doc["summary"]


def test_slub_allocation_failure_names_the_cache_that_filled_memory(tmp_path: Path) -> None:
    # synthetic: SLUB's slab_out_of_memory warning from dmesg (shaped as in tests/cases/gh-lkrg-172)
    text = (
        "[50435.448604] SLUB: Unable to allocate memory on node -1, gfp=0xa20(GFP_ATOMIC)\n"
        "[50435.448618]   cache: big_obj, object size: 262144, buffer size: 262144, default order: 6, min order: 6\n"
        "[50435.448621]   node 0: slabs: 20000, objs: 20000, free: 0\n"
    )
    code, doc = replay(text, tmp_path)
    assert (code, doc["verdict"], doc["kind"]) == (1, "suspected-leak", "slab-unreclaimable")
    assert doc["culprits"][0]["name"] == "big_obj" and doc["culprits"][0]["bytes"] == 20000 * 64 * 4096


def test_a_kmemleak_report_alone_is_a_suspected_slab_leak_named_by_its_backtrace(tmp_path: Path) -> None:
    # synthetic: a syzbot-style "BUG: memory leak" report, console indentation and all
    text = (
        "BUG: memory leak\nunreferenced object 0xffff88810d4b3c00 (size 512):\n"
        '  comm "syz-executor.0", pid 5070, jiffies 4294945125\n'
        "  backtrace (crc 5d8a0d5f):\n"
        "    [<ffffffff8166e1d3>] kmalloc_trace+0x283/0x330 mm/slub.c:4000\n"
        "    [<ffffffff84a3a6f8>] hci_conn_add+0x48/0x5f0 net/bluetooth/hci_conn.c:933\n"
        "    [<ffffffff84a3f2e1>] hci_connect_acl+0x141/0x1e0 net/bluetooth/hci_conn.c:1619\n"
    )
    code, doc = replay(text, tmp_path)
    assert (code, doc["verdict"], doc["kind"]) == (1, "suspected-leak", "slab-unreclaimable")
    assert doc["culprits"][0]["type"] == "backtrace" and doc["culprits"][0]["name"] == "hci_conn_add"


def test_kmemleak_with_a_slabinfo_row_names_the_kmalloc_cache_of_its_size(tmp_path: Path) -> None:
    # synthetic: one slabinfo row and a kmemleak object of 128 bytes (as tests/cases/gh-rpi-2293)
    text = (
        "kmalloc-128 84916 84924 384 21 2 : tunables 0 0 0 : slabdata 4044 4044 0\n\n"
        "unreferenced object 0x95ce16c0 (size 128):\n"
        '  comm "kodi.bin", pid 2075, jiffies 891363 (age 2338.023s)\n'
        "  backtrace:\n    [<802827c8>] kmem_cache_alloc_trace+0x234/0x2f8\n"
        "    [<7f1e461c>] vc4_submit_cl_ioctl+0x730/0xb50 [vc4]\n"
    )
    code, doc = replay(text, tmp_path)
    assert code == 1
    assert (doc["verdict"], doc["kind"]) == ("suspected-leak", "slab-unreclaimable")
    names = [c["name"] for c in doc["culprits"]]
    assert names[0] == "kmalloc-128" and "vc4_submit_cl_ioctl [vc4]" in names and "vc4" in names


def test_hundreds_of_mib_of_unreclaimable_slab_between_two_outputs(tmp_path: Path) -> None:
    # synthetic: SUnreclaim grep'd before and after a reproducer (as tests/cases/gh-pfring-516)
    text = "$ grep SUnreclaim /proc/meminfo\nSUnreclaim:      1560972 kB\n$ ./repro\n"
    text += "$ grep SUnreclaim /proc/meminfo\nSUnreclaim:      2096020 kB\n"
    code, doc = replay(text, tmp_path)
    assert (code, doc["verdict"], doc["kind"]) == (1, "suspected-leak", "slab-unreclaimable")


def test_an_oom_report_where_programs_hold_the_memory_is_not_a_kernel_leak(tmp_path: Path) -> None:
    # synthetic: the Mem-Info of an OOM where a process's anonymous memory filled a 2 GiB host
    text = (
        "[ 244.33] java invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0\n"
        "[ 244.33] Mem-Info:\n"
        "[ 244.33] active_anon:420000 inactive_anon:20000 isolated_anon:0\n"
        "[ 244.33]  active_file:100 inactive_file:120 isolated_file:0\n"
        "[ 244.33]  unevictable:0 dirty:0 writeback:0\n"
        "[ 244.33]  slab_reclaimable:4000 slab_unreclaimable:9000\n"
        "[ 244.33]  mapped:38 shmem:125 pagetables:1432 bounce:0\n"
        "[ 244.33]  free:12000 free_pcp:60 free_cma:0\n"
        "[ 244.33] 524288 pages RAM\n[ 244.33] 12000 pages reserved\n"
    )
    code, doc = replay(text, tmp_path)
    assert (code, doc["verdict"], doc["kind"]) == (0, "no-leak", "none")
    assert "programs" in doc["summary"]
