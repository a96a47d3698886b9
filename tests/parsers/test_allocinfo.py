"""Memory allocation profiling's counters: /proc/allocinfo and an OOM report's top list (real text)."""

from __future__ import annotations

import quopri
from pathlib import Path

import pytest

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.allocinfo import parse_allocinfo, parse_oom_allocations

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "public"
CASES = Path(__file__).resolve().parent.parent / "cases"


def _output(name: str) -> str:
    """The file without its command line (the prompt the poster typed it at)."""
    return "".join(x for x in (SAMPLES / name).read_text().splitlines(keepends=True) if "/proc/allocinfo" not in x)


def test_version_header_and_zero_tags() -> None:
    info = parse_allocinfo(_output("allocinfo-lkml-version-header.txt"))
    assert info.version == "1.0"
    assert len(info.sites) == 9
    assert info.by_size()[0].where == "arch/x86/events/rapl.c:681"
    assert info.total_bytes == 640
    assert all(s.exact for s in info.sites)


def test_numfmt_sizes_and_module_tag() -> None:
    info = parse_allocinfo(_output("allocinfo-doc-numfmt.txt"))
    top = info.by_size()[0]
    assert (top.func, top.bytes, top.calls) == ("alloc_page_ext", 122 * 1024**2, 31168)
    ctag = next(s for s in info.sites if s.module)
    assert (ctag.name, ctag.where, ctag.bytes) == (
        "ctagmod_start [ctagmod]",
        "drivers/staging/ctagmod/ctagmod.c:20",
        4 * 1024**2,
    )
    assert not top.exact  # rounded by numfmt


def test_rows_a_mail_client_wrapped() -> None:
    # two sorted tails of /proc/allocinfo in the ice thread, the driver's row wrapped before "[ice] func:"
    raw = (CASES / "lkml-intel-wired-lan-ice-allocinfo" / "input.txt").read_bytes()
    body = [x.lstrip("> ") for x in quopri.decodestring(raw).decode().splitlines()]
    start = body.index("# sort -g /proc/allocinfo| tail -n 15") + 1
    rows = "\n".join(body[start : start + 16])
    info = parse_allocinfo(rows)
    ice = [s for s in info.sites if s.module == "ice"]
    assert [(s.func, s.where, s.bytes, s.calls) for s in ice] == [
        ("ice_alloc_mapped_page", "drivers/net/ethernet/intel/ice/ice_txrx.c:681", 1105125376, 139252)
    ]


def test_oom_report_list() -> None:
    text = (CASES / "gh-bcachefs-1158-memprofile" / "input.txt").read_text()
    lines = [x.split("] ", 1)[1] for x in text.splitlines() if x.startswith("[ 1163")]
    info = parse_oom_allocations("\n".join(lines))
    assert info.top_only
    assert [s.func for s in info.by_size()[:2]] == ["mempool_kvmalloc", "__btree_node_data_alloc"]
    assert info.sites[0].bytes == round(1.19 * 1024**3) and not info.sites[0].exact
    assert len(info.sites) == 6  # the unreclaimable slab table after it is not read as tags


@pytest.mark.parametrize(
    "text",
    [
        "",
        "slabinfo - version: 2.1\n",
        "allocinfo - version: 1.0\n#     <size>  <calls> <tag info>\n",  # a header and no row
        "   512   1 arch/x86/events/rapl.c:681 func:init_rapl_pmus\nnot a row\n",
    ],
)
def test_not_allocinfo(text: str) -> None:
    with pytest.raises(ParseError) as err:
        parse_allocinfo(text)
    assert str(err.value).startswith("allocinfo")


def test_inaccurate_tags_of_version_2() -> None:
    # synthetic edge case: version 2.0 marks a tag whose counts are not exact with "accurate:no"
    info = parse_allocinfo(
        "allocinfo - version: 2.0\n#     <size>  <calls> <tag info>\n"
        "        4096        1 mm/percpu.c:512 func:pcpu_mem_zalloc accurate:no\n"
        "        8192        2 mm/vmalloc.c:3012 func:__vmalloc_area_node\n"
    )
    assert [s.exact for s in info.sites] == [False, True]
    assert info.version == "2.0"
