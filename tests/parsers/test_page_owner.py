"""Tests for the page_owner aggregator, on real records from public posts (see tests/samples/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.page_owner import aggregate_page_owner

PUBLIC = Path(__file__).resolve().parents[1] / "samples" / "public"


def lines(name: str) -> list[str]:
    return (PUBLIC / name).read_text().splitlines()


def test_current_format_with_prose_between_records() -> None:
    # Android 6.12: "tgid N (comm)", no free_ts, migration and memcg notes after the stack; the
    # mail has prose between the two records, which is skipped
    summary = aggregate_page_owner(lines("page_owner-android-6.12.txt"))
    assert (summary.records, summary.pages, summary.truncated) == (2, 512 + 1, False)
    big, small = summary.stacks
    assert (big.key, big.count, big.pages, len(big.frames)) == ("nf_ct_alloc_hashtable", 1, 512, 16)
    assert big.frames[0] == "post_alloc_hook+0x228/0x230"
    # __folio_alloc_noprof is the page allocator; "Page has been migrated"/"Charged" are not frames
    assert (small.key, small.frames[-1]) == ("__filemap_get_folio", "ext4_write_begin+0x20c/0x630")


def test_memcg_lines_and_elided_frames() -> None:
    summary = aggregate_page_owner(lines("page_owner-memstrack-13.txt"))
    assert (summary.records, summary.pages) == (2, 2)
    keys = {s.key: s for s in summary.stacks}
    assert set(keys) == {"register_early_stack", "pte_alloc_one"}
    assert keys["pte_alloc_one"].frames == (
        "get_page_from_freelist+0x3f0/0x500",
        "__alloc_pages+0xe6/0x230",
        "pte_alloc_one+0x15/0x50",
        "asm_exc_page_fault+0x1e/0x30",
    )


def test_older_format_with_addresses() -> None:
    summary = aggregate_page_owner(lines("page_owner-arm64-2017.txt"))
    (stack,) = summary.stacks
    assert stack.key == "msm_comm_try_state" and stack.frames[0] == "post_alloc_hook+0x70/0x80"


def test_page_owner_sort_output() -> None:
    summary = aggregate_page_owner(lines("page_owner_sort-doc-2021.txt"))
    (stack,) = summary.stacks
    assert (summary.records, summary.pages, stack.key, stack.count, len(stack.frames)) == (
        1,
        1,
        "register_dummy_stack",
        1,
        4,
    )


def test_same_stack_aggregates_and_sorts_by_pages() -> None:
    # synthetic edge case: the same record read many times, plus an order-9 block, streamed
    record = lines("page_owner-arm64-2017.txt")
    many = [line for _ in range(1000) for line in [*record, ""]]
    big = lines("page_owner-android-6.12.txt")[:18]
    summary = aggregate_page_owner(iter(many + big))
    assert (summary.records, summary.pages) == (1001, 1000 + 512)
    assert [(s.key, s.count, s.pages) for s in summary.stacks] == [
        ("msm_comm_try_state", 1000, 1000),
        ("nf_ct_alloc_hashtable", 1, 512),
    ]


def test_max_records_truncates() -> None:
    record = lines("page_owner-arm64-2017.txt")
    many = [line for _ in range(10) for line in [*record, ""]]
    summary = aggregate_page_owner(many, max_records=3)
    assert (summary.records, summary.truncated, summary.stacks[0].count) == (3, True, 3)
    assert aggregate_page_owner(many, max_records=10).truncated is False


def test_empty_and_not_page_owner() -> None:
    empty = aggregate_page_owner([])
    assert (empty.records, empty.pages, empty.stacks) == (0, 0, ())
    with pytest.raises(ParseError) as err:
        aggregate_page_owner((PUBLIC / "kmemleak-nvme-loop.txt").read_text().splitlines())
    assert err.value.spec == "page_owner" and err.value.line == 1
