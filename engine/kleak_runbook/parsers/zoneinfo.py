"""Parse ``/proc/zoneinfo``: per-zone free pages and the free pages held on per-CPU lists.

A page on a per-CPU list (``pagesets`` → ``count``) is free, yet ``MemFree`` does not count it:
``NR_FREE_PAGES`` only counts pages in the buddy allocator. So "memory no /proc/meminfo field
accounts for" also holds these lists, which grow and drain by themselves: by up to
``high`` pages per CPU and zone (a few MiB per CPU before 6.7, up to ``high_max`` since the
automatic tuning in 6.7, which can be hundreds of MiB per CPU). A page-allocator leak can be
served from them without ``MemFree`` moving at all (seen on the lab's 6.1 kernel: 16 MiB leaked,
``MemFree`` unchanged, the lists 13 MiB shorter).

The format has been stable since 2.6: ``Node N, zone NAME`` opens a zone; ``pages free N``;
``managed N`` (3.8+); ``pagesets`` then ``cpu: K`` blocks with ``count:``, ``high:``, ``batch:``
(and ``high_min:``/``high_max:`` since 6.7). 5.x+ puts per-node counters first under
``per-node stats``; they are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.numbers import uint


@dataclass
class Zone:
    node: int
    name: str
    free_pages: int = 0
    managed_pages: int | None = None
    pcp_pages: int = 0  # sum over CPUs of pagesets "count"
    pcp_high: int = 0  # sum over CPUs of "high": how far the lists may grow now
    cpus: int = 0


@dataclass(frozen=True)
class ZoneInfo:
    zones: tuple[Zone, ...] = field(default_factory=tuple)

    @property
    def pcp_pages(self) -> int:
        return sum(z.pcp_pages for z in self.zones)

    @property
    def free_pages(self) -> int:
        return sum(z.free_pages for z in self.zones)

    def pcp_bytes(self, page_size: int = 4096) -> int:
        return self.pcp_pages * page_size


def _int(value: str, lineno: int) -> int:
    try:
        return uint(value)
    except ValueError:
        raise ParseError("zoneinfo", f"expected a number, got {value[:40]!r}", line=lineno) from None


def parse_zoneinfo(text: str) -> ZoneInfo:
    """Parse ``/proc/zoneinfo``.

    >>> zi = parse_zoneinfo(
    ...     "Node 0, zone   Normal\\n  pages free     100\\n        managed  900\\n  pagesets\\n"
    ...     "    cpu: 0\\n              count: 30\\n              high:  186\\n              batch: 31\\n"
    ...     "    cpu: 1\\n              count: 12\\n              high:  186\\n              batch: 31\\n"
    ... )
    >>> zi.zones[0].name, zi.free_pages, zi.pcp_pages, zi.zones[0].cpus, zi.pcp_bytes()
    ('Normal', 100, 42, 2, 172032)
    """
    zones: list[Zone] = []
    zone: Zone | None = None
    in_pagesets = False
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("Node "):
            head, _, name = line.partition("zone")
            node_text = head[len("Node ") :].split(",")[0].strip()
            if not name.strip():
                raise ParseError("zoneinfo", f"zone header without a name: {line[:60]!r}", line=lineno)
            zone = Zone(_int(node_text, lineno), name.strip())
            zones.append(zone)
            in_pagesets = False
            continue
        if zone is None:
            raise ParseError("zoneinfo", f"expected 'Node N, zone NAME' first, got {line[:60]!r}", line=lineno)
        words = line.replace(":", " ").split()
        if not words:  # a line of colons
            continue
        key = words[0]
        if key == "pages" and len(words) >= 3 and words[1] == "free":
            zone.free_pages = _int(words[2], lineno)
        elif key == "managed" and len(words) >= 2:
            zone.managed_pages = _int(words[1], lineno)
        elif key == "pagesets":
            in_pagesets = True
        elif in_pagesets and key == "cpu" and len(words) == 2:
            zone.cpus += 1
        elif in_pagesets and key == "count" and len(words) >= 2:
            zone.pcp_pages += _int(words[1], lineno)
        elif in_pagesets and key == "high" and len(words) >= 2:
            zone.pcp_high += _int(words[1], lineno)
        elif key in ("node_unreclaimable", "all_unreclaimable", "start_pfn"):
            in_pagesets = False
    if not zones:
        raise ParseError("zoneinfo", "no 'Node N, zone NAME' line", line=1)
    return ZoneInfo(tuple(zones))
