"""Parse ZFS's ``/proc/spl/kstat/zfs/arcstats``: how much memory the ARC holds.

The ARC is ZFS's cache. Its data pages come straight from the page allocator (ABD scatter
buffers), so no ``/proc/meminfo`` field shows them: on a ZFS host, memory "in no field" is
mostly ARC, which shrinks under memory pressure like the page cache. ``size`` is the ARC's
current size, ``c`` its target, ``c_max`` its limit (``zfs_arc_max``).

>>> arc = parse_arcstats('''13 1 0x01 123 33456 5765224538 1093285432925
... name                            type data
... hits                            4    116389845
... c                               4    8589934592
... c_min                           4    1073741824
... c_max                           4    16777216000
... size                            4    8534335488
... ''')
>>> arc.size, arc.c_max, arc.fields["hits"]
(8534335488, 16777216000, 116389845)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import MappingProxyType

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.numbers import uint

SPEC = "arcstats"
# kstat rows: name, data type (4 = uint64, 3 = int64), value
_ROW = re.compile(r"^([a-z][a-z0-9_]*)\s+([0-9]+)\s+([0-9]+)\s*$")


@dataclass(frozen=True)
class ArcStats:
    fields: MappingProxyType[str, int]

    @property
    def size(self) -> int:
        return self.fields["size"]

    @property
    def c_max(self) -> int | None:
        return self.fields.get("c_max")


def parse_arcstats(text: str) -> ArcStats:
    fields: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        m = _ROW.match(line.strip())
        if m is None:
            continue  # the kstat header ("13 1 0x01 ..."), the column names, anything else
        try:
            fields[m.group(1)] = uint(m.group(3))
        except ValueError:
            raise ParseError(SPEC, f"expected a number, got {m.group(3)[:40]!r}", line=lineno) from None
    if "size" not in fields:
        raise ParseError(SPEC, "no 'size' row: not ZFS's arcstats")
    return ArcStats(MappingProxyType(fields))
