"""The one context schema: every name a rule or a knowledge signature may read, and the evidence it needs.

The runbook validator and the knowledge base check expressions against the same names, and
``validate`` warns when a rule reads evidence that no step on the way to it collects.
"""

from __future__ import annotations

from kleak_runbook.evidence.specs import SPECS

# derived names: (evidence they need, what they hold)
_DERIVED: dict[str, tuple[tuple[str, ...], str]] = {
    "kmem": (("meminfo",), "kernel-memory components (Series): slab_unreclaimable, vmalloc, unaccounted, ..."),
    "mem_total": (("meminfo",), "MemTotal in bytes"),
    "samples": ((), "count, window_s, timed, uptime_s"),
    "kernel": ((), "release, upstream, major, minor, distro, distro_version, stream"),
    "probes": ((), "what each probe of the step brought back"),
    "params": ((), "runbook params (-e overrides)"),
    "consent": ((), "the intrusive probes consented to"),
    "findings": ((), "findings so far"),
}

# name -> the evidence specs that supply it (empty: always present)
CONTEXT: dict[str, tuple[str, ...]] = {
    **{name: needs for name, (needs, _) in _DERIVED.items()},
    **{s.context: (s.name,) for s in SPECS.values() if s.context},
}
RULE_NAMES = frozenset(CONTEXT)
# a knowledge signature also knows the verdict's kind
KNOWLEDGE_NAMES = RULE_NAMES | {"kind"}


def needs(name: str) -> tuple[str, ...]:
    return CONTEXT.get(name, ())
