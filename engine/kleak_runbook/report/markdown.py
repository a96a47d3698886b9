"""The markdown report (report.md), rendered from a ``Result`` in Jinja2's sandbox."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from kleak_runbook.decide.result import Result
from kleak_runbook.decide.units import human_bytes, percent
from kleak_runbook.derive.metrics import COMPONENT_LABELS, CacheStat
from kleak_runbook.memo import bytecode_cache

_ICONS = {"leak": "🔴", "suspected-leak": "🟠", "no-leak": "🟢", "inconclusive": "⚪"}
_SPARK = "▁▂▃▄▅▆▇█"
_PATH_KEYS = ("step", "title", "rule", "when", "finding", "next", "note", "inputs", "unevaluated")


def sparkline(values: tuple[int, ...] | list[int]) -> str:
    if len(values) < 2:
        return ""
    lo, hi = min(values), max(values)
    if hi == lo:
        return _SPARK[0] * len(values)
    return "".join(_SPARK[int((v - lo) * (len(_SPARK) - 1) / (hi - lo))] for v in values)


@functools.lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    """The report templates' environment. Compiled templates are kept in Jinja2's own bytecode
    cache under the memo's directory (kleak_runbook.memo), which Jinja2 checks against the
    template's source: compiling report.md.j2 is most of the time a report takes."""
    env = SandboxedEnvironment(
        loader=FileSystemLoader(str(Path(__file__).parent / "templates")),
        bytecode_cache=bytecode_cache("templates"),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["bytes"] = human_bytes
    env.filters["sbytes"] = lambda v: human_bytes(v, signed=True)
    env.filters["pct"] = percent
    return env


def _cache_row(c: CacheStat) -> dict[str, Any]:
    return {
        "name": c.name,
        "bytes": int(c.bytes),
        "objects": int(c.objects),
        "objsize": c.objsize,
        "growth": c.growth_bytes_per_s,
        "reclaimable": "?" if c.reclaimable is None else ("yes" if c.reclaimable else "no"),
    }


def render(result: Result) -> str:
    doc = result.document()
    rows = [
        {
            "label": COMPONENT_LABELS[key],
            "bytes": int(s),
            "delta": s.delta,
            "growth_bytes_per_s": s.growth_bytes_per_s,
            "spark": sparkline(s.values),
        }
        for key, s in result.kmem
    ]
    growing = sorted(
        (c for c in result.caches if c.growth_bytes_per_s > 0 and c.bytes.delta > 0),
        key=lambda c: -c.growth_bytes_per_s,
    )[:10]
    top = sorted(result.caches, key=lambda c: -int(c.bytes))[:10]
    evidence_files: list[str] = []
    if result.evidence_dir:
        root = Path(result.evidence_dir)
        evidence_files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    ctx = {
        **doc,
        "path": [{k: v.get(k) for k in _PATH_KEYS} for v in doc["path"]],
        "icon": _ICONS[result.verdict],
        "kernel_memory": rows,
        "mem_total": result.mem_total or 0,
        "mem_free": result.mem_free,
        "top_caches": [_cache_row(c) for c in top],
        "growing_caches": [_cache_row(c) for c in growing],
        "reclaim_source": result.reclaim_source,
        "top_callers": [
            {
                "name": c.caller,
                "module": c.module,
                "areas": int(c.areas),
                "bytes": int(c.bytes),
                "growth": c.growth_bytes_per_s,
                "percpu": c.percpu,
            }
            for c in result.callers[:10]
        ],
        "drop_caches": result.drop_caches,
        "evidence_files": evidence_files,
        "tool_version": doc["tool"].split()[-1],
    }
    return environment().get_template("report.md.j2").render(**ctx)
