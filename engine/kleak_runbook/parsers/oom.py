"""Parse the kernel's OOM-killer report (and SysRq-m ``show_mem``) from dmesg, the journal or syslog.

The report's ``Mem-Info:`` block counts pages (``active_anon:1 ... slab_unreclaimable:7509 ...
free:5554``); ``N pages RAM`` and ``N pages reserved`` give the memory size; the per-zone lines
carry ``kernel_stack`` and ``pagetables`` in kB. They become the ``/proc/meminfo`` fields they
match, so a ticket that holds only an OOM report is judged like a meminfo snapshot. From 4.15 the
report also lists ``Unreclaimable slab info:`` (cache, used, total) when unreclaimable slab is
larger than user memory: those become slab caches.
Line prefixes of dmesg (``[ 3117.587337]``, ``<4>``), the journal and syslog are ignored.
"""

from __future__ import annotations

import re
from types import MappingProxyType

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.meminfo import MemInfo
from kleak_runbook.parsers.slabinfo import SlabCache, SlabInfo

SPEC = "oom-report"
PAGE = 4096
# "<4>[ 3117.587337] ", "[Tue Feb  4 16:15:16 2025] ", "Feb  4 16:15:16 host kernel: "
_PREFIX = re.compile(
    # Android's kernel log as a phone's tools save it: "07-13 08:41:51.341 <4>[309805.658142s][pid:1361,cpu5,comm]"
    r"^(?:\d\d-\d\d \d\d:\d\d:\d\d\.\d+ <\d+>\[\s*[\d.]+s?\](?:\[pid:[^\]]*\])?)?"
    r"(?:<\d+>)?(?:\[\s*[\d.]+\]\s*|\[[A-Z][a-z]{2} [^\]]+\]\s*)?"
    # syslog and journalctl ("May 15 09:38:52.733230 host kernel:", -o short-iso "2024-05-15T09:38:52+0200 host kernel:"),
    # OpenWrt's logread ("Sun Mar  8 12:23:14 2020 kern.warn kernel:")
    r"(?:(?:(?:[A-Z][a-z]{2}\s+)?[A-Z][a-z]{2}\s+\d+\s+[\d:]+(?:\.\d+)?(?:\s+\d{4})?|\d{4}-\d{2}-\d{2}T[\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)\s+(?:\S+\s+)?kernel:\s*"
    r"(?:\[\s*[\d.]+\]\s*)?)?"
)
_PAIR = re.compile(r"\b([a-z_()]+):(\d+)(kB)?\b")
_PAGES = re.compile(r"^(\d+) pages (RAM|reserved|HighMem/MovableOnly)\b")
_SLAB_ROW = re.compile(r"^(\S+)\s+(\d+)KB\s+(\d+)KB\s*$")
_SLAB_ROW_TOTAL_ONLY = re.compile(r"^(\S+)\s+(\d+)KB\b")
# Mem-Info page counters -> /proc/meminfo field
_FIELDS = {
    "active_anon": "Active(anon)",
    "inactive_anon": "Inactive(anon)",
    "active_file": "Active(file)",
    "inactive_file": "Inactive(file)",
    "unevictable": "Unevictable",
    "slab_reclaimable": "SReclaimable",
    "slab_unreclaimable": "SUnreclaim",
    "shmem": "Shmem",
    "pagetables": "PageTables",
    "free": "MemFree",
    "mapped": "Mapped",
}


# a zone's line: "Node 0 DMA32 free:58888kB min:18560kB ..." (older kernels: "DMA32 free:...")
_ZONE_NAME = re.compile(r"^(?:Node [0-9]+ )?(?:DMA|DMA32|Normal|HighMem|Movable|Device) (?=free:)")


def _lines(text: str) -> list[str]:
    return [_PREFIX.sub("", line).strip() for line in text.splitlines()]


