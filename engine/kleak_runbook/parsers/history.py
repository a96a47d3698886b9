"""History documents in a bundle (``history/prometheus.json``, ``history/runs.json``) → typed values.

``prometheus.json`` keeps what Prometheus answered (each query and its raw ``result``), so a
replay judges the same points; ``runs.json`` holds the earlier runs of the host found as a
baseline, one entry per run. No I/O here: the evidence stage wrote the text.

>>> h = parse_prometheus_history('{"format": 1, "url": "http://p:9090", "selector": "job=node", '
...     '"start": 0, "end": 120, "step": 60, "queries": {"memory": {"result": [{"metric": '
...     '{"__name__": "node_memory_SUnreclaim_bytes"}, "values": [[0, "100"], [60, "110"], [120, "125"]]}]}}}')
>>> h.memory["SUnreclaim"]
((0.0, 60.0, 120.0), (100.0, 110.0, 125.0))
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from kleak_runbook.errors import ParseError

Points = tuple[tuple[float, ...], tuple[float, ...]]  # (unix times, values)
_MEMORY_PREFIX, _MEMORY_SUFFIX = "node_memory_", "_bytes"


@dataclass(frozen=True)
class PromHistory:
    """What Prometheus holds for one host over the window: meminfo fields, boot times, slab caches."""

    url: str
    selector: str
    start: float
    end: float
    step: float
    memory: Mapping[str, Points]  # meminfo field (kernel spelling) -> points
    boot_time: Points
    slab: Mapping[str, Points]  # cache -> bytes (objects x object size)
    labels: Mapping[str, str] = field(default_factory=dict)  # the matched series' labels (instance, job, ...)

    def summary(self) -> str:
        days = (self.end - self.start) / 86400
        n = max((len(p[0]) for p in self.memory.values()), default=0)
        return f"Prometheus {self.url}: {len(self.memory)} meminfo series over {days:.1f} days, {n} points each at most"


@dataclass(frozen=True)
class BaselineSample:
    wall: str | None
    uptime: float | None
    kmem: Mapping[str, int]  # component -> bytes
    mem_available: int | None


@dataclass(frozen=True)
class BaselineRun:
    """One earlier run of the host: its samples' kernel-memory components, caches and callers at the end."""

    source: str  # the report directory it came from
    started_at: str
    boot_id: str | None
    verdict: str | None
    samples: tuple[BaselineSample, ...]
    caches: Mapping[str, tuple[int, bool | None]]  # name -> (bytes, reclaimable) at the last slab sample
    callers: Mapping[str, tuple[int, str | None]]  # caller -> (bytes, module) at the last vmalloc sample
    end_uptime: float | None  # the host's uptime at the last sample


@dataclass(frozen=True)
class BaselineRuns:
    runs: tuple[BaselineRun, ...]

    def summary(self) -> str:
        return f"{len(self.runs)} earlier run(s) of this host as a baseline"


