"""warn_alloc's allocation-failure warning (parsers/alloc_failure.py)."""

from __future__ import annotations

import pytest

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.alloc_failure import alloc_failure_report, parse_alloc_failure


def test_page_allocation_failure_gives_its_order_and_caller() -> None:
    # shape of a dmesg "page allocation failure" (e.g. a network driver refilling its rx ring)
    f = parse_alloc_failure(
        "[ 1234.5] kworker/0:1: page allocation failure: order:3, mode:0x4020(GFP_ATOMIC|__GFP_COMP)\n"
        "[ 1234.5] Call Trace:\n[ 1234.5]  dump_stack+0x57/0x70\n[ 1234.5]  warn_alloc+0x138/0x160\n"
        "[ 1234.5]  __alloc_pages_slowpath.constprop.0+0x946/0xc00\n[ 1234.5]  __alloc_pages_nodemask+0x1f7/0x230\n"
        "[ 1234.5]  ath11k_dp_rxbufs_replenish+0x1f/0x200 [ath11k]\n"
    )
    assert (f.kind, f.bytes, f.caller) == ("pages", 4096 << 3, "ath11k_dp_rxbufs_replenish")


def test_no_warning_is_a_parse_error() -> None:
    with pytest.raises(ParseError):
        parse_alloc_failure("Call Trace:\n dump_stack+0x57/0x70\n")
    assert alloc_failure_report("the server is slow") is None
