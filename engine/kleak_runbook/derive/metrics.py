"""Derived numbers: the kernel-memory breakdown per sample, growth rates, top caches and callers.

Kernel memory comes from three allocators: slab (``Slab`` = ``SReclaimable`` + ``SUnreclaim``),
vmalloc (``VmallocUsed``) and the page allocator directly, which no /proc/meminfo field shows:
it is what remains of ``MemTotal`` once every field that accounts for pages is taken away,
and once the free pages parked on per-CPU lists (``/proc/zoneinfo``), which ``MemFree`` leaves out,
are taken away too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from kleak_runbook.derive.series import Series
from kleak_runbook.evidence.store import EvidenceStore, Sample
from kleak_runbook.parsers.meminfo import MemInfo, parse_meminfo
from kleak_runbook.parsers.slabinfo import SlabInfo, parse_slabinfo
from kleak_runbook.parsers.vmallocinfo import VmallocInfo, parse_vmallocinfo
from kleak_runbook.parsers.zoneinfo import parse_zoneinfo

# Caches the kernel creates with SLAB_RECLAIM_ACCOUNT, for when /sys/kernel/slab is not in the
# evidence (sosreports, pasted text). Suffix match covers the per-filesystem inode caches.
_RECLAIMABLE_NAMES = ("dentry", "inode_cache", "radix_tree_node", "buffer_head", "xfs_ili", "xfs_inode")
_RECLAIMABLE_SUFFIXES = ("_inode_cache", "_inode")
_RECLAIMABLE_PREFIXES = ("kmalloc-rcl-", "dma-kmalloc-rcl-")

T = TypeVar("T")

COMPONENTS = (
    ("slab_unreclaimable", "Slab, unreclaimable (SUnreclaim)"),
    ("slab_reclaimable", "Slab, reclaimable (SReclaimable)"),
    ("vmalloc", "vmalloc (VmallocUsed)"),
    ("percpu", "Per-CPU allocator (Percpu)"),
    ("kernel_stack", "Kernel stacks (KernelStack)"),
    ("page_tables", "Page tables (PageTables)"),
    ("other_reclaimable", "Other reclaimable kernel (KReclaimable - SReclaimable)"),
    ("pcp_free", "Free pages on per-CPU lists (zoneinfo; free, but not in MemFree)"),
    ("unaccounted", "Not in any field: page allocator, drivers (MemTotal - all counted)"),
)


@dataclass(frozen=True)
class CacheStat:
    name: str
    objsize: int
    objects: Series
    bytes: Series
    reclaimable: bool | None

    @property
    def growth_bytes_per_s(self) -> float:
        return self.bytes.growth_bytes_per_s


@dataclass(frozen=True)
class CallerStat:
    caller: str
    module: str | None
    percpu: bool
    areas: Series
    bytes: Series

    @property
    def growth_bytes_per_s(self) -> float:
        return self.bytes.growth_bytes_per_s


@dataclass
class Metrics:
    times: tuple[float, ...] | None
    sample_count: int
    window_s: float
    mem_total: int | None
    meminfo: dict[str, Series] = field(default_factory=dict)
    kmem: dict[str, Series] = field(default_factory=dict)
    caches: dict[str, CacheStat] = field(default_factory=dict)
    callers: list[CallerStat] = field(default_factory=list)
    vmalloc_source: str = "VmallocUsed"
    reclaim_source: str = ""
    notes: list[str] = field(default_factory=list)
    page_size: int = 4096


def sample_times(store: EvidenceStore) -> tuple[float, ...] | None:
    """Seconds since the first sample: the host's uptime clock when every sample has it, else wall clock."""
    samples = store.samples
    if len(samples) < 2:
        return None
    if all(s.uptime is not None for s in samples):
        t0 = samples[0].uptime or 0.0
        return tuple((s.uptime or 0.0) - t0 for s in samples)
    walls = [_parse_wall(s.wall) for s in samples]
    if all(w is not None for w in walls):
        w0 = walls[0] or 0.0
        return tuple((w or 0.0) - w0 for w in walls)
    return None


def _parse_wall(text: str | None) -> float | None:
    if not text:
        return None
    t = text.strip().replace("Z", "+00:00")
    if "." in t:  # fromisoformat in 3.9/3.10 wants at most 6 fractional digits
        head, _, rest = t.partition(".")
        digits = "".join(c for c in rest if c.isdigit())
        tz = rest[len(digits) :]
        t = f"{head}.{digits[:6]}{tz}"
    try:
        return datetime.fromisoformat(t).timestamp()
    except ValueError:
        return None


