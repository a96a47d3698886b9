"""Figures and terms in a ticket's words (parsers/prose.py); samples from tests/cases."""

from __future__ import annotations

from kleak_runbook.parsers.pasted import split_pasted
from kleak_runbook.parsers.prose import read_prose


def test_stated_fields_and_machine_size() -> None:
    # gh-cachyos-613's title and description
    facts = read_prose(
        "[BUG] Kernel SUnreclaim is 2.3 GB, dentry...\nI use a 4 gb system. And my 3 gb and more is used."
    )
    assert facts.fields["SUnreclaim"] == round(2.3 * 1024**3) and facts.fields["MemTotal"] == 4 * 1024**3
    assert facts.kernel_figures


def test_field_with_equals_and_kb() -> None:
    # gh-openwrt-19702's heading
    assert read_prose("### The 4 units, 16 days, `MemTotal = 372352 kB`").fields["MemTotal"] == 372352 * 1024


def test_no_figures_from_unrelated_numbers_or_other_digits() -> None:
    facts = read_prose("Increasing vm memory from 2G to 4G fixes the issue. Slab ٩٨١ GB")
    assert dict(facts.fields) == {}


def test_terms_are_kept_once() -> None:
    facts = read_prose('fills up "percpu" ... memleak\n# cat /proc/meminfo | grep Percpu')
    assert facts.terms == ("percpu", "memleak", "meminfo")


def test_words_only_paste_is_described_not_empty() -> None:
    # gh-rsync-279: no output at all, but a memory ticket: replay answers inconclusive, not exit 2
    blocks = split_pasted("Doing multiple rsyncs fills up percpu and crashes the server due to memleak.\n")
    assert blocks and blocks.described == ("percpu", "memleak") and not blocks.order
    assert any("words only" in n for n in blocks.notes)


def test_prose_that_is_not_about_kernel_memory_stays_empty() -> None:
    assert not split_pasted("Hi,\nthe server is slow since Monday, please look.\n$ free -m\nMem: 7821 3400\n")


def test_stated_figures_never_override_a_pasted_meminfo() -> None:
    blocks = split_pasted("SUnreclaim is 9 GB on a 16 GB machine\nMemTotal: 981472 kB\nSUnreclaim: 316468 kB\n")
    assert len(blocks.meminfo) == 1 and "316468" in blocks.meminfo[0]


def test_a_machine_size_alone_is_not_evidence() -> None:
    # MemTotal stated with nothing to compare it with: no meminfo block, only what to collect
    blocks = split_pasted("Our 16 GB server leaks memory.\n")
    assert not blocks.meminfo and blocks.described


def test_caches_and_kinds_said_to_grow() -> None:
    # gh-cutorch-379 and gh-openwrt-24713, abridged
    facts = read_prose("4.  Watch memory use creep up, as well as kmalloc-32 use rise. On my system ...")
    assert facts.caches == ("kmalloc-32",)
    facts = read_prose("`page_owner` pinned the growth on order-3 `__netdev_alloc_skb` chunks.")
    assert facts.kinds == ("page-allocator",) and not facts.caches
    # a cache named without anything growing is not a suspect
    assert read_prose("slabtop shows kmalloc-64 at the top.").caches == ()


def test_hard_wrapped_sentence_keeps_its_cache() -> None:
    # gh-nvidia-ogkm-1331: the growth verb and the cache are on different lines of one sentence
    facts = read_prose(
        "`SUnreclaim` climbs\n  continuously; observed ~605 million live objects in one kmalloc-64 cache and"
    )
    assert facts.caches == ("kmalloc-64",)


def test_memory_cgroup_count_in_words_is_a_cgroups_row() -> None:
    # gh-lxc-1443
    blocks = split_pasted("root cause was that /proc/cgroups had 65535 as num_cgroups for memory.\n")
    assert blocks.cgroups is not None and "memory\t0\t65535\t1" in blocks.cgroups


def test_a_figure_from_to_is_the_one_reached() -> None:
    assert read_prose("SUnreclaim went from 100 MB to 2.3 GB in a day").fields["SUnreclaim"] == round(2.3 * 1024**3)


def test_words_that_are_not_caches() -> None:
    assert read_prose("after echo 3 > drop_cache the page_cache keeps growing").caches == ()