def parse_oom_meminfo(text: str) -> MemInfo:
    """Mem-Info counters of an OOM report or SysRq-m, as /proc/meminfo fields in bytes.

    Below: the report in https://github.com/openwrt/openwrt/issues/3507 (tests/cases), abridged.

    >>> mi = parse_oom_meminfo('''Mem-Info:
    ... active_anon:1 inactive_anon:1 isolated_anon:0
    ...  active_file:97 inactive_file:133 isolated_file:0
    ...  slab_reclaimable:277 slab_unreclaimable:7509
    ...  free:5554 free_pcp:41 free_cma:0
    ... Normal free:22216kB min:24576kB kernel_stack:576kB pagetables:544kB bounce:0kB
    ... 32768 pages RAM
    ... 1856 pages reserved''')
    >>> mi["MemTotal"] // 1024, mi["SUnreclaim"] // 1024, mi["KernelStack"] // 1024
    (123648, 30036, 576)
    """
    fields: dict[str, int] = {}
    nodes: dict[str, int] = {}  # the same counters in kB from "Node N ..." lines, summed over nodes
    zones: dict[str, int] = {}  # and from each zone's line, summed over the zones (each zone once)
    seen_zones: set[str] = set()
    managed = 0
    ram = reserved = None
    stacks = 0
    in_info = False
    for line in _lines(text):
        if line.startswith("Mem-Info:"):
            in_info = True
            continue
        pages = _PAGES.match(line)
        if pages:
            count = int(pages.group(1))
            if pages.group(2) == "RAM":
                ram = count
            elif pages.group(2) == "reserved":
                reserved = count
            continue
        pairs = _PAIR.findall(line)
        if not pairs:
            in_info = in_info and not line
            continue
        if any(name == "kernel_stack" and unit for name, _, unit in pairs):  # a zone line, in kB
            stacks += sum(int(v) for name, v, unit in pairs if name == "kernel_stack" and unit)
            zone = _ZONE_NAME.match(line)
            if zone is not None and zone.group(0) not in seen_zones:
                seen_zones.add(zone.group(0))
                for name, value, unit in pairs:
                    if name in _FIELDS and unit:
                        zones[_FIELDS[name]] = zones.get(_FIELDS[name], 0) + int(value) * 1024
                sizes = {name: int(v) for name, v, unit in pairs if name in ("managed", "present") and unit}
                managed += sizes.get("managed", sizes.get("present", 0))
            continue
        if line.startswith("Node "):
            for name, value, unit in pairs:
                if name in _FIELDS and unit:
                    nodes[_FIELDS[name]] = nodes.get(_FIELDS[name], 0) + int(value) * 1024
            continue
        if any(unit for _, _, unit in pairs):
            continue
        for name, value, _ in pairs:
            if name in _FIELDS and _FIELDS[name] not in fields:
                fields[_FIELDS[name]] = int(value) * PAGE
    for name, value in nodes.items():  # a report cut before its first Mem-Info lines still has them per node
        fields.setdefault(name, value)
    whole = ram is None or managed * 1024 >= 0.9 * (ram - (reserved or 0)) * PAGE
    if not fields and whole:  # ... or per zone, when only the zone lines were pasted, all of them
        fields.update(zones)
    if not fields:
        raise ParseError(SPEC, "no Mem-Info page counters (active_anon:... free:...) found")
    if ram is not None:
        fields["MemTotal"] = (ram - (reserved or 0)) * PAGE
    elif managed and fields == zones and {"SUnreclaim", "Active(anon)"} <= zones.keys():
        # the zone lines alone, of kernels that still counted slab per zone (before 4.14, whose lines
        # hold every kind they count): the memory they manage
        fields["MemTotal"] = managed * 1024
    elif managed and "MemFree" in zones and fields.get("MemFree") and _all_zones(zones["MemFree"], fields["MemFree"]):
        # the zones' lines between the report's own counters and its end, their free memory adding up
        # to the report's "free:" (so no zone of it is missing): together they manage all the memory
        fields["MemTotal"] = managed * 1024
    if stacks:
        fields["KernelStack"] = stacks * 1024
    if "SReclaimable" in fields and "SUnreclaim" in fields:
        fields["Slab"] = fields["SReclaimable"] + fields["SUnreclaim"]
    if {"Active(anon)", "Active(file)"} <= fields.keys():
        fields["Active"] = fields["Active(anon)"] + fields["Active(file)"]
    if {"Inactive(anon)", "Inactive(file)"} <= fields.keys():
        fields["Inactive"] = fields["Inactive(anon)"] + fields["Inactive(file)"]
    return MemInfo(MappingProxyType(fields))


