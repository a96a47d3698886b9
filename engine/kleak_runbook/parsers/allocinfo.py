"""Parse memory allocation profiling's counters: ``/proc/allocinfo`` and an OOM report's top list.

With ``CONFIG_MEM_ALLOC_PROFILING`` (Linux 6.10 and later) the kernel counts, for every place in
its code that allocates (a kmalloc, a vmalloc, an alloc_pages call: a *tag*), the bytes those
allocations hold now and how many are live. ``/proc/allocinfo`` lists every tag::

    allocinfo - version: 1.0
    #     <size>  <calls> <tag info>
             512        1 arch/x86/events/rapl.c:681 func:init_rapl_pmus
          163840       40 fs/xfs/xfs_buf.c:392 [xfs] func:xfs_buf_alloc_pages

(version 2.0 marks a tag whose counts are not exact with ``accurate:no``; some patch sets put
``*`` after the figures). When the OOM killer runs, ``show_mem`` prints the ten biggest tags after
"Memory allocations:", with sizes rounded as ``string_get_size`` prints them ("1.19 GiB", "513 MiB").

Unlike slabinfo or vmallocinfo this names code, whatever allocator the memory came from, and the
same way for the page allocator, which no other /proc file breaks down. A tag that only grows
between samples is where a leak is allocated.

>>> info = parse_allocinfo('''allocinfo - version: 1.0
... #     <size>  <calls> <tag info>
...          512        1 arch/x86/events/rapl.c:681 func:init_rapl_pmus
...       163840       40 fs/xfs/xfs_buf.c:392 [xfs] func:xfs_buf_alloc_pages
... ''')
>>> [(s.name, s.where, s.bytes, s.calls) for s in info.sites]
[('init_rapl_pmus', 'arch/x86/events/rapl.c:681', 512, 1), ('xfs_buf_alloc_pages [xfs]', 'fs/xfs/xfs_buf.c:392', 163840, 40)]
>>> parse_oom_allocations('''Memory allocations:
...     1.19 GiB   310794 mm/mempool.c:638 func:mempool_kvmalloc
...      513 MiB   131329 fs/bcachefs/btree/journal_overlay.c:867 func:bch2_journal_keys_sort
... ''').total_bytes
1815672259
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from kleak_runbook.errors import ParseError

SPEC = "allocinfo"
_TAG = r"(?P<file>[\w./+-]+\.[a-zA-Z]+):(?P<line>[0-9]+)(?:\s+\[(?P<module>[\w-]+)\])?\s+func:(?P<func>[\w.$]+)"
# (sizes as ``numfmt --to=iec`` prints them, "2.8M", the way the kernel's documentation sorts the file)
ROW = re.compile(
    r"^\s*(?P<bytes>-?[0-9]+(?:\.[0-9]+)?)(?P<suffix>[KMGTP])?\*?\s+(?P<calls>[0-9]+)\*?\s+"
    + _TAG
    + r"(?P<inexact>\s+accurate:no)?\s*$"
)
# show_mem's list in an OOM report: the size as string_get_size rounds it (STRING_UNITS_2)
OOM_ROW = re.compile(
    r"^\s*(?P<size>[0-9]+(?:\.[0-9]+)?)\s*(?P<unit>B|KiB|MiB|GiB|TiB|PiB)\s+(?P<calls>[0-9]+)\s+" + _TAG + r"\s*$"
)
# a row a mail client wrapped before its "[module] func:name" (or "func:name"), and that rest
PART = re.compile(
    r"^\s*-?[0-9]+(?:\.[0-9]+)?\s*(?:[KMGTP]|[KMGTP]?i?B)?\*?\s+[0-9]+\*?\s+(?P<file>[\w./+-]+\.[a-zA-Z]+):(?P<line>[0-9]+)(?:\s+\[[\w-]+\])?\s*$"
)
REST = re.compile(r"^\s*(?:\[[\w-]+\]\s+)?func:[\w.$]+(?:\s+accurate:no)?\s*$")
HEADER = re.compile(r"^(?:allocinfo - version: [0-9.]+|#\s*<size>\s+<calls>\s+<tag info>.*|Memory allocations:)\s*$")
_UNITS = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4, "PiB": 1024**5}
_IEC = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4, "P": 1024**5}
_VERSION = re.compile(r"^allocinfo - version: ([0-9.]+)")


# Tags whose memory is not the kernel's own: programs' pages and the page cache (meminfo counts
# them on the LRU lists), allocated in these files of mm/ or as folios by a filesystem
_USER_FILES = frozenset(
    "mm/" + f
    for f in [
        "memory.c",
        "filemap.c",
        "readahead.c",
        "shmem.c",
        "huge_memory.c",
        "khugepaged.c",
        "swap_state.c",
        "hugetlb.c",
        "migrate.c",
        "mempolicy.c",
        "page_io.c",
        "zswap.c",
        "ksm.c",
        "swap.c",
        "userfaultfd.c",
    ]
)
_USER_FUNC = re.compile(r"folio|write_begin|readahead|grab_cache_page")
# Tags that hold the pages other allocators are made of: the objects in them are counted again at
# the tags of the code that allocated them (slab's pages, per-CPU chunks, page_ext's boot-time array)
_CONTAINERS = re.compile(r"^(?:alloc_slab_page|kmem_getpages|allocate_slab|pcpu_alloc_pages|pcpu_populate_chunk)$")
# what a tag's function says of the allocator behind it, where its name tells
_VMALLOC_FUNC = re.compile(r"vmalloc|vzalloc|vmap|execmem|vm_area|thread_stack|area_alloc")
_PERCPU_FUNC = re.compile(r"percpu|pcpu")
_PAGE_FUNC = re.compile(r"pages?\b|page_|_page|get_free|dma_direct_alloc|dma_alloc")
# dentries and inodes: caches the kernel reclaims
_RECLAIMABLE_FUNC = re.compile(r"^(?:__)?d_alloc|alloc_inode$|_alloc_inode|inode_alloc$")


@dataclass(frozen=True)
class AllocSite:
    """One allocation tag: a place in the kernel's code and what its allocations hold now."""

    file: str
    line: int
    module: str | None
    func: str
    bytes: int
    calls: int  # live allocations made there
    exact: bool = True  # False: rounded (an OOM report's list) or counted as not accurate by the kernel

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def name(self) -> str:
        return f"{self.func} [{self.module}]" if self.module else self.func

    @property
    def kind(self) -> str:
        """Whose memory the tag's allocations are, and from which allocator, as its file and function
        tell: "user" (programs' pages, the page cache), "container" (pages other allocators'
        objects sit in), else the kernel kind (slab-reclaimable, vmalloc, percpu, page-allocator,
        slab-unreclaimable for the kmalloc calls that are most of the rest)."""
        if self.file in _USER_FILES or _USER_FUNC.search(self.func):
            return "user"
        if _CONTAINERS.match(self.func) or self.file == "mm/page_ext.c":
            return "container"
        if _RECLAIMABLE_FUNC.search(self.func):
            return "slab-reclaimable"
        if _VMALLOC_FUNC.search(self.func):
            return "vmalloc"
        if _PERCPU_FUNC.search(self.func):
            return "percpu"
        if _PAGE_FUNC.search(self.func):
            return "page-allocator"
        return "slab-unreclaimable"

    @property
    def own(self) -> bool:
        """The kernel's own memory: not programs' pages or the page cache, nor pages other tags' objects
        sit in (counted again at those tags)."""
        return self.kind not in ("user", "container")


