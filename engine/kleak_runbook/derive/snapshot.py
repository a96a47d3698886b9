"""Judging one snapshot, from whatever evidence a ticket holds: which kind of memory is abnormal.

Each rule is one an expert would state, with its thresholds taken from the runbook's params:
a kernel-memory component far above its usual share of MemTotal; without MemTotal (slabtop or
grep'd meminfo lines alone), absolute sizes and one cache holding most of slab; caches the
kernel reclaims (dentries, inodes) or ZFS's ARC holding most of it (not a leak); tens of
thousands of memory cgroups (dying cgroups pinning memory). Every abnormal component becomes a
``Candidate``; the verdict follows the biggest one, never the order the rules are written in.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kleak_runbook.derive.memory import anonymous
from kleak_runbook.derive.metrics import CacheStat, CallerStat, Metrics, is_reclaimable_name

# ZFS keeps its ARC (and its metadata) in caches of its own: memory the ARC gives back under pressure
_ZFS_CACHES = ("zio_buf_", "zio_data_buf_", "dnode_t", "arc_buf_hdr_t", "dmu_buf_impl_t", "sa_cache", "abd_t", "zfs_")
GiB = 1024**3


@dataclass(frozen=True)
class Candidate:
    # slab-unreclaimable | slab-reclaimable | vmalloc | percpu | page-allocator | zfs-arc | user | kernel
    # | cache (the page cache, from a ticket's words) | released (given back when a program stops, in words)
    # | lowmem (a 32-bit kernel's low memory ran out) | balloon (a hypervisor's balloon driver holds it)
    # | unowned (free's "used" that no program holds, with no slab figure to split it)
    # | vmalloc-area (the vmalloc area ran out while the system booted) | fragmentation (a high-order
    # allocation failed with free memory above the watermarks) | atomic-reserve (an atomic order-0
    # allocation found its zone at the min watermark) | suspend (an allocation failed while the
    # system suspended, reclaim held back) | kernel-or-huge (memory off the LRU lists in a meminfo
    # cut before Slab and HugePages, on a ticket about huge pages) | cgroup-view (a container's usage
    # against its processes' RSS, in words) | host-view (a VM's memory as its hypervisor counts it, in words)
    # | cma-area (the contiguous memory area reserved at boot had no run long enough for a driver)
    # | ram-withheld (RAM fitted that the kernel was never given: a device tree, mem=, in words)
    # | false-positive (the ticket concludes the leak it reports was not one)
    kind: str
    bytes: int
    share: float | None  # of MemTotal, when known
    name: str | None  # the cache or caller that stands out, when one does
    why: str
    # reclaimable memory the evidence says is not given back when it should be (the reporter tried
    # drop_caches, or it stayed while the host swapped): a reclaim failure, which acts as a leak
    kept: bool = False


@dataclass(frozen=True)
class Snapshot:
    candidates: tuple[Candidate, ...]  # biggest first
    slab_total: int | None
    mem_total: int | None
    # an allocation failure the evidence holds (SLUB's warning, warn_alloc's): memory, or a cgroup's
    # limit, ran out at that moment; it says which request failed, not what holds the memory
    failure: str | None = None

    @property
    def top(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None

    @property
    def kinds(self) -> list[str]:
        return [c.kind for c in self.candidates]


def is_zfs_cache(name: str) -> bool:
    return name.startswith(_ZFS_CACHES)


def _gib(n: float) -> str:
    return f"{n / GiB:.1f} GiB"


def _size(n: float) -> str:
    """GiB, or MiB under one GiB (where "0.3 GiB" says little), or KiB under one MiB."""
    if n >= GiB:
        return _gib(n)
    return f"{n / 1024**2:.0f} MiB" if n >= 1024**2 else f"{n / 1024:.0f} KiB"


def _outlier(biggest: CacheStat, unreclaimable: list[CacheStat], slab_total: int, p: Mapping[str, Any]) -> bool:
    """One unreclaimable cache standing out of the slab shown: a quarter of it or more and several
    times the next unreclaimable cache. On a healthy host the biggest caches are within a factor of
    two or three of each other and none holds a quarter of slab (tests/cases: the healthy slabtops
    and slabinfos); a leak in a cache's users piles up in that one cache at any memory size."""
    others = sorted((int(c.bytes) for c in unreclaimable if c is not biggest), reverse=True)
    size = int(biggest.bytes)
    if not others or size < float(p.get("min_outlier_cache_bytes", 16 * 1024**2)):
        return False
    return size >= float(p.get("outlier_cache_share", 0.25)) * slab_total and size >= float(
        p.get("outlier_cache_ratio", 3)
    ) * max(others[0], 1)


_KMALLOC_SIZES = (8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192)


def _kmalloc_cache(size: int, caches: Mapping[str, CacheStat]) -> str | None:
    """The generic kmalloc cache an object of ``size`` bytes comes from, when the evidence has it."""
    fit = next((n for n in _KMALLOC_SIZES if n >= size), None)
    if fit is None:
        return None
    names = [f"kmalloc-{fit}", f"kmalloc-{fit // 1024}k" if fit >= 1024 else "", f"size-{fit}"]
    return next((n for n in names if n and n in caches), None)


def _spl(slab: Any) -> tuple[int, str | None, str] | None:
    """ZFS's SPL slab caches (``parsers.spl_slab.SplSlab``): (bytes, the cache holding most of them
    when one does, why). Their slabs come from vmalloc or the page allocator, so no meminfo field
    and no /proc/slabinfo row shows them; the zio_buf caches in them hold the ARC's buffers."""
    held = int(getattr(slab, "size_bytes", 0) or 0)
    if not held:
        return None
    largest = slab.largest
    share = int(largest.size) / held if largest is not None else 0.0
    used = int(slab.alloc_bytes) / held
    why = f"ZFS's own slab caches (SPL, /proc/spl/kmem/slab) hold {_gib(held)} outside Slab (vmalloc, or pages no meminfo field counts)"
    if largest is not None and share >= 0.5:
        why += f"; the largest, {largest.name}, holds {_gib(int(largest.size))} ({100 * share:.0f}%)"
    why += f"; live objects fill {100 * used:.0f}% of it"
    return held, largest.name if largest is not None and share >= 0.5 else None, why


# (kmalloc of more than the largest kmalloc cache goes to the page allocator: kmalloc_order_trace,
# kmalloc_large, __kmalloc_large_node)
_PAGE_FRAME = re.compile(
    r"\]\s+(?:__alloc_pages\w*|alloc_pages\w*|__get_free_pages|get_zeroed_page|__folio_alloc\w*|kmalloc_order\w*"
    r"|_*kmalloc_large\w*)\+"
)


_VMALLOC_FRAME = re.compile(r"(?<![kK])v[mz]alloc|vm_area_alloc|vmap_area")


