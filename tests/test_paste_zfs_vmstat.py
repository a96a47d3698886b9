"""ZFS's SPL slab caches and ``vmstat -s`` in pasted tickets, judged end to end through the real
CLI (``kleak-runbook replay``). The SPL rows and the vmstat outputs are real (tests/samples/README.md);
the /proc/meminfo next to them is a synthetic edge case, labelled where it appears."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from conftest import SAMPLES

PUBLIC = SAMPLES / "public"
SPL_ROWS = (PUBLIC / "zfs-3029-spl-slab-rows.txt").read_text()  # zio_buf_16384: 11.4 of 12.0 GiB

# synthetic: a 32 GiB ZFS host whose memory in no meminfo field is ~17 GiB
MEMINFO = """MemTotal:       33554432 kB
MemFree:         2000000 kB
Buffers:          100000 kB
Cached:          7900000 kB
Active:          6000000 kB
Inactive:        6000000 kB
Active(anon):    3000000 kB
Inactive(anon):  1000000 kB
Active(file):    3000000 kB
Inactive(file):  5000000 kB
Unevictable:           0 kB
Shmem:            100000 kB
Slab:            1200000 kB
SReclaimable:     700000 kB
SUnreclaim:       500000 kB
KernelStack:       20000 kB
PageTables:        60000 kB
VmallocUsed:      300000 kB
Percpu:            20000 kB
HugePages_Total:       0
Hugepagesize:       2048 kB
"""


def replay(text: str, tmp_path: Path) -> tuple[int, dict[str, Any]]:
    tmp_path.mkdir(exist_ok=True)
    source = tmp_path / "ticket.txt"
    source.write_text(text)
    proc = subprocess.run(
        [sys.executable, "-m", "kleak_runbook.cli", "replay", str(source), "--out", str(tmp_path / "r"), "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode in (0, 1, 3), proc.stderr
    return proc.returncode, json.loads((tmp_path / "r" / "result.json").read_text())


def parts(doc: dict[str, Any]) -> dict[str, int]:
    memory = doc["memory"]
    assert sum(p["bytes"] for p in memory["parts"]) == memory["total_bytes"]  # all of MemTotal
    return {p["name"]: p["bytes"] for p in memory["parts"]}


def test_memory_in_no_field_is_a_page_allocator_leak_without_the_spl_slab(tmp_path: Path) -> None:
    # the control for the test below: the same meminfo alone
    _code, doc = replay("$ cat /proc/meminfo\n" + MEMINFO, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("suspected-leak", "page-allocator")


def test_the_spl_slab_explains_memory_in_no_field(tmp_path: Path) -> None:
    text = "$ cat /proc/meminfo\n" + MEMINFO + "\n$ cat /proc/spl/kmem/slab\n" + SPL_ROWS + "```\n"
    code, doc = replay(text, tmp_path)
    assert (code, doc["verdict"], doc["kind"]) == (0, "no-leak", "none")
    assert [v["step"] for v in doc["path"]][-1] == "zfs_arc"
    assert "zio_buf_16384" in doc["summary"] and "SPL" in doc["summary"]
    found = parts(doc)
    assert found["zfs_spl"] == 12832735232  # all of it fits in what no field shows
    assert doc["memory"]["biggest"] == "zfs_spl"
    assert found["unaccounted"] < 0.25 * 33554432 * 1024


def test_spl_slabs_on_vmalloc_are_not_a_vmalloc_leak(tmp_path: Path) -> None:
    # synthetic edge case: a kernel whose VmallocUsed counts the SPL's vmalloc'ed slabs (5.3 and
    # later), so little is in no field and VmallocUsed holds 12 GiB
    meminfo = MEMINFO.replace("VmallocUsed:      300000", "VmallocUsed:    12831000").replace(
        "MemFree:         2000000", "MemFree:         7400000"
    )
    _code, doc = replay("$ cat /proc/meminfo\n" + meminfo, tmp_path)
    assert (doc["verdict"], doc["kind"]) == ("suspected-leak", "vmalloc")  # the control: meminfo alone
    _code, doc = replay("$ cat /proc/meminfo\n" + meminfo + "\n" + SPL_ROWS, tmp_path / "spl")
    assert (doc["verdict"], doc["kind"]) == ("no-leak", "none") and "zio_buf_16384" in doc["summary"]


def test_spl_rows_alone_name_the_cache_holding_most_of_them(tmp_path: Path) -> None:
    # https://github.com/openzfs/zfs/issues/3029 as stored: the rows only, no meminfo
    code, doc = replay((PUBLIC / "zfs-3029-spl-slab-rows.txt").read_text(), tmp_path)
    assert (code, doc["verdict"]) == (0, "no-leak")
    assert "the largest, zio_buf_16384, holds 11.4 GiB (96%)" in doc["summary"]
    assert "live objects fill 46%" in doc["summary"]


def test_vmstat_alone_accounts_for_memtotal(tmp_path: Path) -> None:
    # the build machine's capture, pasted under its prompt
    text = "$ vmstat -s\n" + (SAMPLES / "build-machine" / "commands" / "vmstat_-s").read_text()
    code, doc = replay(text, tmp_path)
    assert (code, doc["verdict"]) == (0, "no-leak")
    found = parts(doc)
    assert found["free"] == 21147728 * 1024 and found["page_cache"] == (144176 + 2650868) * 1024
    assert set(found) == {"free", "page_cache", "not_split"}
    labels = {p["name"]: p["label"] for p in doc["memory"]["parts"]}
    assert "SReclaimable" in labels["page_cache"] and "vmstat -s" in labels["not_split"]


def test_vmstat_with_most_memory_off_the_lru_lists_is_kernel_memory(tmp_path: Path) -> None:
    # synthetic edge case: the build machine's layout, with 10 GiB of 24 GiB neither free nor on the LRU lists
    text = (SAMPLES / "build-machine" / "commands" / "vmstat_-s").read_text()
    text = text.replace("21147728 K free memory", "11147728 K free memory")
    code, doc = replay(text, tmp_path)
    assert (code, doc["verdict"], doc["kind"]) == (1, "suspected-leak", "unknown")
    assert "vmstat -s does not split kernel memory" in doc["summary"]


def test_vmstat_and_the_spl_slab_together(tmp_path: Path) -> None:
    # synthetic edge case: vmstat -s of a 32 GiB host beside the real SPL rows
    vmstat = "\n".join(
        f"{v:13d} K {what}"
        for v, what in (
            (33554432, "total memory"),
            (2000000, "free memory"),
            (6000000, "active memory"),
            (6000000, "inactive memory"),
            (100000, "buffer memory"),
            (8600000, "swap cache"),
        )
    )
    _code, doc = replay("$ vmstat -s\n" + vmstat + "\n\n" + SPL_ROWS, tmp_path)
    found = parts(doc)
    assert found["zfs_spl"] == 12832735232 and "not_split" in found
    assert (doc["verdict"], doc["kind"]) == ("no-leak", "none") and "zio_buf_16384" in doc["summary"]


def test_a_memory_cgroups_memory_stat_is_judged_against_the_cgroups_memory(tmp_path: Path) -> None:
    """cgroup v2 memory.stat (tests/cases/gh-cadvisor-3081-memcg-slab-reclaimable): reclaimable slab
    holding nearly all a pod is charged is cache, not a leak; cgroup v1's (no kernel figures) is not read."""
    from kleak_runbook.parsers.pasted import split_pasted

    v2 = "anon 663552\nfile 10313728\nkernel_stack 49152\nslab_reclaimable 1232589368\nslab_unreclaimable 128408\n"
    blocks = split_pasted("memory.stat of the pod:\n" + v2)
    assert [spec for spec, _ in blocks.order] == ["meminfo"] and blocks.meminfo_forms == ("memstat",)
    v1 = "total_cache 0\ntotal_rss 491520\ntotal_shmem 0\n"
    assert not split_pasted(v1).order
