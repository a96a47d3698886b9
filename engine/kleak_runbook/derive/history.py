"""Long-window rates for the rule context (``history.*``): from Prometheus or from earlier runs.

Each source becomes per-boot series of the same kernel-memory components the live samples
have (computed by the same ``metrics`` breakdown, so "unaccounted" means the same thing), fitted
robustly (``trend``). The source covering more time is the one rules read; the forecast says
when MemAvailable reaches zero at the leading component's rate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import MappingProxyType, SimpleNamespace
from typing import Any

from kleak_runbook.derive.kernel import Kernel
from kleak_runbook.derive.metrics import Metrics, is_reclaimable_name, kmem_breakdown
from kleak_runbook.derive.trend import Bin, Trend, bin_points, fit
from kleak_runbook.parsers.history import BaselineRun, BaselineRuns, Points, PromHistory
from kleak_runbook.parsers.host import HostEvidence
from kleak_runbook.parsers.meminfo import MemInfo

# the components a leak can be in, and the verdict kind each leads to
LEAK_KINDS = {
    "slab_unreclaimable": "slab-unreclaimable",
    "vmalloc": "vmalloc",
    "percpu": "percpu",
    "unaccounted": "page-allocator",
}
LABELS = {
    "slab_unreclaimable": "Unreclaimable slab (SUnreclaim)",
    "vmalloc": "vmalloc (VmallocUsed)",
    "percpu": "Per-CPU memory (Percpu)",
    "unaccounted": "Memory in no meminfo field",
}
BINS = 96  # time bins over a scraped window: ~1.75 h each over a week
REBOOT_JITTER_S = 60.0  # node_boot_time_seconds moves by a second or two with NTP; a reboot moves it by more
Segments = Sequence[Sequence[Bin]]
_PROM_CACHE: dict[int, tuple[PromHistory, Source | None, dict[str, Trend]]] = {}


@dataclass(frozen=True)
class Source:
    """One history source as per-boot binned series: what ``fit`` takes, and what a chart draws."""

    name: str  # prometheus | runs
    label: str  # for the report: the URL, or how many runs
    start: float  # unix time (prometheus) or uptime (runs) of the first point
    end: float
    unix: bool  # times are unix seconds (else the host's uptime)
    components: Mapping[str, Segments]
    available: Segments
    caches: Mapping[str, Segments] = field(default_factory=dict)
    reclaimable: Mapping[str, bool | None] = field(default_factory=dict)
    callers: Mapping[str, Segments] = field(default_factory=dict)
    modules: Mapping[str, str | None] = field(default_factory=dict)
    reboots: int = 0
    other_boots: int = 0  # earlier runs left out because the host rebooted since


def _segment_index(times: Sequence[float], boot: Points) -> list[int]:
    """Which boot each time belongs to (0, 1, ...), from node_boot_time_seconds."""
    btimes, bvals = boot
    out, seg, j, last = [], 0, 0, None
    for t in times:
        while j + 1 < len(btimes) and btimes[j + 1] <= t:
            j += 1
        value = bvals[j] if btimes and btimes[j] <= t + 1 else last
        if last is not None and value is not None and abs(value - last) > REBOOT_JITTER_S:
            seg += 1
        last = value if value is not None else last
        out.append(seg)
    return out


def _split(points: Sequence[tuple[float, float]], segs: Sequence[int], width: float) -> Segments:
    by: dict[int, list[tuple[float, float]]] = {}
    for p, s in zip(points, segs):
        by.setdefault(s, []).append(p)
    return [bin_points(by[s], width) for s in sorted(by)]


def from_prometheus(h: PromHistory, kernel: Kernel) -> Source | None:
    if "MemTotal" not in h.memory or "MemFree" not in h.memory:
        return None
    tables = {f: dict(zip(*pts)) for f, pts in h.memory.items()}
    times = sorted(set(tables["MemTotal"]) & set(tables["MemFree"]))
    fields = [f for f, tab in tables.items() if len(tab) >= 0.9 * len(times)]
    times = [t for t in times if all(t in tables[f] for f in fields)]
    if len(times) < 2:
        return None
    infos = [MemInfo(MappingProxyType({f: int(tables[f][t]) for f in fields})) for t in times]
    scratch = Metrics(times=None, sample_count=len(infos), window_s=0.0, mem_total=None)
    comps = kmem_breakdown(infos, None, kernel, None, None, scratch)  # the live runs' definitions, point by point
    segs = _segment_index(times, h.boot_time)
    width = max((times[-1] - times[0]) / BINS, h.step)
    components = {c: _split(list(zip(times, s.values)), segs, width) for c, s in comps.items()}
    avail = [(t, tables["MemAvailable"][t]) for t in times] if "MemAvailable" in fields else []
    caches = {}
    for name, (ct, cv) in h.slab.items():
        caches[name] = _split(list(zip(ct, cv)), _segment_index(ct, h.boot_time), width)
    return Source(
        name="prometheus",
        label=h.url,
        start=h.start,
        end=h.end,
        unix=True,
        components=components,
        available=_split(avail, segs, width),
        caches=caches,
        reboots=max(segs),
    )


def _current_points(evidence: HostEvidence, metrics: Metrics) -> list[tuple[float, Mapping[str, int], int | None]]:
    """(uptime, kmem, MemAvailable) for each live sample, when each has its uptime."""
    with_mem = evidence.with_spec("meminfo")
    if not metrics.kmem or len(with_mem) != metrics.sample_count:
        return []
    out: list[tuple[float, Mapping[str, int], int | None]] = []
    for i, s in enumerate(with_mem):
        if s.uptime is None:
            return []
        kmem = {c: ser.values[i] for c, ser in metrics.kmem.items()}
        out.append((float(s.uptime), kmem, s.values["meminfo"].get("MemAvailable")))
    return out


def from_runs(runs: BaselineRuns, boot_id: str | None, evidence: HostEvidence, metrics: Metrics) -> Source | None:
    """Earlier runs of this boot and this run, one bin per run, on the host's uptime clock."""
    same = [r for r in runs.runs if boot_id is not None and r.boot_id == boot_id]
    other = len(runs.runs) - len(same)
    current = _current_points(evidence, metrics)
    if not same or not current:
        return Source("runs", "", 0.0, 0.0, False, {}, [], other_boots=other) if other else None
    groups = [[(s.uptime, s.kmem, s.mem_available) for s in r.samples if s.uptime is not None] for r in same]
    groups = [*sorted((g for g in groups if g), key=lambda g: g[0][0]), current]
    comps: dict[str, Segments] = {}
    for c in metrics.kmem:
        comps[c] = [[[(t, float(k[c])) for t, k, _ in g if c in k] for g in groups]]
    avail = [[[(t, float(a)) for t, _, a in g if a is not None] for g in groups]]
    now = current[-1][0]
    caches_now = {c.name: int(c.bytes) for c in metrics.caches.values()}
    callers_now = {c.caller: int(c.bytes) for c in metrics.callers}
    return Source(
        name="runs",
        label=f"{len(same)} earlier run(s) of this boot",
        start=groups[0][0][0],
        end=now,
        unix=False,
        components=comps,
        available=avail,
        caches=_named(same, "caches", caches_now, now),
        reclaimable={c.name: c.reclaimable for c in metrics.caches.values()},
        callers=_named(same, "callers", callers_now, now),
        modules={c.caller: c.module for c in metrics.callers},
        other_boots=other,
    )


