"""Naming what leaks: every culprit is made and ranked here (caches, vmalloc callers, backtraces, modules).

Culprits of growth are ranked by growth rate, biggest first (biggest size first when the
evidence is one snapshot); a candidate growing at less than a tenth of the leader's rate is
background churn, not part of the story. The same cut applies to attribution sites by bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kleak_runbook.derive.metrics import CacheStat, CallerStat, Metrics, SiteStat
from kleak_runbook.parsers.kmemleak import is_allocator, parse_frame
from kleak_runbook.probes.base import Attribution

TOP = 5
# A candidate at a tenth of the leader is background churn, not part of the story.
NOISE_FRACTION = 0.1


@dataclass(frozen=True)
class Culprit:
    type: str  # slab-cache | vmalloc-caller | backtrace | module
    name: str
    bytes: int
    growth_bytes_per_s: float | None
    extra: tuple[tuple[str, Any], ...] = field(default=())  # type-specific fields, in document order

    def get(self, key: str, default: Any = None) -> Any:
        return dict(self.extra).get(key, default)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "name": self.name, "bytes": self.bytes}
        out["growth_bytes_per_s"] = self.growth_bytes_per_s
        out.update(self.extra)
        return out


def _above_noise(items: list[Any], key: Any) -> list[Any]:
    if not items:
        return items
    floor = key(items[0]) * NOISE_FRACTION
    return [c for c in items if key(c) >= floor]


def _rank(items: Sequence[CacheStat | CallerStat], multi: bool) -> list[Any]:
    if multi:
        growing = [c for c in items if c.bytes.growth_bytes_per_s > 0 and c.bytes.delta > 0]
        growing.sort(key=lambda c: (-c.bytes.growth_bytes_per_s, -int(c.bytes)))
        return _above_noise(growing, lambda c: c.bytes.growth_bytes_per_s)
    return sorted(items, key=lambda c: -int(c.bytes))


def _cache(c: CacheStat) -> Culprit:
    extra = (("objects", int(c.objects)), ("object_size", c.objsize), ("reclaimable", c.reclaimable))
    return Culprit("slab-cache", c.name, int(c.bytes), c.growth_bytes_per_s, extra)


def _caller(c: CallerStat) -> Culprit:
    extra = (("areas", int(c.areas)), ("module", c.module))
    return Culprit("vmalloc-caller", c.caller, int(c.bytes), c.growth_bytes_per_s, extra)


def _module(name: str, nbytes: int, growth: float | None, out_of_tree: frozenset[str]) -> Culprit:
    return Culprit("module", name, nbytes, growth, (("out_of_tree", name in out_of_tree),))


def from_metrics(source: str, metrics: Metrics, out_of_tree: frozenset[str]) -> list[Culprit]:
    """The caches or callers of ``source`` (a verdict kind), with the modules behind callers."""
    multi = metrics.sample_count >= 2
    if source in ("slab-unreclaimable", "slab-reclaimable"):
        want_reclaimable = source == "slab-reclaimable"
        caches = [c for c in metrics.caches.values() if (c.reclaimable is True) == want_reclaimable]
        return [_cache(c) for c in _rank(caches, multi)][:TOP]
    if source in ("vmalloc", "percpu"):
        ranked = _rank([c for c in metrics.callers if c.percpu == (source == "percpu")], multi)[:TOP]
        found = [_caller(c) for c in ranked]
        modules: dict[str, Culprit] = {}
        for c in ranked:
            if c.module and c.module not in modules:
                modules[c.module] = _module(c.module, int(c.bytes), c.growth_bytes_per_s, out_of_tree)
        return found + list(modules.values())
    return []


def _site(t: SiteStat) -> Culprit:
    extra = (("source", "allocinfo"), ("location", t.site.where), ("count", int(t.calls)), ("module", t.site.module))
    growth = t.growth_bytes_per_s or None
    return Culprit("backtrace", t.name, int(t.bytes), growth, extra)


def from_sites(kind: str, metrics: Metrics) -> list[Culprit]:
    """Memory allocation profiling's tags behind a verdict: across outputs, the kernel's own tags
    that grew (by rate, or by how much between outputs without times), whatever their kind (a tag's
    function only hints at its allocator); in one output, the biggest of the verdict's kind."""
    own = [t for t in metrics.sites if t.own and t.kind != "slab-reclaimable"]
    if any(len(t.bytes.values) > 1 for t in own):
        grown = [t for t in own if t.bytes.delta > 0]
        grown.sort(key=lambda t: (-t.growth_bytes_per_s, -t.bytes.delta))
        return [_site(t) for t in _above_noise(grown, lambda t: t.bytes.delta)[:3]]
    ranked = sorted((t for t in own if t.kind == kind), key=lambda t: -int(t.bytes))
    return [_site(t) for t in _above_noise(ranked, lambda t: int(t.bytes))[:3]]


