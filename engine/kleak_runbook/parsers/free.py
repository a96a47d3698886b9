"""Parse ``free`` output (procps: plain, ``-k``, ``-m``, ``-g``, ``-b``, ``-h``; old and new layouts).

The ``Mem:`` row becomes the ``/proc/meminfo`` fields it comes from: ``total`` is MemTotal,
``free`` MemFree, ``shared`` Shmem, ``available`` MemAvailable (procps 3.3.10 and later),
``buff/cache`` (or ``buffers`` + ``cached``) Buffers + Cached. Plain numbers are KiB unless the
command shown with them says ``-m``, ``-g`` or ``-b``; ``-h`` values carry their unit.

A paste that lost the header row is read when its layout is certain: six values and a
``-/+ buffers/cache:`` line (only the old layout has it) whose used + free is the total.
"""

from __future__ import annotations

import re
from types import MappingProxyType

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.meminfo import MemInfo

SPEC = "free"
_UNITS = {"": 1, "B": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4, "P": 1024**5}
_FLAG_UNITS = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_VALUE = re.compile(r"^([0-9]+(?:[.,][0-9]+)?)([BKMGTP]?)i?$")
# free's options as typed after it: "-m", "-lm", "-h -w", "--mega"
_COMMAND = re.compile(r"\bfree((?:\s+-{1,2}[A-Za-z][\w=-]*)+)")
# procps: -b -k -m -g are the unit (the last one given wins); -t is --total, not tera
_LONG_UNITS = {"bytes": "b", "kilo": "k", "kibi": "k", "mega": "m", "mebi": "m", "giga": "g", "gibi": "g", "tera": "t"}


def _unit_flag(text: str) -> str | None:
    """The unit free was asked for, from the command shown with its output, if any."""
    m = _COMMAND.search(text)
    if m is None:
        return None
    unit = None
    for option in m.group(1).split():
        if option.startswith("--"):
            unit = _LONG_UNITS.get(option[2:].split("=")[0], unit)
        else:
            for letter in option[1:]:
                unit = letter if letter in "bkmg" else unit
    return unit


_COLUMNS = ("total", "used", "free", "shared", "buff/cache", "buffers", "cached", "available")
_OLD_LAYOUT = ["total", "used", "free", "shared", "buffers", "cached"]


def _bytes(token: str, scale: int, human: bool) -> int:
    m = _VALUE.match(token)
    if m is None:
        raise ParseError(SPEC, f"expected a size, got {token!r}")
    number = float(m.group(1).replace(",", "."))
    unit = m.group(2)
    if unit or human:
        return round(number * _UNITS[unit])
    return round(number * scale)


def _old_layout(lines: list[str], row: list[str]) -> bool:
    """Whether a header-less ``Mem:`` row is procps' old layout: it alone prints ``-/+ buffers/cache:``
    (used and free without buffers and cache), and its used and free add up to its total."""
    minus = next((line.split()[2:] for line in lines if line.startswith("-/+ buffers/cache:")), None)
    if minus is None or len(row) != len(_OLD_LAYOUT) or not all(_VALUE.match(v) for v in row):
        return False
    total, used, free = (_bytes(v, 1, True) for v in row[:3])
    return abs(used + free - total) <= max(total // 100, 1)


def parse_free(text: str) -> MemInfo:
    """Parse free's header and ``Mem:`` row.

    Below: ``free -h`` from https://github.com/xmm7360/xmm7360-pci/issues/131 (tests/cases).

    >>> mi = parse_free('''              total        used        free      shared  buff/cache   available
    ... Mem:           62Gi        61Gi       504Mi       1.0Mi       474Mi       320Mi''')
    >>> mi["MemTotal"] // 1024**3, mi["MemAvailable"] // 1024**2, mi["MemFree"] // 1024**2
    (62, 320, 504)
    """
    lines = [line.strip().lstrip(">").strip() for line in text.splitlines()]
    flag = _unit_flag(text)
    scale = _FLAG_UNITS[flag] if flag else 1024
    header = next((line.split() for line in lines if line.split()[:3] == ["total", "used", "free"]), None)
    row = next((line.split()[1:] for line in lines if line.startswith("Mem:")), None)
    if header is None and row is not None and _old_layout(lines, row):
        header = _OLD_LAYOUT
    if header is None or row is None:
        raise ParseError(SPEC, "expected free's 'total used free ...' header and its 'Mem:' row")
    human = any(_VALUE.match(v) and _VALUE.match(v).group(2) for v in row)  # type: ignore[union-attr]
    values: dict[str, int] = {}
    for name, token in zip(header, row):
        if name in _COLUMNS:
            values[name] = _bytes(token, scale, human)
    if "total" not in values or "free" not in values:
        raise ParseError(SPEC, "the Mem: row has no total and free values")
    fields = {"MemTotal": values["total"], "MemFree": values["free"]}
    if "shared" in values:
        fields["Shmem"] = values["shared"]
    if "available" in values:
        fields["MemAvailable"] = values["available"]
    cache = values.get("buff/cache", values.get("buffers", 0) + values.get("cached", 0))
    if "buff/cache" in values or "cached" in values:
        fields["Cached"] = cache
    if "used" in values:
        fields["Used"] = values["used"]  # not a meminfo field: what free calls used
    return MemInfo(MappingProxyType(fields))