def _named(runs: Sequence[BaselineRun], attr: str, live: Mapping[str, int], now: float) -> dict[str, Segments]:
    """Per cache (or caller) now, its size at the end of each earlier run and now: one bin a run.

    A cache an earlier run did not have was empty then (caches come and go with modules)."""
    ends = [r.end_uptime for r in runs]
    out: dict[str, Segments] = {}
    for name, now_bytes in live.items():
        bins: list[list[tuple[float, float]]] = []
        for r, end in zip(runs, ends):
            if end is not None:
                bins.append([(end, float(getattr(r, attr).get(name, (0, None))[0]))])
        out[name] = [[*bins, [(now, float(now_bytes))]]]
    return out


def trends(src: Source) -> dict[str, Trend]:
    return {c: t for c, segs in src.components.items() if (t := fit(segs)) is not None}


def _threshold(component: str, params: Mapping[str, Any]) -> float:
    if component == "unaccounted":
        return float(params.get("min_history_unaccounted_growth_bytes_per_day", math.inf))
    return float(params.get("min_history_growth_bytes_per_day", math.inf))


def _grows(component: str, t: Trend, params: Mapping[str, Any]) -> bool:
    """The long-window leak test, stated once: fast enough, steady, adds up, and more than its own noise."""
    return (
        t.rate_per_day >= _threshold(component, params)
        and t.steadiness >= float(params.get("min_history_steadiness", 1.0))
        and t.grown >= float(params.get("min_history_growth_bytes", math.inf))
        and t.rate_per_day > 2 * t.error_per_day
    )


def _window(src: Source, t: Trend | None) -> str:
    days = t.days if t else (src.end - src.start) / 86400
    if days >= 1:
        return f"{days:.1f} days"
    hours = days * 24
    if hours >= 1:
        return f"{hours:.1f} hours"
    return f"{hours * 60:.0f} minutes" if hours * 60 >= 1 else f"{hours * 3600:.0f} seconds"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _ranked(series: Mapping[str, Segments], keep: Any) -> list[SimpleNamespace]:
    out = []
    for name, segs in series.items():
        if not keep(name):
            continue
        t = fit(segs)
        if t is not None and t.rate_per_day > 0 and t.last > t.first:
            out.append(SimpleNamespace(name=name, growth_bytes_per_day=round(t.rate_per_day), bytes=int(t.last)))
    out.sort(key=lambda c: -c.growth_bytes_per_day)
    lead = out[0].growth_bytes_per_day if out else 0
    return [c for c in out if c.growth_bytes_per_day >= 0.1 * lead][:10]  # a tenth of the leader is churn