def biggest_shown(metrics: Metrics) -> tuple[Culprit, ...]:
    """The biggest caches and vmalloc callers of the evidence, whatever their kind: what a report
    names as the largest when no MemTotal breakdown says where memory is."""
    found = [_cache(c) for c in metrics.caches.values()] + [_caller(c) for c in metrics.callers]
    found += [_site(t) for t in metrics.sites if t.own]
    return tuple(sorted(found, key=lambda c: -c.bytes)[:TOP])


def from_attributions(attrs: Iterable[Attribution]) -> list[Culprit]:
    out: list[Culprit] = []
    for a in attrs:
        for s in _above_noise(list(a.sites[:3]), lambda s: s.bytes):
            extra: list[tuple[str, Any]] = [
                ("source", a.probe),
                ("count", s.count),
                ("module", s.module),
                ("stack", list(s.stack[:12])),
            ]
            if s.match is not None:
                extra.append(("rate_matches_growth", s.match))
            growth = round(s.rate_bytes_per_s, 1) if s.rate_bytes_per_s else None
            out.append(Culprit("backtrace", s.name, s.bytes, growth, tuple(extra)))
    return out


def patched_frame(
    culprits: Sequence[Culprit], patched: Sequence[str], modules: bool = True
) -> tuple[tuple[Culprit, ...], bool]:
    """A patch fixing the leak a trace shows names the code at fault (its subject, the functions its
    hunks change): the first frame of the biggest trace that is such a function, or else (with
    ``modules``) in such a module, goes first; the allocator's callers it fixes around (dst_alloc,
    kstrdup) follow. Also whether the patch names a frame of the trace at all."""
    names = set(patched)
    trace = next((c for c in culprits if c.type == "backtrace" and c.get("stack")), None)
    if trace is None or not names:
        return tuple(culprits), False
    frames = [f for f in map(parse_frame, trace.get("stack")) if f and f.function and not is_allocator(f.function)]
    frame = next((f for f in frames if f.function and f.function.lstrip(".") in names), None)
    if frame is None and modules:
        frame = next((f for f in frames if f.module in names), None)
    if frame is None:
        return tuple(culprits), False
    if frame.key == trace.name:
        return tuple(culprits), True
    fixed = Culprit(
        "backtrace",
        frame.key,
        trace.bytes,
        trace.growth_bytes_per_s,
        (("source", "the frame of the trace the patch names"), ("module", frame.module)),
    )
    return (fixed, *culprits), True


def pick(
    source: str, kind: str, metrics: Metrics | None, attrs: Iterable[Attribution], out_of_tree: frozenset[str]
) -> tuple[Culprit, ...]:
    """All culprits of a verdict, in report order: measured ones, then attributed code, then the
    modules that code lives in (each module once)."""
    if kind == "none":
        return ()
    culprits = from_metrics(source, metrics, out_of_tree) if metrics is not None else []
    culprits += from_attributions(attrs)
    if metrics is not None and metrics.sites:
        culprits += from_sites(kind, metrics)
    named = {c.name for c in culprits if c.type == "module"}
    for c in list(culprits):
        mod = c.get("module")
        if c.type == "backtrace" and mod and mod not in named:
            named.add(mod)
            culprits.append(_module(mod, c.bytes, c.growth_bytes_per_s, out_of_tree))
    return tuple(culprits)
