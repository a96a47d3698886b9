"""The single-snapshot rules for partial pastes (derive/snapshot.py): a cache's row pasted alone,
slab that live objects fill only half of, reclaimable caches against a MemTotal the ticket states,
and a meminfo cut before its kernel fields. Each input is a synthetic edge case shaped like a real
one in tests/cases (named in each test); each goes through the real CLI."""

from __future__ import annotations

from pathlib import Path

from test_paste_judgement import replay

from kleak_runbook.parsers.pasted import split_pasted

_SLABTOP_HALF_EMPTY = """\
 Active / Total Objects (% used)    : 9624891 / 18517834 (52.0%)
 Active / Total Slabs (% used)      : 263119 / 263119 (100.0%)
 Active / Total Caches (% used)     : 86 / 116 (74.1%)
 Active / Total Size (% used)       : {active}K / 3255397.62K ({use}%)
 Minimum / Average / Maximum Object : 0.01K / 0.18K / 8.00K

  OBJS ACTIVE  USE OBJ SIZE  SLABS OBJ/SLAB CACHE SIZE NAME
2952064 1635713  55%    0.03K  23063      128     92252K kmalloc-32
2241728 1470553  65%    0.06K  35027       64    140108K kmalloc-64
"""


def test_a_cache_row_pasted_alone_is_the_posters_pick(tmp_path: Path) -> None:
    # like gh-rocm-834: one slabtop row quoted alone, 308 MiB of kmalloc-1024, nothing else
    code, doc = replay("> 315600 315600 100%    1.00K  19725       16    315600K kmalloc-1024\n", tmp_path)
    assert (code, doc["verdict"], doc["kind"]) == (1, "suspected-leak", "slab-unreclaimable")
    assert doc["culprits"][0]["name"] == "kmalloc-1024"
    assert "pasted alone" in doc["path"][1]["finding"]


def test_a_small_cache_row_pasted_alone_is_not_a_suspect(tmp_path: Path) -> None:
    # the same row at 4 MiB: below the noise floor (min_outlier_cache_bytes) a lone row proves nothing
    _code, doc = replay("4000 4000 100%    1.00K  250       16    4000K kmalloc-1024\n", tmp_path)
    assert doc["verdict"] == "no-leak"


def test_slab_half_empty_is_pinned_unreclaimable_memory(tmp_path: Path) -> None:
    # like gh-moby-37722: slabtop's summary says live objects fill 51.6% of 3.1 GiB of slab
    code, doc = replay(_SLABTOP_HALF_EMPTY.format(active="1681083.55", use="51.6"), tmp_path)
    assert (code, doc["verdict"], doc["kind"]) == (1, "suspected-leak", "slab-unreclaimable")
    assert "holds no live object" in doc["path"][1]["finding"]


def test_slab_mostly_filled_is_not_pinned(tmp_path: Path) -> None:
    # the same slabtop at 88.7% used (a healthy slab is 80-100% filled): nothing to say
    _code, doc = replay(_SLABTOP_HALF_EMPTY.format(active="2887538.00", use="88.7"), tmp_path)
    assert doc["verdict"] == "no-leak" and doc["kind"] == "none"


def test_reclaimable_caches_against_the_stated_memory_size(tmp_path: Path) -> None:
    # like lkml-2004 (2.4 slabinfo rows quoted in a mail): 426 MiB of inode and dentry caches on a
    # machine the poster says has 1 GB: a large share of RAM, and reclaimable
    text = (
        "> I have an NFS server with 1Gb RAM running a 2.4.26 kernel\n"
        "> xfs_inode 931428 931428 408 103492 103492 1 : 124 62\n"
        "> dentry_cache 499222 518850 128 17295 17295 1 : 252 126\n"
    )
    code, doc = replay(text, tmp_path)
    assert (code, doc["verdict"], doc["kind"]) == (0, "no-leak", "slab-reclaimable")
    assert any("1Gb RAM" in g["reason"] for g in doc["evidence_gaps"])
    # without the stated size, the rows are all the memory in question: xfs_inode, reclaimable, holds
    # most of them and hundreds of MiB, so that is what the paste is about (slab-reclaimable, no leak);
    # a few dozen MiB is named as largest only (test_no_leak_from_rows_alone_names_the_biggest_shown)
    (tmp_path / "no-size").mkdir()
    _code, doc = replay(text.replace("with 1Gb RAM ", ""), tmp_path / "no-size")
    assert (doc["verdict"], doc["kind"]) == ("no-leak", "slab-reclaimable")
    assert "MiB of" in doc["summary"]


