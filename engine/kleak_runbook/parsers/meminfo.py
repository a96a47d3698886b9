"""Parse ``/proc/meminfo`` into byte counts keyed by the kernel's own field names."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.numbers import uint

SPEC = "meminfo"


@dataclass(frozen=True)
class MemInfo:
    """Every field of ``/proc/meminfo``: ``kB`` values in bytes, unitless ones (``HugePages_*``) as counts."""

    fields: Mapping[str, int]

    def get(self, name: str) -> int | None:
        return self.fields.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self.fields

    def __getitem__(self, name: str) -> int:
        return self.fields[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.fields)


def _fields(text: str) -> dict[str, int]:
    fields: dict[str, int] = {}
    for line in text.splitlines():
        name, sep, rest = line.partition(":")
        if not sep:
            continue
        parts = rest.split()
        try:
            value = uint(parts[0])  # ASCII digits, at most 64 bits: anything else is dropped
        except (IndexError, ValueError):
            if name.strip() == "MemTotal":
                raise ParseError(SPEC, f"MemTotal: expected a number of kB, got {rest.strip()[:40]!r}") from None
            continue
        if len(parts) == 1:
            fields[name.strip()] = value
        elif len(parts) == 2 and parts[1] == "kB":
            fields[name.strip()] = value * 1024
    return fields


def parse_meminfo(text: str) -> MemInfo:
    """Parse the text of ``/proc/meminfo``.

    Fields keep the kernel's spelling; fields a kernel does not have (``Percpu``
    before 4.16, ``KReclaimable`` before 4.20, ...) are simply absent.

    >>> mi = parse_meminfo('''MemTotal:         981472 kB
    ... SUnreclaim:        16468 kB
    ... Active(anon):        192 kB
    ... HugePages_Total:       0
    ... ''')
    >>> mi["SUnreclaim"], mi["Active(anon)"], mi["HugePages_Total"]
    (16863232, 196608, 0)
    >>> mi.get("Percpu") is None, "MemTotal" in mi
    (True, True)
    """
    fields = _fields(text)
    if "MemTotal" not in fields:
        raise ParseError(SPEC, "no MemTotal line: not /proc/meminfo")
    return MemInfo(MappingProxyType(fields))


def parse_meminfo_lines(text: str) -> MemInfo:
    """Some lines of /proc/meminfo, e.g. ``grep -i slab /proc/meminfo`` pasted in a ticket: the
    fields given, without MemTotal (so nothing can be compared with the memory size).

    >>> parse_meminfo_lines("Slab:  31466152 kB\\nSUnreclaim:  30990324 kB\\n")["SUnreclaim"] // 1024**3
    29
    """
    fields = _fields(text)
    if not fields:
        raise ParseError(SPEC, "no 'Field: N kB' line: not lines of /proc/meminfo")
    return MemInfo(MappingProxyType(fields))
