"""Parse an ftrace histogram (``events/<system>/<event>/hist``) into entries and its totals.

Written for the allocation triggers the trace probe arms (``kmem:kmalloc`` keyed by
``call_site.sym``, ``kmem:mm_page_alloc`` keyed by ``stacktrace``) but reads any hist table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.kmemleak import first_site, parse_frame
from kleak_runbook.parsers.numbers import sint

SPEC = "trace_hist"

# "name: value" pairs inside "{ ... }", separated by ", "
_KEY_SPLIT = re.compile(r",\s+(?=[A-Za-z_][\w.]*:)")
# values after "}": "hitcount:       7403  bytes_req:    4084360"; ".percent"/".graph" print
# non-integers, which are skipped.
_VALUE = re.compile(r"([A-Za-z_][\w.]*(?: \(%\))?):\s+(\S+)")
_TOTAL = re.compile(r"^(Hits|Entries|Dropped):\s+([0-9]{1,20})$")
# "[ffffffffa046041c] i915_gem_execbuffer2+0x6c/0x2c0 [i915]" (.sym / .sym-offset)
_SYM = re.compile(r"^\[[0-9a-f]+\]\s+(\S+)(?:\s+\[(\S+)\])?$")


@dataclass(frozen=True)
class HistEntry:
    key: dict[str, str]  # key field -> text as printed; a stacktrace key -> its frames joined by "\n"
    frames: tuple[str, ...]  # the stacktrace key's frames, innermost first (empty without one)
    values: dict[str, int]  # "hitcount" and the summed value fields


@dataclass(frozen=True)
class TraceHist:
    entries: tuple[HistEntry, ...]  # in file order (the trigger's sort)
    hits: int | None  # from the "Totals:" trailer; summed over tables when a file holds several
    entries_count: int | None
    dropped: int | None  # hits lost because the table was full: raise size= when non-zero


def _fields(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for part in _KEY_SPLIT.split(text.strip()):
        name, sep, value = part.partition(":")
        if sep:
            fields[name.strip()] = value.strip()
    return fields


def _values(text: str) -> dict[str, int]:
    values: dict[str, int] = {}
    for name, value in _VALUE.findall(text):
        try:
            values[name] = sint(value)
        except ValueError:
            continue
    return values


def parse_trace_hist(text: str) -> TraceHist:
    """Parse the text of a ``hist`` file.

    >>> hist = parse_trace_hist('''# trigger info: hist:keys=call_site.sym:vals=bytes_req,bytes_alloc:sort=bytes_alloc.descending:size=2048 [active]
    ...
    ... { call_site: [ffffffffa046041c] i915_gem_execbuffer2 [i915]                   } hitcount:       7403  bytes_req:    4084360  bytes_alloc:    5958016
    ... { call_site: [ffffffff811e2a1b] seq_buf_alloc                                 } hitcount:        541  bytes_req:    2213968  bytes_alloc:    2228224
    ...
    ... Totals:
    ...     Hits: 66598
    ...     Entries: 65
    ...     Dropped: 0
    ... ''')
    >>> first = hist.entries[0]
    >>> site_of(first), first.values["bytes_alloc"], hist.hits, hist.dropped
    ('i915_gem_execbuffer2 [i915]', 5958016, 66598, 0)
    """
    entries: list[HistEntry] = []
    totals: dict[str, int] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        lineno, stripped = i + 1, lines[i].strip()
        i += 1
        # '#' comments carry the trigger; lone dots are where docs and posts elide entries
        if not stripped or stripped.startswith("#") or stripped.strip(".") == "" or stripped == "Totals:":
            continue
        total = _TOTAL.match(stripped)
        if total is not None:
            totals[total[1]] = totals.get(total[1], 0) + int(total[2])
            continue
        if not stripped.startswith("{"):
            raise ParseError(SPEC, f"expected '{{ key: ... }} hitcount: N', got {stripped[:60]!r}", line=lineno)
        if "}" in stripped:
            key_text, _, value_text = stripped[1:].rpartition("}")
            entries.append(HistEntry(_fields(key_text), (), _values(value_text)))
            continue
        # A stacktrace key: "{ [other: x, ]stacktrace:" then one frame a line, then "} hitcount: ...".
        frames: list[str] = []
        while i < len(lines) and not lines[i].strip().startswith("}"):
            if lines[i].strip():
                frames.append(lines[i].strip())
            i += 1
        if i == len(lines):
            raise ParseError(SPEC, "stacktrace entry without its closing '}'", line=lineno)
        key = _fields(stripped[1:])
        stack_field = next((k for k, v in key.items() if not v), "stacktrace")
        key[stack_field] = "\n".join(frames)
        entries.append(HistEntry(key, tuple(frames), _values(lines[i].strip()[1:])))
        i += 1
    return TraceHist(tuple(entries), totals.get("Hits"), totals.get("Entries"), totals.get("Dropped"))


def site_of(entry: HistEntry) -> str:
    """``function [module]`` of the allocation site: the call_site key, else the first
    non-allocator frame of the stacktrace key, else the key as printed."""
    call_site = entry.key.get("call_site")
    if call_site is not None:
        m = _SYM.match(call_site)
        if m is None:
            return call_site  # a raw or .hex address
        function = m[1].partition("+")[0]
        return f"{function} [{m[2]}]" if m[2] else function
    site = first_site([f for f in (parse_frame(s) for s in entry.frames) if f is not None])
    if site is not None:
        return site.key
    return ", ".join(f"{k}: {v}" for k, v in entry.key.items())