def test_meminfo_cut_before_its_kernel_fields_is_not_nothing(tmp_path: Path) -> None:
    # like gh-open-cas-892: a 256 GB host's meminfo cut at Shmem: 102 GiB is neither free nor on the
    # LRU lists, so it is kernel memory (or huge pages) of a kind the paste does not show
    text = (
        "MemTotal:       263588420 kB\nMemFree:        12139504 kB\nMemAvailable:   60175732 kB\n"
        "Buffers:         4297512 kB\nCached:         44090212 kB\nActive:         113073788 kB\n"
        "Inactive:       30906724 kB\nActive(anon):   97731784 kB\nInactive(anon):  1950844 kB\n"
        "Active(file):   15342004 kB\nInactive(file): 28955880 kB\nUnevictable:           0 kB\n"
        "AnonPages:      95593120 kB\nShmem:           4089832 kB\n"
    )
    code, doc = replay(text, tmp_path)
    assert (code, doc["verdict"], doc["kind"]) == (1, "suspected-leak", "unknown")
    assert "stops before Slab" in doc["summary"] and "huge pages" in doc["summary"]


def test_words_only_memory_ticket_is_inconclusive_with_what_to_collect(tmp_path: Path) -> None:
    # a leak told in words that name no kind of memory, no output at all: a report (exit 3), not exit 2
    # (words that do name one, like gh-rsync-279's "fill up percpu", are judged by what they say)
    code, doc = replay("The server runs out of memory and no process holds it: a kernel memory leak?\n", tmp_path)
    assert (code, doc["verdict"]) == (3, "inconclusive")
    assert "/proc/meminfo" in doc["summary"] and "kleak-runbook run" in doc["summary"]
    assert any("words only" in g["reason"] for g in doc["evidence_gaps"])


def test_stated_figures_are_judged_and_accounted(tmp_path: Path) -> None:
    # like gh-cachyos-613: "SUnreclaim is 2.3 GB" in the title, "a 4 gb system" in the text
    code, doc = replay("[BUG] Kernel SUnreclaim is 2.3 GB\nI use a 4 gb system. I cannot share any info.\n", tmp_path)
    assert (code, doc["verdict"], doc["kind"]) == (1, "suspected-leak", "slab-unreclaimable")
    memory = doc["memory"]
    assert memory["biggest"] == "slab_unreclaimable" and sum(p["bytes"] for p in memory["parts"]) == 4 * 1024**3


def test_free_alone_accounts_for_memtotal(tmp_path: Path) -> None:
    # like gh-openzfs-732: header-less old free; what free calls used is one part, not split
    text = "$ free -m\nMem:  16062  12391  3671  0  0  43\n-/+ buffers/cache:  12347  3714\nSwap:  0  0  0\n"
    _code, doc = replay(text, tmp_path)
    memory = doc["memory"]
    assert sum(p["bytes"] for p in memory["parts"]) == memory["total_bytes"] == 16062 * 1024**2
    assert memory["biggest"] == "not_split" and "biggest consumer" in doc["summary"]


def test_no_leak_from_rows_alone_names_the_biggest_shown(tmp_path: Path) -> None:
    # no MemTotal to split: the report still names the biggest cache the paste shows, as largest
    rows = (
        "  OBJS ACTIVE  USE OBJ SIZE  SLABS OBJ/SLAB CACHE SIZE NAME\n"
        " 31416  31416 100%    1.10K   1122       28     35904K ext4_inode_cache\n"
        "112400 112400 100%    0.10K   2882       39     11528K buffer_head\n"
    )
    code, doc = replay(rows, tmp_path)
    assert (code, doc["verdict"]) == (0, "no-leak") and not doc["culprits"]
    assert doc["largest"][0]["name"] == "ext4_inode_cache" and "ext4_inode_cache" in doc["summary"]


def test_a_slab_diff_listing_is_not_meminfo(tmp_path: Path) -> None:
    # like blog-wejn-slabdiff: "cache: bytes" lines of a script look like meminfo but are not
    blocks = split_pasted("size-512: 1368576\nscsi_cmd_cache: 18525696\n")
    assert not blocks.meminfo
