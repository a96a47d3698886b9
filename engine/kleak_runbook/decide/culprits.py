"""Naming what leaks: the caches, vmalloc callers and modules behind a verdict's kind."""

from __future__ import annotations

from typing import Any

from kleak_runbook.derive.metrics import CacheStat, CallerStat, Metrics

TOP = 5


def pick(source: str, metrics: Metrics, out_of_tree: frozenset[str]) -> list[dict[str, Any]]:
    multi = metrics.sample_count >= 2
    if source in ("slab-unreclaimable", "slab-reclaimable"):
        want_reclaimable = source == "slab-reclaimable"
        caches = [c for c in metrics.caches.values() if (c.reclaimable is True) == want_reclaimable]
        return [_cache(c) for c in _rank(caches, multi)][:TOP]
    if source in ("vmalloc", "percpu"):
        callers = [c for c in metrics.callers if c.percpu == (source == "percpu")]
        ranked = _rank(callers, multi)[:TOP]
        found = [_caller(c) for c in ranked]
        modules: list[dict[str, Any]] = []
        for c in ranked:
            if c.module and c.module not in {m["name"] for m in modules}:
                modules.append(
                    {
                        "type": "module",
                        "name": c.module,
                        "bytes": int(c.bytes),
                        "growth_bytes_per_s": c.growth_bytes_per_s,
                        "out_of_tree": c.module in out_of_tree,
                    }
                )
        return found + modules
    return []


# A cache growing at a tenth of the fastest one is background churn, not part of the story.
NOISE_FRACTION = 0.1


def _rank(items: list[Any], multi: bool) -> list[Any]:
    if multi:
        growing = [c for c in items if c.bytes.growth_bytes_per_s > 0 and c.bytes.delta > 0]
        growing.sort(key=lambda c: (-c.bytes.growth_bytes_per_s, -int(c.bytes)))
        if growing:
            floor = growing[0].bytes.growth_bytes_per_s * NOISE_FRACTION
            growing = [c for c in growing if c.bytes.growth_bytes_per_s >= floor]
        return growing
    return sorted(items, key=lambda c: -int(c.bytes))


def _cache(c: CacheStat) -> dict[str, Any]:
    return {
        "type": "slab-cache",
        "name": c.name,
        "bytes": int(c.bytes),
        "growth_bytes_per_s": c.growth_bytes_per_s,
        "objects": int(c.objects),
        "object_size": c.objsize,
        "reclaimable": c.reclaimable,
    }


def _caller(c: CallerStat) -> dict[str, Any]:
    return {
        "type": "vmalloc-caller",
        "name": c.caller,
        "bytes": int(c.bytes),
        "growth_bytes_per_s": c.growth_bytes_per_s,
        "areas": int(c.areas),
        "module": c.module,
    }
