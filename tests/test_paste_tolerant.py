"""Pastes as web pages and tickets mangle them: lines left out as "...", a line glued to the next
sentence. Synthetic lines (labelled) in the shapes of the development set's blog-besthub case."""

from __future__ import annotations

import pytest

from kleak_runbook.parsers.pasted import split_pasted

# synthetic, labelled: /proc/meminfo lines as a blog printed them, with an elision and a glued sentence
ELIDED = """$ cat /proc/meminfo
MemTotal: 65922868 kB
MemFree: 9001452 kB
{elision}
Slab: 39242216 kB
SReclaimable: 38506072 kB
SUnreclaim: 736144 kBRunning slabtop revealed that dentry objects dominated the slab usage.
"""


@pytest.mark.parametrize("elision", ["...", "…", "[...]", "<snip>", "(snipped)", "[ cut ]"])
def test_an_elision_does_not_end_the_block(elision: str) -> None:
    blocks = split_pasted(ELIDED.format(elision=elision))
    assert len(blocks.meminfo) == 1
    for field in ("MemTotal", "MemFree", "Slab", "SReclaimable", "SUnreclaim: 736144 kB"):
        assert field in blocks.meminfo[0]
    assert "Running slabtop" not in blocks.meminfo[0]


def test_a_line_of_prose_still_ends_the_block() -> None:
    blocks = split_pasted(ELIDED.format(elision="and then, later on:"))
    assert len(blocks.meminfo) == 2  # two pastes of meminfo, not one with a gap


def test_a_ticket_that_only_names_a_cache_is_a_memory_ticket() -> None:
    # words alone, no output and no term like "slab" or "leak": still judged, not refused
    blocks = split_pasted("On our 64 GB server the ext4_inode_cache keeps growing and is now 20 GB.\n")
    assert blocks and "ext4_inode_cache" in blocks.described


def test_output_a_blog_prints_behind_hash_marks_and_arc_summary() -> None:
    """tests/cases/blog-mercemay-proxmox-zfs-arc: free -h and arc_summary, each line behind "# "."""
    from kleak_runbook.parsers.pasted import split_pasted

    text = (
        "free -h\n"
        "#                total        used        free      shared  buff/cache   available\n"
        "# Mem:            62Gi        56Gi       1.1Gi       312Mi       5.2Gi       4.8Gi\n"
        "\n"
        "arc_summary | head -30\n"
        "# ARC size (current):                                    98.1 %   39.7 GiB\n"
        "# Max size (high water):                                100.0 %   40.5 GiB\n"
        "# root prompt, not output\n"
    )
    blocks = split_pasted(text)
    assert [spec for spec, _ in blocks.order] == ["meminfo", "arcstats"]
    assert f"size 4 {round(39.7 * 1024**3)}" in blocks.arcstats[0]
    assert f"c_max 4 {round(40.5 * 1024**3)}" in blocks.arcstats[0]


def test_meminfo_fields_run_together_on_one_line() -> None:
    """A web page that flattened a pasted /proc/meminfo (fields from tests/cases/gh-gnif-vendor-reset-28-unaccounted)."""
    from kleak_runbook.parsers.pasted import split_pasted

    text = (
        "$ cat /proc/meminfo MemTotal: 32866052 kB MemFree: 9081332 kB MemAvailable: 20023604 kB"
        " Buffers: 1000 kB Cached: 11388500 kB Slab: 1219148 kB SUnreclaim: 1057684 kB\n"
    )
    blocks = split_pasted(text)
    assert [spec for spec, _ in blocks.order] == ["meminfo"]
    assert (
        blocks.meminfo[0].splitlines()[0] == "MemTotal: 32866052 kB" and "SUnreclaim: 1057684 kB" in blocks.meminfo[0]
    )
    # a sentence that names a few fields among many words stays a sentence
    from kleak_runbook.parsers.pasted import _unglued

    line = "Slab: 100 kB, SUnreclaim: 50 kB and SReclaimable: 50 kB are what the graph shows for this host all week"
    assert _unglued([line]) == [line]


def test_slabtop_rows_run_together_on_one_line() -> None:
    """slabtop's rows flattened by a web page (rows from tests/cases/lore-linux-mm-chinner-xfs-inode-slabtop)."""
    from kleak_runbook.parsers.pasted import split_pasted

    text = (
        "OBJS ACTIVE USE OBJ SIZE SLABS OBJ/SLAB CACHE SIZE NAME 689872 688486 99% 0.88K 172468 4 689872K xfs_inode"
        " 294320 288968 98% 0.19K 14716 20 58864K dentry 212380 173765 81% 0.10K 5740 37 22960K buffer_head\n"
    )
    blocks = split_pasted(text)
    assert [spec for spec, _ in blocks.order] == ["slabinfo"]
    assert blocks.slabinfo[0].count("\n") >= 3 and "xfs_inode" in blocks.slabinfo[0]


