"""Parse ``/proc/vmallocinfo`` into per-caller totals (where vmalloc memory went), and areas on demand.

A big host has hundreds of thousands of areas (every kernel stack is one), and the rules only
need totals: parsing adds each line into its caller's total as it streams and keeps no object
per line. ``VmallocInfo.areas`` parses the areas again, one at a time, for whoever wants them.
"""

from __future__ import annotations

import re
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, overload

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.numbers import LIMIT, hexint, uint

SPEC = "vmallocinfo"
# Words mm/vmalloc.c prints after the caller; anything else there is the caller.
_FLAGS = frozenset({"ioremap", "vmalloc", "vmap", "user", "dma-coherent", "vpages"})
# Lines with no caller symbol: areas waiting to be purged, and vm_map_ram() mappings.
_SPECIAL = {"unpurged": "unpurged vm_area", "vm_map_ram": "vm_map_ram"}

# The fast path reads the shape the kernel prints ("0x<hex>-0x<hex> <size> <rest>") with one
# regex per chunk; a line of any other shape sends its chunk to the line-by-line parser. Only
# ASCII text whose only line break is \n takes it: there ``str.split()`` and ``splitlines()``,
# which the line parser uses, cut exactly where the regex does.
# Groups: size, rest of the line; or, for a line of another shape, all of it (blank: none).
_TOTALS = re.compile(
    r"^(?:0x[0-9a-fA-F]{1,16}-0x[0-9a-fA-F]{1,16}[ \t]+([0-9]{1,20})(?:[ \t]+([^\n]*))?|[ \t]*|([^\n]*))$", re.M
)
# The same, with start and end first.
_AREAS = re.compile(
    r"^(?:0x([0-9a-fA-F]{1,16})-0x([0-9a-fA-F]{1,16})[ \t]+([0-9]{1,20})(?:[ \t]+([^\n]*))?|[ \t]*|([^\n]*))$",
    re.M,
)
# Every line of a chunk in the shape a 64-bit kernel prints, the addresses 16 digits wide: the
# common case, counted by what follows them (_Totals._add_wide); anything else goes through _TOTALS.
_WIDE = re.compile(
    r"(?:0x[0-9a-fA-F]{16}-0x[0-9a-fA-F]{16}[ \t][^\n]*\n)*(?:0x[0-9a-fA-F]{16}-0x[0-9a-fA-F]{16}[ \t][^\n]*)?"
)
_SIZE_REST = re.compile(r"[ \t]+([0-9]{1,20})(?:[ \t]+([^\n]*))?")
_BREAKS = ("\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e")  # what splitlines() also breaks at
_CHUNK = 1 << 20  # bytes of text per regex pass: bounds the transient list of matches


class VmallocArea(NamedTuple):
    # start/end are printed with %pK: unless kptr_restrict lets root see real
    # pointers they are hashed, so ``end - start`` is not the size: use ``size``.
    start: int
    end: int
    size: int  # bytes of address space, including the guard page
    caller: str
    function: str | None
    module: str | None
    pages: int | None
    flags: tuple[str, ...]
    phys: int | None

    @property
    def key(self) -> str:
        """Grouping key: ``function [module]``, ``function``, or the caller as printed."""
        if self.function is None:
            return self.caller
        return f"{self.function} [{self.module}]" if self.module else self.function


# what follows the size: (caller, function, module, pages, flags, phys)
_Tail = tuple[str, str | None, str | None, int | None, tuple[str, ...], int | None]


@dataclass(frozen=True)
class CallerTotal:
    areas: int
    pages: int  # pages of the areas that print pages= (vmalloc() allocations)
    size: int  # address space of the areas that do not


@dataclass(frozen=True)
class VmallocInfo:
    callers: Mapping[str, CallerTotal]  # by area key, in the order callers first appear
    modules: Mapping[str, str | None]  # by caller key as derive names it: the first area's module
    area_count: int
    pages: int
    text: str = field(default="", compare=False, repr=False)
    _areas: list[Areas] = field(default_factory=list, compare=False, repr=False)  # parsed once, when asked

    @property
    def areas(self) -> Areas:
        """Every area: parsed from the text on first use (the totals above need none), then kept compact."""
        if not self._areas:
            self._areas.append(Areas(_rows(self.text)))
        return self._areas[0]

    def vmalloc_bytes(self, page_size: int = 4096) -> int:
        """Pages backing the areas that report ``pages=`` (vmalloc() allocations)."""
        return self.pages * page_size

    def by_caller(self, page_size: int = 4096) -> dict[str, tuple[int, int]]:
        """``key -> (areas, bytes)``; bytes are pages when known, else the area size."""
        return {k: (c.areas, c.pages * page_size + c.size) for k, c in self.callers.items()}


