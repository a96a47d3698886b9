"""Tests for the /proc/slabinfo and slabtop parsers, on real captured text (see tests/samples/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.slabinfo import SlabCache, parse_slabinfo, parse_slabtop

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
LAB = SAMPLES / "lab-debian-6.1"

# `slabtop --sort c -o` from a Container Linux host, https://github.com/coreos/bugs/issues/2637
# (first rows; the tool pads NAME with trailing spaces).
COREOS_SLABTOP = """\
 Active / Total Objects (% used)    : 739390584 / 740008326 (99.9%)
 Active / Total Slabs (% used)      : 11594275 / 11594275 (100.0%)
 Active / Total Caches (% used)     : 105 / 129 (81.4%)
 Active / Total Size (% used)       : 47121380.33K / 47376581.93K (99.5%)
 Minimum / Average / Maximum Object : 0.01K / 0.06K / 8.00K

  OBJS ACTIVE  USE OBJ SIZE  SLABS OBJ/SLAB CACHE SIZE NAME                   
734506368 734506368 100%    0.06K 11476662       64  45906648K ebitmap_node           
328160  80830  24%    0.50K  10255       32    164080K kmalloc-512            
 69442  36292  52%    2.00K   4341       16    138912K kmalloc-2048           
 13148  12571  95%    7.50K   3287        4    105184K task_struct            
"""  # noqa: W291


def test_healthy_debian_6_1() -> None:
    info = parse_slabinfo((LAB / "healthy/samples/000/proc/slabinfo").read_text())
    assert info.version == "2.1"
    assert len(info.caches) == 166
    caches = info.by_name()
    dentry = caches["dentry"]
    assert dentry == SlabCache("dentry", 18864, 18879, 192, 21, 1, 899, 899)
    assert dentry.size_bytes() == 899 * 4096
    assert dentry.active_bytes == 18864 * 192
    assert caches["kvm_mmu_page_header"].num_objs == 0


def test_kmalloc_leak_grows_kmalloc_4k() -> None:
    before = parse_slabinfo((LAB / "kmalloc-leak/samples/000/proc/slabinfo").read_text()).by_name()
    after = parse_slabinfo((LAB / "kmalloc-leak/samples/002/proc/slabinfo").read_text()).by_name()
    grown = after["kmalloc-4k"].size_bytes() - before["kmalloc-4k"].size_bytes()
    assert grown == (730 - 378) * 8 * 4096
    assert max(after, key=lambda n: after[n].size_bytes() - before[n].size_bytes()) == "kmalloc-4k"


def test_this_machine() -> None:
    info = parse_slabinfo((SAMPLES / "this-machine/proc/slabinfo").read_text())
    assert len(info.caches) == 235
    assert "dentry" in info.by_name()


def test_slabtop_of_this_machine_matches_its_slabinfo() -> None:
    top = parse_slabtop((SAMPLES / "this-machine/commands/slabtop_-o").read_text())
    assert top.version == "slabtop"
    caches = top.by_name()
    # captured a few seconds after /proc/slabinfo, so compare the shape, not live counts
    assert set(caches) <= set(parse_slabinfo((SAMPLES / "this-machine/proc/slabinfo").read_text()).by_name())
    ext4 = caches["ext4_inode_cache"]
    assert (ext4.objperslab, ext4.pagesperslab, ext4.objsize) == (14, 4, round(1.10 * 1024))
    assert ext4.size_bytes() == 21776 * 1024
    assert caches["kmalloc-rcl-8"].num_slabs == 0 and caches["kmalloc-rcl-8"].pagesperslab == 0


def test_slabtop_from_public_bug_report() -> None:
    caches = parse_slabtop(COREOS_SLABTOP).caches
    assert [c.name for c in caches] == ["ebitmap_node", "kmalloc-512", "kmalloc-2048", "task_struct"]
    ebitmap = caches[0]
    assert (ebitmap.num_objs, ebitmap.active_objs, ebitmap.num_slabs) == (734506368, 734506368, 11476662)
    assert ebitmap.size_bytes() == 45906648 * 1024
    assert caches[3].pagesperslab == 8 and caches[3].objsize == 7680


def test_slabtop_without_column_header() -> None:
    with pytest.raises(ParseError) as err:
        parse_slabtop((LAB / "healthy/samples/000/proc/slabinfo").read_text())
    assert err.value.spec == "slabtop"


def test_crlf_and_missing_final_newline() -> None:
    text = (LAB / "healthy/samples/000/proc/slabinfo").read_text()
    assert parse_slabinfo(text.replace("\n", "\r\n").rstrip()) == parse_slabinfo(text)
    top = (SAMPLES / "this-machine/commands/slabtop_-o").read_text()
    assert parse_slabtop(top.replace("\n", "\r\n").rstrip()) == parse_slabtop(top)


def test_names_with_punctuation() -> None:
    text = (
        "slabinfo - version: 2.1\n"
        "dm_bufio_buffer-(16384) 0 0 16384 2 8 : tunables 0 0 0 : slabdata 0 0 0\n"
        ":0000064 10 10 64 64 1 : tunables 0 0 0 : slabdata 1 1 0\n"
    )  # synthetic edge case: names shaped like dm-bufio's and SLUB's merged caches
    assert [c.name for c in parse_slabinfo(text).caches] == ["dm_bufio_buffer-(16384)", ":0000064"]


def test_wrong_header() -> None:
    with pytest.raises(ParseError) as err:
        parse_slabinfo((LAB / "healthy/samples/000/proc/meminfo").read_text())
    assert err.value.line == 1
    with pytest.raises(ParseError, match="unsupported slabinfo version"):
        parse_slabinfo("slabinfo - version: 3.0\n")


def test_wrong_field_count_names_the_line() -> None:
    lines = (LAB / "healthy/samples/000/proc/slabinfo").read_text().splitlines()
    lines[4] += " 7 7"
    with pytest.raises(ParseError) as err:
        parse_slabinfo("\n".join(lines))
    assert err.value.line == 5
    assert "expected 16 fields, got 18" in str(err.value)


def test_slabtop_summary_gives_live_and_total_size() -> None:
    # gh-moby-37722's summary: live objects fill 51.6% of slab
    info = parse_slabtop(
        " Active / Total Size (% used)       : 1681083.55K / 3255397.62K (51.6%)\n"
        "  OBJS ACTIVE  USE OBJ SIZE  SLABS OBJ/SLAB CACHE SIZE NAME\n"
    )
    assert info.total_bytes == round(3255397.62 * 1024) and info.active_total_bytes == round(1681083.55 * 1024)