def compute(store: EvidenceStore, kernel: tuple[int, int, int] | None) -> Metrics:
    """All derived numbers for one host's samples."""
    times = sample_times(store)
    page_size = _page_size(store.static.get("pagesize"))
    meminfos = [_parsed(store, s, "meminfo", parse_meminfo) for s in store.samples if "meminfo" in s.texts]
    with_mem = [s for s in store.samples if "meminfo" in s.texts]
    mtimes = _subset_times(store, with_mem, times)
    window = (mtimes[-1] - mtimes[0]) if mtimes else 0.0
    m = Metrics(
        times=mtimes,
        sample_count=len(meminfos),
        window_s=round(window, 1),
        mem_total=meminfos[-1].get("MemTotal") if meminfos else None,
        page_size=page_size,
    )
    if meminfos:
        names = [n for n in meminfos[-1].fields if all(n in mi for mi in meminfos)]
        m.meminfo = {n: Series.of([mi[n] for mi in meminfos], mtimes) for n in names}

    slabs = [(s, _parsed(store, s, "slabinfo", parse_slabinfo)) for s in store.samples if "slabinfo" in s.texts]
    reclaim = _reclaim_account(store.static.get("slab_reclaim_account"))
    m.reclaim_source = "/sys/kernel/slab/*/reclaim_account" if reclaim else "cache names (no SLUB sysfs)"
    if slabs:
        m.caches = _cache_stats(
            [x for _, x in slabs], _subset_times(store, [s for s, _ in slabs], times), reclaim, page_size
        )

    vmallocs = [
        (s, _parsed(store, s, "vmallocinfo", parse_vmallocinfo)) for s in store.samples if "vmallocinfo" in s.texts
    ]
    if vmallocs:
        m.callers = _caller_stats(
            [x for _, x in vmallocs], _subset_times(store, [s for s, _ in vmallocs], times), page_size
        )
    if meminfos:
        vm_from_info: list[int] | None = None
        if len(vmallocs) == len(meminfos):
            vm_from_info = [v.vmalloc_bytes(page_size) for _, v in vmallocs]
        pcp: list[int] | None = None
        if all("zoneinfo" in s.texts for s in with_mem):
            pcp = [_parsed(store, s, "zoneinfo", parse_zoneinfo).pcp_bytes(page_size) for s in with_mem]
        else:
            m.notes.append(
                "/proc/zoneinfo was not collected: free pages on per-CPU lists, which MemFree leaves out, "
                "are counted as unaccounted (they grow and drain by themselves, by MiBs per CPU)"
            )
        m.kmem = _breakdown(meminfos, mtimes, kernel, vm_from_info, pcp, m)
    return m


def _parsed(store: EvidenceStore, sample: Sample, spec: str, parse: Callable[[str], T]) -> T:
    """Each sample is parsed once per run, however many steps look at it."""
    key = (sample.index, spec)
    if key not in store.parsed:
        store.parsed[key] = parse(sample.texts[spec])
    return store.parsed[key]  # type: ignore[no-any-return]


def _subset_times(
    store: EvidenceStore, subset: Sequence[object], times: tuple[float, ...] | None
) -> tuple[float, ...] | None:
    if times is None or len(subset) < 2:
        return None
    index = {id(s): i for i, s in enumerate(store.samples)}
    return tuple(times[index[id(s)]] for s in subset)


def _page_size(text: str | None) -> int:
    try:
        return int((text or "4096").split()[0])
    except (ValueError, IndexError):
        return 4096


def vmallocused_is_zero(kernel: tuple[int, int, int] | None) -> bool:
    """VmallocUsed reads 0 from 4.4 (a6e71a0 "mm: remove vmalloc_info") until 5.3 restored it."""
    return kernel is not None and (4, 4, 0) <= kernel < (5, 3, 0)


