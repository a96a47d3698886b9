"""Parse ``/proc/slabinfo`` (versions 2.0 and 2.1, and 1.0/1.1 of 2.2 and 2.4 kernels) and
``slabtop -o`` output into slab caches."""

from __future__ import annotations

from dataclasses import dataclass

from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.numbers import decimal, uint

SPEC = "slabinfo"
SLABTOP_SPEC = "slabtop"
_HEADER = "slabinfo - version:"
_VERSIONS = ("2.0", "2.1")
# 2.2/2.4 kernels: name active_objs num_objs objsize active_slabs num_slabs pages_per_slab [: limit batchcount]
_OLD_VERSIONS = ("1.0", "1.1")
_FIELDS = 16  # name + 5 numbers + ": tunables" + 3 + ": slabdata" + 3
_UNITS = {"K": 1024, "M": 1024**2, "G": 1024**3}


@dataclass(frozen=True)
class SlabCache:
    name: str
    active_objs: int
    num_objs: int
    objsize: int
    objperslab: int
    pagesperslab: int
    active_slabs: int
    num_slabs: int

    def size_bytes(self, page_size: int = 4096) -> int:
        """Memory held by the cache's slabs (slabtop's CACHE SIZE)."""
        return self.num_slabs * self.pagesperslab * page_size

    @property
    def active_bytes(self) -> int:
        return self.active_objs * self.objsize


@dataclass(frozen=True)
class SlabInfo:
    version: str
    caches: tuple[SlabCache, ...]
    total_bytes: int | None = None  # all slab, when the source says (slabtop's summary): rows may be cut
    active_total_bytes: int | None = None  # what live objects fill of it (slabtop's summary)

    @property
    def size_bytes(self) -> int:
        """All slab memory: the source's own total, else the sum of the caches given."""
        return self.total_bytes if self.total_bytes is not None else sum(c.size_bytes() for c in self.caches)

    def by_name(self) -> dict[str, SlabCache]:
        return {cache.name: cache for cache in self.caches}


def _int(token: str, spec: str, lineno: int) -> int:
    try:
        return uint(token)
    except ValueError:
        raise ParseError(spec, f"expected a number, got {token[:40]!r}", line=lineno) from None


def parse_slabinfo(text: str) -> SlabInfo:
    """Parse the text of ``/proc/slabinfo``.

    >>> info = parse_slabinfo('''slabinfo - version: 2.1
    ... # name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>
    ... kmalloc-4k          3024   3024   4096    8    8 : tunables    0    0    0 : slabdata    378    378      0
    ... ''')
    >>> cache = info.by_name()["kmalloc-4k"]
    >>> cache.num_objs, cache.size_bytes(), cache.active_bytes
    (3024, 12386304, 12386304)
    """
    lines = text.splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise ParseError(SPEC, "empty text: not /proc/slabinfo")
    header = lines[first].strip()
    if not header.startswith(_HEADER):
        raise ParseError(SPEC, f"expected a {_HEADER!r} header, got {header[:60]!r}", line=first + 1)
    version = header[len(_HEADER) :].strip()
    # SLAB kernels with CONFIG_DEBUG_SLAB say "2.1 (statistics)" and append
    # ": globalstat ... : cpustat ..." columns after the 16 standard ones.
    statistics = version.endswith("(statistics)")
    if version.split(" ", 1)[0] in _OLD_VERSIONS:
        return SlabInfo(version=version, caches=tuple(_old_rows(lines, first)))
    if version.split(" ", 1)[0] not in _VERSIONS:
        raise ParseError(SPEC, f"unsupported slabinfo version {version!r}", line=first + 1)
    caches: list[SlabCache] = []
    for lineno, line in enumerate(lines[first + 1 :], start=first + 2):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        if len(fields) != _FIELDS and not (statistics and len(fields) > _FIELDS):
            raise ParseError(SPEC, f"expected {_FIELDS} fields, got {len(fields)}", line=lineno)
        if fields[6:8] != [":", "tunables"] or fields[11:13] != [":", "slabdata"]:
            raise ParseError(SPEC, "expected ': tunables' and ': slabdata' columns", line=lineno)
        caches.append(
            SlabCache(
                name=fields[0],
                active_objs=_int(fields[1], SPEC, lineno),
                num_objs=_int(fields[2], SPEC, lineno),
                objsize=_int(fields[3], SPEC, lineno),
                objperslab=_int(fields[4], SPEC, lineno),
                pagesperslab=_int(fields[5], SPEC, lineno),
                active_slabs=_int(fields[13], SPEC, lineno),
                num_slabs=_int(fields[14], SPEC, lineno),
            )
        )
    return SlabInfo(version=version, caches=tuple(caches))


def _old_rows(lines: list[str], first: int) -> list[SlabCache]:
    """Rows of slabinfo 1.0/1.1 (2.2 and 2.4 kernels), which count slabs and pages, not objects per slab.

    >>> c = parse_slabinfo("slabinfo - version: 1.1 (SMP)\\nxfs_inode 931428 931428 408 103492 103492 1 : 124 62").caches[0]
    >>> c.objperslab, c.size_bytes() // 1024
    (9, 413968)
    """
    out = []
    for lineno, line in enumerate(lines[first + 1 :], start=first + 2):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        if len(fields) not in (7, 10) or (len(fields) == 10 and fields[7] != ":"):
            raise ParseError(SPEC, f"expected 7 fields (and ': limit batchcount'), got {len(fields)}", line=lineno)
        active, total, objsize, active_slabs, slabs, pages = (_int(f, SPEC, lineno) for f in fields[1:7])
        per_slab = total // slabs if slabs else 0
        out.append(SlabCache(fields[0], active, total, objsize, per_slab, pages, active_slabs, slabs))
    return out


