"""Tests for the ftrace histogram parser, on the outputs quoted in the kernel's
Documentation/trace/histogram.rst (see tests/samples/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.trace_hist import parse_trace_hist, site_of

PUBLIC = Path(__file__).resolve().parents[1] / "samples" / "public"


def load(name: str) -> str:
    return (PUBLIC / name).read_text()


def test_call_site_sym_with_two_values() -> None:
    hist = parse_trace_hist(load("hist-kmalloc-sym-doc.txt"))
    # the doc elides the middle of the table with "." lines
    assert len(hist.entries) == 21
    assert (hist.hits, hist.entries_count, hist.dropped) == (66598, 65, 0)
    first = hist.entries[0]
    assert first.key == {"call_site": "[ffffffffa046041c] i915_gem_execbuffer2 [i915]"}
    assert first.values == {"hitcount": 7403, "bytes_req": 4084360, "bytes_alloc": 5958016}
    assert first.frames == ()
    assert [site_of(e) for e in hist.entries[:3]] == [
        "i915_gem_execbuffer2 [i915]",
        "seq_buf_alloc",
        "intel_ring_begin [i915]",
    ]


def test_call_site_sym_offset() -> None:
    hist = parse_trace_hist(load("hist-kmalloc-sym-offset-doc.txt"))
    assert len(hist.entries) == 19 and hist.hits == 26098
    assert site_of(hist.entries[2]) == "i915_gem_do_execbuffer.isra.23 [i915]"
    by_site: dict[str, int] = {}
    for entry in hist.entries:
        by_site[site_of(entry)] = by_site.get(site_of(entry), 0) + entry.values["bytes_req"]
    assert by_site["i915_gem_do_execbuffer.isra.23 [i915]"] == 472936 + 211832


def test_stacktrace_keys() -> None:
    hist = parse_trace_hist(load("hist-kmalloc-stacktrace-doc.txt"))
    assert len(hist.entries) == 7 and (hist.hits, hist.entries_count) == (6085872, 253)
    first = hist.entries[0]
    assert len(first.frames) == 16 and first.frames[0] == "__kmalloc_track_caller+0x10b/0x1a0"
    assert first.key == {"stacktrace": "\n".join(first.frames)}
    assert first.values == {"hitcount": 3, "bytes_req": 21, "bytes_alloc": 24}
    # __kmalloc_track_caller and kmemdup are allocators: the site is the module function
    assert site_of(first) == "hidraw_report_event [hid]"
    biggest = max(hist.entries, key=lambda e: e.values["bytes_alloc"])
    assert (site_of(biggest), biggest.values["hitcount"]) == ("seq_buf_alloc", 19133)
    assert site_of(hist.entries[2]) == "aa_alloc_task_context"  # behind kmem_cache_alloc_trace


def test_other_keys() -> None:
    hist = parse_trace_hist(load("hist-execname-doc.txt"))
    assert len(hist.entries) == 20 and hist.entries_count == 51
    last = hist.entries[-1]
    assert last.key == {"common_pid": "init            [         1]"}
    assert site_of(last) == "common_pid: init            [         1]"


def test_compound_key_with_stacktrace_and_page_alloc_shape() -> None:
    # synthetic edge case: the lab's kmem:mm_page_alloc trigger keyed by stacktrace (as on Debian
    # 6.1: 9-space frames, " } hitcount:") with a second key field before the stack
    hist = parse_trace_hist(
        "# event histogram\n"
        "#\n"
        "# trigger info: hist:name=kleak_runbook:keys=common_pid,stacktrace:vals=hitcount:sort=hitcount.descending:size=2048 [active]\n"
        "#\n"
        "\n"
        "{ common_pid:        412, stacktrace:\n"
        "         __alloc_pages+0x1a4/0x320\n"
        "         leaky_leak_page+0x12/0x30 [leaky]\n"
        "         process_one_work+0x1c7/0x380\n"
        " } hitcount:       1200\n"
        "\n"
        "Totals:\n"
        "    Hits: 1200\n"
        "    Entries: 1\n"
        "    Dropped: 0\n"
    )
    (entry,) = hist.entries
    assert entry.key["common_pid"] == "412" and len(entry.frames) == 3
    assert entry.values == {"hitcount": 1200}
    assert site_of(entry) == "leaky_leak_page [leaky]"


def test_empty_unterminated_and_not_hist() -> None:
    empty = parse_trace_hist("# event histogram\n#\n\nTotals:\n    Hits: 0\n    Entries: 0\n    Dropped: 0\n")
    assert (empty.entries, empty.hits, empty.entries_count, empty.dropped) == ((), 0, 0, 0)
    assert parse_trace_hist("") == parse_trace_hist("\n") and parse_trace_hist("").hits is None
    text = load("hist-kmalloc-stacktrace-doc.txt")
    with pytest.raises(ParseError) as err:
        parse_trace_hist(text[: text.index("} hitcount")])
    assert err.value.line == 3
    with pytest.raises(ParseError) as err:
        parse_trace_hist(load("slub-alloc_calls-2007.txt"))
    assert err.value.spec == "trace_hist" and err.value.line == 1
