"""What moved between outputs that carry no times.

A ticket often shows the same file several times with nothing saying when each was taken: ten
grep'd slabinfo rows "from successive dumps", VmallocUsed "and climbing" then after the load
stopped. No rate can be had, but an expert still reads the motion: a cache that ends at several
times its first size, at its peak, grew; a counter that ends at a fraction of its peak was given
back, so whatever held it was not a leak. Only outputs without times are judged here; timed
samples have their rates (``growth``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kleak_runbook.derive.metrics import COMPONENT_LABELS, Metrics
from kleak_runbook.derive.series import Series
from kleak_runbook.derive.snapshot import is_zfs_cache

# components whose growth is a leak of their kind; reclaimable slab grows as caches do, and
# memory in no field moves by itself too much to read without times
_KINDS = {"slab_unreclaimable": "slab-unreclaimable", "vmalloc": "vmalloc", "percpu": "percpu"}


@dataclass(frozen=True)
class Motion:
    label: str  # what the reader knows it by: "vmalloc (VmallocUsed)", "cache kmalloc-4096"
    kind: str
    name: str | None  # the cache or caller, when the motion is one's (or the component's biggest mover)
    first: int
    last: int
    peak: int
    outputs: int

    @property
    def delta(self) -> int:
        return self.last - self.first


@dataclass(frozen=True)
class Motions:
    grew: Motion | None  # the biggest growth between the first and the last output
    given_back: Motion | None  # the biggest fall from a peak, when nothing grew


def judge(metrics: Metrics, params: Mapping[str, Any]) -> Motions:
    factor = float(params.get("untimed_growth_factor", 2))
    least = float(params.get("min_growth_bytes", 262144))
    parts, items, all_series = _parts(metrics)

    big = float(params.get("min_untimed_growth_bytes", 256 * 1024**2))

    def grew(m: Motion) -> bool:
        # several times over, or by hundreds of MiB: unreclaimable kernel memory does not swing
        # like that between two outputs of a healthy host
        much = m.last >= factor * max(m.first, 1) or m.delta >= big
        return much and m.delta >= least and m.last >= 0.9 * m.peak

    grown = sorted((m for m in parts if grew(m)), key=lambda m: -m.delta)
    grown_items = sorted((m for m in items if grew(m)), key=lambda m: -m.delta)
    top = grown[0] if grown else (grown_items[0] if grown_items else None)
    if top is not None and top.name is None:
        name = next((m.name for m in grown_items if m.kind == top.kind), None)
        top = Motion(top.label, top.kind, name, top.first, top.last, top.peak, top.outputs)
    if top is not None:
        return Motions(top, None)
    fallen = [m for m in all_series if m.last >= 0 and m.peak >= factor * max(m.last, 1) and m.peak - m.last >= least]
    return Motions(None, max(fallen, key=lambda m: m.peak - m.last, default=None))


def _motion(label: str, kind: str, name: str | None, s: Series) -> Motion | None:
    if s.times is not None or len(s.values) < 2:
        return None  # timed: growth has its rate
    if name is not None and not all(s.values):
        return None  # a cache or caller missing from an output (a grep'd row, then all of slabtop) was not shown
    values = list(s.values)
    low = min(range(len(values) - 1), key=lambda i: values[i])
    after = values[low:]
    if 0 < low <= len(values) - 3 and values[low] <= values[0] / 2 and all(b >= a for a, b in zip(after, after[1:])):
        # it fell to a fraction of where it began (a reboot, a module reloaded), then grew at every
        # output since: what moves now is the growth from there
        return Motion(label, kind, name, values[low], s.last, max(after), len(after))
    return Motion(label, kind, name, s.first, s.last, s.max, len(s.values))


def _parts(metrics: Metrics) -> tuple[list[Motion], list[Motion], list[Motion]]:
    """(kernel-memory components, caches and callers, and every one of them for what fell)."""
    parts: list[Motion] = []
    everything: list[Motion] = []
    for component, series in metrics.kmem.items():
        m = _motion(COMPONENT_LABELS.get(component, component), _KINDS.get(component, ""), None, series)
        if m is None:
            continue
        if component in _KINDS:  # memory in no field is a residue: it swings by itself
            parts.append(m)
            everything.append(m)
    items: list[Motion] = []
    for c in metrics.caches.values():
        m = _motion(f"cache {c.name}", "slab-reclaimable" if c.reclaimable else "slab-unreclaimable", c.name, c.bytes)
        if m is None or c.reclaimable is True:
            continue  # a reclaimable cache that fell was reclaimed (drop_caches, pressure): it clears nothing else
        everything.append(m)
        if not is_zfs_cache(c.name):
            items.append(m)
    for v in metrics.callers:
        m = _motion(f"vmalloc caller {v.caller}", "percpu" if v.percpu else "vmalloc", v.caller, v.bytes)
        if m is not None:
            items.append(m)
            everything.append(m)
    for t in metrics.sites:
        # a place in the kernel's code whose allocations only grew (allocinfo): the kernel's own
        # memory, not programs' pages or the page cache, nor the slab pages under other tags' objects
        if not t.own or t.kind == "slab-reclaimable":
            continue
        m = _motion(f"allocation site {t.name} ({t.site.where})", t.kind, t.name, t.bytes)
        if m is not None:
            items.append(m)
            everything.append(m)
    return parts, items, everything
