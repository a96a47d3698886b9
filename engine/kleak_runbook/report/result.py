"""The result document (result.json) and the markdown report, built from one host's walk."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from kleak_runbook import __version__
from kleak_runbook.decide.advice import advise
from kleak_runbook.decide.context import KernelFacts
from kleak_runbook.decide.culprits import pick
from kleak_runbook.decide.expressions import human_bytes, percent
from kleak_runbook.decide.knowledge_bridge import known_bugs
from kleak_runbook.decide.walker import HostWalk
from kleak_runbook.derive.metrics import COMPONENTS
from kleak_runbook.probes.attribution import Attribution, culprits_from

ATTRIBUTION_PROBES = ("slub_traces", "kmemleak", "page_owner", "trace_slab", "trace_pages")
EXIT_CODES = {"no-leak": 0, "leak": 1, "suspected-leak": 1, "inconclusive": 3}
_ICONS = {"leak": "🔴", "suspected-leak": "🟠", "no-leak": "🟢", "inconclusive": "⚪"}
_SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values: tuple[int, ...] | list[int]) -> str:
    if len(values) < 2:
        return ""
    lo, hi = min(values), max(values)
    if hi == lo:
        return _SPARK[0] * len(values)
    return "".join(_SPARK[int((v - lo) * (len(_SPARK) - 1) / (hi - lo))] for v in values)


def document(walk: HostWalk, runbook_name: str, evidence_dir: Path | None, consent: list[str]) -> dict[str, Any]:
    m = walk.metrics
    facts = walk.facts
    verdict = walk.verdict or "inconclusive"
    kind = walk.kind or "unknown"
    out_of_tree: frozenset[str] = frozenset()
    mods = walk.context.get("modules")
    if mods:
        out_of_tree = frozenset(x.name for x in mods if x.out_of_tree)
    source = walk.terminal.culprits if walk.terminal else "none"
    culprits = pick(source, m, out_of_tree) if m is not None and kind != "none" else []
    probes = walk.context.get("probes")
    attrs = [
        a for a in (getattr(probes, n, None) for n in ATTRIBUTION_PROBES) if isinstance(a, Attribution) and a.available
    ]
    if kind != "none":
        culprits += culprits_from(attrs)
    named = {c["name"] for c in culprits if c["type"] == "module"}
    for c in list(culprits):
        mod = c.get("module")
        if c["type"] == "backtrace" and mod and mod not in named:
            named.add(mod)
            culprits.append(
                {
                    "type": "module",
                    "name": mod,
                    "bytes": c["bytes"],
                    "growth_bytes_per_s": c.get("growth_bytes_per_s"),
                    "out_of_tree": mod in out_of_tree,
                }
            )
    kmem: dict[str, Any] = {}
    if m is not None:
        for key, _label in COMPONENTS:
            s = m.kmem.get(key)
            if s is not None:
                kmem[key] = {
                    "bytes": int(s),
                    "first_bytes": s.first,
                    "delta_bytes": s.delta,
                    "growth_bytes_per_s": s.growth_bytes_per_s,
                    "steady": s.steady,
                    "values": list(s.values),
                }
    upstream = facts.upstream if facts else None
    bugs = known_bugs(walk, kind)
    taint = _taint(walk)
    doc: dict[str, Any] = {
        "schema": 1,
        "tool": f"kleak-runbook {__version__}",
        "host": walk.host,
        "runbook": runbook_name,
        "started_at": walk.started_at,
        "finished_at": walk.finished_at,
        "kernel": {**(facts or KernelFacts()).as_dict(), **taint},
        "verdict": verdict,
        "kind": kind,
        "summary": walk.summary,
        "culprits": culprits,
        "path": [v.as_dict() for v in walk.visits],
        "findings": walk.findings,
        "known_bugs": bugs,
        "evidence_gaps": [{"item": g.item, "status": g.status, "reason": g.reason} for g in walk.store.gaps],
        "notes": walk.notes + (m.notes if m else []),
        "samples": {
            "count": m.sample_count if m else 0,
            "window_s": m.window_s if m else 0,
            "times_s": list(m.times) if m and m.times else [],
        },
        "mem_total_bytes": m.mem_total if m else None,
        "kernel_memory": kmem,
        "attribution": {
            n: _attribution_dict(getattr(probes, n))
            for n in ATTRIBUTION_PROBES
            if probes is not None and n in walk.store.probes
        },
        "vmalloc_source": m.vmalloc_source if m else None,
        "consent": consent,
        "advice": advise(
            kind,
            verdict,
            culprits,
            upstream,
            facts.distro_id if facts else None,
            facts.release if facts else None,
            taint.get("out_of_tree_modules"),
        ),
        "evidence_dir": str(evidence_dir) if evidence_dir else None,
        "exit_code": EXIT_CODES[verdict],
    }
    return doc


def _taint(walk: HostWalk) -> dict[str, Any]:
    out: dict[str, Any] = {}
    t = walk.context.get("tainted")
    if t is not None:
        out["tainted"] = {"value": t.value, "flags": [f"{f.letter}: {f.description}" for f in t.flags]}
    mods = walk.context.get("modules")
    if mods is not None:
        out["out_of_tree_modules"] = [f"{m.name} ({m.taints})" for m in mods if m.out_of_tree or m.proprietary]
    return out


def _attribution_dict(a: Attribution) -> dict[str, Any]:
    return {
        "ran": a.ran,
        "available": a.available,
        "reason": a.reason,
        "enable": a.enable,
        "details": a.details,
        "sites": [
            {
                "name": s.name,
                "module": s.module,
                "bytes": s.bytes,
                "count": s.count,
                "rate_bytes_per_s": s.rate_bytes_per_s,
                "rate_matches_growth": s.match,
                "stack": list(s.stack[:16]),
            }
            for s in a.sites[:10]
        ],
    }


@functools.lru_cache(maxsize=1)
def report_environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=FileSystemLoader(str(Path(__file__).parent / "templates")),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["bytes"] = human_bytes
    env.filters["sbytes"] = lambda v: human_bytes(v, signed=True)
    env.filters["pct"] = percent
    return env


def render_report(doc: dict[str, Any], walk: HostWalk) -> str:
    env = report_environment()
    m = walk.metrics
    rows = []
    labels = dict(COMPONENTS)
    for key, data in doc["kernel_memory"].items():
        rows.append(
            {
                "label": labels[key],
                "bytes": data["bytes"],
                "delta": data["delta_bytes"],
                "growth_bytes_per_s": data["growth_bytes_per_s"],
                "spark": sparkline(data["values"]),
            }
        )
    caches = list(m.caches.values()) if m else []

    def cache_row(c: Any) -> dict[str, Any]:
        return {
            "name": c.name,
            "bytes": int(c.bytes),
            "objects": int(c.objects),
            "objsize": c.objsize,
            "growth": c.growth_bytes_per_s,
            "reclaimable": {True: "yes", False: "no"}.get(c.reclaimable, "?"),
        }

    growing = sorted(
        (c for c in caches if c.growth_bytes_per_s > 0 and c.bytes.delta > 0),
        key=lambda c: -c.growth_bytes_per_s,
    )[:10]
    top = sorted(caches, key=lambda c: -int(c.bytes))[:10]
    callers = m.callers[:10] if m else []
    evidence_files: list[str] = []
    if doc["evidence_dir"]:
        root = Path(doc["evidence_dir"])
        evidence_files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    drop = walk.context.get("probes")
    drop_caches = getattr(drop, "drop_caches", None) if drop else None
    show_drop = drop_caches is not None and (drop_caches.ran or "drop_caches" in walk.store.probes)
    keys = ("step", "title", "rule", "when", "finding", "next", "note", "inputs", "unevaluated")
    ctx = {
        **doc,
        "path": [{k: v.get(k) for k in keys} for v in doc["path"]],
        "icon": _ICONS[doc["verdict"]],
        "kernel_memory": rows,
        "mem_total": doc["mem_total_bytes"] or 0,
        "mem_free": int(m.meminfo["MemFree"]) if m and "MemFree" in m.meminfo else 0,
        "top_caches": [cache_row(c) for c in top],
        "growing_caches": [cache_row(c) for c in growing],
        "reclaim_source": m.reclaim_source if m else "",
        "top_callers": [
            {
                "name": c.caller,
                "module": c.module,
                "areas": int(c.areas),
                "bytes": int(c.bytes),
                "growth": c.growth_bytes_per_s,
                "percpu": c.percpu,
            }
            for c in callers
        ],
        "drop_caches": drop_caches if show_drop else None,
        "evidence_files": evidence_files,
        "tool_version": doc["tool"].split()[-1],
    }
    return env.get_template("report.md.j2").render(**ctx)


def write(report_dir: Path, doc: dict[str, Any], report: str) -> None:
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "result.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (report_dir / "report.md").write_text(report, encoding="utf-8")
