"""Which growing component explains the growth: by rate, and by mechanism, never by rule order.

Every kernel-memory component that grows steadily past its own thresholds (the runbook's params)
is a ``Grower``; the primary one is the fastest, once each component is credited with what its
own mechanism drags along: per-CPU chunks are vmalloc'd, so the vmalloc growth of ``pcpu_*``
callers is the per-CPU allocator's; vmalloc's own bookkeeping (``vmap_area``, small kmalloc
objects) grows unreclaimable slab by a sliver of the vmalloc rate. Growth smaller than
``side_growth_ratio`` of the primary's is reported as its side effect.

Over a long window (samples an hour or more apart: a ticket that shows /proc/meminfo after
boot and again hours later) a leak shows at a far lower rate than the short-window threshold:
growth at every sample for ``long_window_s`` or more, at ``min_slow_growth_bytes_per_day`` or
faster, is a *slow* grower: a suspected slow leak of its kind, never outranking a fast one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kleak_runbook.derive.metrics import COMPONENT_LABELS, Metrics

# component -> (kind, rate param, total param, divisor of both)
_RULES = {
    "slab_unreclaimable": ("slab-unreclaimable", "min_growth_bytes_per_s", "min_growth_bytes", 1),
    "slab_reclaimable": ("slab-reclaimable", "min_growth_bytes_per_s", "min_growth_bytes", 1),
    "vmalloc": ("vmalloc", "min_growth_bytes_per_s", "min_growth_bytes", 1),
    "percpu": ("percpu", "min_growth_bytes_per_s", "min_growth_bytes", 4),
    "unaccounted": ("page-allocator", "min_unaccounted_growth_bytes_per_s", "min_growth_bytes", 1),
    # Slab without its reclaimable split (kernels before 2.6.19, a grep of "Slab" alone): its kind
    # is told by MemAvailable (_slab_kind)
    "slab_total": ("slab-unreclaimable", "min_growth_bytes_per_s", "min_growth_bytes", 1),
}


@dataclass(frozen=True)
class Grower:
    component: str
    kind: str
    rate: float  # bytes/s, as credited to this component's own mechanism
    delta: int
    side_effect_of: str | None = None  # the primary component this growth follows, when it is small
    cache: bool = False  # reclaimable slab growing as a working cache does (slow, small): no leak suspected
    slow: bool = False  # below the short-window rate, but steady over a long window

    @property
    def rate_per_day(self) -> float:
        return self.rate * 86400

    @property
    def label(self) -> str:
        """What the reader knows it by: "Slab, unreclaimable (SUnreclaim)"."""
        return COMPONENT_LABELS.get(self.component, self.component)


@dataclass(frozen=True)
class Growth:
    growers: tuple[Grower, ...]  # fastest first

    @property
    def top(self) -> Grower | None:
        """The fastest growth that is neither a side effect nor a working cache."""
        return next((g for g in self.growers if g.side_effect_of is None and not g.cache and not g.slow), None)

    @property
    def slow(self) -> Grower | None:
        """When nothing grows fast: the fastest slow growth that is not a working cache."""
        if self.top is not None:
            return None
        return next((g for g in self.growers if g.slow and not g.cache), None)

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
        fast = rate >= threshold and series.steady and series.delta >= float(params[total_param]) / divisor
        slow = not fast and _slow(metrics, series, rate, params, divisor * (4 if component == "unaccounted" else 1))
        if fast or slow:
            cache = False
            if component == "slab_reclaimable":  # a cache grows whenever files are touched
                quick = rate >= float(params.get("min_reclaimable_growth_bytes_per_s", 0))
                total = metrics.mem_total
                large = total is not None and int(series) > float(params.get("large_reclaimable_fraction", 1)) * total
                cache = slow or not (quick or large)
            if component == "slab_total":
                kind = _slab_kind(metrics, series.delta)
                cache = kind == "slab-reclaimable" and (
                    slow or rate < float(params.get("min_reclaimable_growth_bytes_per_s", 0))
                )
            found.append(Grower(component, kind, rate, series.delta, cache=cache, slow=slow))
    found.sort(key=lambda g: (g.slow, -g.rate))
    if not found:
        return Growth(())
    ratio = float(params.get("side_growth_ratio", 0.2))
    primary = found[0]
    out = [primary]
    for g in found[1:]:
        side = primary.component if g.rate < ratio * primary.rate else None
        out.append(Grower(g.component, g.kind, g.rate, g.delta, side, g.cache, g.slow))
    return Growth(tuple(out))


def _slab_kind(metrics: Metrics, delta: int) -> str:
    """Slab that grew with no reclaimable split: MemAvailable counts reclaimable slab as available,
    so slab that took MemAvailable down with it (by half its growth or more) is unreclaimable, slab
    that did not is reclaimable; without MemAvailable, unreclaimable (the kind that leaks)."""
    avail = metrics.meminfo.get("MemAvailable")
    if avail is None or delta <= 0:
        return "slab-unreclaimable"
    return "slab-unreclaimable" if avail.delta <= -0.5 * delta else "slab-reclaimable"


def _slow(metrics: Metrics, series: Any, rate: float, params: Mapping[str, Any], divisor: float) -> bool:
    """Steady growth over a long window at the slow-leak rate (unaccounted memory needs 4x: it is noisy)."""
    window, per_day = params.get("long_window_s"), params.get("min_slow_growth_bytes_per_day")
    if window is None or per_day is None or metrics.sample_count < 3 or metrics.window_s < float(window):
        return False
    return bool(series.steady) and rate * 86400 >= float(per_day) / divisor
