"""Parse the memory lines of ``top``'s summary area (procps 3.2 to procps-ng 4).

- procps-ng 3.3.10 and later: ``KiB Mem : 32780028 total, 905684 free, 19957900 used, 11916444 buff/cache``
  and ``KiB Swap: ... 11500012 avail Mem`` (``MiB``/``GiB`` with ``-E``; used leaves out buff/cache);
- procps-ng before 3.3.10: ``KiB Mem:  16415460 total, 16289720 used, 125740 free, 640 buffers`` and
  ``KiB Swap: ... 7456 cached Mem``;
- procps 3.2: ``Mem:   4024644k total,  3839860k used,   184784k free,     5392k buffers`` and
  ``Swap: ... 2086M cached`` (a unit letter on each figure; used counts buffers and cache).

They become the fields ``free`` gives (``parsers.free``): MemTotal, MemFree, Cached (buffers and
cache together), MemAvailable when shown, and top's own "used". A figure top cut to fit its column
(``13121584+total``) is not a figure: such a line is refused.
"""

from __future__ import annotations

import re
from types import MappingProxyType

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.meminfo import MemInfo

SPEC = "top"
_SCALE = {"KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4, "PiB": 1024**5, "EiB": 1024**6}
_LETTER = {"k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
MEM_LINE = re.compile(r"^(?:(?P<unit>[KMGTPE]iB)\s+)?Mem\s*:\s+[0-9][0-9.]*[kKmMgGtT+]?\s*total,")
_SWAP_LINE = re.compile(r"^(?:(?P<unit>[KMGTPE]iB)\s+)?Swap\s*:\s+[0-9]")
_ITEM = re.compile(
    r"(?P<num>[0-9]+(?:\.[0-9]+)?)(?P<cut>\+)?(?P<letter>[kKmMgGtT])?\s*(?P<name>total|used|free|buffers|buff/cache|avail Mem|cached Mem|cached)\b"
)


def _items(line: str, scale: int) -> dict[str, int]:
    out: dict[str, int] = {}
    for m in _ITEM.finditer(line):
        if m["cut"]:
            raise ParseError(SPEC, f"top cut the figure {m['num']}+ to fit its column: not a figure")
        factor = _LETTER[m["letter"].lower()] if m["letter"] else scale
        out.setdefault(m["name"], round(float(m["num"]) * factor))
    return out


def parse_top_summary(text: str) -> MemInfo:
    """top's ``Mem`` line (and the ``Swap`` line after it, which may carry the cache or avail).

    Below: ``top`` from https://github.com/openzfs/zfs/issues/3677 (tests/cases).

    >>> mi = parse_top_summary('''KiB Mem:  16415460 total, 16289720 used,   125740 free,      640 buffers
    ... KiB Swap:  3999740 total,   153912 used,  3845828 free.     7456 cached Mem''')
    >>> mi["MemTotal"] // 1024, mi["MemFree"] // 1024, mi["Cached"] // 1024, mi["Used"] // 1024
    (16415460, 125740, 8096, 16289720)
    """
    mem: dict[str, int] | None = None
    swap: dict[str, int] = {}
    for raw in text.splitlines():
        line = raw.strip()
        m = MEM_LINE.match(line)
        if m is not None and mem is None:
            mem = _items(line, _SCALE[m["unit"]] if m["unit"] else 1024)
            continue
        s = _SWAP_LINE.match(line)
        if s is not None and mem is not None:
            swap = _items(line, _SCALE[s["unit"]] if s["unit"] else 1024)
            break
    if mem is None or "total" not in mem or "free" not in mem:
        raise ParseError(SPEC, "expected top's 'Mem: N total, N free, ...' line")
    fields = {"MemTotal": mem["total"], "MemFree": mem["free"]}
    cache = mem.get("buff/cache")
    if cache is None and ("buffers" in mem or "cached Mem" in swap or "cached" in swap):
        cache = mem.get("buffers", 0) + swap.get("cached Mem", swap.get("cached", 0))
    if cache is not None:
        fields["Cached"] = cache
    if "avail Mem" in swap:
        fields["MemAvailable"] = swap["avail Mem"]
    if "used" in mem:
        fields["Used"] = mem["used"]
    return MemInfo(MappingProxyType(fields))


def take_top(text: str) -> tuple[str, list[str]]:
    """``text`` with each of top's Mem lines (and the Swap line after it) blanked out, and each pair as
    a sample's text; a line top cut short is left in place, unread."""
    lines = text.splitlines()
    kept = list(lines)
    blocks: list[str] = []
    for i, raw in enumerate(lines):
        if not MEM_LINE.match(raw.strip()):
            continue
        pair = [raw.strip()]
        if i + 1 < len(lines) and _SWAP_LINE.match(lines[i + 1].strip()):
            pair.append(lines[i + 1].strip())
        block = "\n".join(pair) + "\n"
        try:
            parse_top_summary(block)
        except ParseError:
            continue
        blocks.append(block)
        kept[i] = ""
        if len(pair) == 2:
            kept[i + 1] = ""
    return ("\n".join(kept) + "\n", blocks) if blocks else (text, [])
