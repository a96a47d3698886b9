"""Derived numbers: the kernel-memory breakdown per sample, growth rates, top caches and callers.

Kernel memory comes from three allocators: slab (``Slab`` = ``SReclaimable`` + ``SUnreclaim``),
vmalloc (``VmallocUsed``) and the page allocator directly, which no /proc/meminfo field shows:
it is what remains of ``MemTotal`` once every field that accounts for pages is taken away,
and once the free pages parked on per-CPU lists (``/proc/zoneinfo``), which ``MemFree`` leaves out,
are taken away too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from kleak_runbook.derive.kernel import Kernel
from kleak_runbook.derive.series import Series
from kleak_runbook.errors import ParseError
from kleak_runbook.parsers.host import HostEvidence, ParsedSample
from kleak_runbook.parsers.meminfo import MemInfo
from kleak_runbook.parsers.slabinfo import SlabInfo
from kleak_runbook.parsers.timestamp import parse_timestamp
from kleak_runbook.parsers.vmallocinfo import VmallocInfo

# Caches the kernel creates with SLAB_RECLAIM_ACCOUNT, for when /sys/kernel/slab is not in the
# evidence (sosreports, pasted text). Suffix match covers the per-filesystem inode caches.
_RECLAIMABLE_NAMES = ("dentry", "dentry_cache", "inode_cache", "radix_tree_node", "buffer_head", "xfs_ili", "xfs_inode")
_RECLAIMABLE_SUFFIXES = ("_inode_cache", "_inode")
_RECLAIMABLE_PREFIXES = ("kmalloc-rcl-", "dma-kmalloc-rcl-")
# accounted as reclaimable (SLAB_RECLAIM_ACCOUNT) yet held for as long as what owns them lives: a
# socket's inode goes when the socket is closed, never under memory pressure
_PINNED_NAMES = frozenset({"sock_inode_cache"})

COMPONENTS = (
    ("slab_unreclaimable", "Slab, unreclaimable (SUnreclaim)"),
    ("slab_reclaimable", "Slab, reclaimable (SReclaimable)"),
    ("slab_total", "Slab (no reclaimable split on this kernel)"),
    ("vmalloc", "vmalloc (VmallocUsed)"),
    ("percpu", "Per-CPU allocator (Percpu)"),
    ("kernel_stack", "Kernel stacks (KernelStack)"),
    ("page_tables", "Page tables (PageTables)"),
    ("other_reclaimable", "Other reclaimable kernel (KReclaimable - SReclaimable)"),
    ("pcp_free", "Free pages on per-CPU lists (zoneinfo; free, but not in MemFree)"),
    ("zfs_arc", "ZFS ARC outside slab (arcstats size; cache ZFS gives back)"),
    ("zfs_spl", "ZFS's SPL slab caches, outside Slab (/proc/spl/kmem/slab)"),
    ("unaccounted", "Not in any field: page allocator, drivers (MemTotal - all counted)"),
)
COMPONENT_LABELS = dict(COMPONENTS)


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


@dataclass(frozen=True)
class SiteStat:
    """One place in the kernel's code that allocates (``/proc/allocinfo``'s tag) over the samples."""

    site: Any  # parsers.allocinfo.AllocSite, as the last sample gives it
    calls: Series
    bytes: Series

    @property
    def name(self) -> str:
        return str(self.site.name)

    @property
    def kind(self) -> str:
        return str(self.site.kind)

    @property
    def own(self) -> bool:
        return bool(self.site.own)

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
    slab_total: int | None = None  # all slab in the last slab sample (slabtop's own total when it gives one)
    slab_active: int | None = None  # what live objects fill of slab_total, when the source says (slabtop)
    slab_source: str | None = (
        None  # the last slab sample's format (parsers.slabinfo version: "2.1", "slub-failure", ...)
    )
    arc_size: int | None = None  # ZFS's ARC (arcstats size) in the last sample that has it
    spl_slab: Any = None  # ZFS's SPL slab caches (parsers.spl_slab.SplSlab) in the last sample that has them
    # memory allocation profiling's tags (/proc/allocinfo, or an OOM report's top ten), biggest first
    sites: list[SiteStat] = field(default_factory=list)
    sites_top_only: bool = False  # an OOM report's list: its biggest tags, not all of them


def sample_times(samples: Sequence[ParsedSample]) -> tuple[float, ...] | None:
    """Seconds since the first sample: the host's uptime clock when every sample has it, else wall
    clock. None (untimed) when there are fewer than two samples, when a sample has no usable time,
    or when the times do not move strictly forward (identical times, a clock set back, a reboot
    between samples): no growth rate is better than a bogus one."""
    if len(samples) < 2:
        return None
    ups = [s.uptime for s in samples]
    if all(u is not None for u in ups):
        points: list[float | None] = [u if u is not None and math.isfinite(u) and u >= 0 else None for u in ups]
    else:
        points = [_parse_wall(s.wall) for s in samples]
    if any(p is None for p in points):
        return None
    values = [float(p or 0.0) for p in points]
    if any(b <= a for a, b in zip(values, values[1:])):
        return None
    return tuple(v - values[0] for v in values)


def _parse_wall(text: str | None) -> float | None:
    """A sample's wall-clock time in seconds, or None when it is absent or not a plausible time."""
    if not text:
        return None
    try:
        return parse_timestamp(text)
    except ParseError:
        return None


