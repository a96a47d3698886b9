"""The probe registry: every probe module's ``ProbeDef``, by name (see ``probes/base.py``).

Adding a probe: a module here with its ``ProbeDef``, its name in ``PROBES`` below, and the
runbook step that runs it (README, "Where things go").
"""

from __future__ import annotations

from kleak_runbook.probes import drop_caches, kmemleak, page_owner, slub_traces, trace
from kleak_runbook.probes.base import ProbeDef

PROBES: dict[str, ProbeDef] = {
    p.name: p for p in (drop_caches.PROBE, slub_traces.PROBE, kmemleak.PROBE, page_owner.PROBE, trace.SLAB, trace.PAGES)
}
CONSENTS = tuple(sorted({p.consent for p in PROBES.values() if p.consent}))