def _reclaimable(src: Source, name: str) -> bool:
    known = src.reclaimable.get(name)
    return is_reclaimable_name(name) if known is None else known


def forecast(src: Source, t: Trend, live_available: int | None) -> SimpleNamespace | None:
    """Days until MemAvailable is gone at rate ``t`` (with the rate's one-sigma range)."""
    last = [b for seg in src.available for b in seg]
    avail = sorted(p[1] for p in last[-1]) if last else []
    available = avail[len(avail) // 2] if avail else live_available
    if available is None or t.rate_per_day <= 0:
        return None
    lo_rate, hi_rate = t.rate_per_day + t.error_per_day, t.rate_per_day - t.error_per_day
    return SimpleNamespace(
        available_bytes=int(available),
        rate_bytes_per_day=round(t.rate_per_day),
        days_to_zero=round(available / t.rate_per_day, 1),
        days_low=round(available / lo_rate, 1),
        days_high=round(available / hi_rate, 1) if hi_rate > 0 else None,
    )


def _component_view(c: str, t: Trend, params: Mapping[str, Any]) -> SimpleNamespace:
    return SimpleNamespace(
        growth_bytes_per_day=round(t.rate_per_day),
        error_bytes_per_day=round(t.error_per_day) if math.isfinite(t.error_per_day) else None,
        steadiness=t.steadiness,
        steady=t.steadiness >= float(params.get("min_history_steadiness", 1.0)),
        days=round(t.days, 3),
        grown_bytes=round(t.grown),
        points=t.points,
        grows=_grows(c, t, params),
        bytes=int(t.last),
    )


def view(
    src: Source, params: Mapping[str, Any], live_available: int | None, fitted: dict[str, Trend] | None = None
) -> SimpleNamespace:
    """The ``history`` rule-context namespace for one source (``fitted``: its trends, when already fitted)."""
    fitted = trends(src) if fitted is None else fitted
    comps = {c: _component_view(c, t, params) for c, t in fitted.items()}
    leaders = sorted(
        (c for c in LEAK_KINDS if c in comps and comps[c].grows), key=lambda c: -comps[c].growth_bytes_per_day
    )
    top = None
    if leaders:
        c = leaders[0]
        top = SimpleNamespace(
            kind=LEAK_KINDS[c], component=c, label=LABELS[c], growth_bytes_per_day=comps[c].growth_bytes_per_day
        )
    lead = fitted.get(leaders[0]) if leaders else None
    shown = lead or next(iter(fitted.values()), None)
    return SimpleNamespace(
        source=src.name,
        label=src.label,
        window=_window(src, shown),
        days=round(shown.days, 3) if shown else 0.0,
        start=_iso(src.start) if src.unix else None,
        end=_iso(src.end) if src.unix else None,
        reboots=src.reboots,
        other_boots=src.other_boots,
        boot_changed=src.name == "runs" and not fitted and src.other_boots > 0,
        kmem=SimpleNamespace(**comps),
        top=top,
        slab=SimpleNamespace(
            top_growing=_ranked(src.caches, lambda n: not _reclaimable(src, n)),
            top_growing_reclaimable=_ranked(src.caches, lambda n: _reclaimable(src, n)),
        ),
        vmalloc=SimpleNamespace(top_growing=_ranked(src.callers, lambda n: not n.startswith("pcpu_"))),
        modules=dict(src.modules),
        forecast=forecast(src, lead, live_available) if lead else None,
    )


def build(
    evidence: HostEvidence, metrics: Metrics, kernel: Kernel, params: Mapping[str, Any]
) -> tuple[SimpleNamespace, Source] | None:
    """The ``history`` namespace from whatever history the evidence holds (the source covering more time)."""
    sources: list[Source] = []
    fits: dict[int, dict[str, Trend]] = {}
    prom = evidence.static.get("prometheus_history")
    if isinstance(prom, PromHistory):
        # the same parsed history is derived again at every step: its series and fits, once
        cached = _PROM_CACHE.get(id(prom))
        if cached is None or cached[0] is not prom:
            src = from_prometheus(prom, kernel)
            cached = (prom, src, trends(src) if src is not None else {})
            _PROM_CACHE.clear()
            _PROM_CACHE[id(prom)] = cached
        if cached[1] is not None:
            sources.append(cached[1])
            fits[id(cached[1])] = cached[2]
    runs = evidence.static.get("baseline_runs")
    if isinstance(runs, BaselineRuns):
        src = from_runs(runs, evidence.static.get("boot_id"), evidence, metrics)
        if src is not None:
            sources.append(src)
    if not sources:
        return None
    best = max(sources, key=lambda s: (bool(s.components), s.end - s.start if s.components else 0.0))
    mem = metrics.meminfo.get("MemAvailable")
    out = view(best, params, int(mem) if mem is not None else None, fits.get(id(best)))
    out.series = best  # what the report's chart draws (not for rules)
    return out, best