class Areas(Sequence[VmallocArea]):
    """Areas kept as columns (about 32 bytes each, where an object is over 200); rebuilt on access."""

    def __init__(self, rows: Iterable[tuple[int, int, int, _Tail]]) -> None:
        self._starts, self._ends, self._sizes = array("Q"), array("Q"), array("Q")
        self._tails: list[_Tail] = []  # shared between areas of the same caller line
        for start, end, size, tail in rows:
            self._starts.append(start)
            self._ends.append(end)
            self._sizes.append(size)
            self._tails.append(tail)

    def __iter__(self) -> Iterator[VmallocArea]:
        # tuple.__new__ skips the NamedTuple's Python-level __new__: 2.5x faster over 200,000 areas
        return map(_area_new, self._starts, self._ends, self._sizes, self._tails)

    def __len__(self) -> int:
        return len(self._tails)

    @overload
    def __getitem__(self, i: int) -> VmallocArea: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[VmallocArea]: ...
    def __getitem__(self, i: int | slice) -> VmallocArea | Sequence[VmallocArea]:
        if isinstance(i, slice):
            return tuple(self)[i]
        return VmallocArea(self._starts[i], self._ends[i], self._sizes[i], *self._tails[i])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    __hash__ = None  # type: ignore[assignment]


def _area_new(start: int, end: int, size: int, tail: _Tail) -> VmallocArea:
    return tuple.__new__(VmallocArea, (start, end, size, *tail))


def _tail(tokens: list[str]) -> _Tail:
    """Caller, module, pages, flags and phys from the words after the size (ValueError: a bad number)."""
    caller, function, module = "", None, None
    i = 0
    if tokens:
        token = tokens[0]
        special = _SPECIAL.get(token)
        if special is not None:
            caller, i = special, (2 if token == "unpurged" else 1)
        elif token not in _FLAGS and not token.startswith(("pages=", "phys=")):
            # %pS: "func+0x56/0xd0 [mod]", or a bare address once the symbol is gone
            caller, i = token, 1
            if not token.startswith("0x"):
                function = token.partition("+")[0]
            if i < len(tokens) and tokens[i].startswith("[") and tokens[i].endswith("]"):
                module, i = tokens[i][1:-1], i + 1
    pages: int | None = None
    phys: int | None = None
    flags: list[str] = []
    for token in tokens[i:]:
        if token.startswith("pages="):
            pages = uint(token[6:])
        elif token.startswith("phys="):
            phys = hexint(token[5:])
        elif token[0] == "N" and "=" in token:
            continue  # per-NUMA-node page counts
        else:
            flags.append(token)
    return caller, function, module, pages, tuple(flags), phys


def _parse_line(line: str) -> VmallocArea | None:
    """One line, the reference parser every other path must agree with (ValueError: a bad number)."""
    parts = line.split()
    if len(parts) < 2:
        return None
    start_s, dash, end_s = parts[0].partition("-")
    try:
        start, end, size = hexint(start_s), hexint(end_s), uint(parts[1])
    except ValueError:
        return None
    if not dash:
        return None
    return VmallocArea(start, end, size, *_tail(parts[2:]))


def _area_of(line: str) -> VmallocArea | None:
    try:
        return _parse_line(line)
    except ValueError:  # a bad pages= or phys= value
        return None


def _fast(text: str) -> bool:
    return text.isascii() and not any(b in text for b in _BREAKS)


def _chunks(text: str) -> Iterator[str]:
    start = 0
    while start < len(text):
        cut = text.find("\n", start + _CHUNK)
        end = len(text) if cut < 0 else cut + 1
        yield text[start:end]
        start = end


