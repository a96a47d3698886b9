"""The reclaim test: ``echo 2 > /proc/sys/vm/drop_caches`` between two snapshots (intrusive).

A cache gives memory back when asked; a leak does not. Rules read ``probes.drop_caches``
(``skipped``, ``reason``, ``reclaimed_bytes``, ``reclaimed_fraction``).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from kleak_runbook.errors import ParseError
from kleak_runbook.evidence.specs import SPECS
from kleak_runbook.evidence.store import Probe
from kleak_runbook.evidence.wire import ScriptBuilder
from kleak_runbook.probes.base import Args, ProbeDef, ProbeInputs

NAME = "drop_caches"
_SNAPSHOT = ("meminfo", "slabinfo", "dentry_state")


@dataclass
class DropCaches:
    """What the reclaim test showed (or, when skipped, ``ran`` False and why)."""

    ran: bool
    reason: str = ""
    sreclaimable_before: int | None = None
    sreclaimable_after: int | None = None
    sunreclaim_before: int | None = None
    sunreclaim_after: int | None = None
    elapsed_ms: float | None = None
    caches: list[tuple[str, int, int]] = field(default_factory=list)  # name, before, after bytes
    dentry_before: Any = None
    dentry_after: Any = None

    @property
    def skipped(self) -> bool:
        return not self.ran

    @property
    def reclaimed_bytes(self) -> int | None:
        if self.sreclaimable_before is None or self.sreclaimable_after is None:
            return None
        return self.sreclaimable_before - self.sreclaimable_after

    @property
    def reclaimed_fraction(self) -> float | None:
        r = self.reclaimed_bytes
        if r is None or not self.sreclaimable_before:
            return None
        return r / self.sreclaimable_before


def _snapshot(b: ScriptBuilder, phase: str) -> None:
    b.timestamp()
    for spec in _SNAPSHOT:
        s = SPECS[spec]
        b.file(f"probe/{NAME}/{phase}/{s.relpath}", s.host_path, s.max_bytes)


def build(b: ScriptBuilder, _args: Args, _consented: bool) -> None:
    _snapshot(b, "before")
    b.action("drop_caches", "echo 2 > /proc/sys/vm/drop_caches")
    _snapshot(b, "after")


def interpret(probe: Probe | None, inputs: ProbeInputs) -> DropCaches:
    if probe is None:
        return DropCaches(ran=False, reason="not run")
    if not probe.ran:
        return DropCaches(ran=False, reason=probe.reason)
    before, after = probe.phases.get("before", {}), probe.phases.get("after", {})
    action = probe.actions.get("drop_caches") or probe.actions.get("action", {})
    if "meminfo" not in before or "meminfo" not in after:
        return DropCaches(ran=False, reason="the before/after snapshots are incomplete")
    if action and action.get("rc") not in (None, "0"):
        return DropCaches(ran=False, reason=f"writing /proc/sys/vm/drop_caches failed (rc={action.get('rc')})")
    try:
        parsed = {
            (phase, spec): SPECS[spec].parse(texts[spec])
            for phase, texts in (("before", before), ("after", after))
            for spec in _SNAPSHOT
            if spec in texts
        }
    except ParseError as exc:
        return DropCaches(ran=False, reason=f"the before/after snapshots do not parse ({exc})")
    mb, ma = parsed[("before", "meminfo")], parsed[("after", "meminfo")]
    out = DropCaches(
        ran=True,
        sreclaimable_before=mb.get("SReclaimable"),
        sreclaimable_after=ma.get("SReclaimable"),
        sunreclaim_before=mb.get("SUnreclaim"),
        sunreclaim_after=ma.get("SUnreclaim"),
    )
    with contextlib.suppress(KeyError, ValueError):
        out.elapsed_ms = round(int(action["ns"]) / 1e6, 1)
    if ("before", "slabinfo") in parsed and ("after", "slabinfo") in parsed:
        page_size = inputs.metrics.page_size
        sb, sa = parsed[("before", "slabinfo")].by_name(), parsed[("after", "slabinfo")].by_name()
        rows = [(n, c.size_bytes(page_size), sa[n].size_bytes(page_size) if n in sa else 0) for n, c in sb.items()]
        rows.sort(key=lambda r: r[2] - r[1])
        out.caches = [r for r in rows if r[1] != r[2]][:10]
    out.dentry_before = parsed.get(("before", "dentry_state"))
    out.dentry_after = parsed.get(("after", "dentry_state"))
    return out


PROBE = ProbeDef(
    name=NAME,
    intrusive=True,
    consent="drop_caches",
    description="reclaim test: `echo 2 > /proc/sys/vm/drop_caches` between two snapshots",
    effect=(
        "frees clean dentry and inode caches; safe, but the host re-reads what it needs "
        "from disk afterwards (a short I/O cost)"
    ),
    build=build,
    interpret=interpret,
    attributes=False,
)
