"""What a rule expression can read: the evidence of one host, parsed and derived.

Names (each also listed in ``runbook.CONTEXT_NAMES``):
``meminfo.<Field>`` and ``kmem.<component>`` (``Series``: bytes, with growth attributes),
``mem_total``, ``samples`` (count, window_s), ``slab`` (caches, top lists), ``vmalloc``
(total, callers), ``kernel`` (release, upstream), ``cgroups``, ``cmdline``, ``dentry``,
``tainted``, ``modules``, ``probes.<name>``, ``params``, ``consent``, ``findings``.
A name whose evidence is missing is left out, so expressions reading it fail loudly.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from kleak_runbook.derive.metrics import CacheStat, CallerStat, Metrics
from kleak_runbook.derive.series import Series
from kleak_runbook.errors import ParseError
from kleak_runbook.evidence.store import EvidenceStore, Probe
from kleak_runbook.parsers.cgroups import parse_cgroup_stat, parse_cgroups
from kleak_runbook.parsers.cmdline import parse_cmdline
from kleak_runbook.parsers.dentry_state import parse_dentry_state
from kleak_runbook.parsers.meminfo import parse_meminfo
from kleak_runbook.parsers.modules import parse_modules
from kleak_runbook.parsers.slabinfo import parse_slabinfo
from kleak_runbook.parsers.tainted import parse_tainted
from kleak_runbook.parsers.version import KernelVersion, parse_os_release, parse_proc_version, parse_uname
from kleak_runbook.probes import attribution


@dataclass
class KernelFacts:
    release: str | None = None
    upstream: tuple[int, int, int] | None = None
    build: str | None = None
    distro: str | None = None  # os-release PRETTY_NAME
    distro_id: str | None = None
    distro_version: str | None = None  # e.g. Debian's 6.1.176-1
    version_signature: str | None = None
    arch: str | None = None

    @property
    def major(self) -> int | None:
        return self.upstream[0] if self.upstream else None

    @property
    def minor(self) -> int | None:
        return self.upstream[1] if self.upstream else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "release": self.release,
            "upstream": ".".join(map(str, self.upstream)) if self.upstream else None,
            "build": self.build,
            "distro": self.distro,
            "distro_id": self.distro_id,
            "distro_version": self.distro_version,
            "version_signature": self.version_signature,
            "arch": self.arch,
        }


def kernel_facts(store: EvidenceStore) -> KernelFacts:
    facts = KernelFacts()
    kv: KernelVersion | None = None
    for spec, parse in (("version", parse_proc_version), ("uname", parse_uname)):
        text = store.static.get(spec)
        if text and kv is None:
            try:
                kv = parse(text)
            except ParseError as exc:
                store.add_gap(spec, "error", str(exc))
    if kv is not None:
        facts.release, facts.upstream, facts.build = kv.release, kv.upstream, kv.build
        facts.distro_version = kv.distro_version
    uname = store.static.get("uname")
    if uname:
        arches = ("x86_64", "aarch64", "ppc64le", "s390x", "i686", "armv7l", "riscv64", "ppc64", "loongarch64")
        facts.arch = next((w for w in uname.split() if w in arches), None)
    sig = store.static.get("version_signature")
    if sig:
        facts.version_signature = sig.strip()
        parts = sig.split()
        if len(parts) >= 3:
            nums = parts[2].split(".")
            if len(nums) == 3 and all(n.isdigit() for n in nums):
                facts.upstream = (int(nums[0]), int(nums[1]), int(nums[2]))
    osr = store.static.get("os_release")
    if osr:
        try:
            o = parse_os_release(osr)
            facts.distro, facts.distro_id = o.pretty_name, o.id
        except ParseError as exc:
            store.add_gap("os_release", "error", str(exc))
    return facts


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


def drop_caches_result(probe: Probe | None, page_size: int) -> DropCaches:
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
    mb, ma = parse_meminfo(before["meminfo"]), parse_meminfo(after["meminfo"])
    out = DropCaches(
        ran=True,
        sreclaimable_before=mb.get("SReclaimable"),
        sreclaimable_after=ma.get("SReclaimable"),
        sunreclaim_before=mb.get("SUnreclaim"),
        sunreclaim_after=ma.get("SUnreclaim"),
    )
    with contextlib.suppress(KeyError, ValueError):
        out.elapsed_ms = round(int(action["ns"]) / 1e6, 1)
    if "slabinfo" in before and "slabinfo" in after:
        sb = parse_slabinfo(before["slabinfo"]).by_name()
        sa = parse_slabinfo(after["slabinfo"]).by_name()
        rows = [(n, c.size_bytes(page_size), sa[n].size_bytes(page_size) if n in sa else 0) for n, c in sb.items()]
        rows.sort(key=lambda r: r[2] - r[1])
        out.caches = [r for r in rows if r[1] != r[2]][:10]
    for phase, attr in (("before", "dentry_before"), ("after", "dentry_after")):
        text = (before if phase == "before" else after).get("dentry_state")
        if text:
            setattr(out, attr, parse_dentry_state(text))
    return out


def build(
    store: EvidenceStore,
    metrics: Metrics,
    facts: KernelFacts,
    params: dict[str, Any],
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
            uptime_s=store.samples[0].uptime if store.samples else None,
        ),
        "kernel": SimpleNamespace(
            release=facts.release,
            upstream=facts.upstream,
            major=facts.major,
            minor=facts.minor,
            distro=facts.distro_id,
            distro_version=facts.distro_version,
        ),
    }
    if metrics.meminfo:
        ctx["meminfo"] = dict(metrics.meminfo)
    if metrics.kmem:
        ctx["kmem"] = dict(metrics.kmem)
    if metrics.mem_total:
        ctx["mem_total"] = metrics.mem_total
    if metrics.caches:
        ctx["slab"] = _slab_view(metrics)
    if metrics.callers:
        ctx["vmalloc"] = _vmalloc_view(metrics)
    statics = (
        ("cgroups", parse_cgroups),
        ("cmdline", parse_cmdline),
        ("tainted", parse_tainted),
        ("modules", parse_modules),
    )
    for name, parse in statics:
        text = store.static.get(name)
        if text is None:
            continue
        try:
            ctx[name] = parse(text)
        except ParseError as exc:
            store.add_gap(name, "error", str(exc))
    stat = store.static.get("cgroup_stat")
    if stat:
        fields = {"nr_descendants": None, "nr_dying_descendants": None, **parse_cgroup_stat(stat)}
        ctx["cgroup_stat"] = SimpleNamespace(**fields)
    dentries = [s.texts["dentry_state"] for s in store.samples if "dentry_state" in s.texts]
    if dentries:
        try:
            states = [parse_dentry_state(t, kernel=facts.upstream) for t in dentries]
            ctx["dentry"] = SimpleNamespace(
                nr_dentry=Series.of([d.nr_dentry for d in states], _times(metrics, len(states))),
                nr_unused=states[-1].nr_unused,
                nr_negative=(
                    Series.of([d.nr_negative or 0 for d in states], _times(metrics, len(states)))
                    if states[-1].nr_negative is not None
                    else None
                ),
            )
        except ParseError as exc:
            store.add_gap("dentry_state", "error", str(exc))
    ctx["probes"] = SimpleNamespace(
        drop_caches=drop_caches_result(store.probes.get("drop_caches"), metrics.page_size),
        **attributions(store, metrics, facts, ctx.get("cmdline")),
    )
    return ctx


def attributions(
    store: EvidenceStore, metrics: Metrics, facts: KernelFacts, cmdline: Any
) -> dict[str, attribution.Attribution]:
    kmem = metrics.kmem
    slab_growth = kmem["slab_unreclaimable"].growth_bytes_per_s if "slab_unreclaimable" in kmem else None
    pages_growth = kmem["unaccounted"].growth_bytes_per_s if "unaccounted" in kmem else None
    slub = store.probes.get("slub_traces")
    trace_slab, trace_pages = store.probes.get("trace_slab"), store.probes.get("trace_pages")
    kmemleak = store.probes.get("kmemleak")
    objsize = {n: c.objsize for n, c in metrics.caches.items()}
    cache_growth = slab_growth
    if trace_slab and trace_slab.args:
        flt = trace_slab.args[1] if len(trace_slab.args) > 1 else ""
        size = flt.rsplit(" ", 1)[-1]
        same = [c.growth_bytes_per_s for c in metrics.caches.values() if flt and str(c.objsize) == size]
        cache_growth = max(same, default=slab_growth)
    return {
        "slub_traces": attribution.interpret_slub_traces(
            slub, slub.args if slub else (), facts.upstream, cmdline, objsize
        ),
        "kmemleak": attribution.interpret_kmemleak(kmemleak, bool(kmemleak and "kmemleak_scan" in kmemleak.actions)),
        "page_owner": attribution.interpret_page_owner(store.probes.get("page_owner"), pages_growth),
        "trace_slab": attribution.interpret_trace(
            trace_slab, cache_growth, trace_slab.args if trace_slab else (), "trace_slab"
        ),
        "trace_pages": attribution.interpret_trace(
            trace_pages, pages_growth, trace_pages.args if trace_pages else (), "trace_pages"
        ),
    }


def _times(metrics: Metrics, n: int) -> tuple[float, ...] | None:
    return metrics.times if metrics.times and len(metrics.times) == n else None


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