def _breakdown(
    meminfos: Sequence[MemInfo],
    times: tuple[float, ...] | None,
    kernel: tuple[int, int, int] | None,
    vm_from_info: list[int] | None,
    pcp: list[int] | None,
    m: Metrics,
) -> dict[str, Series]:
    def col(name: str) -> list[int] | None:
        vals = [mi.get(name) for mi in meminfos]
        return None if any(v is None for v in vals) else [int(v or 0) for v in vals]

    n = len(meminfos)
    zeros = [0] * n
    out: dict[str, list[int]] = {}
    for key, field_name in (
        ("slab_unreclaimable", "SUnreclaim"),
        ("slab_reclaimable", "SReclaimable"),
        ("kernel_stack", "KernelStack"),
        ("percpu", "Percpu"),
    ):
        vals = col(field_name)
        if vals is not None:
            out[key] = vals
        else:
            m.notes.append(f"/proc/meminfo has no {field_name} on this kernel: {key} is not shown separately")
    pt = col("PageTables")
    if pt is not None:
        out["page_tables"] = [a + b for a, b in zip(pt, col("SecPageTables") or zeros)]
    kr, sr = col("KReclaimable"), col("SReclaimable")
    if kr is not None and sr is not None:
        out["other_reclaimable"] = [max(0, a - b) for a, b in zip(kr, sr)]

    vm = col("VmallocUsed")
    if vm is not None and not (vmallocused_is_zero(kernel) or (kernel is None and not any(vm))):
        out["vmalloc"] = vm
    elif vm_from_info is not None:
        out["vmalloc"] = vm_from_info
        m.vmalloc_source = "/proc/vmallocinfo (pages=)"
        m.notes.append("VmallocUsed reads 0 on kernels 4.4 to 5.2; vmalloc is summed from /proc/vmallocinfo instead")
    else:
        m.vmalloc_source = "unavailable"
        m.notes.append(
            "VmallocUsed reads 0 on this kernel and /proc/vmallocinfo was not collected: "
            "vmalloc memory is counted as unaccounted"
        )

    total, free = col("MemTotal"), col("MemFree")
    lru = [col("Active"), col("Inactive"), col("Unevictable")]
    if total is not None and free is not None and all(v is not None for v in lru):
        hugetlb = col("Hugetlb")
        if hugetlb is None:
            ht, hs = col("HugePages_Total"), col("Hugepagesize")
            hugetlb = [a * b for a, b in zip(ht, hs)] if ht and hs else zeros
        counted = [
            sum(vals[i] for key, vals in out.items() if key != "other_reclaimable")
            + out.get("other_reclaimable", zeros)[i]
            for i in range(n)
        ]
        zswap = col("Zswap") or zeros
        unacc = []
        for i in range(n):
            lru_i = sum(v[i] for v in lru if v is not None)
            unacc.append(total[i] - free[i] - lru_i - counted[i] - hugetlb[i] - zswap[i] - (pcp or zeros)[i])
        if pcp is not None:
            out["pcp_free"] = pcp
        out["unaccounted"] = unacc
    return {k: Series.of(v, times) for k, v in out.items()}


def is_reclaimable_name(name: str) -> bool:
    return name in _RECLAIMABLE_NAMES or name.endswith(_RECLAIMABLE_SUFFIXES) or name.startswith(_RECLAIMABLE_PREFIXES)


def _reclaim_account(text: str | None) -> dict[str, bool]:
    """``grep -H . /sys/kernel/slab/*/reclaim_account`` output → cache name → reclaimable."""
    out: dict[str, bool] = {}
    for line in (text or "").splitlines():
        path, _, value = line.rpartition(":")
        parts = path.split("/")
        if len(parts) >= 2 and value.strip() in ("0", "1"):
            out[parts[-2]] = value.strip() == "1"
    return out


def _cache_stats(
    infos: Sequence[SlabInfo],
    times: tuple[float, ...] | None,
    reclaim: Mapping[str, bool],
    page_size: int,
) -> dict[str, CacheStat]:
    tables = [i.by_name() for i in infos]
    names: dict[str, None] = {}
    for t in tables:
        names.update(dict.fromkeys(t))
    out: dict[str, CacheStat] = {}
    for name in names:
        rows = [t.get(name) for t in tables]
        last = next(r for r in reversed(rows) if r is not None)
        objs = [r.active_objs if r else 0 for r in rows]
        size = [r.size_bytes(page_size) if r else 0 for r in rows]
        rec = reclaim.get(name)
        if rec is None:
            rec = True if is_reclaimable_name(name) else (False if reclaim else None)
        out[name] = CacheStat(name, last.objsize, Series.of(objs, times), Series.of(size, times), rec)
    return out


def _caller_stats(infos: Sequence[VmallocInfo], times: tuple[float, ...] | None, page_size: int) -> list[CallerStat]:
    groups: list[dict[str, tuple[int, int]]] = [i.by_caller() for i in infos]
    modules: dict[str, str | None] = {}
    for info in infos[-1:]:
        for a in info.areas:
            key = _caller_key(a.function, a.module, a.caller)
            modules.setdefault(key, a.module)
    keys: dict[str, None] = {}
    for g in groups:
        keys.update(dict.fromkeys(g))
    out = []
    for key in keys:
        counts = [g.get(key, (0, 0))[0] for g in groups]
        sizes = [g.get(key, (0, 0))[1] for g in groups]
        func = key.split(" ", 1)[0]
        out.append(
            CallerStat(
                caller=key,
                module=modules.get(key),
                percpu=func.startswith("pcpu_"),
                areas=Series.of(counts, times),
                bytes=Series.of(sizes, times),
            )
        )
    out.sort(key=lambda c: (-c.bytes.growth_bytes_per_s, -int(c.bytes)))
    return out


def _caller_key(function: str | None, module: str | None, caller: str) -> str:
    if function and module:
        return f"{function} [{module}]"
    return function or caller
