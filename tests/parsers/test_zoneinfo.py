"""Tests for the /proc/zoneinfo parser, on real captured text (see tests/samples/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.zoneinfo import parse_zoneinfo

SAMPLES = Path(__file__).resolve().parents[1] / "samples"

# The DMA32 zone of a 2-CPU Chromebook on a 3.x kernel (no "per-node stats", "all_unreclaimable"
# after the pagesets), as embedded in chromiumos/platform2 metrics/memd/memd-tester.sh (the script
# calls it a fake /proc/zoneinfo; the text is a real kernel's layout). Per-node counters trimmed.
CHROMEOS_3X = """\
Node 0, zone    DMA32
  pages free     56774
        min      22348
        low      27935
        high     33522
        scanned  0
        spanned  506914
        present  506658
        managed  494688
    nr_free_pages 56774
    nr_alloc_batch 3023
    nr_free_cma  0
        protection: (0, 0, 0, 0)
  pagesets
    cpu: 0
              count: 135
              high:  186
              batch: 31
  vm stats threshold: 20
    cpu: 1
              count: 166
              high:  186
              batch: 31
  vm stats threshold: 20
  all_unreclaimable: 0
  start_pfn:         4096
  inactive_ratio:    3
"""


def test_this_machine_6_18() -> None:
    # 6.18: per-node stats first, high_min/high_max per CPU (pcp auto-tuning since 6.7).
    zi = parse_zoneinfo((SAMPLES / "this-machine" / "proc" / "zoneinfo").read_text())
    assert [z.name for z in zi.zones] == ["DMA", "DMA32", "Normal", "Movable", "Device"]
    normal = zi.zones[2]
    assert (normal.node, normal.free_pages, normal.managed_pages) == (0, 806376, 950272)
    assert (normal.cpus, normal.pcp_pages, normal.pcp_high) == (2, 4007 + 5383, 2 * 5810)
    # the watermark "high" above the pagesets is not a per-CPU list's high
    assert zi.zones[1].pcp_high == 2 * 4725
    assert zi.pcp_pages == 9390 and zi.pcp_bytes(4096) == 9390 * 4096
    assert zi.free_pages == 3840 + 772915 + 806376


def test_old_layout_without_per_node_stats() -> None:
    zi = parse_zoneinfo(CHROMEOS_3X)
    (z,) = zi.zones
    assert (z.name, z.free_pages, z.managed_pages, z.cpus, z.pcp_pages, z.pcp_high) == (
        "DMA32",
        56774,
        494688,
        2,
        301,
        372,
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [  # synthetic: broken input
        ("", "no 'Node N, zone NAME' line"),
        ("  pages free 12\n", "expected 'Node N, zone NAME' first"),
        ("Node 0, zone  Normal\n  pages free  lots\n", "expected a number"),
        ("Node x, zone  Normal\n", "expected a number"),
    ],
)
def test_bad_input_is_a_parse_error(text: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_zoneinfo(text)