def _kmemleak(metrics: Metrics, kmemleak: Any) -> Candidate | None:
    """kmemleak's unreferenced objects: allocated memory nothing points to any more, a leak by its
    definition (false positives exist, so it stays suspected), named by where it was allocated."""
    sites = list(getattr(kmemleak, "sites", ()) or ()) if getattr(kmemleak, "available", False) else []
    if not sites:
        return None
    top = sites[0]
    count, nbytes = sum(s.count for s in sites), sum(s.bytes for s in sites)
    # (kvmalloc'ed memory is vmalloc'ed only where the trace goes on into vmalloc itself; above kvmalloc alone it
    # came from kmalloc, as memory of a page or less always does)
    vmalloced = any(_VMALLOC_FRAME.search(frame) for frame in top.stack[:4])
    # (bcc memleak traces the page allocator too: "__alloc_pages_nodemask+0x1be")
    paged = not vmalloced and any(_PAGE_FRAME.search(frame) for frame in top.stack[:3])
    name = None if vmalloced or paged else _kmalloc_cache(top.bytes // max(top.count, 1), metrics.caches)
    return Candidate(
        "vmalloc" if vmalloced else "page-allocator" if paged else "slab-unreclaimable",
        nbytes,
        nbytes / metrics.mem_total if metrics.mem_total else None,
        name or top.name,
        f"kmemleak reports {count} unreferenced object(s) allocated from {top.name}",
    )


def _user_memory(meminfo: Mapping[str, Any], total: int, p: Mapping[str, Any]) -> Candidate | None:
    """Programs' memory (anonymous pages) and tmpfs/shmem holding most of RAM: where an OOM's memory
    usually went, and not the kernel's."""
    shmem = int(meminfo.get("Shmem") or 0)
    anon = anonymous(meminfo)
    held = int(anon or 0) + shmem
    if anon is None or held < float(p.get("user_memory_fraction", 0.5)) * total:
        return None
    what = "tmpfs/shared memory (Shmem)" if shmem > int(anon) else "programs (anonymous memory)"
    return Candidate("user", held, held / total, None, f"{what} hold {_gib(held)} of {_gib(total)}")


_LEAK_KINDS = frozenset({"slab-unreclaimable", "vmalloc", "percpu"})
_CACHE_KINDS = frozenset({"slab-reclaimable", "zfs-arc"})

_KIND_WORDS = {
    "slab-unreclaimable": "unreclaimable slab",
    "percpu": "per-CPU memory",
    "vmalloc": "vmalloc memory",
    "page-allocator": "memory taken from the page allocator",
}


_ORDER_WHY = (
    "a request for that many physically contiguous pages can fail while memory is free, in pieces too small"
    " (fragmentation), which reclaim and compaction may not mend in time; no memory is lost"
)


def _from_words(out: list[Candidate], metrics: Metrics, words: Any) -> None:
    """What the ticket's words say (``parsers.prose.ProseFacts``) names what the figures could not.

    A slab cache they say grows ("kmalloc-32 use rise", "Unreclaimable slab (cred_jar) grows") names
    slab of no known cache (slabtop's summary, SUnreclaim alone) or kernel memory of no known kind (a
    meminfo cut before Slab); a kind they say grows ("fills up percpu") gives such memory its kind.
    With no figure at all, the reporter's observation alone is a suspected leak of that cache or
    kind, and words that put the memory in huge pages or tmpfs are programs' memory. Cache rows in
    the evidence always decide over words; a name that is a module in vmallocinfo is not a cache."""
    if words is None:
        return
    if getattr(words, "false_positive", False) and not (metrics.meminfo or metrics.caches or metrics.callers):
        # the thread concludes the leak it reports is a false positive (kmemleak's, a tool's): withdrawn
        out[:] = [c for c in out if c.kind not in ("slab-unreclaimable", "kernel", "page-allocator")]
        if not out:
            out.append(
                Candidate(
                    "false-positive", 0, None, None, "the ticket concludes the leak reported was a false positive"
                )
            )
        return
    gone = getattr(words, "shutdown_cache", None)
    if gone and not any(c.kind == "slab-unreclaimable" and c.name for c in out):
        # the cache was destroyed (its module unloaded) with objects still allocated: objects its
        # code never freed, a leak of that cache by SLUB's own check
        out.insert(
            0,
            Candidate(
                "slab-unreclaimable",
                int(metrics.caches[gone].bytes) if gone in metrics.caches else 0,
                None,
                gone,
                f"SLUB found objects of {gone} still allocated when the cache was destroyed (its module"
                " unloaded): objects its code never freed",
            ),
        )
        return
    modules = {c.module for c in metrics.callers if c.module}
    told = [n for n in getattr(words, "caches", ()) if n not in modules]
    # a name the rows hold goes first; a grep pattern ("grep ip_dst /proc/slabinfo") is the one row it
    # picks, or the longer name the text gives it (the row the grep printed: "ip_dst_cache 669 885 ...")
    told = [next((m for m in told if m != n and m.startswith(n)), n) for n in told]
    rows = {n: [c for c in metrics.caches if c.startswith(n)] for n in told if n not in metrics.caches}
    named = next((n for n in told if n in metrics.caches), None) or next(
        (rows[n][0] if len(rows[n]) == 1 else n for n in told), None
    )
    kinds = tuple(getattr(words, "kinds", ()))
    if named is not None:
        kind = "slab-reclaimable" if is_reclaimable_name(named) else "slab-unreclaimable"
        kept = kind == "slab-reclaimable" and getattr(words, "kept", False)
        said = f"the ticket names {named} as what {'is not given back under pressure' if kept else 'grows'}"
    elif kinds:
        kind, named = kinds[0], None
        said = f"the ticket says {_KIND_WORDS[kind]} grows"
        module = getattr(words, "module", None)
        if module and kind == "page-allocator":
            named = module  # the driver whose unloading gives the memory back
            said += f", and that unloading {module} gives it back"
    else:
        kind, named, said = "", None, ""
    for i, c in enumerate(out):
        if c.name is None and c.kind in ("kernel", "slab-unreclaimable", "slab-reclaimable") and kind:
            if c.kind == "kernel" or (named is not None and c.kind == kind):
                out[i] = Candidate(kind if c.kind == "kernel" else c.kind, c.bytes, c.share, named, f"{c.why}; {said}")
            return
    figures = bool(metrics.meminfo or metrics.caches or metrics.callers)
    shown = metrics.caches.get(named) if named is not None else None
    if (
        not out
        and shown is not None
        and kind == "slab-unreclaimable"
        and getattr(words, "kernel_leak", False)
        and getattr(words, "kept", False)
    ):
        # the reporter saw this cache leak and stay when what used it was stopped or reclaim was
        # forced, and its rows are in the evidence: small yet, but what the ticket is about
        out.append(
            Candidate(
                kind,
                int(shown.bytes),
                None,
                named,
                f"the ticket says {named} leaks and is not given back when what used it stops, and its rows show"
                f" {_size(int(shown.bytes))}",
            )
        )
        return
    modules_shown = {c.module for c in metrics.callers}
    if (
        not out
        and len(modules_shown) == 1
        and None not in modules_shown
        and not (metrics.meminfo or metrics.caches)
        and any("leak" in t for t in getattr(words, "terms", ()))
    ):
        # vmallocinfo rows of one module alone (the poster grepped them out), in a ticket that says it
        # leaks: the poster singled that module out, so its areas are what the ticket is about
        module = next(iter(modules_shown))
        held = sum(int(c.bytes) for c in metrics.callers)
        top = max(metrics.callers, key=lambda c: int(c.bytes))
        out.append(
            Candidate(
                "vmalloc",
                held,
                None,
                top.caller,
                f"the ticket says memory leaks, and the vmallocinfo rows it shows are all {module}'s"
                f" ({_size(held)}, most by {top.caller})",
            )
        )
        return
    if not out and figures and not kind and getattr(words, "process", None):
        # nothing kernel-side is abnormal, and one program holds GiBs: where the memory went
        out.append(Candidate("user", 0, None, None, f"one program holds the memory ({words.process})"))
        return
    failures = (
        # allocations from the contiguous area failed: that area, sized at boot
        (
            "cma-area",
            getattr(words, "cma_failed", None),
            'the ticket says allocations from the contiguous memory area (CMA) failed ("{}")',
        ),
        # a request for many contiguous pages failed: memory in pieces too small
        (
            "fragmentation",
            getattr(words, "high_order_failed", None),
            'the ticket tells of a high-order request failing ("{}"): ' + _ORDER_WHY,
        ),
    )
    for failed, stated, why in failures:
        if stated and not out and not figures and not kind and not getattr(words, "kernel_leak", False):
            out.append(Candidate(failed, 0, None, None, why.format(stated)))  # and nothing else is told
            return
    reclaim_told = getattr(words, "reclaim_told", None)
    # the figures (free's "used") do not split the kernel's memory, and the thread puts it in the dentry
    # and inode caches, which the kernel reclaims when it needs the memory
    split = metrics.caches or any(k in metrics.meminfo for k in ("Slab", "SReclaimable"))
    if reclaim_told and kind in ("", "slab-reclaimable") and not (out or split or getattr(words, "kernel_leak", False)):
        out.append(
            Candidate(
                "slab-reclaimable",
                0,
                None,
                None,
                f'the thread puts the memory in dentry and inode caches the kernel reclaims ("{reclaim_told}")',
            )
        )
        return
    # a kernel leak whose fix the thread confirms was there, whatever figures taken once it was fixed show (or
    # the kernel patch that fixes it, saying which kind of memory it frees: "pages are not freed")
    fixed = bool(
        (getattr(words, "kernel_leak", False) or (kind and getattr(words, "patch_fixes_leak", False)))
        and getattr(words, "leak_fixed", False)
    )
    if out or (figures and not (kind and getattr(words, "steady", False)) and not fixed):
        # figures decide over words, unless the words tell of a growth that went on and on (a rate,
        # "linearly until OOM"), which no single figure shows
        return
    if kind:
        out.append(
            Candidate(
                kind,
                0,
                None,
                named,
                f"{said}, on and on (the reporter's observation: no figure given shows the growth)"
                if figures
                else f"{said} (the reporter's observation: the evidence has no figure of it)",
            )
        )
    elif getattr(words, "user", False) and (
        getattr(words, "user_leak", False) or not any("leak" in t for t in getattr(words, "terms", ()))
    ):
        # the memory in question is huge pages or tmpfs (what "leaks" there is files or programs')
        out.append(
            Candidate(
                "user", 0, None, None, "the ticket's words put the memory in huge pages or shared memory (Shmem, tmpfs)"
            )
        )
    elif getattr(words, "outside_slab", False):
        # a leak the reporter says slab does not show: memory in no field, the page allocator's
        out.append(
            Candidate(
                "page-allocator",
                0,
                None,
                None,
                "the ticket says memory leaks and that slab does not show it (the reporter's observation)",
            )
        )
    elif getattr(words, "bpf", None) is not None:
        held = int(words.bpf)
        out.append(
            Candidate(
                "released",
                held,
                None,
                None,
                f"the BPF maps listed hold {_size(held)} (bpftool's bytes_memlock), allocated to the size their"
                " program configured"
                if held
                else "the ticket's words put the memory in the BPF maps of a running program",
            )
        )
    elif getattr(words, "released", False):
        out.append(
            Candidate(
                "released",
                0,
                None,
                None,
                "the ticket says the memory comes back when the program that took it stops",
            )
        )
    elif getattr(words, "balloon", None):
        out.append(
            Candidate(
                "balloon", int(words.balloon), None, None, f"the hypervisor's balloon holds {_gib(words.balloon)}"
            )
        )
    elif getattr(words, "arc", None):
        out.append(
            Candidate("zfs-arc", int(words.arc), None, None, f"the ticket says ZFS's ARC holds {_gib(words.arc)}")
        )
    elif (
        getattr(words, "zfs", False)
        and getattr(words, "memory_grows", False)
        and not getattr(words, "kernel_leak", False)
    ):
        # on a ZFS host, memory that grows with what the ticket tells of (reading, copying files) is the
        # ARC filling, unless arcstats or a leak claim say otherwise
        out.append(
            Candidate(
                "zfs-arc",
                0,
                None,
                None,
                "the ticket tells of memory growing on a ZFS host: ZFS's ARC caches what is read and written"
                " there (arcstats' size would show it)",
            )
        )
    elif getattr(words, "arc_capped", False):
        out.append(Candidate("zfs-arc", 0, None, None, "the ticket says capping ZFS's ARC (zfs_arc_max) fixed it"))
    elif getattr(words, "process", None):
        # the reporter saw one program hold GiBs (its RSS, anon-rss in an OOM line): programs' memory
        out.append(
            Candidate("user", 0, None, None, f"the ticket's words put the memory in one program ({words.process!r})")
        )
    elif getattr(words, "heap_profile", None):
        size, program = words.heap_profile
        out.append(
            Candidate(
                "user", size, None, None, f"a heap profile of {program} accounts for {_gib(size)} in its own heap"
            )
        )
    elif getattr(words, "program_grows", False) and not getattr(words, "kernel_leak", False):
        out.append(Candidate("user", 0, None, None, "the ticket says one program's own memory grows"))
    elif getattr(words, "fds_held", False) and not getattr(words, "kernel_leak", False):
        out.append(
            Candidate(
                "user",
                0,
                None,
                None,
                "the ticket puts the buffers in a process's open dma-buf file descriptors: the kernel frees them"
                " when the process closes them",
            )
        )
    elif getattr(words, "pmap", False) and not getattr(words, "kernel_leak", False):
        out.append(Candidate("user", 0, None, None, "the ticket shows one process's mappings (pmap): its own memory"))
    elif getattr(words, "configured", None) and (
        "MemTotal" not in getattr(words, "fields", {}) or words.configured[0] >= 0.5 * words.fields["MemTotal"]
    ):
        size, said = words.configured
        out.append(
            Candidate(
                "user",
                size,
                size / words.fields["MemTotal"] if "MemTotal" in words.fields else None,
                None,
                f"a program is configured to take {_gib(size)} ({said})"
                + (f" of the {_gib(words.fields['MemTotal'])} the ticket states" if "MemTotal" in words.fields else ""),
            )
        )
    elif getattr(words, "cache", False):
        out.append(Candidate("cache", 0, None, None, "the ticket's words put the memory in the page cache"))
    elif getattr(words, "kernel_leak", False):
        # the reporter says the kernel leaks, naming no kind: kmemleak's objects are slab allocations
        kmemleak = bool(getattr(words, "kmemleak", False))
        out.append(
            Candidate(
                "slab-unreclaimable" if kmemleak else "kernel",
                0,
                None,
                # the module code kmemleak's trace names, else the driver of the device the ticket shows
                getattr(words, "leak_frame", None) if kmemleak else getattr(words, "driver", None),
                "the ticket says the kernel leaks memory"
                + (", as kmemleak reported" if kmemleak else "")
                + " (the reporter's claim: the evidence has no figure of it)",
            )
        )
    elif getattr(words, "limit_oom", False):
        out.append(
            Candidate(
                "cgroup-limit",
                0,
                None,
                None,
                "the ticket says a container or cgroup was killed at its own memory limit (the reporter's words)",
            )
        )
    elif getattr(words, "host_view", None):
        out.append(
            Candidate(
                "host-view",
                0,
                None,
                None,
                f'the memory in question is a VM\'s as its host counts it ("{words.host_view}")',
            )
        )
    elif getattr(words, "overcommitted", False):
        out.append(
            Candidate(
                "user",
                0,
                None,
                None,
                "the ticket says the host gave its guests more memory than it has (overcommitted): the guests'"
                " RAM is the memory of their QEMU processes",
            )
        )
    elif getattr(words, "cgroup_view", False):
        out.append(
            Candidate(
                "cgroup-view",
                0,
                None,
                None,
                "the ticket sets a container's usage, as its cgroup counts it, against its processes' RSS",
            )
        )
    elif getattr(words, "ram_withheld", None):
        out.append(
            Candidate(
                "ram-withheld",
                0,
                None,
                None,
                f"part of the RAM was never handed to the kernel ({words.ram_withheld})",
            )
        )
    elif getattr(words, "lowmem", False):
        out.append(
            Candidate(
                "lowmem", 0, None, None, "the ticket tells of the OOM killer on a 32-bit kernel (the reporter's words)"
            )
        )


def _profiled(out: list[Candidate], metrics: Metrics, rows_only: bool, over: Any) -> list[Candidate]:
    """What memory allocation profiling (/proc/allocinfo, an OOM report's "Memory allocations:")
    says of one moment: the kernel's own tags, not programs' pages and the page cache, nor the slab
    pages other tags' objects sit in. A cache standing out of slab rows alone is not where the memory
    went when the tags hold several times more elsewhere; a component of no known holder is named
    by its biggest tag; and tags of one kind far above their share are a candidate of their own."""
    own = [t for t in metrics.sites if t.own]
    if not own:
        return out
    held = sum(int(t.bytes) for t in own)
    if rows_only:
        out = [
            c for c in out if not (c.kind == "slab-unreclaimable" and c.share is None and held >= 4 * max(c.bytes, 1))
        ]
    named = []
    for c in out:
        top = next((t for t in own if t.kind == c.kind), None)
        if c.name is None and top is not None and int(top.bytes) >= 0.1 * c.bytes:
            c = dataclasses.replace(
                c,
                name=top.name,
                why=f"{c.why}; the biggest tag of it allocation profiling shows is {top.name} ({_size(int(top.bytes))})",
            )
        named.append(c)
    kinds = {c.kind for c in named}
    by_kind: dict[str, list[Any]] = {}
    for t in own:
        by_kind.setdefault(t.kind, []).append(t)
    for kind, tags in by_kind.items():
        size = sum(int(t.bytes) for t in tags)
        if (
            kind in kinds
            or kind == "slab-reclaimable"
            or not over(size, "max_unreclaimable_slab_fraction", "large_slab_bytes")
        ):
            continue
        total = metrics.mem_total
        named.append(
            Candidate(
                kind,
                size,
                size / total if total else None,
                tags[0].name,
                f"allocation profiling counts {_size(size)} at {len(tags)} place(s) in the kernel's code, most by"
                f" {tags[0].name} ({tags[0].site.where}, {_size(int(tags[0].bytes))})",
            )
        )
    return named


def _zfs_host(out: list[Candidate], metrics: Metrics, words: Any) -> list[Candidate]:
    """On a host the ticket says runs ZFS, with no arcstats to size the ARC, large unreclaimable slab
    and vmalloc are where ZFS keeps its caches (the ARC's buffers and the SPL's slabs before 0.8, its
    metadata caches after): the ARC, unless the words say it grows or leaks, or slab rows name
    another cache as the one that holds it."""
    if not out or not getattr(words, "zfs", False) or metrics.arc_size is not None or metrics.spl_slab is not None:
        return out
    if any(getattr(words, k, None) for k in ("kinds", "caches", "kernel_leak", "steady", "kept")):
        return out
    # (memory in no field too: the ARC's data pages come from the page allocator since 0.7's ABD)
    held = [
        c
        for c in out
        if c.kind in ("slab-unreclaimable", "vmalloc", "page-allocator") and (c.name is None or is_zfs_cache(c.name))
    ]
    if not held or out[0] not in held:
        return out
    su = metrics.kmem.get("slab_unreclaimable")
    vm = metrics.kmem.get("vmalloc")
    size = int(su or 0) + int(vm or 0) or max(c.bytes for c in held)
    parts = " and ".join(
        f"{label} {_gib(int(v))}"
        for label, v in (("unreclaimable slab", su), ("vmalloc", vm))
        if v is not None and int(v)
    )
    why = (
        f"the ticket names ZFS, and {parts or 'kernel memory'} hold ZFS's caches there (the ARC's buffers and"
        " metadata are allocated as unreclaimable slab and vmalloc, not as page cache); its arcstats"
        " (/proc/spl/kstat/zfs/arcstats, size) would confirm it is the ARC"
    )
    total = metrics.mem_total
    return [Candidate("zfs-arc", size, size / total if total else None, None, why)] + [c for c in out if c not in held]


def _zfs_thirty_two_bit(out: list[Candidate], words: Any) -> list[Candidate]:
    """ZFS on a 32-bit kernel: the SPL allocates its slabs with vmalloc, from an address area of a
    few hundred MiB that ZFS's caches outgrow (ZFS on Linux wants a 64-bit kernel, or vmalloc=<size>
    raised). What the ticket shows of vmalloc, or of no kind, is that area running out, unless the
    words claim a leak."""
    if not (getattr(words, "zfs", False) and getattr(words, "thirty_two", False)):
        return out
    if getattr(words, "kernel_leak", False) or any(c.kind not in ("vmalloc", "kernel", "vmalloc-area") for c in out):
        return out
    return [
        Candidate(
            "vmalloc-area",
            max((c.bytes for c in out), default=0),
            None,
            None,
            "the ticket tells of ZFS on a 32-bit kernel, whose SPL allocates ZFS's caches with vmalloc from an"
            " address area of a few hundred MiB",
        )
    ]


def _alloc_failure(metrics: Metrics, failure: Any, p: Mapping[str, Any], words: Any = None) -> Candidate | None:
    """A vmalloc of a few pages that failed (warn_alloc's "vmalloc: allocation failure") while RAM is
    not what ran out: the vmalloc or module area is exhausted (bpf_jit_limit, MODULES_VADDR), by
    the code in the trace above the allocator. A failed page allocation names no kind: skipped."""
    if getattr(failure, "kind", None) == "cma":
        # CMA is a region set aside at boot (cma=, the device tree) for buffers that must be physically
        # contiguous: a request it cannot place says the region is too small, or fragmented, for what
        # the devices keep in it, whatever the rest of memory does
        return Candidate(
            "cma-area",
            int(failure.bytes),
            None,
            failure.caller,
            f"the contiguous memory area (CMA) had no free run of {int(failure.bytes) / 1024**2:.1f} MiB"
            + (f" for {failure.caller}" if failure.caller else ""),
        )
    if getattr(failure, "kind", None) == "driver":
        # a driver's receive path allocates without waiting for reclaim: under memory pressure (a slow
        # disk filling the page cache with dirty pages) it fails and retries on the next packet
        return Candidate(
            "atomic-reserve",
            0,
            None,
            failure.comm,
            f"{failure.comm} could not allocate {failure.caller} ({failure.times} time(s), the driver's own message):"
            " its receive path allocates without waiting for reclaim",
        )
    if getattr(failure, "kind", None) == "dma":
        # a DMA buffer is physically contiguous: after long uptime a run that long may not be free
        # although memory is (drivers that keep the buffer from boot avoid it), so the driver's -ENOMEM
        # alone says fragmentation, not memory gone; figures that show memory gone decide before it
        return Candidate(
            "fragmentation",
            0,
            None,
            failure.comm,
            f"{failure.comm} could not allocate a DMA buffer (-ENOMEM, the driver's own message): DMA buffers must"
            " be physically contiguous, and a long enough free run can be missing while memory is free",
        )
    if getattr(failure, "kind", None) not in ("pages", "vmalloc"):
        return None
    avail, total = metrics.meminfo.get("MemAvailable"), metrics.mem_total
    if avail is not None and total and int(avail) < 0.05 * total:
        return None  # memory itself ran out: any allocation could have failed
    if getattr(failure, "suspend", False):
        # tasks frozen, the OOM killer off, and (after the devices suspend) no I/O to write pages
        # out: reclaim can free little, while drivers copy device memory (VRAM) into RAM
        return Candidate(
            "suspend",
            int(failure.bytes),
            None,
            failure.caller,
            f"a {'vmalloc' if failure.kind == 'vmalloc' else 'page'} allocation failed for {failure.comm} while the"
            " system was suspending",
        )
    if failure.kind == "pages":
        return _page_failure(metrics, failure, bool(getattr(words, "free_seen", False)))
    if not int(failure.bytes):
        return None  # a vmalloc of 0 bytes fails by design (the caller asked for nothing): no memory ran out
    caller = failure.caller
    uptime = getattr(failure, "uptime", None)
    if uptime is not None and uptime < float(p.get("settle_after_boot_s", 300)):
        # the area ran out while boot loads drivers: too small for this system, not filled by a leak
        return Candidate(
            "vmalloc-area",
            int(failure.bytes),
            None,
            caller,
            f"a vmalloc of {int(failure.bytes)} bytes failed for {failure.comm} {uptime:.0f} s after boot"
            + (f" in {caller}" if caller else ""),
        )
    if int(failure.bytes) >= int(p.get("large_vmalloc_request_bytes", 8 * 1024**2)):
        # one request of many MiB (a module's image) finds no free range that long: the area is too
        # small for it (16 MiB for modules and a few hundred MiB of vmalloc on 32-bit kernels)
        return Candidate(
            "vmalloc-area",
            int(failure.bytes),
            None,
            caller,
            f"a vmalloc of {int(failure.bytes) / 1024**2:.1f} MiB failed for {failure.comm}"
            + (f" in {caller}" if caller else "")
            + ": one request that large finds no free range in the area",
        )
    return Candidate(
        "vmalloc",
        int(failure.bytes),
        None,
        caller,
        f"a vmalloc of {int(failure.bytes)} bytes failed for {failure.comm}"
        + (f" in {caller}" if caller else "")
        + ": the vmalloc or module area it draws from is exhausted",
    )


_BPF_MAP_FRAME = re.compile(r"^(?:map_create|\w+_map_alloc\w*|bpf_map_area_alloc|bpf_map_alloc\w*)$")


def _bpf_map_oom(failure: Any) -> str | None:
    """The frame of BPF map creation (bpf(BPF_MAP_CREATE)) in the trace of an OOM killer's header."""
    if failure is None or not getattr(failure, "oom", False):
        return None
    return next((fn for fn in getattr(failure, "stack", ()) if _BPF_MAP_FRAME.match(fn)), None)


COSTLY_ORDER = 3  # PAGE_ALLOC_COSTLY_ORDER: above it the allocator gives up early, without the OOM killer


def _page_failure(metrics: Metrics, failure: Any, free_seen: bool = False) -> Candidate | None:
    """A page allocation that failed, judged by the zones its report printed (else by MemFree):

    - of order 1 or more while a zone it could use (not DMA, which ordinary allocations leave
      alone) held free memory above its high watermark: the memory was there, in pieces too small
      for 2**order contiguous pages, i.e. fragmentation;
    - atomic (it may not wait for reclaim) of order 0 with a zone at its min watermark and no
      kernel memory of that zone out of proportion: the reserve kept for atomic allocations ran
      out under a burst, not a leak (vm.min_free_kbytes sets that reserve).

    Either names where the memory is not; anything abnormal the figures show decides before it."""
    order = getattr(failure, "order", None)
    # (ordinary requests leave ZONE_DMA alone; one that asked for it, __GFP_DMA, has only that zone)
    wants_dma = bool(getattr(failure, "dma", False))
    zones = [z for z in getattr(failure, "zones", ()) if (z.name == "DMA") == wants_dma]
    if order is None:
        # the report's zone lines alone, under words that call it a page allocation failure: with a
        # zone far above its high watermark, memory was there; the request wanted it contiguous, or
        # could not wait for it (an atomic burst), not memory that was gone
        roomy = [z for z in zones if z.free > 4 * max(z.high, 1)]
        if not roomy:
            return None
        z = max(roomy, key=lambda z: z.free)
        return Candidate(
            "fragmentation",
            0,
            None,
            None,
            f"a page allocation failed (the ticket's words; its order is not in the evidence) while {z.name} held"
            f" {z.free // 1024**2} MiB free against a high watermark of {z.high // 1024**2} MiB",
        )
    atomic = bool(getattr(failure, "atomic", False))
    what = (
        ("the OOM killer ran when " if getattr(failure, "oom", False) else "")
        + f"an {'atomic ' if atomic else ''}order-{order} allocation ({4 << order} KiB contiguous) failed for {failure.comm}"
        + (f" in {failure.caller}" if failure.caller else "")
    )
    total = metrics.mem_total
    if not zones and not getattr(failure, "oom", False):
        # warn_alloc's warning without its zone lines. A request above the costly order (the
        # allocator does not try hard for those), or a high-order one that could not wait, fails for
        # want of contiguous memory far more often than for want of memory; the classic atomic
        # "order:0, mode:0x20" from a driver's receive path may take only what is above the min
        # watermark
        unseen = " (the report's zone lines are not in the evidence)"
        if order > COSTLY_ORDER or (atomic and order >= 1):
            why = (
                f"an order above {COSTLY_ORDER} ({4 << order} KiB in one piece), which the allocator does not try hard to find"
                if order > COSTLY_ORDER
                else "a high-order request that could not wait for compaction or reclaim"
            )
            return Candidate(
                "fragmentation",
                0,
                None,
                failure.caller,
                f"{what}: {why}{unseen}",
            )
        if atomic:
            return Candidate(
                "atomic-reserve",
                0,
                None,
                failure.caller,
                f"{what}{unseen}",
            )
    if order >= 1:
        roomy = [z for z in zones if z.free > z.high]
        free_mib = sum(z.free for z in roomy) // 1024**2
        if not zones:
            free = metrics.meminfo.get("MemFree")
            if free is not None and total and int(free) >= 0.1 * total and "HighTotal" not in metrics.meminfo:
                free_mib = int(free) // 1024**2
            elif free is None and free_seen:
                return Candidate(
                    "fragmentation",
                    0,
                    None,
                    failure.caller,
                    f"{what}, and the ticket says memory was free then (the reporter's observation: no free"
                    " figure is in the evidence): memory there in pieces too small (fragmentation)",
                )
            else:
                return None
        elif not roomy:
            return None
        return Candidate(
            "fragmentation",
            0,
            None,
            failure.caller,
            f"{what} while {free_mib} MiB was free"
            + (
                f" in {', '.join(z.name for z in roomy)}, above {'its' if len(roomy) == 1 else 'their'} high watermark"
                if zones
                else ""
            )
            + ": the memory was there, in pieces too small (fragmentation)",
        )
    low = [z for z in zones if z.free <= z.min]
    if atomic and low:
        held = [z for z in low if z.size and z.unreclaimable_slab is not None and z.unreclaimable_slab > 0.2 * z.size]
        if held:
            return None  # unreclaimable slab filled the zone: that, not the reserve, is the story
        return Candidate(
            "atomic-reserve",
            0,
            None,
            failure.caller,
            f"{what} with {', '.join(f'{z.name} at {z.free // 1024} KiB free (min {z.min // 1024} KiB)' for z in low)}",
        )
    return None


def _boot_pool(top: CallerStat | None, vm_bytes: int) -> str | None:
    """Most of vmalloc in one or two areas an init function allocated, never seen to grow: a pool
    sized once at boot (by the firmware's tables, the CPU count), which a leak's many areas are not."""
    if top is None or int(top.areas) > 2 or int(top.bytes) < 0.5 * vm_bytes or top.growth_bytes_per_s > 0:
        return None
    function = top.caller.split("+", 1)[0]
    if not re.search(r"(?:^|_)init(?:$|_)", function):
        return None
    return (
        f"{_gib(int(top.bytes))} of it in {int(top.areas)} area{'s' if int(top.areas) > 1 else ''} that {function}"
        " allocated: a pool set up once at boot"
    )


def judge(
    metrics: Metrics,
    params: Mapping[str, Any],
    dentry: Any = None,
    kmemleak: Any = None,
    words: Any = None,
    failure: Any = None,
) -> Snapshot:
    """``dentry``: the rule context's dentry view (nr_dentry, nr_unused), when dentry-state was given;
    ``kmemleak``: that probe's attribution, when its report is in the evidence; ``words``: what the
    ticket's own words state (``parsers.prose.ProseFacts``); ``failure``: a warn_alloc allocation
    failure (``parsers.alloc_failure.AllocFailure``), when the evidence holds one."""
    p = dict(params)
    total = metrics.mem_total
    kmem = metrics.kmem
    out: list[Candidate] = []

    def share(n: float) -> float | None:
        return n / total if total else None

    def add(kind: str, n: int, name: str | None, why: str) -> None:
        out.append(Candidate(kind, int(n), share(n), name, why))

    def over(n: float, fraction_param: str, absolute_param: str) -> bool:
        """Abnormally large: a share of MemTotal when it is known, an absolute size when it is not."""
        if total:
            return n > float(p.get(fraction_param, 1.0)) * total
        return n >= float(p.get(absolute_param, 4 * GiB))

    caches = list(metrics.caches.values())
    slab_total = metrics.slab_total
    zfs = sum(int(c.bytes) for c in caches if is_zfs_cache(c.name))
    reclaimable = sum(int(c.bytes) for c in caches if c.reclaimable is True)
    unreclaimable = [c for c in caches if c.reclaimable is not True and not is_zfs_cache(c.name)]
    biggest: CacheStat | None = max(unreclaimable, key=lambda c: int(c.bytes), default=None)
    biggest_reclaimable = max((int(c.bytes) for c in caches if c.reclaimable is True), default=0)

    su, sr = kmem.get("slab_unreclaimable"), kmem.get("slab_reclaimable")
    slab_field = metrics.meminfo.get("Slab")
    if su is not None and over(int(su), "max_unreclaimable_slab_fraction", "large_slab_bytes"):
        add("slab-unreclaimable", int(su), biggest.name if biggest else None, f"SUnreclaim is {_gib(int(su))}")
    elif su is None and slab_total and biggest is not None:
        # slab caches alone: one unreclaimable cache holding most of slab, or unreclaimable slab
        # far above its share of MemTotal when free or an OOM report gives MemTotal
        size = int(biggest.bytes)
        dominant = size >= float(p.get("dominant_cache_share", 0.5)) * slab_total
        big = size >= float(p.get("large_cache_bytes", GiB)) or int(biggest.objects) >= int(
            p.get("many_objects", 10**6)
        )
        unrec_total = sum(int(c.bytes) for c in unreclaimable)
        # one cache's row pasted alone (no other row, no slabtop total): the poster singled it out,
        # so the comparison _outlier makes is already made; it needs only to be above the noise floor
        # (SLUB's failure warning shows the cache that could not grow, not one the poster singled out)
        lone = (
            len(caches) == 1
            and metrics.slab_active is None
            and slab_total == size
            and metrics.slab_source != "slub-failure"
        )
        if (
            (dominant and big)
            or _outlier(biggest, unreclaimable, slab_total, p)
            or (lone and size >= float(p.get("min_outlier_cache_bytes", 16 * 1024**2)))
            or (total and over(unrec_total, "max_unreclaimable_slab_fraction", "large_slab_bytes"))
        ):
            why = (
                f"{biggest.name}, its row pasted alone, holds {size / 1024**2:.0f} MiB in {int(biggest.objects)}"
                " objects (the rest of slab and MemTotal are not in the evidence)"
                if lone
                else f"{biggest.name} holds {_gib(size)} of {_gib(slab_total)} slab"
            )
            add("slab-unreclaimable", unrec_total, biggest.name, why)
    if (
        not caches
        and slab_total
        and su is None
        and sr is None
        and over(slab_total, "max_unreclaimable_slab_fraction", "large_slab_bytes")
    ):
        # slabtop's summary without its rows: much slab, of no known cache or reclaimability
        add(
            "kernel",
            slab_total,
            None,
            f"slabtop counts {_gib(slab_total)} of slab (its cache rows are not in the evidence)",
        )
    if (
        not caches
        and su is None
        and sr is None
        and slab_field is not None
        and total
        and int(slab_field) >= float(p.get("unsplit_slab_fraction", 0.5)) * total
    ):
        # a kernel before 2.6.19 (or a meminfo cut to its Slab line) does not split reclaimable slab
        # from the rest: half of RAM or more in slab, with no cache rows to say it is dentries and
        # inodes, is abnormal whatever part of it the kernel could free
        add(
            "slab-unreclaimable",
            int(slab_field),
            None,
            f"Slab is {_size(int(slab_field))} of {_size(total)} MemTotal, and the evidence does not split"
            " reclaimable slab from the rest (no SReclaimable, no cache rows)",
        )
    active = metrics.slab_active
    if active is not None and slab_total and not any(c.kind == "slab-unreclaimable" for c in out):
        # slabtop's "Active / Total Size": healthy slab is 80-100% filled by live objects. Slab pages a
        # few live objects each pin (per-memcg cache copies of removed cgroups before 5.9, a cache
        # whose objects are freed one by one but never all of a page) are memory no shrinker frees.
        empty = slab_total - int(active)
        if active < float(p.get("min_slab_use", 2 / 3)) * slab_total and empty >= float(
            p.get("large_cache_bytes", GiB)
        ):
            add(
                "slab-unreclaimable",
                empty,
                None,
                f"{_gib(empty)} of {_gib(slab_total)} slab holds no live object"
                f" (slabtop: {100 * int(active) / slab_total:.1f}% used): slab pages pinned by a few objects each",
            )
    copies = metrics.caches.get("kmem_cache")
    if copies is not None and int(copies.objects) > int(p.get("many_kmem_caches", 20000)):
        # one kmem_cache object per slab cache per memory cgroup (kernels before 5.9): tens of
        # thousands of them are dying memory cgroups keeping their slab alive
        held = int(su) if su is not None else sum(int(c.bytes) for c in unreclaimable)
        if not any(c.kind == "slab-unreclaimable" for c in out):
            add(
                "slab-unreclaimable",
                held,
                "kmem_cache",
                f"kmem_cache holds {int(copies.objects)} per-memcg cache copies",
            )
    unused = (
        dentry is not None
        and getattr(dentry, "nr_dentry", None)
        and int(dentry.nr_unused) >= float(p.get("unused_fraction", 0.5)) * int(dentry.nr_dentry)
    )
    if unused and slab_total and reclaimable >= 0.5 * slab_total and sr is None:
        # dentry-state says nothing holds most dentries: the reclaimable slab is cache, at any size
        add(
            "slab-reclaimable",
            reclaimable,
            "dentry",
            f"{int(dentry.nr_unused)} of {int(dentry.nr_dentry)} dentries are unused",
        )
    elif sr is not None and (su is None or sr > su):
        # reclaimable slab is the benign explanation: a smaller absolute size is enough to name it
        # slab as a whole is what people ask about ("slab holds 65G"): when it is large and mostly
        # reclaimable, the reclaimable part is the answer
        mostly = slab_field is None or int(sr) >= 0.5 * int(slab_field)
        whole = int(slab_field) if slab_field is not None else int(sr)
        if mostly and over(whole, "large_reclaimable_fraction", "large_cache_bytes"):
            add("slab-reclaimable", int(sr), None, f"SReclaimable is {_gib(int(sr))} of {_gib(whole)} slab")
    elif (
        sr is None
        and slab_total
        and reclaimable >= 0.5 * slab_total
        and (
            over(slab_total, "large_reclaimable_fraction", "large_cache_bytes")
            or (
                # (free's or top's totals beside them show no slab to set the caches against)
                "Slab" not in metrics.meminfo
                and "SUnreclaim" not in metrics.meminfo
                and biggest_reclaimable >= float(p.get("dominant_cache_share", 0.5)) * slab_total
                and biggest_reclaimable >= float(p.get("notable_cache_bytes", 256 * 1024**2))
            )
        )
    ):
        # slab caches are all the kernel memory the evidence shows and one reclaimable cache holds
        # most of them: that cache is what the memory in question is, at any size (there is no
        # meminfo slab figure to set it against)
        add(
            "slab-reclaimable",
            reclaimable,
            None,
            f"reclaimable caches hold {_size(reclaimable)} of {_size(slab_total)} slab",
        )
    # memory in no field before ZFS's SPL slabs were taken out of it (derive.metrics)
    un_now, spl_now = kmem.get("unaccounted"), kmem.get("zfs_spl")
    un_before = int(un_now) + int(spl_now or 0) if un_now is not None else None
    arc = metrics.arc_size
    if arc is not None and over(arc, "large_reclaimable_fraction", "large_cache_bytes"):
        # arcstats' size counts the ARC wherever it sits (slab for metadata, pages for data)
        add("zfs-arc", arc, None, f"ZFS's ARC holds {_gib(arc)} (arcstats size)")
    elif slab_total and zfs >= 0.5 * slab_total and zfs >= float(p.get("large_cache_bytes", GiB)):
        add("zfs-arc", zfs, None, f"ZFS's caches (ARC) hold {_gib(zfs)} of {_gib(slab_total)} slab")
    spl = _spl(metrics.spl_slab)
    if spl is not None and not any(c.kind == "zfs-arc" for c in out):
        held, largest, why = spl
        # large, or what makes memory in no field look abnormal (then it is most of that memory)
        explains = (
            un_before is not None
            and total
            and un_before > float(p.get("max_unaccounted_fraction", 0.25)) * total
            and held >= 0.5 * un_before
        )
        if over(held, "large_reclaimable_fraction", "large_cache_bytes") or explains:
            add("zfs-arc", held, largest, why)

    vm = kmem.get("vmalloc")
    percpu_chunks = sum(int(c.bytes) for c in metrics.callers if c.percpu)
    vm_bytes = int(vm) if vm is not None else sum(int(c.bytes) for c in metrics.callers if not c.percpu)
    top_caller = next((c for c in sorted(metrics.callers, key=lambda c: -int(c.bytes)) if not c.percpu), None)
    besides = ""
    if vm is not None and spl is not None:
        # SPL slabs not found in memory of no field are vmalloc'ed (spl_vmalloc): ZFS's, not a vmalloc leak
        on_vmalloc = min(vm_bytes, max(spl[0] - int(kmem.get("zfs_spl") or 0), 0))
        vm_bytes -= on_vmalloc
        besides = f" besides {_gib(on_vmalloc)} of ZFS's SPL slabs" if on_vmalloc else ""
    if vm_bytes and over(vm_bytes, "max_vmalloc_fraction", "large_vmalloc_bytes"):
        pool = _boot_pool(top_caller, vm_bytes)
        add(
            "vmalloc-boot-pool" if pool else "vmalloc",
            vm_bytes,
            top_caller.caller if top_caller else None,
            f"vmalloc holds {_gib(vm_bytes)}{besides}" + (f"; {pool}" if pool else ""),
        )
    pc = kmem.get("percpu")
    pc_bytes = int(pc) if pc is not None else percpu_chunks
    if pc_bytes and over(pc_bytes, "max_percpu_fraction", "large_percpu_bytes"):
        add("percpu", pc_bytes, None, f"The per-CPU allocator holds {_gib(pc_bytes)}")
    un = kmem.get("unaccounted")
    if un is not None and total and int(un) > float(p.get("max_unaccounted_fraction", 0.25)) * total:
        add("page-allocator", int(un), None, f"{_gib(int(un))} is in no meminfo field")
    mi = metrics.meminfo
    lru = [int(mi[k]) for k in ("MemFree", "Active", "Inactive") if k in mi]
    if total and len(lru) == 3 and not any(k in mi for k in ("Slab", "SUnreclaim", "SReclaimable")):
        # a meminfo cut before its kernel fields: what is neither free nor on the LRU lists (programs'
        # memory and the page cache) is all the kernel's memory together, of kinds the paste does not show
        outside = total - sum(lru) - int(mi.get("Unevictable") or 0)
        if spl is not None:
            outside -= min(outside, spl[0])  # ZFS's SPL slabs are off the LRU lists too, and explained
        if outside > float(p.get("max_unaccounted_fraction", 0.25)) * total:
            source = (
                "vmstat -s does not split kernel memory"
                if "VmstatUsed" in mi  # parsers.vmstat
                else "the meminfo given stops before Slab"
            )
            # huge pages are off the LRU lists too: a ticket about them (an SPDK or DPDK host) may be
            # showing its huge page pool, which the lines given do not reach
            huge_said = getattr(words, "user", False) and "HugePages_Total" not in mi
            add(
                "kernel-or-huge" if huge_said else "kernel",
                outside,
                None,
                f"{_gib(outside)} is neither free nor programs' memory nor page cache (MemTotal - MemFree - the LRU"
                f" lists): kernel memory, or huge pages, of a kind not shown, as {source}"
                + ("; the ticket speaks of huge pages" if huge_said else ""),
            )
    kdyn = metrics.meminfo.get("KernelDynamicNoncache")  # smem -w: all kinds of kernel memory at once
    user = metrics.meminfo.get("UserspaceUsed")
    # far above its usual share of memory, or many GiB and more than all programs together hold
    heavy = (
        user is not None and int(kdyn or 0) > int(user) and int(kdyn or 0) >= float(p.get("large_slab_bytes", 4 * GiB))
    )
    if (
        kdyn is not None
        and total
        and (int(kdyn) > float(p.get("max_unreclaimable_slab_fraction", 0.2)) * total or heavy)
    ):
        shown = [metrics.meminfo.get(k) for k in ("Slab", "KernelStack", "PageTables", "VmallocUsed", "Percpu")]
        if shown[0] is not None:
            # meminfo beside it: what its kernel fields do not explain is the residue in no field
            rest = int(kdyn) - sum(int(x) for x in shown if x is not None)
            if rest > float(p.get("max_unaccounted_fraction", 0.25)) * total:
                add(
                    "page-allocator",
                    rest,
                    None,
                    f"smem counts {_gib(int(kdyn))} of kernel dynamic memory that is not cache, of which meminfo's"
                    f" kernel fields (Slab, stacks, page tables) explain {_gib(int(kdyn) - rest)}: {_gib(rest)} is in"
                    " no field",
                )
        if not any(c.kind == "page-allocator" for c in out):
            add("kernel", int(kdyn), None, f"smem counts {_gib(int(kdyn))} of kernel dynamic memory that is not cache")
    huge_pages, huge_size = metrics.meminfo.get("HugePages_Total"), metrics.meminfo.get("Hugepagesize")
    huge = int(huge_pages) * int(huge_size) if huge_pages is not None and huge_size is not None else 0
    if huge and (huge >= 0.5 * total if total else huge >= float(p.get("large_slab_bytes", 4 * GiB))):
        add("user", huge, None, f"Huge pages reserve {_gib(huge)}")
    used = metrics.meminfo.get("Used")  # free's "used": programs and the kernel's memory together
    if (
        used is not None
        and total
        and anonymous(metrics.meminfo) is None
        and (getattr(words, "kernel_leak", False) or getattr(words, "no_owner", False))
    ):
        # free cannot split "used", but the reporter looked at the programs and they do not hold it:
        # what slab does not explain is kernel memory outside slab (the page allocator, vmalloc)
        known_slab = slab_field if slab_field is not None else slab_total
        slab = int(known_slab or 0)
        rest = int(used) - slab
        if (
            known_slab is None
            and kdyn is None  # smem's kernel figure splits it
            and not getattr(words, "zfs", False)  # ZFS's ARC shows as used (before 0.8 from SPL slabs)
            and rest > float(p.get("max_unaccounted_fraction", 0.25)) * total
        ):
            # no slab figure: reclaimable caches (dentries, inodes) and leaked kernel memory look the
            # same, unless the ticket says the kernel leaks (then it is kernel memory of no known kind)
            claimed = bool(getattr(words, "kernel_leak", False))
            add(
                "kernel" if claimed else "unowned",
                rest,
                None,
                f"free counts {_gib(int(used))} used"
                + (
                    ", which the ticket says the kernel leaks; the evidence has no slab figure to tell which kind"
                    if claimed
                    else " and the ticket says no program holds it; the evidence has no slab figure to tell cache"
                    " from kernel memory"
                ),
            )
        elif known_slab is not None and rest > float(p.get("max_unaccounted_fraction", 0.25)) * total:
            add(
                "page-allocator",
                rest,
                None,
                f"free counts {_gib(int(used))} used, of which slab explains {_gib(slab)}, and the ticket says"
                f" no program holds it: {_gib(rest)} is kernel memory outside slab",
            )
    low_total, low_free = metrics.meminfo.get("LowTotal"), metrics.meminfo.get("LowFree")
    if not out and low_total is not None and low_free is not None and int(low_free) < 0.05 * int(low_total):
        # a 32-bit kernel's own memory must fit in low memory: it can run out with high memory free
        out.append(
            Candidate(
                "lowmem",
                int(low_total) - int(low_free),
                None,
                None,
                f"low memory is exhausted: LowFree {int(low_free) // 1024**2} MiB of LowTotal"
                f" {int(low_total) // 1024**2} MiB",
            )
        )
    if not out and total:
        programs = _user_memory(metrics.meminfo, total, p)
        if programs is not None:
            out.append(programs)  # only when nothing kernel-side is abnormal: it explains, it never hides
    out = _profiled(out, metrics, su is None, over)
    failed = _alloc_failure(metrics, failure, p, words)
    # fragmentation and an empty atomic reserve explain only what nothing else does
    explains = failed is not None and (failed.kind not in ("fragmentation", "atomic-reserve", "suspend") or not out)
    if failed is not None and explains and not any(c.kind == "vmalloc" for c in out):
        out.append(failed)
    out = _zfs_host(out, metrics, words)
    _from_words(out, metrics, words)
    out = _zfs_thirty_two_bit(out, words)
    if getattr(words, "kept", False):
        out = [
            dataclasses.replace(
                c,
                kept=True,
                why=c.why
                if "not given back" in c.why
                else f"{c.why}; the ticket says it is not given back under pressure",
            )
            if c.kind == "slab-reclaimable"
            else c
            for c in out
        ]
    leaked = None if getattr(words, "false_positive", False) else _kmemleak(metrics, kmemleak)
    if leaked is not None and leaked.kind == "slab-unreclaimable" and getattr(words, "outside_slab", False):
        leaked = None  # the reporter says slab does not hold the memory: kmemleak's objects are a symptom
    if leaked is not None and not any(c.kind == leaked.kind for c in out):
        out.append(leaked)
    bpf = _bpf_map_oom(failure)
    if bpf is not None and metrics.vmalloc_source == "unavailable":
        # the counters an OOM report gives leave out vmalloc and per-CPU memory, which BPF maps are
        # made of: the memory in no counter is the maps of the programs still running
        residue = [c for c in out if c.kind == "page-allocator"]
        held = residue[0].bytes if residue else 0
        out = [c for c in out if c.kind != "page-allocator"] + [
            Candidate(
                "released",
                held,
                share(held) if held else None,
                None,
                f"the OOM killer ran while {failure.comm} created a BPF map ({bpf} in its trace)"
                + (
                    f", with {_gib(held)} in no counter the report gives: BPF maps are vmalloc'ed and per-CPU"
                    " memory, which an OOM report does not count"
                    if held
                    else ""
                ),
            )
        ]
    # Without vmalloc's figure (an OOM report, SysRq-m, a kernel where VmallocUsed reads 0) memory in
    # no field mixes vmalloc, per-CPU and the page allocator: a component measured on its own and
    # abnormal explains more than that residue, so the residue decides only when nothing else does.
    mixed = metrics.vmalloc_source == "unavailable"
    # Cache the kernel frees (reclaimable slab not said to stay, the ARC) explains its own bytes, not a
    # kind of kernel memory beside it that is out of proportion too: that one decides.
    leaky = any(c.kind in _LEAK_KINDS for c in out)
    out.sort(key=lambda c: (leaky and c.kind in _CACHE_KINDS, mixed and c.kind == "page-allocator", -c.bytes))
    failed_cache = biggest.name if metrics.slab_source == "slub-failure" and biggest is not None else None
    if failed_cache is not None:
        said = f"SLUB could not allocate from {failed_cache}"
    elif failure is not None and failure.kind == "cma":
        said = f"a CMA allocation failed for {failure.comm}"
    elif failure is not None and failure.kind in ("driver", "dma"):
        said = f"{failure.comm} could not allocate {failure.caller}"
    elif failure is not None and not (failure.kind == "vmalloc" and not int(failure.bytes)):
        said = f"a {'vmalloc' if failure.kind == 'vmalloc' else 'page'} allocation failed for {failure.comm}"
    else:
        said = None
    return Snapshot(tuple(out), slab_total, total, said)