def _size(token: str, lineno: int) -> float:
    """``0.19K`` / ``2048K`` / ``1.50M`` -> bytes; a bare number is in kB (slabtop's unit)."""
    unit = _UNITS.get(token[-1:].upper())
    number = token[:-1] if unit else token
    try:
        return decimal(number) * (unit or 1024)
    except ValueError:
        raise ParseError(SLABTOP_SPEC, f"expected a size like 0.19K, got {token[:40]!r}", line=lineno) from None


def parse_slabtop(text: str) -> SlabInfo:
    """Parse ``slabtop -o`` output (as pasted in tickets); sizes are rounded to what slabtop shows.

    >>> info = parse_slabtop('''  OBJS ACTIVE  USE OBJ SIZE  SLABS OBJ/SLAB CACHE SIZE NAME
    ...  23499  23499 100%    0.19K   1119       21      4476K dentry
    ...  19054  19054 100%    1.10K   1361       14     21776K ext4_inode_cache
    ... ''')
    >>> [(c.name, c.objsize, c.pagesperslab, c.size_bytes()) for c in info.caches]
    [('dentry', 195, 1, 4583424), ('ext4_inode_cache', 1126, 4, 22298624)]
    """
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.split()[:2] == ["OBJS", "ACTIVE"]), None)
    if start is None:
        raise ParseError(SLABTOP_SPEC, "no 'OBJS ACTIVE USE ...' column header: not slabtop output")
    caches: list[SlabCache] = []
    for lineno, line in enumerate(lines[start + 1 :], start=start + 2):
        fields = line.split(None, 7)
        if not fields:
            continue
        if len(fields) == 7 and fields[1].endswith("%"):
            # a row that lost its ACTIVE column (hand-edited pastes): USE% of OBJS is active
            use = fields[1].rstrip("%")
            if not use.isdigit():
                raise ParseError(SLABTOP_SPEC, f"expected a percentage, got {fields[1][:40]!r}", line=lineno)
            active_objs = _int(fields[0], SLABTOP_SPEC, lineno) * int(use) // 100
            fields = [fields[0], str(active_objs), *fields[1:]]
        no_cache_size = len(fields) == 7 and fields[2].endswith("%")  # a row that lost its CACHE SIZE column
        if len(fields) != 8 and not no_cache_size:
            raise ParseError(SLABTOP_SPEC, f"expected 8 columns, got {len(fields)}", line=lineno)
        if no_cache_size:
            fields = [*fields[:6], "", fields[6]]
        objs, active, _use, objsize, slabs, perslab, cache_size, name = fields
        num_slabs = _int(slabs, SLABTOP_SPEC, lineno)
        size, per_slab = round(_size(objsize, lineno)), _int(perslab, SLABTOP_SPEC, lineno)
        # without CACHE SIZE: the slabs' pages, from the slab order that holds OBJ/SLAB objects
        cache_bytes = (
            round(_size(cache_size, lineno))
            if cache_size
            else num_slabs * 4096 * (1 << (max(1, -(-per_slab * size // 4096)) - 1).bit_length())
        )
        pages, rest = divmod(cache_bytes, num_slabs * 4096) if num_slabs else (0, 1)
        if rest and num_slabs:
            # the rounded cache size does not divide into whole pages per slab: take the slab
            # order (a power of two) that holds objperslab objects
            need = max(1, -(-per_slab * size // 4096))
            pages = 1 << (need - 1).bit_length()
        caches.append(
            SlabCache(
                name=name.strip(),
                active_objs=_int(active, SLABTOP_SPEC, lineno),
                num_objs=_int(objs, SLABTOP_SPEC, lineno),
                objsize=size,
                objperslab=per_slab,
                pagesperslab=pages if num_slabs else 0,
                active_slabs=num_slabs,
                num_slabs=num_slabs,
            )
        )
    live, total = _slabtop_total(lines[:start])
    return SlabInfo(version="slabtop", caches=tuple(caches), total_bytes=total, active_total_bytes=live)


def _slabtop_total(summary: list[str]) -> tuple[int | None, int | None]:
    """``Active / Total Size (% used) : 10704372.77K / 11666603.83K (91.8%)`` -> (active, total), in bytes."""
    for lineno, line in enumerate(summary, start=1):
        head, sep, rest = line.partition(":")
        if sep and head.strip().startswith("Active / Total Size"):
            parts = rest.split("/")
            if len(parts) >= 2 and parts[1].split():
                try:
                    total = round(_size(parts[1].split()[0], lineno))
                except ParseError:
                    return None, None
                try:
                    active = round(_size(parts[0].split()[0], lineno)) if parts[0].split() else None
                except ParseError:
                    active = None
                return (active if active is not None and active <= total else None), total
    return None, None
