"""The ``Result``: everything decided about one host, frozen. Renderers and sinks take only this.

``document()`` is the result document (``result.json``, ``--format json``); its fields are a
contract (README, "The result document"): fields are only ever added.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kleak_runbook import __version__
from kleak_runbook.decide.culprits import Culprit
from kleak_runbook.derive.kernel import Kernel
from kleak_runbook.derive.memory import Breakdown
from kleak_runbook.derive.metrics import CacheStat, CallerStat
from kleak_runbook.derive.series import Series
from kleak_runbook.evidence.store import Gap
from kleak_runbook.probes.base import Attribution

EXIT_CODES = {"no-leak": 0, "leak": 1, "suspected-leak": 1, "inconclusive": 3}


@dataclass(frozen=True)
class Result:
    host: str
    runbook: str
    started_at: str
    finished_at: str | None
    kernel: Kernel
    taint: dict[str, Any]  # tainted {value, flags}, out_of_tree_modules
    verdict: str
    kind: str
    summary: str
    culprits: tuple[Culprit, ...]
    path: tuple[dict[str, Any], ...]  # steps visited, each with the rule that fired and its inputs
    findings: tuple[str, ...]
    known_bugs: tuple[dict[str, Any], ...]
    gaps: tuple[Gap, ...]
    notes: tuple[str, ...]
    sample_count: int
    window_s: float
    times_s: tuple[float, ...]
    mem_total: int | None
    mem_free: int
    kmem: tuple[tuple[str, Series], ...]  # (component, series) in COMPONENTS order
    attribution: dict[str, Attribution]  # probes that ran or were skipped on this host
    vmalloc_source: str | None
    reclaim_source: str
    consent: tuple[str, ...]
    advice: dict[str, Any]
    caches: tuple[CacheStat, ...] = ()
    callers: tuple[CallerStat, ...] = ()
    drop_caches: Any = None  # probes.drop_caches.DropCaches, when the reclaim test ran or was skipped here
    evidence_summaries: tuple[tuple[str, str], ...] = ()  # (evidence, one line) for other evidence read
    evidence_dir: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # replayed_from, ...
    interrupted: str | None = None  # the run was cut short: what was under way
    memory: Breakdown | None = None  # MemTotal, split into parts that add up to it
    largest: tuple[Culprit, ...] = ()  # on a no-leak verdict: the biggest caches or callers of the kind
    history: dict[str, Any] | None = None  # long-window rates, forecast and chart (Prometheus, earlier runs)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    def document(self) -> dict[str, Any]:
        kmem: dict[str, Any] = {
            key: {
                "bytes": int(s),
                "first_bytes": s.first,
                "delta_bytes": s.delta,
                "growth_bytes_per_s": s.growth_bytes_per_s,
                "steady": s.steady,
                "values": list(s.values),
            }
            for key, s in self.kmem
        }
        return {
            "schema": 1,
            "tool": f"kleak-runbook {__version__}",
            "host": self.host,
            "runbook": self.runbook,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "kernel": {**self.kernel.as_dict(), **self.taint},
            "verdict": self.verdict,
            "kind": self.kind,
            "summary": self.summary,
            "culprits": [c.as_dict() for c in self.culprits],
            "largest": [c.as_dict() for c in self.largest],
            "path": list(self.path),
            "findings": list(self.findings),
            "known_bugs": list(self.known_bugs),
            "evidence_gaps": [{"item": g.item, "status": g.status, "reason": g.reason} for g in self.gaps],
            "notes": list(self.notes),
            "samples": {"count": self.sample_count, "window_s": self.window_s, "times_s": list(self.times_s)},
            "mem_total_bytes": self.mem_total,
            "memory": self.memory.as_dict() if self.memory else None,
            "kernel_memory": kmem,
            "attribution": {name: a.as_dict() for name, a in self.attribution.items()},
            "vmalloc_source": self.vmalloc_source,
            "consent": list(self.consent),
            "advice": self.advice,
            "evidence": [{"item": item, "summary": text} for item, text in self.evidence_summaries],
            "evidence_dir": self.evidence_dir,
            **self.extra,
            **({"interrupted": self.interrupted} if self.interrupted else {}),
            **({"history": self.history} if self.history is not None else {}),
            "exit_code": self.exit_code,
        }