@dataclass(frozen=True)
class AllocInfo:
    sites: tuple[AllocSite, ...]  # in the order given
    version: str | None = None
    # an OOM report's top ten, not every tag: the rest of the kernel's allocations are not in it
    top_only: bool = False

    @property
    def total_bytes(self) -> int:
        return sum(s.bytes for s in self.sites)

    def by_size(self) -> list[AllocSite]:
        return sorted(self.sites, key=lambda s: -s.bytes)


def _unwrapped(text: str) -> list[tuple[int, str]]:
    """(line number, line) with each row a mail client wrapped before its function joined again."""
    lines = text.splitlines()
    out: list[tuple[int, str]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if i + 1 < len(lines) and PART.match(line) and REST.match(lines[i + 1]):
            out.append((i + 1, f"{line.rstrip()} {lines[i + 1].strip()}"))
            i += 2
            continue
        out.append((i + 1, line))
        i += 1
    return out


def _size(number: str, scale: int, lineno: int) -> int:
    """A row's size in bytes (whole numbers exactly, however long), or a ParseError naming the line."""
    value = int(number) * scale if "." not in number else float(number) * scale
    if abs(value) >= 2**63 or not math.isfinite(value):  # the kernel's counters are s64
        raise ParseError(SPEC, f"a size beyond any memory: {number[:20]}...", line=lineno)
    return round(value)


def _site(m: re.Match[str], size: int, exact: bool) -> AllocSite:
    return AllocSite(m["file"], int(m["line"]), m["module"], m["func"], size, int(m["calls"]), exact)


def parse_allocinfo(text: str) -> AllocInfo:
    """``/proc/allocinfo`` (any version, any of its rows: a grep keeps the header out)."""
    sites: list[AllocSite] = []
    version = None
    for lineno, line in _unwrapped(text):
        if not line.strip():
            continue
        m = ROW.match(line)
        if m is None:
            v = _VERSION.match(line.strip())
            if v:
                version = v.group(1)
            elif not HEADER.match(line.strip()):
                raise ParseError(SPEC, f"not a line of /proc/allocinfo: {line.strip()[:60]!r}", line=lineno)
            continue
        size = _size(m["bytes"], _IEC[m["suffix"]] if m["suffix"] else 1, lineno)
        # (s64: a counter read while it is updated can read below 0)
        exact = not (m["inexact"] or m["suffix"] or "*" in line.split(m["file"])[0])
        sites.append(_site(m, max(size, 0), exact))
    if not sites:
        raise ParseError(SPEC, "no allocation tag rows")
    return AllocInfo(tuple(sites), version)


def parse_oom_allocations(text: str) -> AllocInfo:
    """The "Memory allocations:" list an OOM report (show_mem) prints: its biggest tags, rounded."""
    sites: list[AllocSite] = []
    for lineno, line in _unwrapped(text):
        m = OOM_ROW.match(line)
        if m is None:
            continue
        sites.append(_site(m, _size(m["size"], _UNITS[m["unit"]], lineno), False))
    if not sites:
        raise ParseError(SPEC, "no 'size calls file:line func:' rows of an OOM report's memory allocations")
    return AllocInfo(tuple(sites), top_only=True)
