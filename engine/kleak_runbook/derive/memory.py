"""Where all the memory is: MemTotal split into parts that add up to it exactly.

User memory (anonymous, shmem/tmpfs), page cache, each kind of kernel memory, hugepages
reserved, free; what no /proc/meminfo field accounts for is the remainder (the page allocator
used directly: drivers, network buffers, GPU, or ZFS's ARC). Shmem pages sit on the anon LRU
lists, so anonymous user memory is ``Active(anon) + Inactive(anon) - Shmem``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kleak_runbook.derive.series import Series

# (part, label, what kind of memory it is)
_USER = "user"
_CACHE = "cache"
_KERNEL = "kernel"
_FREE = "free"
_OTHER = "unaccounted"

_KERNEL_PARTS = (
    ("slab_unreclaimable", "Slab, unreclaimable"),
    ("slab_reclaimable", "Slab, reclaimable (dentries, inodes, ...)"),
    ("slab_total", "Slab (this kernel does not split reclaimable)"),
    ("vmalloc", "vmalloc"),
    ("percpu", "Per-CPU allocator"),
    ("kernel_stack", "Kernel stacks"),
    ("page_tables", "Page tables"),
    ("other_reclaimable", "Other reclaimable kernel memory"),
)


@dataclass(frozen=True)
class Part:
    name: str
    label: str
    kind: str  # user | cache | kernel | free | unaccounted
    bytes: int

    def as_dict(self, total: int) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "kind": self.kind,
            "bytes": self.bytes,
            "fraction": round(self.bytes / total, 4) if total else None,
        }


@dataclass(frozen=True)
class Breakdown:
    total: int
    parts: tuple[Part, ...]  # biggest first; they add up to total

    @property
    def biggest(self) -> Part | None:
        """The biggest consumer (free memory is not one)."""
        return next((p for p in self.parts if p.kind != _FREE and p.bytes > 0), None)

    def as_dict(self) -> dict[str, Any]:
        biggest = self.biggest
        return {
            "total_bytes": self.total,
            "parts": [p.as_dict(self.total) for p in self.parts],
            "biggest": biggest.name if biggest else None,
        }


def anonymous(meminfo: Mapping[str, Any]) -> int | None:
    """Programs' anonymous memory: the anon LRU lists less Shmem (which sits on them), or
    AnonPages when the lists are not given; None when neither is."""
    active, inactive = meminfo.get("Active(anon)"), meminfo.get("Inactive(anon)")
    if active is not None and inactive is not None:
        return int(active) + int(inactive) - int(meminfo.get("Shmem") or 0)
    anon = meminfo.get("AnonPages")
    return int(anon) if anon is not None else None


def breakdown(meminfo: Mapping[str, Series], kmem: Mapping[str, Series]) -> Breakdown | None:
    """The latest sample's MemTotal, split; None without the fields the split needs."""

    def get(name: str) -> int | None:
        value = meminfo.get(name)
        return int(value) if value is not None else None

    total, free = get("MemTotal"), get("MemFree")
    anon = [get("Active(anon)"), get("Inactive(anon)")]
    file = [get("Active(file)"), get("Inactive(file)")]
    if total is None:
        return None
    if free is None or None in anon or None in file or "unaccounted" not in kmem:
        return _coarse(total, get, kmem)
    shmem = get("Shmem") or 0
    hugetlb = get("Hugetlb")
    if hugetlb is None:
        hugetlb = (get("HugePages_Total") or 0) * (get("Hugepagesize") or 0)
    parts = [
        Part("free", "Free (MemFree)", _FREE, free),
        Part("anon", "Programs' memory (anonymous)", _USER, anonymous(meminfo) or 0),
        Part("shmem", "Shared memory and tmpfs (Shmem)", _USER, shmem),
        Part("page_cache", "Page cache (file pages)", _CACHE, sum(v or 0 for v in file)),
        Part("unevictable", "Unevictable (mlocked, ramfs)", _USER, get("Unevictable") or 0),
        Part("hugepages", "Huge pages reserved (HugeTLB)", _USER, hugetlb),
        Part("zswap", "Compressed swap cache (Zswap)", _CACHE, get("Zswap") or 0),
    ]
    parts += [Part(key, label, _KERNEL, int(kmem[key])) for key, label in _KERNEL_PARTS if key in kmem]
    if "zfs_arc" in kmem:
        parts.append(Part("zfs_arc", "ZFS ARC (arcstats; cache ZFS gives back)", _CACHE, int(kmem["zfs_arc"])))
    if "zfs_spl" in kmem:
        parts.append(_spl_part(kmem))
    if "pcp_free" in kmem:
        parts.append(Part("pcp_free", "Free pages on per-CPU lists", _FREE, int(kmem["pcp_free"])))
    parts.append(
        Part(
            "unaccounted",
            "In no meminfo field (page allocator used directly: drivers, network, GPU, ZFS ARC)",
            _OTHER,
            int(kmem["unaccounted"]),
        )
    )
    kept = [p for p in parts if p.bytes != 0]
    kept.sort(key=lambda p: -p.bytes)
    return Breakdown(total, tuple(kept))


def _spl_part(kmem: Mapping[str, Series]) -> Part:
    return Part(
        "zfs_spl",
        "ZFS's SPL slab caches (/proc/spl/kmem/slab; ZFS's own, outside Slab)",
        _CACHE,
        int(kmem["zfs_spl"]),
    )


def _coarse(total: int, get: Callable[[str], int | None], kmem: Mapping[str, Series]) -> Breakdown | None:
    """A meminfo that is not whole (free's totals, vmstat -s, a few grep'd lines, figures a ticket
    states): the parts it gives, and the rest of MemTotal as one part it does not split. None when
    the parts given exceed MemTotal (figures that do not belong together)."""
    cache = (get("Cached") or 0) + (get("Buffers") or 0)
    vmstat = get("VmstatUsed") is not None  # vmstat -s (parsers.vmstat): its cache holds SReclaimable
    parts = [
        Part("free", "Free (MemFree)", _FREE, get("MemFree") or 0),
        Part(
            "page_cache",
            "Page cache and reclaimable slab (vmstat -s: buffer memory and 'swap cache', Cached + SReclaimable)"
            if vmstat
            else "Page cache (Cached, Buffers)",
            _CACHE,
            cache,
        ),
        Part("shmem", "Shared memory and tmpfs (Shmem)", _USER, get("Shmem") or 0),
    ]
    parts += [Part(key, label, _KERNEL, int(kmem[key])) for key, label in _KERNEL_PARTS if key in kmem]
    if "zfs_spl" in kmem:
        parts.append(_spl_part(kmem))
    rest = total - sum(p.bytes for p in parts)
    if rest < 0:
        return None
    if get("Used") is not None:
        label = "Used, as free counts it (programs' and the kernel's memory together: free does not split it)"
    elif vmstat:
        label = "Not split by vmstat -s (programs' memory, and the kernel's other than reclaimable slab)"
    else:
        label = "Not split by the evidence given (programs' and the kernel's memory)"
    parts.append(Part("not_split", label, _OTHER, rest))
    kept = sorted((p for p in parts if p.bytes != 0), key=lambda p: -p.bytes)
    return Breakdown(total, tuple(kept))