def _load(text: str, what: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ParseError(what, f"not JSON ({str(exc)[:80]})", line=1) from None
    if not isinstance(data, dict) or data.get("format") != 1:
        raise ParseError(what, "expected a JSON object with format 1", line=1)
    return data


def _number(value: Any, what: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ParseError(what, f"not a number: {str(value)[:40]!r}") from None
    if not math.isfinite(out):
        raise ParseError(what, f"not a finite number: {str(value)[:40]!r}")
    return out


def _points(raw: Any, what: str) -> Points:
    if not isinstance(raw, list):
        raise ParseError(what, "values must be a list of [time, value] pairs")
    try:  # tens of thousands of pairs: one pass, no per-pair checks unless it fails
        pairs = [(float(t), float(v)) for t, v in raw]
    except (TypeError, ValueError):
        raise ParseError(what, "values must be a list of [time, value] pairs of numbers") from None
    # Prometheus spells missing values NaN: a gap, not a zero; a time must be a time
    kept = [p for p in pairs if math.isfinite(p[1]) and math.isfinite(p[0])]
    return tuple(p[0] for p in kept), tuple(p[1] for p in kept)


def _results(data: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
    query = (data.get("queries") or {}).get(name) or {}
    result = query.get("result") if isinstance(query, dict) else None
    if result is None:
        return []
    if not isinstance(result, list) or not all(isinstance(r, dict) for r in result):
        raise ParseError("prometheus_history", f"queries.{name}.result must be a list of series")
    return result


def _longest(series: list[dict[str, Any]], what: str) -> dict[str, Points]:
    """Per metric name, the series with the most points (two jobs may scrape the same host)."""
    best: dict[str, Points] = {}
    for s in series:
        metric = s.get("metric") or {}
        name = str(metric.get("__name__", ""))
        pts = _points(s.get("values"), what)
        if name and len(pts[0]) > len(best.get(name, ((), ()))[0]):
            best[name] = pts
    return best


def _field(metric: str) -> str:
    name = metric[len(_MEMORY_PREFIX) :]
    return name[: -len(_MEMORY_SUFFIX)] if name.endswith(_MEMORY_SUFFIX) else name


def _slab(series: list[dict[str, Any]]) -> dict[str, Points]:
    sizes: dict[str, float] = {}
    objects: dict[str, Points] = {}
    for s in series:
        metric = s.get("metric") or {}
        cache, name = str(metric.get("slab", "")), metric.get("__name__")
        pts = _points(s.get("values"), "prometheus_history")
        if not cache or not pts[0]:
            continue
        if name == "node_slabinfo_object_size_bytes":
            sizes[cache] = pts[1][-1]
        elif name == "node_slabinfo_objects" and len(pts[0]) > len(objects.get(cache, ((), ()))[0]):
            objects[cache] = pts
    return {c: (t, tuple(v * sizes[c] for v in vals)) for c, (t, vals) in objects.items() if c in sizes}


def parse_prometheus_history(text: str) -> PromHistory:
    data = _load(text, "prometheus_history")
    try:
        return _prometheus(data)
    except (AttributeError, TypeError, KeyError) as exc:  # a field of the wrong type: not what we wrote
        raise ParseError("prometheus_history", f"malformed ({type(exc).__name__}: {str(exc)[:80]})") from None


def _prometheus(data: dict[str, Any]) -> PromHistory:
    memory = {_field(k): v for k, v in _longest(_results(data, "memory"), "prometheus_history").items()}
    boot = _longest(_results(data, "boot_time"), "prometheus_history").get("node_boot_time_seconds", ((), ()))
    labels = {}
    for s in _results(data, "memory")[:1]:
        labels = {str(k): str(v) for k, v in (s.get("metric") or {}).items() if k != "__name__"}
    return PromHistory(
        url=str(data.get("url", "")),
        selector=str(data.get("selector", "")),
        start=_number(data.get("start"), "prometheus_history"),
        end=_number(data.get("end"), "prometheus_history"),
        step=_number(data.get("step"), "prometheus_history"),
        memory=MappingProxyType(memory),
        boot_time=boot,
        slab=MappingProxyType(_slab(_results(data, "slab"))),
        labels=MappingProxyType(labels),
    )


def _int_map(raw: Any, what: str) -> dict[str, int]:
    if not isinstance(raw, dict):
        raise ParseError(what, "expected a mapping of names to byte counts")
    return {str(k): int(_number(v, what)) for k, v in raw.items() if v is not None}


def _run(raw: Any) -> BaselineRun:
    what = "baseline_runs"
    if not isinstance(raw, dict):
        raise ParseError(what, "each run must be a JSON object")
    samples = []
    for s in raw.get("samples") or []:
        if not isinstance(s, dict):
            raise ParseError(what, "each sample must be a JSON object")
        up = s.get("uptime")
        avail = s.get("mem_available")
        samples.append(
            BaselineSample(
                wall=str(s["wall"]) if s.get("wall") else None,
                uptime=_number(up, what) if up is not None else None,
                kmem=MappingProxyType(_int_map(s.get("kmem") or {}, what)),
                mem_available=int(_number(avail, what)) if avail is not None else None,
            )
        )
    caches = {str(k): (int(_number(v[0], what)), v[1]) for k, v in (raw.get("caches") or {}).items()}
    callers = {str(k): (int(_number(v[0], what)), v[1]) for k, v in (raw.get("callers") or {}).items()}
    end_up = raw.get("end_uptime")
    return BaselineRun(
        source=str(raw.get("source", "")),
        started_at=str(raw.get("started_at", "")),
        boot_id=str(raw["boot_id"]).strip() if raw.get("boot_id") else None,
        verdict=str(raw["verdict"]) if raw.get("verdict") else None,
        samples=tuple(samples),
        caches=MappingProxyType(caches),
        callers=MappingProxyType(callers),
        end_uptime=_number(end_up, what) if end_up is not None else None,
    )


def parse_baseline_runs(text: str) -> BaselineRuns:
    data = _load(text, "baseline_runs")
    runs = data.get("runs")
    if not isinstance(runs, list):
        raise ParseError("baseline_runs", "runs must be a list")
    try:
        return BaselineRuns(tuple(_run(r) for r in runs))
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise ParseError("baseline_runs", f"malformed run ({type(exc).__name__}: {exc})") from None


def parse_boot_id(text: str) -> str:
    value = text.strip()
    if not value or len(value) > 64 or any(c.isspace() for c in value):
        raise ParseError("boot_id", f"expected one identifier, got {value[:40]!r}", line=1)
    return value