def test_key_value_lines_that_name_no_meminfo_field_are_not_meminfo() -> None:
    from kleak_runbook.parsers.pasted import split_pasted

    assert not split_pasted("Server:\n Containers: 59\n  Running: 59\n  Paused: 0\n  Stopped: 0\n").order
    assert split_pasted("SUnreclaim: 2411724 kB\nSlab: 2600000 kB\n").order  # a grep'd meminfo still is


def test_free_units_from_combined_options_and_parts_of_one_moment() -> None:
    """tests/cases/redhat-list-2007-lowmem-oom: `free -lm` (MiB; -l is lohi) beside grep'd Low/High lines."""
    from kleak_runbook.parsers.free import _unit_flag

    assert [_unit_flag(t) for t in ("free -lm", "free -g -t", "free --mega", "free -t", "free -h")] == [
        "m",
        "g",
        "m",
        None,
        None,
    ]


def test_a_cgroups_files_at_its_limit_with_an_oom_kill_told() -> None:
    """tests/cases/gh-k8s-114142-cgroup-limit-usage: memory.usage_in_bytes and limit_in_bytes as cat printed them."""
    from kleak_runbook.parsers.pasted import split_pasted

    files = "sh-4.2$ cat memory.max_usage_in_bytes\n524292096\nsh-4.2$ cat memory.limit_in_bytes\n524288000\n"
    blocks = split_pasted("the container started to be OOMkilled\n" + files)
    assert blocks.oom_memcg == "memory: usage 512004kB, limit 512000kB, failcnt 0\n"
    assert split_pasted("nothing was killed\n" + files).oom_memcg is None


def test_slabtop_rows_without_their_cache_size_column() -> None:
    """tests/cases/blog-besthub-nas-xfs-inode-ili: rows as a blog published them, CACHE SIZE left out."""
    from kleak_runbook.parsers.pasted import split_pasted
    from kleak_runbook.parsers.slabinfo import parse_slabtop

    rows = "8480676 7565420  89%    1.00K 2120169        4  xfs_inode\n8351794 7565375  90%    0.22K 491282       17  xfs_ili\n"
    blocks = split_pasted("# slabtop -s c | head\n" + rows)
    info = parse_slabtop(blocks.slabinfo[0])
    assert {c.name: c.size_bytes() for c in info.caches} == {"xfs_inode": 2120169 * 4096, "xfs_ili": 491282 * 4096}


def test_free_with_a_web_pages_line_numbers() -> None:
    """tests/cases/blog-liwei-free-128g-cache: a repost numbered every line of the code block."""
    from kleak_runbook.parsers.pasted import split_pasted

    text = (
        "  1. [root@host ~]# free\n  2. total used free shared buffers cached\n"
        "  3. Mem: 132256952 72571772 59685180 0 1762632 53034704\n"
    )
    assert [spec for spec, _ in split_pasted(text).order] == ["meminfo"]


def test_a_cgroups_usage_lines_at_its_limit_without_the_rest_of_the_report() -> None:
    """tests/cases/gh-coreclr-16906-cgroup-limit: only the OOM report's "memory: usage" lines were pasted."""
    from kleak_runbook.parsers.pasted import split_pasted

    line = "Mar 12 18:09:55 machine-1 kernel: [615694.511487] memory: usage 262144kB, limit 262144kB, failcnt 2472\n"
    assert split_pasted("The container keeps getting killed.\n" + line).oom_memcg
    assert split_pasted("The container is slow.\n" + line).oom_memcg is None  # nothing was killed


def test_a_vmalloc_failure_seconds_after_boot_is_an_area_too_small() -> None:
    """tests/cases/gh-ndpi-49-vmap-fail: a module's vmalloc failed 14 s after boot on a 32-bit ARM box."""
    from kleak_runbook.parsers.alloc_failure import parse_alloc_failure

    warning = (
        "[   14.006613] kmodloader: vmalloc: allocation failure: 425984 bytes, mode:0x14000c0(GFP_KERNEL)\n"
        "[   14.059866] [<c01de158>] (__vmalloc_node_range) from [<c010c0b8>] (module_alloc+0x4c/0x54)\n"
    )
    assert parse_alloc_failure(warning).uptime == 14.006613
    assert parse_alloc_failure(warning.replace("[   14.006613] ", "May  3 04:11:11 host kernel: ")).uptime is None
