"""Which growing component explains the growth: by rate, and by mechanism, never by rule order.

Every kernel-memory component that grows steadily past its own thresholds (the runbook's params)
is a ``Grower``; the primary one is the fastest, once each component is credited with what its
own mechanism drags along: per-CPU chunks are vmalloc'd, so the vmalloc growth of ``pcpu_*``
callers is the per-CPU allocator's; vmalloc's own bookkeeping (``vmap_area``, small kmalloc
objects) grows unreclaimable slab by a sliver of the vmalloc rate. Growth smaller than
``side_growth_ratio`` of the primary's is reported as its side effect.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kleak_runbook.derive.metrics import Metrics

# component -> (kind, rate param, total param, divisor of both)
_RULES = {
    "slab_unreclaimable": ("slab-unreclaimable", "min_growth_bytes_per_s", "min_growth_bytes", 1),
    "slab_reclaimable": ("slab-reclaimable", "min_growth_bytes_per_s", "min_growth_bytes", 1),
    "vmalloc": ("vmalloc", "min_growth_bytes_per_s", "min_growth_bytes", 1),
    "percpu": ("percpu", "min_growth_bytes_per_s", "min_growth_bytes", 4),
    "unaccounted": ("page-allocator", "min_unaccounted_growth_bytes_per_s", "min_growth_bytes", 1),
}


@dataclass(frozen=True)
class Grower:
    component: str
    kind: str
    rate: float  # bytes/s, as credited to this component's own mechanism
    delta: int
    side_effect_of: str | None = None  # the primary component this growth follows, when it is small
    cache: bool = False  # reclaimable slab growing as a working cache does (slow, small): no leak suspected


@dataclass(frozen=True)
class Growth:
    growers: tuple[Grower, ...]  # fastest first

    @property
    def top(self) -> Grower | None:
        """The fastest growth that is neither a side effect nor a working cache."""
        return next((g for g in self.growers if g.side_effect_of is None and not g.cache), None)

    @property
    def side_effects(self) -> list[Grower]:
        return [g for g in self.growers if g.side_effect_of is not None]


def judge(metrics: Metrics, params: Mapping[str, Any]) -> Growth:
    kmem = metrics.kmem
    percpu_chunks = sum(c.growth_bytes_per_s for c in metrics.callers if c.percpu and c.growth_bytes_per_s > 0)
    found: list[Grower] = []
    for component, (kind, rate_param, total_param, divisor) in _RULES.items():
        series = kmem.get(component)
        if series is None or rate_param not in params or total_param not in params:
            continue
        rate = series.growth_bytes_per_s
        if component == "vmalloc" and "percpu" in kmem:
            rate -= percpu_chunks  # per-CPU chunks are the per-CPU allocator's
        if component == "percpu":
            rate = max(rate, percpu_chunks)
        threshold = float(params[rate_param]) / divisor
        if rate >= threshold and series.steady and series.delta >= float(params[total_param]) / divisor:
            cache = False
            if component == "slab_reclaimable":  # a cache grows whenever files are touched
                fast = rate >= float(params.get("min_reclaimable_growth_bytes_per_s", 0))
                total = metrics.mem_total
                large = total is not None and int(series) > float(params.get("large_reclaimable_fraction", 1)) * total
                cache = not (fast or large)
            found.append(Grower(component, kind, rate, series.delta, cache=cache))
    found.sort(key=lambda g: -g.rate)
    if not found:
        return Growth(())
    ratio = float(params.get("side_growth_ratio", 0.2))
    primary = found[0]
    out = [primary]
    for g in found[1:]:
        side = primary.component if g.rate < ratio * primary.rate else None
        out.append(Grower(g.component, g.kind, g.rate, g.delta, side, g.cache))
    return Growth(tuple(out))
