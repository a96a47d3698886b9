"""The decide stage after the walk: limits on what the evidence allows, culprits, known bugs,
advice, all frozen into one ``Result``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kleak_runbook.decide import history_verdict
from kleak_runbook.decide.advice import advise
from kleak_runbook.decide.culprits import Culprit, biggest_shown, patched_frame, pick
from kleak_runbook.decide.knowledge import Entry
from kleak_runbook.decide.known_bugs import known_bugs
from kleak_runbook.decide.result import Result
from kleak_runbook.decide.units import human_bytes
from kleak_runbook.decide.walker import HostWalk
from kleak_runbook.derive.kernel import Kernel
from kleak_runbook.derive.memory import breakdown
from kleak_runbook.derive.metrics import COMPONENTS, Metrics
from kleak_runbook.probes import PROBES
from kleak_runbook.probes.base import Attribution

GiB = 1024**3
# figures that tell what programs hold: with any of them, the rest of memory is the kernel's or cache
_PROGRAMS = ("AnonPages", "Active(anon)", "Inactive(anon)")


def _available(meminfo: Any) -> int:
    """MemAvailable, or (a meminfo cut before it) MemFree with the page cache and buffers."""
    if "MemAvailable" in meminfo:
        return int(meminfo["MemAvailable"])
    return sum(int(meminfo.get(k) or 0) for k in ("MemFree", "Cached", "Buffers"))


def _guards(walk: HostWalk, verdict: str, kind: str, metrics: Metrics | None) -> tuple[str, str, list[str]]:
    """Engine-side limits on what a runbook may conclude from the evidence it had."""
    notes: list[str] = []
    if walk.store.unreachable is not None:
        return "inconclusive", "unknown", notes
    m = metrics
    # growth across three or more outputs that stayed after the load that took it stopped: a leak shown
    # by what was not given back, which needs no rate (the runbook's held_after_stop)
    held = (
        m is not None
        and m.sample_count >= 3
        and getattr(walk.context.get("growth"), "untimed", None) is not None
        and getattr(walk.context.get("words"), "stopped", False)
    )
    # a fix of the leak the evidence shows (its kernel patch, or a fix the thread says was tested or made):
    # the leak confirmed by its fix
    patched = bool(getattr(walk.context.get("words"), "leak_fixed", False))
    if verdict == "leak" and not (held or patched) and (m is None or m.sample_count < 3 or m.times is None):
        verdict = "suspected-leak"
        notes.append(
            "fewer than three timed samples cannot show steady growth (two always look steady): "
            "a leak verdict is reported as suspected-leak; sample again with --samples 3 or more"
        )
    if verdict == "no-leak" and walk.unevaluated:
        verdict = "inconclusive"
        notes.append(
            "rules that could have found a leak could not be evaluated ("
            + "; ".join(walk.unevaluated[:3])
            + "): no-leak cannot be claimed"
        )
    profiled = sum(int(t.bytes) for t in m.sites if t.own) if m is not None else 0
    if verdict == "no-leak" and m is not None and not m.mem_total and profiled >= GiB:
        # GiBs the kernel's own code holds, as allocation profiling counts them, and no memory size to
        # set them against: nothing says they are the usual share
        verdict, kind = "inconclusive", "unknown"
        notes.append(
            f"allocation profiling counts {profiled / GiB:.1f} GiB held by the kernel's own code and the evidence has"
            " no memory size (MemTotal) to set it against: no-leak cannot be claimed"
        )
    empty = [g.item for g in walk.store.gaps if g.item.startswith("samples/") and "holds no evidence" in g.reason]
    if verdict == "no-leak" and empty:
        verdict = "inconclusive"  # samples were taken and came back empty: collection failed, nothing is ruled out
        notes.append(f"{len(empty)} sample(s) hold no evidence ({', '.join(empty[:3])}): no-leak cannot be claimed")
    other = (
        m is not None and bool(m.caches or m.callers or m.slab_total or m.arc_size or m.spl_slab or m.sites)
    ) or any(
        name in walk.context
        for name in ("cgroups", "oom_memcg")  # a cgroup's own OOM needs no counters
    )
    other = other or getattr(walk.context.get("snapshot"), "top", None) is not None  # e.g. a kmemleak report
    if (m is None or m.sample_count == 0) and not other:
        verdict, kind = "inconclusive", "unknown"
        notes.append("/proc/meminfo was not collected: no verdict is possible")
    elif m is None or m.sample_count == 0:
        notes.append(
            "no memory counters (/proc/meminfo, free or an OOM report): judged from the slab, vmalloc or "
            "cgroup evidence alone, in absolute sizes; /proc/meminfo would show them against MemTotal"
        )
    return verdict, kind, notes


def _taint(context: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    t = context.get("tainted")
    if t is not None:
        out["tainted"] = {"value": t.value, "flags": [f"{f.letter}: {f.description}" for f in t.flags]}
    mods = context.get("modules")
    if mods is not None:
        out["out_of_tree_modules"] = [f"{m.name} ({m.taints})" for m in mods if m.out_of_tree or m.proprietary]
    return out


def finish(
    walk: HostWalk,
    runbook_name: str,
    consent: list[str],
    evidence_dir: Path | None,
    extra: dict[str, Any] | None = None,
    interrupted: str | None = None,
    knowledge: Sequence[Entry] | None = None,
    chart: str | None = None,
) -> Result:
    """``interrupted``: this run was cut short (Ctrl-C), in words; a replayed bundle carries its own."""
    d = walk.derived
    metrics = d.metrics if d else None
    kernel = d.kernel if d else Kernel()
    context = walk.context
    step = walk.terminal
    verdict, kind, notes = _guards(
        walk,
        step.verdict if step and step.verdict else "inconclusive",
        step.kind if step and step.kind else "unknown",
        metrics,
    )
    summary = walk.summary
    why_not = next((n for n in notes if n.endswith("no-leak cannot be claimed")), None)
    if step is not None and step.verdict == "no-leak" and verdict == "inconclusive" and why_not and summary:
        # the runbook found nothing abnormal, and the evidence cannot rule a leak out: say why first
        summary = f"{why_not[0].upper()}{why_not[1:]}. The runbook's reading: {summary}"
    if walk.store.unreachable is not None:
        summary = f"The host could not be reached: {walk.store.unreachable}"
    cut = interrupted or walk.store.interrupted
    if interrupted is not None and walk.store.unreachable is None:
        verdict, kind = "inconclusive", "unknown"
        summary = f"The run was interrupted {interrupted}: no verdict. The evidence collected so far is kept."
        step = None
    elif cut is not None:
        claim = ": no-leak cannot be claimed" if verdict == "no-leak" else ""
        notes.append(f"the run that collected this evidence was interrupted ({cut}){claim}")
        verdict = "inconclusive" if verdict == "no-leak" else verdict
    mods = context.get("modules")
    out_of_tree = frozenset(x.name for x in mods if x.out_of_tree) if mods else frozenset()
    probes = d.probes if d else {}
    attrs = [a for n, a in probes.items() if PROBES[n].attributes and isinstance(a, Attribution) and a.available]
    culprits = pick(step.culprits if step else "none", kind, metrics, attrs, out_of_tree)
    words = context.get("words")
    # (the function the thread says lacks the free, "we never free it in free_raid_bio_pointers()", before
    # those the hunks change)
    fixed = tuple(dict.fromkeys([*getattr(words, "free_missing", ()), *getattr(words, "patched_functions", ())]))
    # (a module the patch's subject names stands for the code only when it names no function: "IB/rdmavt: Free
    # kernel completion queue when done" changes rvt_destroy_cq, not rvt_create_cq, the rdmavt frame of the trace)
    named, in_trace = patched_frame(culprits, getattr(words, "patched", ()), modules=not fixed)
    traced = not culprits or (culprits[0].type == "backtrace" and not in_trace)
    if traced and fixed and verdict == "leak" and getattr(words, "leak_fixed", False):
        # no rows, and no trace or one whose frames the fix does not name (the object is allocated in one
        # place and leaked in another: the missing free is in the code the fix changes; the fix is the patch,
        # or the diff its reporter tried and confirmed); the trace's frame in a module the patch names follows
        missing = fixed[0] in getattr(words, "free_missing", ())
        source = "the function the thread says lacks the free" if missing else "the function the patch fixes"
        fix = Culprit("backtrace", fixed[0], 0, None, (("source", source),))
        named = (fix, *patched_frame(culprits, getattr(words, "patched", ()))[0])
    elif traced and verdict == "leak" and getattr(words, "leak_fixed", False):
        # a fix that names no function: the frame of the trace its report's title puts the leak in ("memory
        # leak in map_create")
        named = patched_frame(culprits, getattr(words, "leak_in", ()))[0]
    culprits = named
    component = getattr(words, "patched_component", None)
    if not culprits and verdict == "leak" and component:
        # a leak no trace or figure places, fixed by a patch whose subject names the driver ("gpu: host1x: ...")
        culprits = (
            Culprit("module", component, 0, None, (("source", "the driver the fixing patch's subject names"),)),
        )
    top = getattr(context.get("snapshot"), "top", None)
    if not culprits and top is not None and top.name and top.kind == kind and kind.startswith(("slab-", "vmalloc")):
        # no cache rows or vmalloc areas to rank: what the snapshot judge named (the ticket's words,
        # the trace of a failed allocation)
        what = "vmalloc-caller" if kind == "vmalloc" else "slab-cache"
        frame = re.fullmatch(r"(\S+) \[([\w-]+)\]", top.name)  # code in a module a leak trace names
        if frame is not None:
            culprits = (
                Culprit("backtrace", top.name, top.bytes, None, (("source", top.why), ("module", frame.group(2)))),
                Culprit("module", frame.group(2), top.bytes, None, (("source", top.why),)),
            )
        else:
            culprits = (Culprit(what, top.name, top.bytes, None, (("source", top.why),)),)
    elif (
        not culprits
        and top is not None
        and top.name
        and (top.kind == kind == "page-allocator" or (top.kind, kind) == ("kernel", "unknown"))
    ):
        # pages no field shows, named by the module the ticket says gives them back when unloaded;
        # kernel memory of no known kind, by the driver of the device the ticket shows
        culprits = (Culprit("module", top.name, top.bytes, None, (("source", top.why),)),)
    hist = context.get("history")
    if hist is not None and step is not None and history_verdict.reached_from_history(walk.visits):
        culprits = history_verdict.culprits(hist, kind) or culprits  # what grew over the window, not in 15 s
    largest: tuple[Culprit, ...] = ()
    if verdict == "no-leak":  # nothing leaks: the caches behind the kind are the largest, not culprits
        culprits, largest = (), culprits
    taint = _taint(context)
    bugs = known_bugs(kernel, context, kind, knowledge) if kernel.release else []
    culprit_docs = [c.as_dict() for c in culprits]
    evidence = d.evidence if d else None
    summaries = []
    if evidence is not None:
        for sample in evidence.samples[-1:]:
            summaries += [(spec, v.summary()) for spec, v in sample.values.items() if hasattr(v, "summary")]
        summaries += [(spec, v.summary()) for spec, v in evidence.static.items() if hasattr(v, "summary")]
    drop = probes.get("drop_caches")
    memory = breakdown(metrics.meminfo, metrics.kmem) if metrics else None
    biggest = memory.biggest if memory else None
    if (
        verdict == "no-leak"
        and biggest is not None
        and memory is not None
        and biggest.name == "not_split"
        and biggest.label.startswith("Not split by the evidence given")
        and biggest.bytes >= 0.75 * memory.total  # memory nearly all in use, and short
        and metrics is not None
        and metrics.sample_count == 1
        and not any(k in metrics.meminfo for k in _PROGRAMS)  # (nor what programs hold: a meminfo cut short)
        # (MemAvailable well above MemFree: the kernel can give much of it back, whatever holds it;
        # without it, what is free and the page cache are the most it could)
        and _available(metrics.meminfo) < 0.25 * memory.total
        and not (metrics.caches or metrics.callers or metrics.sites or metrics.slab_total or metrics.arc_size)
        and getattr(context.get("snapshot"), "top", None) is None
    ):
        # the figures give the memory size and what is free, and nothing of what holds the rest:
        # programs, cache or the kernel, nothing rules a leak out
        why = (
            f"the figures given say {100 * biggest.bytes / memory.total:.0f}% of memory is in use and nothing of"
            " what holds it (programs, the page cache or the kernel): no-leak cannot be claimed"
        )
        verdict, kind = "inconclusive", "unknown"
        notes.append(why)
        summary = f"{why[0].upper()}{why[1:]}. /proc/meminfo whole, or free with slabtop, would tell."
    if biggest is not None and memory is not None and verdict == "no-leak":
        share = 100.0 * biggest.bytes / memory.total
        summary = f"{summary} The biggest consumer of memory is {biggest.label.lower()}: {share:.0f}% of MemTotal."
    elif memory is None and verdict in ("no-leak", "inconclusive") and not largest and metrics is not None:
        # no MemTotal to split (slab rows or vmalloc areas alone): the biggest of what was shown
        largest = biggest_shown(metrics)
        if largest:
            top = largest[0]
            what = {"slab-cache": "slab cache", "vmalloc-caller": "vmalloc caller"}.get(top.type, "allocation site")
            summary = f"{summary} The biggest consumer the evidence shows is the {what} {top.name} ({human_bytes(top.bytes)})."
    return Result(
        host=walk.host,
        runbook=runbook_name,
        started_at=walk.started_at,
        finished_at=walk.finished_at,
        kernel=kernel,
        taint=taint,
        verdict=verdict,
        kind=kind,
        summary=summary,
        culprits=culprits,
        path=tuple(v.as_dict() for v in walk.visits),
        findings=tuple(walk.findings),
        known_bugs=tuple(bugs),
        gaps=tuple(walk.store.gaps),
        notes=tuple(notes + (metrics.notes if metrics else [])),
        sample_count=metrics.sample_count if metrics else 0,
        window_s=metrics.window_s if metrics else 0,
        times_s=tuple(metrics.times) if metrics and metrics.times else (),
        mem_total=metrics.mem_total if metrics else None,
        mem_free=int(metrics.meminfo["MemFree"]) if metrics and "MemFree" in metrics.meminfo else 0,
        kmem=tuple((key, metrics.kmem[key]) for key, _ in COMPONENTS if metrics and key in metrics.kmem),
        attribution={
            n: a
            for n, a in probes.items()
            if PROBES[n].attributes and n in walk.store.probes and isinstance(a, Attribution)
        },
        vmalloc_source=metrics.vmalloc_source if metrics else None,
        reclaim_source=metrics.reclaim_source if metrics else "",
        consent=tuple(consent),
        advice=(
            advise(kind, verdict, culprit_docs, kernel, taint.get("out_of_tree_modules"))
            if walk.store.unreachable is None
            else {"who": [], "attach": [], "commands": []}  # nothing to escalate about a host never reached
        ),
        caches=tuple(metrics.caches.values()) if metrics else (),
        callers=tuple(metrics.callers) if metrics else (),
        drop_caches=drop if drop is not None and (drop.ran or "drop_caches" in walk.store.probes) else None,
        evidence_summaries=tuple(summaries),
        evidence_dir=str(evidence_dir) if evidence_dir else None,
        extra=dict(extra or {}),
        interrupted=cut,
        memory=memory,
        largest=largest,
        history=history_verdict.document(hist, chart) if hist is not None else None,
    )
