"""What a rule expression can read: one host's parsed and derived evidence, by the names of
``decide.schema``. A name whose evidence is missing is left out, so expressions reading it fail
loudly (the rule is reported as not evaluable) instead of reading a silent zero.

Sampled evidence without a derived view of its own (``dentry``, ``inodes``) appears as a namespace
of ``Series``, one per numeric field across the samples; static evidence appears as parsed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

from kleak_runbook.derive import growth, history, motion, snapshot
from kleak_runbook.derive.kernel import Kernel
from kleak_runbook.derive.metrics import CacheStat, CallerStat, Metrics
from kleak_runbook.derive.series import Series
from kleak_runbook.evidence.specs import SPECS
from kleak_runbook.parsers.host import HostEvidence

# context names built from metrics, not from the parsed value itself
_DERIVED_VIEWS = frozenset({"meminfo", "slab", "vmalloc", "allocinfo"})


def build(
    evidence: HostEvidence,
    metrics: Metrics,
    kernel: Kernel,
    probes: Mapping[str, Any],
    params: Mapping[str, Any],
    consent: frozenset[str],
    findings: list[str],
) -> dict[str, Any]:
    ctx: dict[str, Any] = {
        "params": SimpleNamespace(**params),
        "consent": sorted(consent),
        "findings": list(findings),
        "samples": SimpleNamespace(
            count=metrics.sample_count,
            window_s=metrics.window_s,
            timed=metrics.times is not None,
            # how long the host had been up at the first sample (None when /proc/uptime is not in the evidence)
            uptime_s=evidence.samples[0].uptime if evidence.samples else None,
            # False when neither VmallocUsed nor vmallocinfo gives vmalloc (an OOM report, SysRq-m):
            # memory in no field then holds vmalloc and per-CPU memory too
            vmalloc_known=metrics.vmalloc_source != "unavailable",
            # the forms the memory counters came in: "oom" (an OOM-killer report), "free", "partial", ...
            forms=sorted({s.forms.get("meminfo", "") for s in evidence.samples if "meminfo" in s.values} - {""}),
        ),
        "kernel": SimpleNamespace(
            release=kernel.release,
            upstream=kernel.upstream,
            major=kernel.major,
            minor=kernel.minor,
            distro=kernel.distro_id,
            distro_version=kernel.distro_version,
            stream=kernel.stream,
        ),
        "probes": SimpleNamespace(**probes),
    }
    if metrics.meminfo:
        ctx["meminfo"] = dict(metrics.meminfo)
    if metrics.kmem:
        rate, total = params.get("min_growth_bytes_per_s"), params.get("min_growth_bytes")
        for series in metrics.kmem.values():
            # kmem.<component>.grows: the runbook's leak test, stated once (its params)
            series.grows = rate is not None and total is not None and series.grows_at(rate, total)
        ctx["kmem"] = dict(metrics.kmem)
    if metrics.mem_total:
        ctx["mem_total"] = metrics.mem_total
    if metrics.caches:
        ctx["slab"] = _slab_view(metrics)
    if metrics.callers:
        ctx["vmalloc"] = _vmalloc_view(metrics)
    if metrics.sites:
        # memory allocation profiling: each place in the kernel's code and what it holds, biggest first
        kernel_sites = [t for t in metrics.sites if t.own]
        ctx["allocinfo"] = SimpleNamespace(
            sites=list(metrics.sites),
            kernel=kernel_sites,
            top=kernel_sites[0] if kernel_sites else None,
            top_only=metrics.sites_top_only,
        )
    for spec in SPECS.values():
        if spec.context is None or spec.context in _DERIVED_VIEWS:
            continue
        if spec.sampled:
            view = _sampled_view(evidence, spec.name, metrics)
            if view is not None:
                ctx[spec.context] = view
        elif spec.name in evidence.static:
            ctx[spec.context] = evidence.static[spec.name]
    hist = history.build(evidence, metrics, kernel, params)
    if hist is not None:  # Prometheus or earlier runs: rates per day over the long window
        ctx["history"] = hist[0]
    grew = growth.judge(metrics, params)
    moved = motion.judge(metrics, params)
    gradual = grew.slow.kind if grew.slow is not None else (moved.grew.kind if moved.grew is not None else None)
    ctx["growth"] = SimpleNamespace(
        top=grew.top,
        slow=grew.slow,
        # between outputs that carry no times: what grew, or what was given back
        untimed=moved.grew,
        given_back=moved.given_back,
        gradual_kind=gradual,  # the kind of a slow or untimed growth
        growers=list(grew.growers),
        side_effects=grew.side_effects,
        kinds=[g.kind for g in grew.growers if g.side_effect_of is None and not g.cache],
    )
    # "words" (a ticket's own words, parsers.prose) and "alloc_failure" (a warn_alloc warning,
    # parsers.alloc_failure): evidence once the spec registry has them
    snap = snapshot.judge(
        metrics,
        params,
        ctx.get("dentry"),
        probes.get("kmemleak"),
        # a memory cgroup's own OOM settles where memory ran out: the ticket's words add nothing to it
        None if "oom_memcg" in evidence.static else evidence.static.get("words"),
        evidence.static.get("alloc_failure"),
    )
    memcgs = _memory_cgroups(ctx.get("cgroups"))
    low, reclaimable = metrics.meminfo.get("LowTotal"), metrics.meminfo.get("SReclaimable")
    ctx["snapshot"] = SimpleNamespace(
        top=snap.top,
        candidates=list(snap.candidates),
        kinds=snap.kinds,
        slab_total=snap.slab_total,
        failure=snap.failure,
        # far more memory cgroups than a host runs (/proc/cgroups counts dying ones too)
        many_memory_cgroups=memcgs is not None and memcgs > params.get("many_memory_cgroups", 10000),
        # reclaimable slab holding most of a 32-bit kernel's low memory
        lowmem_reclaimable=bool(
            low and reclaimable is not None and reclaimable > params.get("lowmem_reclaimable_fraction", 0.5) * low
        ),
    )
    dentry = ctx.get("dentry")
    if dentry is not None and not kernel.dentry_negative_counted:
        dentry.nr_negative = None  # before 5.0 the field was a dummy 0
    return ctx


def _sampled_view(evidence: HostEvidence, spec: str, metrics: Metrics) -> SimpleNamespace | None:
    """One ``Series`` per numeric field of a sampled spec's parsed value (None when any sample lacks it)."""
    samples = evidence.with_spec(spec)
    if not samples:
        return None
    values = [s.values[spec] for s in samples]
    times = metrics.times if metrics.times and len(metrics.times) == len(values) else None
    out: dict[str, Any] = {}
    for f in dataclasses.fields(values[-1]):
        column = [getattr(v, f.name) for v in values]
        if all(isinstance(x, int) and not isinstance(x, bool) for x in column):
            out[f.name] = Series.of(column, times)
        elif column[-1] is None:
            out[f.name] = None
    return SimpleNamespace(**out)


