"""What a long-window verdict adds to the result: culprits from the caches and vmalloc callers
that grew across the window, and the ``history`` section of the result document."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from kleak_runbook.decide.culprits import TOP, Culprit

DAY = 86400.0


def reached_from_history(visits: list[Any]) -> bool:
    """The walk left a step by a rule that read the long window."""
    return any("history." in (v.when or "") for v in visits)


def culprits(hist: SimpleNamespace, kind: str) -> tuple[Culprit, ...]:
    if kind == "slab-unreclaimable":
        return tuple(
            Culprit("slab-cache", c.name, c.bytes, round(c.growth_bytes_per_day / DAY, 1), _per_day(c))
            for c in hist.slab.top_growing[:TOP]
        )
    if kind == "vmalloc":
        found = [
            Culprit(
                "vmalloc-caller",
                c.name,
                c.bytes,
                round(c.growth_bytes_per_day / DAY, 1),
                (*_per_day(c), ("module", hist.modules.get(c.name))),
            )
            for c in hist.vmalloc.top_growing[:TOP]
        ]
        modules = {m: c for c in found if (m := c.get("module"))}
        return tuple(found) + tuple(
            Culprit("module", m, c.bytes, c.growth_bytes_per_s, (("out_of_tree", None),)) for m, c in modules.items()
        )
    return ()


def _per_day(c: SimpleNamespace) -> tuple[tuple[str, Any], ...]:
    return (("growth_bytes_per_day", c.growth_bytes_per_day), ("source", "history"))


def document(hist: SimpleNamespace, chart: str | None) -> dict[str, Any]:
    """``result.json``'s ``history``: the window, the rates per day, the forecast."""
    comps = {
        name: {
            "growth_bytes_per_day": v.growth_bytes_per_day,
            "error_bytes_per_day": v.error_bytes_per_day,
            "steadiness": v.steadiness,
            "days": v.days,
            "grown_bytes": v.grown_bytes,
            "grows": v.grows,
            "bytes": v.bytes,
        }
        for name, v in vars(hist.kmem).items()
    }
    fc = hist.forecast
    return {
        "source": hist.source,
        "label": hist.label,
        "window": hist.window,
        "days": hist.days,
        "start": hist.start,
        "end": hist.end,
        "reboots": hist.reboots,
        "other_boots": hist.other_boots,
        "top": vars(hist.top) if hist.top else None,
        "kernel_memory": comps,
        "slab_top_growing": [vars(c) for c in hist.slab.top_growing],
        "vmalloc_top_growing": [vars(c) for c in hist.vmalloc.top_growing],
        "forecast": vars(fc) if fc else None,
        "chart": chart,
    }