def _last_machine(samples: list[ParsedSample]) -> tuple[list[ParsedSample], list[int]]:
    """The samples of the machine the last one comes from: outputs whose MemTotal differs from the
    last one's by more than 1% are another machine's (a ticket comparing two boards), not a series.
    Samples without MemTotal stay; (kept, indices left out)."""
    totals = [s.values["meminfo"].get("MemTotal") for s in samples]
    last = next((t for t in reversed(totals) if t), None)
    if last is None or len(samples) < 2:
        return samples, []
    other = [s.index for s, t in zip(samples, totals) if t and abs(int(t) - int(last)) > 0.01 * int(last)]
    return [s for s in samples if s.index not in other], other


def sunreclaim(fields: Mapping[str, Any]) -> int | None:
    """SUnreclaim, or Slab - SReclaimable where a grep left SUnreclaim out ("grep 'Slab\\|SReclaimable'")."""
    su, slab, sr = fields.get("SUnreclaim"), fields.get("Slab"), fields.get("SReclaimable")
    if su is None and slab is not None and sr is not None:
        return max(int(slab) - int(sr), 0)
    return None if su is None else int(su)


def compute(evidence: HostEvidence, kernel: Kernel) -> Metrics:
    """All derived numbers for one host's samples."""
    page_size = int(evidence.static.get("pagesize") or 4096)
    with_mem = evidence.with_spec("meminfo")
    with_mem, other_host = _last_machine(with_mem)
    cut: list[int] = []
    only_cut: dict[str, int] = {}  # figures only the left-out samples hold (smem's kernel total, say)
    if len(with_mem) > 1:  # a dump cut short (a paste, a truncated file) would hide every field it lacks
        most = max(len(s.values["meminfo"].fields) for s in with_mem)
        cut = [s.index for s in with_mem if len(s.values["meminfo"].fields) < 0.9 * most]
        kept = [s for s in with_mem if s.index not in cut]
        if not sample_times(with_mem):
            # outputs with no times side by side in a ticket (smem -w above a cat of meminfo) show
            # the same moment: a figure only the shorter one gives still counts
            # the output nearest a kept one first (after it on a tie: "free && grep Slab /proc/meminfo"),
            # each with the SUnreclaim its own Slab and SReclaimable imply when a grep left it out
            def distance(s: ParsedSample) -> tuple[int, int]:
                return min((abs(s.index - k.index) for k in kept), default=0), -s.index

            for s in sorted((s for s in with_mem if s.index in cut), key=distance):
                fields = dict(s.values["meminfo"].fields)
                su = sunreclaim(fields)
                if su is not None:
                    fields["SUnreclaim"] = su
                for name, value in fields.items():
                    if not any(name in k.values["meminfo"].fields for k in kept):
                        only_cut.setdefault(name, value)
        with_mem = kept
    meminfos: list[MemInfo] = [s.values["meminfo"] for s in with_mem]
    if only_cut:  # the same moment: what only the shorter output gives counts in every judgement
        meminfos = [MemInfo(MappingProxyType({**only_cut, **mi.fields})) for mi in meminfos]
    mtimes = sample_times(with_mem)
    if len(meminfos) > 1 and not mtimes and not any(all(n in mi for mi in meminfos) for n in meminfos[-1].fields):
        # untimed outputs that share no field (grep'd Low/High lines beside free) are parts of one
        # moment, not a series: each figure as its output gave it, judged together
        union: dict[str, int] = {}
        for mi in meminfos:
            union.update(mi.fields)
        meminfos = [MemInfo(MappingProxyType(union))] * len(meminfos)
    window = (mtimes[-1] - mtimes[0]) if mtimes else 0.0
    m = Metrics(
        times=mtimes,
        sample_count=len(meminfos),
        window_s=round(window, 1),
        mem_total=meminfos[-1].get("MemTotal") if meminfos else None,
        page_size=page_size,
    )
    if cut:
        m.notes.append(f"meminfo of sample(s) {', '.join(f'{i:03d}' for i in cut)} is cut short: left out")
    if other_host:
        m.notes.append(
            f"meminfo of sample(s) {', '.join(f'{i:03d}' for i in other_host)} gives another memory size (MemTotal):"
            " another machine's, left out of the series"
        )
    if meminfos:
        names = [n for n in meminfos[-1].fields if all(n in mi for mi in meminfos)]
        m.meminfo = {n: Series.of([mi[n] for mi in meminfos], mtimes) for n in names}

    with_slab = evidence.with_spec("slabinfo")
    reclaim: dict[str, bool] = evidence.static.get("slab_reclaim_account") or {}
    m.reclaim_source = "/sys/kernel/slab/*/reclaim_account" if reclaim else "cache names (no SLUB sysfs)"
    if with_slab:
        infos: list[SlabInfo] = [s.values["slabinfo"] for s in with_slab]
        m.caches = _cache_stats(infos, sample_times(with_slab), reclaim, page_size)
        m.slab_total = infos[-1].size_bytes
        m.slab_active = infos[-1].active_total_bytes
        m.slab_source = infos[-1].version

    with_vm = evidence.with_spec("vmallocinfo")
    if with_vm:
        vinfos: list[VmallocInfo] = [s.values["vmallocinfo"] for s in with_vm]
        m.callers = _caller_stats(vinfos, sample_times(with_vm), page_size)
    if meminfos:
        vm_from_info: list[int] | None = None
        if len(with_vm) == len(with_mem):
            vm_from_info = [s.values["vmallocinfo"].vmalloc_bytes(page_size) for s in with_vm]
        pcp: list[int] | None = None
        if all("zoneinfo" in s.values for s in with_mem):
            pcp = [s.values["zoneinfo"].pcp_bytes(page_size) for s in with_mem]
        else:
            m.notes.append(
                "/proc/zoneinfo was not collected: free pages on per-CPU lists, which MemFree leaves out, "
                "are counted as unaccounted (they grow and drain by themselves, by MiBs per CPU)"
            )
        arc: list[int] | None = None
        if all("arcstats" in s.values for s in with_mem):
            arc = [s.values["arcstats"].size for s in with_mem]
        spl: list[int] | None = None
        if all("spl_slab" in s.values for s in with_mem):
            spl = [s.values["spl_slab"].size_bytes for s in with_mem]
        m.kmem = kmem_breakdown(meminfos, mtimes, kernel, vm_from_info, pcp, m, arc, spl)
    with_sites = evidence.with_spec("allocinfo")
    if with_sites:
        profiles = [s.values["allocinfo"] for s in with_sites]
        m.sites = _site_stats(profiles, sample_times(with_sites))
        m.sites_top_only = bool(profiles[-1].top_only)
    arcs = evidence.with_spec("arcstats")
    m.arc_size = arcs[-1].values["arcstats"].size if arcs else None
    spls = evidence.with_spec("spl_slab")
    m.spl_slab = spls[-1].values["spl_slab"] if spls else None
    return m