def _slab_view(m: Metrics) -> SimpleNamespace:
    caches = list(m.caches.values())
    growing = sorted((c for c in caches if c.bytes.growth_bytes_per_s > 0), key=lambda c: -c.bytes.growth_bytes_per_s)
    by_size = sorted(caches, key=lambda c: -int(c.bytes))

    def view(c: CacheStat) -> SimpleNamespace:
        return SimpleNamespace(
            name=c.name,
            objects=c.objects,
            bytes=c.bytes,
            objsize=c.objsize,
            growth_bytes_per_s=c.growth_bytes_per_s,
            reclaimable=c.reclaimable,
        )

    return SimpleNamespace(
        caches={c.name: view(c) for c in caches},
        top_by_size=[view(c) for c in by_size[:10]],
        top_growing=[view(c) for c in growing[:10]],
        top_growing_unreclaimable=[view(c) for c in growing if c.reclaimable is not True][:10],
        top_growing_reclaimable=[view(c) for c in growing if c.reclaimable][:10],
    )


def _vmalloc_view(m: Metrics) -> SimpleNamespace:
    def view(c: CallerStat) -> SimpleNamespace:
        return SimpleNamespace(
            name=c.caller,
            module=c.module,
            percpu=c.percpu,
            areas=c.areas,
            bytes=c.bytes,
            growth_bytes_per_s=c.growth_bytes_per_s,
        )

    callers = [view(c) for c in m.callers]
    percpu_total = sum(int(c.bytes) for c in m.callers if c.percpu)
    return SimpleNamespace(
        callers=callers,
        top_growing=[c for c in callers if c.growth_bytes_per_s > 0 and not c.percpu][:10],
        percpu_chunk_bytes=percpu_total,
        source=m.vmalloc_source,
    )


def _memory_cgroups(cgroups: Any) -> int | None:
    """The memory controller's cgroup count /proc/cgroups gives, when the evidence holds it."""
    memory = cgroups.get("memory") if isinstance(cgroups, Mapping) else getattr(cgroups, "memory", None)
    count = getattr(memory, "num_cgroups", None)
    return count if isinstance(count, int) else None
