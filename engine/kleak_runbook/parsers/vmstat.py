"""Parse ``vmstat -s`` (procps): its memory lines become the ``/proc/meminfo`` fields they come from.

``total memory`` is MemTotal, ``free memory`` MemFree, ``buffer memory`` Buffers, ``active
memory`` Active, ``inactive memory`` Inactive, ``total swap`` / ``free swap`` SwapTotal /
SwapFree. ``swap cache`` is not SwapCached, despite its name: procps-ng prints its "cached"
figure there, which in procps-ng is the page cache *and* reclaimable slab
(``kb_main_cached = kb_page_cache + kb_slab_reclaimable`` in 3.3's ``proc/sysinfo.c``;
``mHr(derived_mem_cached) = mHr(Cached) + mHr(SReclaimable)`` for ``MEMINFO_MEM_CACHED_ALL`` in
4.x ``library/meminfo.c``, printed by ``sum_format()`` in ``src/vmstat.c``). It is kept as
``Cached``, as free's ``buff/cache`` is; ``VmstatUsed`` (not a meminfo field) marks the source and
keeps ``used memory`` (MemTotal - MemAvailable in procps-ng 4, MemTotal - MemFree - Buffers -
cache in 3.3), which is not used for any conclusion because which of the two it is depends on
the procps version. The event counters that follow (cpu ticks, forks, ...) are not memory and
are skipped. Values are in the unit printed on each line (``-S``: K = KiB, the default; k =
1000 B; M = MiB; m = 10^6 B; B or b = bytes).

Below: ``vmstat -s`` captured on the project's build machine (tests/samples/build-machine/).

>>> mi = parse_vmstat_s('''     24684084 K total memory
...       1151676 K used memory
...       1226408 K active memory
...       1987540 K inactive memory
...      21147728 K free memory
...        144176 K buffer memory
...       2650868 K swap cache
...             0 K total swap
...             0 K used swap
...             0 K free swap
...       1915520 non-nice user cpu ticks''')
>>> mi["MemTotal"] // 1024**2, mi["MemFree"] // 1024**2, mi["Cached"] // 1024**2, mi["Active"] // 1024**2
(24105, 20652, 2588, 1197)
"""

from __future__ import annotations

import re
from types import MappingProxyType

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.meminfo import MemInfo
from kleak_runbook.parsers.numbers import uint

SPEC = "vmstat"
UNITS = {"K": 1024, "k": 1000, "M": 1024**2, "m": 1000**2, "B": 1, "b": 1}
FIELDS = {
    "total memory": "MemTotal",
    "used memory": "VmstatUsed",  # not a meminfo field: procps' "used", whose definition changed
    "active memory": "Active",
    "inactive memory": "Inactive",
    "free memory": "MemFree",
    "buffer memory": "Buffers",
    "swap cache": "Cached",  # Cached + SReclaimable in procps-ng: see the docstring
    "total swap": "SwapTotal",
    "free swap": "SwapFree",
}
LINE = re.compile(r"^\s*([0-9]+)\s+([KkMmBb])\s+(" + "|".join(FIELDS).replace(" ", r"\s+") + r"|used\s+swap)\s*$")


def parse_vmstat_s(text: str) -> MemInfo:
    fields: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        m = LINE.match(line.strip().lstrip(">").strip())
        if m is None:
            continue
        what = " ".join(m.group(3).split())
        name = FIELDS.get(what)
        if name is None or name in fields:
            continue  # "used swap" is SwapTotal - SwapFree; a second output starts another block
        try:
            fields[name] = uint(m.group(1)) * UNITS[m.group(2)]
        except ValueError:
            raise ParseError(SPEC, f"expected a number, got {m.group(1)[:40]!r}", line=lineno) from None
    if "MemTotal" not in fields or "MemFree" not in fields:
        raise ParseError(SPEC, "expected vmstat -s's 'total memory' and 'free memory' lines")
    return MemInfo(MappingProxyType(fields))
