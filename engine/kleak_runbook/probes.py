"""Probes: evidence that is not a plain read, some of which change the host.

An intrusive probe runs only when the user consented (``--allow-intrusive NAME``); without
consent the step is recorded as skipped and the report says what the probe would have shown.
"""

from __future__ import annotations

from dataclasses import dataclass

from .specs import SPECS
from .wire import ScriptBuilder


@dataclass(frozen=True)
class ProbeDef:
    name: str
    intrusive: bool
    description: str
    effect: str  # what it does to the host, in one line, for consent prompts and the report
    snapshot: tuple[str, ...]
    action: str

    def script(self, builder: ScriptBuilder) -> None:
        for phase in ("before", "after"):
            if phase == "after":
                builder.action(self.name, self.action)
            builder.timestamp()
            for spec in self.snapshot:
                s = SPECS[spec]
                builder.file(f"probe/{self.name}/{phase}/{s.relpath}", s.host_path)


PROBES: dict[str, ProbeDef] = {
    p.name: p
    for p in (
        ProbeDef(
            name="drop_caches",
            intrusive=True,
            description="reclaim test: `echo 2 > /proc/sys/vm/drop_caches` between two snapshots",
            effect=(
                "frees clean dentry and inode caches; safe, but the host re-reads what it needs "
                "from disk afterwards (a short I/O cost)"
            ),
            snapshot=("meminfo", "slabinfo", "dentry_state"),
            action="echo 2 > /proc/sys/vm/drop_caches",
        ),
    )
}