def kmem_breakdown(
    meminfos: Sequence[MemInfo],
    times: tuple[float, ...] | None,
    kernel: Kernel,
    vm_from_info: list[int] | None,
    pcp: list[int] | None,
    m: Metrics,
    arc: list[int] | None = None,
    spl: list[int] | None = None,
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
        if key == "slab_unreclaimable":
            found = [sunreclaim(mi.fields) for mi in meminfos]
            vals = None if None in found else [int(v or 0) for v in found]
        else:
            vals = col(field_name)
        if vals is not None:
            out[key] = vals
        else:
            m.notes.append(
                f"the meminfo given has no {field_name} (this kernel, or the source, does not show it): {key} is not shown separately"
            )
    pt = col("PageTables")
    if pt is not None:
        out["page_tables"] = [a + b for a, b in zip(pt, col("SecPageTables") or zeros)]
    kr, sr = col("KReclaimable"), col("SReclaimable")
    if kr is not None and sr is not None:
        out["other_reclaimable"] = [max(0, a - b) for a, b in zip(kr, sr)]

    vm = col("VmallocUsed")
    if vm is not None and not (kernel.vmallocused_is_zero or (kernel.upstream is None and not any(vm))):
        out["vmalloc"] = vm
    elif vm_from_info is not None:
        out["vmalloc"] = vm_from_info
        m.vmalloc_source = "/proc/vmallocinfo (pages=)"
        m.notes.append("VmallocUsed reads 0 on kernels 4.4 to 5.2; vmalloc is summed from /proc/vmallocinfo instead")
    else:
        m.vmalloc_source = "unavailable"
        m.notes.append(
            "VmallocUsed is not in the evidence, or reads 0 on this kernel, and /proc/vmallocinfo was not collected: "
            "vmalloc memory is counted as unaccounted"
        )

    total, free = col("MemTotal"), col("MemFree")
    lru = [col("Active"), col("Inactive"), col("Unevictable")]
    slab_only = col("Slab") if "slab_unreclaimable" not in out and "slab_reclaimable" not in out else None
    if slab_only is not None:  # kernels before 2.6.19 have no SReclaimable/SUnreclaim split
        out["slab_total"] = slab_only
    slab_known = "slab_unreclaimable" in out or "slab_total" in out
    later = any(
        col(k) is not None
        for k in (
            "CommitLimit",
            "Committed_AS",
            "VmallocTotal",
            "VmallocUsed",
            "Percpu",
            "AnonHugePages",
            "HugePages_Total",
        )
    )  # fields /proc/meminfo prints after PageTables
    if total is not None and free is not None and all(v is not None for v in lru) and not slab_known:
        m.notes.append("/proc/meminfo has no Slab lines (cut short?): memory in no field cannot be told from slab")
    elif total is not None and free is not None and all(v is not None for v in lru) and pt is None and not later:
        # a meminfo cut just after its slab lines (SUnreclaim, then KernelStack and PageTables, follow;
        # a grep that picked fields from further down chose what it shows)
        m.notes.append(
            "/proc/meminfo stops before PageTables (cut short?): memory in no field cannot be told from the"
            " kernel fields after it (page tables, vmalloc, per-CPU, huge pages)"
        )
    elif total is not None and free is not None and all(v is not None for v in lru):
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
        if arc is not None:
            # the ARC's data pages come from the page allocator: in no field, like a leak would be.
            # Its metadata sits in slab (already counted), so at most what is left is ARC.
            outside = [min(a, max(u, 0)) for a, u in zip(arc, unacc)]
            out["zfs_arc"] = outside
            unacc = [u - z for u, z in zip(unacc, outside)]
        if spl is not None:
            # the SPL's own slabs come from vmalloc or the page allocator, never the kernel's slab: like
            # the ARC, at most what is left (arcstats' size already counts the ARC buffers among them)
            held = [min(a, max(u, 0)) for a, u in zip(spl, unacc)]
            out["zfs_spl"] = held
            unacc = [u - z for u, z in zip(unacc, held)]
        out["unaccounted"] = unacc
    if spl is not None and "zfs_spl" not in out and total is not None:
        out["zfs_spl"] = spl  # a meminfo not whole (free, vmstat -s): part of what it leaves unsplit
    return {k: Series.of(v, times) for k, v in out.items()}


def is_reclaimable_name(name: str) -> bool:
    if name in _PINNED_NAMES:
        return False
    return name in _RECLAIMABLE_NAMES or name.endswith(_RECLAIMABLE_SUFFIXES) or name.startswith(_RECLAIMABLE_PREFIXES)


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
        rec = False if name in _PINNED_NAMES else reclaim.get(name)
        if rec is None:
            rec = True if is_reclaimable_name(name) else (False if reclaim else None)
        out[name] = CacheStat(name, last.objsize, Series.of(objs, times), Series.of(size, times), rec)
    return out


def _caller_stats(infos: Sequence[VmallocInfo], times: tuple[float, ...] | None, page_size: int) -> list[CallerStat]:
    groups: list[dict[str, tuple[int, int]]] = [i.by_caller() for i in infos]
    modules: Mapping[str, str | None] = infos[-1].modules  # caller key -> module, totalled while parsing
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


def _site_stats(profiles: Sequence[Any], times: tuple[float, ...] | None) -> list[SiteStat]:
    """Each tag the last profile lists, over the profiles that list it all along (a pasted
    ``sort | tail`` shows a different few each time: a tag missing from one was not shown, not 0)."""
    keyed = [{(s.where, s.func): s for s in p.sites} for p in profiles]
    out = []
    for key, site in keyed[-1].items():
        if not all(key in k for k in keyed):
            continue
        out.append(
            SiteStat(
                site,
                Series.of([k[key].calls for k in keyed], times),
                Series.of([k[key].bytes for k in keyed], times),
            )
        )
    out.sort(key=lambda c: -int(c.bytes))
    return out
