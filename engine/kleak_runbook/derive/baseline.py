"""One earlier run summarised for ``history/runs.json``: per sample the kernel-memory components on
the host's uptime clock, and the caches and vmalloc callers at its last sample.

The numbers come from the same parse and derive stages as a live run, so a component means
the same thing in both; what is kept is small (a few numbers a sample, one per cache).
"""

from __future__ import annotations

from typing import Any

from kleak_runbook.derive.kernel import Kernel
from kleak_runbook.derive.metrics import compute
from kleak_runbook.evidence.store import EvidenceStore
from kleak_runbook.parsers.host import HostParser


def summarize(store: EvidenceStore, result: dict[str, Any], source: str) -> dict[str, Any]:
    evidence = HostParser(store).parse()
    metrics = compute(evidence, Kernel.of_texts(store.static, []))
    with_mem = evidence.with_spec("meminfo")
    samples = []
    if metrics.kmem and len(with_mem) == metrics.sample_count:
        for i, s in enumerate(with_mem):
            samples.append(
                {
                    "wall": s.wall,
                    "uptime": s.uptime,
                    "kmem": {c: ser.values[i] for c, ser in metrics.kmem.items()},
                    "mem_available": s.values["meminfo"].get("MemAvailable"),
                }
            )
    with_slab = evidence.with_spec("slabinfo")
    with_vm = evidence.with_spec("vmallocinfo")
    uptimes = [s.uptime for s in (with_slab or with_vm or with_mem) if s.uptime is not None]
    return {
        "source": source,
        "started_at": result.get("started_at") or (with_mem[0].wall if with_mem else ""),
        "boot_id": (store.static.get("boot_id") or "").strip() or None,
        "verdict": result.get("verdict"),
        "samples": samples,
        "caches": {c.name: [int(c.bytes), c.reclaimable] for c in metrics.caches.values()},
        "callers": {c.caller: [int(c.bytes), c.module] for c in metrics.callers},
        "end_uptime": uptimes[-1] if uptimes else None,
    }