class _Totals:
    """Per-caller totals, added as lines stream by."""

    def __init__(self) -> None:
        self.callers: dict[str, list[int]] = {}
        self.modules: dict[str, str | None] = {}
        self.count = 0
        self.pages = 0

    def add(self, tail: _Tail, size: int, n: int = 1) -> None:
        caller, function, module, pages, _flags, _phys = tail
        key = caller if function is None else (f"{function} [{module}]" if module else function)
        total = self.callers.get(key)
        if total is None:
            total = self.callers[key] = [0, 0, 0]
        total[0] += n
        if pages is None:
            total[2] += size * n
        else:
            total[1] += pages * n
            self.pages += pages * n
        self.count += n
        # derive keys callers as "function [module]" only when both are set (else function or caller)
        self.modules.setdefault(f"{function} [{module}]" if function and module else function or caller, module)

    def add_lines(self, lines: list[str]) -> None:
        for _start, _end, size, tail in _slow_rows(lines):
            self.add(tail, size)

    def add_chunk(self, chunk: str, tails: dict[str, _Tail | None]) -> None:
        """A chunk through the regex: each distinct (size, rest) is parsed once, times its count."""
        if _WIDE.fullmatch(chunk) and self._add_wide(chunk, tails):
            return
        counted = Counter(_TOTALS.findall(chunk))
        if any(other for _s, _r, other in counted):
            self.add_lines(chunk.split("\n"))  # a line of another shape: exact, line by line
            return
        for (size_s, rest, _), n in counted.items():
            if not size_s:
                continue  # a blank line
            size = int(size_s)
            tail = tails[rest] if rest in tails else tails.setdefault(rest, _tail_or_none(rest))
            if tail is not None and size < LIMIT:
                self.add(tail, size, n)

    def _add_wide(self, chunk: str, tails: dict[str, _Tail | None]) -> bool:
        """What a 64-bit kernel prints (``%px``: both addresses 16 hex digits, so every line's
        size starts at column 37): lines are counted by what follows the addresses, and each
        distinct rest is read once. False, having added nothing, if one of them is not a size
        and a rest (the chunk then goes the general way)."""
        counted = Counter([line[37:] for line in chunk.split("\n")])
        counted.pop("", None)  # the empty string after the last newline
        rows = []
        for after, n in counted.items():
            m = _SIZE_REST.fullmatch(after)
            if m is None:
                return False
            rows.append((m.group(1), m.group(2) or "", n))
        for size_s, rest, n in rows:
            size = int(size_s)
            tail = tails[rest] if rest in tails else tails.setdefault(rest, _tail_or_none(rest))
            if tail is not None and size < LIMIT:
                self.add(tail, size, n)
        return True

    def info(self, text: str) -> VmallocInfo:
        callers = {k: CallerTotal(*v) for k, v in self.callers.items()}
        return VmallocInfo(callers, self.modules, self.count, self.pages, text)


def _tail_or_none(rest: str) -> _Tail | None:
    try:
        return _tail(rest.split())
    except ValueError:
        return None


def _rows(text: str) -> Iterator[tuple[int, int, int, _Tail]]:
    """(start, end, size, tail) of every area of the text, in order; lines that are not areas are skipped."""
    if not _fast(text):
        yield from _slow_rows(text.splitlines())
        return
    tails: dict[str, _Tail | None] = {}
    for chunk in _chunks(text):
        rows: list[tuple[str, str, str, str, str]] = _AREAS.findall(chunk)
        if any(row[4] for row in rows):  # a line of another shape: exact, line by line
            yield from _slow_rows(chunk.split("\n"))
            continue
        for start_s, end_s, size_s, rest, _ in rows:
            if not size_s:
                continue  # a blank line
            size = int(size_s)
            tail = tails[rest] if rest in tails else tails.setdefault(rest, _tail_or_none(rest))
            if tail is not None and size < LIMIT:
                yield int(start_s, 16), int(end_s, 16), size, tail


def _slow_rows(lines: list[str]) -> Iterator[tuple[int, int, int, _Tail]]:
    for line in lines:
        area = _area_of(line) if line.strip() else None
        if area is not None:
            yield area.start, area.end, area.size, area[3:]


def parse_vmallocinfo(text: str) -> VmallocInfo:
    """Parse the text of ``/proc/vmallocinfo``.

    >>> info = parse_vmallocinfo('''0x00000000d79630be-0x00000000209ce2cc    8192 leaky_leak_4k+0x56/0xd0 [leaky] pages=1 vmalloc N0=1
    ... 0x0000000014bf8b2e-0x000000001ddf6bf0   20480 unpurged vm_area
    ... 0x0000000036f57c0f-0x00000000f4b89162    8192 acpi_os_map_iomem+0x1b6/0x1d0 phys=0x000000003ffe2000 ioremap
    ... ''')
    >>> area = info.areas[0]
    >>> area.function, area.module, area.pages, area.flags
    ('leaky_leak_4k', 'leaky', 1, ('vmalloc',))
    >>> info.vmalloc_bytes()
    4096
    >>> info.by_caller()["leaky_leak_4k [leaky]"], info.by_caller()["unpurged vm_area"]
    ((1, 4096), (1, 20480))
    """
    _check_first_line(text)
    totals = _Totals()
    if _fast(text):
        tails: dict[str, _Tail | None] = {}
        for chunk in _chunks(text):
            totals.add_chunk(chunk, tails)
    else:
        totals.add_lines(text.splitlines())
    return totals.info(text)


def _check_first_line(text: str) -> None:
    """The first line that is not blank must be an area: anything else is not vmallocinfo."""
    for lineno, line in enumerate(_lines(text) if _fast(text) else text.splitlines(), start=1):
        if line.strip():
            if _area_of(line) is None:
                raise ParseError(SPEC, f"expected '0x...-0x... size caller ...', got {line[:60]!r}", line=lineno)
            return


def _lines(text: str) -> Iterator[str]:
    """The lines of a text whose only break is \\n, lazily: the first of 20 MB should not copy them all."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        if end < 0:
            end = len(text)
        yield text[start:end]
        start = end + 1
