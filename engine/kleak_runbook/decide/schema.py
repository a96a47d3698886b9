"""The one context schema: every name a rule or a knowledge signature may read, and the evidence it needs.

The runbook validator and the knowledge base check expressions against the same names, and
``validate`` warns when a rule reads evidence that no step on the way to it collects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kleak_runbook.evidence.specs import SPECS

# derived names: (evidence they need, what they hold)
_DERIVED: dict[str, tuple[tuple[str, ...], str]] = {
    "kmem": (("meminfo",), "kernel-memory components (Series): slab_unreclaimable, vmalloc, unaccounted, ..."),
    "mem_total": (("meminfo",), "MemTotal in bytes"),
    "samples": (
        (),
        "count, window_s, timed, uptime_s, vmalloc_known (false: memory in no field includes vmalloc), forms (oom, free, partial, smem: what the counters came from)",
    ),
    "kernel": ((), "release, upstream, major, minor, distro, distro_version, stream"),
    "probes": ((), "what each probe of the step brought back"),
    "params": ((), "runbook params (-e overrides)"),
    "consent": ((), "the intrusive probes consented to"),
    "findings": ((), "findings so far"),
    "growth": (
        ("meminfo",),
        "what grows: top (the growth that explains the rest), slow (steady over hours, below the short-window rate), untimed and given_back (between outputs without times), gradual_kind, growers, side_effects, kinds",
    ),
    "snapshot": (
        (),
        "one snapshot judged: top (the biggest abnormal component), candidates, kinds, slab_total, failure (an allocation failure in the evidence), many_memory_cgroups (/proc/cgroups counts more than params.many_memory_cgroups), lowmem_reclaimable (SReclaimable above params.lowmem_reclaimable_fraction of LowTotal)",
    ),
    "history": (
        (),
        "long-window rates from Prometheus or earlier runs (--prometheus, --baseline): source, window, days, "
        "reboots, kmem.<component>.growth_bytes_per_day/steadiness/steady/grows, top, slab, vmalloc, forecast",
    ),
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


def uncollected(
    steps: Mapping[str, Any], start: str, names_read: Callable[[Any], Iterable[tuple[str, str]]]
) -> list[tuple[str, str, str]]:
    """(where, name, spec) for each name a step's rules read whose sampled evidence no step on
    any way from ``start`` to it collects (static evidence is collected with the first step).

    ``steps`` maps id to a step with ``collect``, ``rules`` (each with ``next``) and ``default``;
    ``names_read(step)`` yields (where, name) pairs.
    """
    parents: dict[str, set[str]] = {sid: set() for sid in steps}
    for sid, step in steps.items():
        for target in [r.next for r in step.rules if r.next] + ([step.default] if step.default else []):
            if target in parents:
                parents[target].add(sid)
    out = []
    for sid, step in steps.items():
        seen, todo = {sid}, [sid]
        while todo:
            for p in parents[todo.pop()]:
                if p not in seen:
                    seen.add(p)
                    todo.append(p)
        if start not in seen:
            continue  # unreachable steps are reported by the validator itself
        collected = {c for s in seen for c in steps[s].collect}
        for where, name in names_read(step):
            for spec in needs(name):
                if SPECS[spec].sampled and spec not in collected:
                    out.append((where, name, spec))
    return out
