"""Parse ``smem -w`` (memory by area): what a ticket shows when someone asked smem where memory went.

smem splits memory into firmware/hardware, the kernel image, *kernel dynamic memory*, userspace
and free, each with its cache and non-cache part; kernel dynamic memory is MemTotal minus the
rest, so its non-cache part is every kind of kernel memory at once (slab, vmalloc, per-CPU,
pages). Values are KiB, or carry a unit with ``-k``. They become ``/proc/meminfo``-style fields:
MemTotal, MemFree, Cached, and ``KernelDynamicNoncache`` (no meminfo field has it).

Below: from https://github.com/sipb/homeworld/issues/458 (tests/cases).

>>> mi = parse_smem_areas('''Area                           Used      Cache   Noncache
... firmware/hardware                 0          0          0
... kernel image                  12629          0      12629
... kernel dynamic memory      24104020    1735176   22368844
... userspace memory            1017764     318360     699404
... free memory               171566560  171566560          0''')
>>> mi["KernelDynamicNoncache"] // 1024**2, mi["MemTotal"] // 1024**3
(21844, 187)
"""

from __future__ import annotations

import re
from types import MappingProxyType

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.meminfo import MemInfo

SPEC = "smem"
AREAS = ("firmware/hardware", "kernel image", "kernel dynamic memory", "userspace memory", "free memory")
_ROW = re.compile(r"^(?P<area>[a-z/ ]+?)\s+(?P<used>\S+)\s+(?P<cache>\S+)\s+(?P<noncache>\S+)$")
_SIZE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)([KMGT]?)$")
_UNITS = {"": 1024, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def _bytes(token: str) -> int:
    m = _SIZE.match(token)
    if m is None:
        raise ParseError(SPEC, f"expected a size, got {token[:40]!r}")
    return round(float(m.group(1)) * _UNITS[m.group(2)])


def parse_smem_areas(text: str) -> MemInfo:
    rows: dict[str, tuple[int, int, int]] = {}
    for line in text.splitlines():
        m = _ROW.match(line.strip())
        if m and m["area"] in AREAS:
            rows[m["area"]] = (_bytes(m["used"]), _bytes(m["cache"]), _bytes(m["noncache"]))
    if "kernel dynamic memory" not in rows or "free memory" not in rows:
        raise ParseError(SPEC, "expected smem -w rows 'kernel dynamic memory' and 'free memory'")
    fields = {
        "MemTotal": sum(used for used, _, _ in rows.values()),
        "MemFree": rows["free memory"][0],
        "Cached": sum(cache for area, (_, cache, _) in rows.items() if area != "free memory"),
        "KernelDynamicNoncache": rows["kernel dynamic memory"][2],
    }
    if "userspace memory" in rows:
        fields["UserspaceUsed"] = rows["userspace memory"][0]  # not a meminfo field either
    return MemInfo(MappingProxyType(fields))
