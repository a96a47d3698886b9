"""Parse ZFS's ``/proc/spl/kmem/slab``: the SPL's own slab caches (ZFS on Linux and OpenZFS).

The SPL (Solaris Porting Layer) runs a slab allocator of its own for ZFS's caches (``zio_buf_*``
and ``zio_data_buf_*`` hold ARC buffers, ``dnode_t``, ...). Its slabs come from ``vmalloc`` or
straight from the page allocator (``spl-kmem-cache.c``: ``kv_alloc``), never from the kernel's
slab, so neither ``Slab`` in /proc/meminfo nor /proc/slabinfo counts them: on a ZFS host they are
memory "in no field", like the ARC's data pages. Sizes are bytes. Per row (``spl-proc.c``,
``slab_seq_show``): ``size`` = slab size × slabs (memory the cache holds), ``alloc`` = object
size × objects allocated (what live objects fill), then slab size, object size, slab and object
counts (total, alloc, max) and, since SPL 0.6.2, the emergency objects (dlock, alloc, max).
Caches backed by the kernel's own slab (``KMC_SLAB``, small objects since SPL 0.6.4) print ``-``
for size: their memory is in /proc/slabinfo and ``Slab`` already, so they are not summed here.

Below: rows from https://github.com/openzfs/zfs/issues/3029 (tests/samples/public/).

>>> spl = parse_spl_slab('''--------------------- cache -------------------------------------------------------  ----- slab ------  ---- object -----  --- emergency ---
... name                                    flags      size     alloc slabsize  objsize  total alloc   max  total alloc   max  dlock alloc   max
... zio_buf_14336                         0x00040  10485760   6666240   524288    14336     20    20    31    620   465   961      0     0     0
... zio_buf_16384                         0x00040 12264144896 5455953920   524288    16384  23392 23392 28198  584800 333005 704950      0     0     0
... mod_hash_entries                      0x00100         -       840        -       24      -     -     -      -    35     -      -     -     -''')
>>> spl.size_bytes, spl.largest.name, spl.largest.objects, len(spl.caches)
(12274630656, 'zio_buf_16384', 333005, 3)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.numbers import hexint, uint

SPEC = "spl_slab"
# name, flags, then 10 values (SPL before 0.6.2) or 13 (with the emergency columns); "-" in the
# columns the SPL does not track for caches on the kernel's slab
ROW = re.compile(
    r"^(?P<name>[A-Za-z_][\w.-]*)\s+(?P<flags>0x[0-9a-fA-F]+)(?P<values>(?:\s+(?:[0-9]+|-)){10}(?:(?:\s+(?:[0-9]+|-)){3})?)$"
)
# a row cut short (the last line of a paste): the name and flags, then anything
PARTIAL_ROW = re.compile(r"^[A-Za-z_][\w.-]*\s+0x[0-9a-fA-F]+(?:\s|$)")
HEADER = re.compile(r"^-+ cache -+")
COLUMNS = re.compile(r"^name\s+flags\s+size\s+alloc\s+slabsize\s+objsize\b")


@dataclass(frozen=True)
class SplCache:
    name: str
    flags: int
    size: int | None  # bytes of SPL slabs; None for a cache on the kernel's slab (counted in Slab)
    alloc: int  # bytes live objects fill
    objsize: int
    objects: int  # objects allocated

    @property
    def on_linux_slab(self) -> bool:
        return self.size is None


@dataclass(frozen=True)
class SplSlab:
    caches: tuple[SplCache, ...]
    size_bytes: int  # what the SPL's own slabs hold: memory no meminfo field shows
    alloc_bytes: int  # what live objects fill of it
    cut_rows: int = 0  # rows cut short (a truncated paste): left out

    @property
    def largest(self) -> SplCache | None:
        own = [c for c in self.caches if c.size]
        return max(own, key=lambda c: int(c.size or 0), default=None)


def _value(token: str) -> int | None:
    return None if token == "-" else uint(token)


def parse_spl_slab(text: str) -> SplSlab:
    caches: list[SplCache] = []
    cut = 0
    for lineno, line in enumerate(text.splitlines(), start=1):
        bare = line.strip()
        m = ROW.match(bare)
        if m is None:
            cut += 1 if PARTIAL_ROW.match(bare) else 0
            continue  # the two header lines, prose, anything else
        values = m.group("values").split()
        try:
            size, alloc, objsize, objects = (_value(values[i]) for i in (0, 1, 3, 8))
            flags = hexint(m.group("flags"))
        except ValueError:
            raise ParseError(SPEC, f"expected numbers, got {m.group('values').strip()[:40]!r}", line=lineno) from None
        caches.append(SplCache(m.group("name"), flags, size, alloc or 0, objsize or 0, objects or 0))
    if not caches:
        raise ParseError(SPEC, "no 'name 0xflags size alloc ...' row: not /proc/spl/kmem/slab")
    own = [c for c in caches if c.size is not None]
    return SplSlab(
        tuple(caches),
        sum(int(c.size or 0) for c in own),
        sum(c.alloc for c in own),
        cut,
    )