def _all_zones(zone_free: int, free: int) -> bool:
    """The zones' free memory (their lines, in kB) is the report's global "free:" (pages) within the
    per-CPU lists' slack: every zone with free memory is among the lines."""
    return abs(zone_free - free) <= max(0.02 * free, 1024**2)


def parse_unreclaimable_slab(text: str) -> SlabInfo:
    """The report's ``Unreclaimable slab info:`` list (``Name Used Total``, in KB) as slab caches.

    Only sizes are known: object counts are 0 and each cache's size is its total.

    >>> info = parse_unreclaimable_slab('''Unreclaimable slab info:
    ... Name                      Used          Total
    ... skbuff_small_head   22075675KB
    ... kmalloc-1024            5508KB       5568KB''')
    >>> [(c.name, c.size_bytes() // 1024) for c in info.caches]
    [('skbuff_small_head', 22075676), ('kmalloc-1024', 5568)]
    """
    caches: list[SlabCache] = []
    started = False
    for line in _lines(text):
        if line.startswith("Unreclaimable slab info"):
            started = True
            continue
        if not started or line.startswith("Name"):
            continue
        row = _SLAB_ROW.match(line) or _SLAB_ROW_TOTAL_ONLY.match(line)
        if row is None:
            if caches:
                break
            continue
        total_kb = int(row.group(3) if row.lastindex == 3 else row.group(2))
        pages = -(-total_kb * 1024 // PAGE)
        caches.append(SlabCache(row.group(1), 0, 0, 0, 0, 1, pages, pages))
    if not caches:
        raise ParseError(SPEC, "no 'Unreclaimable slab info:' rows (name, used KB, total KB) found")
    return SlabInfo(version="oom-report", caches=tuple(caches))


_SLUB_CACHE = re.compile(
    r"^cache: (\S+?), object size: (\d+), buffer size: (\d+), default order: (\d+), min order: (\d+)"
)
_SLUB_NODE = re.compile(r"^node (\d+): slabs: (\d+), objs: (\d+), free: (\d+)")


def parse_slub_failure(text: str) -> SlabInfo:
    """SLUB's allocation-failure warning: the cache that could not grow, and how big it already is.

    ``slab_out_of_memory`` prints the cache, its object size and slab order, then per node the
    slabs and objects it holds: slabs x 2^order pages is the cache's size. Below: from
    https://github.com/lkrg-org/lkrg/issues/172 (tests/cases).

    >>> info = parse_slub_failure('''[50435.448604] SLUB: Unable to allocate memory on node -1, gfp=0xa20(GFP_ATOMIC)
    ... [50435.448618]   cache: p_ed_pids, object size: 274832, buffer size: 274880, default order: 7, min order: 7
    ... [50435.448621]   node 0: slabs: 29822, objs: 29822, free: 0''')
    >>> c = info.caches[0]
    >>> c.name, c.num_objs, c.size_bytes() // 1024**3
    ('p_ed_pids', 29822, 14)
    """
    caches: dict[str, SlabCache] = {}
    current: tuple[str, int, int] | None = None  # name, buffer size, order
    for line in _lines(text):
        m = _SLUB_CACHE.match(line)
        if m is not None:
            current = (m.group(1), int(m.group(3)), int(m.group(4)))
            continue
        n = _SLUB_NODE.match(line)
        if n is None or current is None:
            continue
        name, size, order = current
        slabs, objs = int(n.group(2)), int(n.group(3))
        before = caches.get(name)
        if before is not None:  # another node of the same cache
            slabs, objs = slabs + before.num_slabs, objs + before.num_objs
        per_slab = max(1, (4096 << order) // max(size, 1))
        caches[name] = SlabCache(name, objs - int(n.group(4)), objs, size, per_slab, 1 << order, slabs, slabs)
    if not caches:
        raise ParseError(SPEC, "no 'cache: ..., object size: ...' and 'node N: slabs: ...' lines")
    return SlabInfo(version="slub-failure", caches=tuple(caches.values()))
