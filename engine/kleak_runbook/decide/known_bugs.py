"""Known kernel bugs for a host: knowledge-base entries matched on kernel version and evidence.

``known_bugs`` matches a finished run (kernel, evidence context, verdict kind); ``bugs_for_kernel``
lists what the knowledge base knows about a kernel release string alone, with the evidence that
would confirm each entry (``kleak-runbook bugs --kernel ...``).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kleak_runbook.decide.expressions import Evaluator
from kleak_runbook.decide.knowledge import (
    KNOWLEDGE_ENV,
    Entry,
    bundled_knowledge_dir,
    env_knowledge_dirs,
    load_all,
    load_knowledge,
)
from kleak_runbook.decide.schema import CONTEXT
from kleak_runbook.derive.kernel import Kernel
from kleak_runbook.derive.kversion import KernelIdentity, RangeCheck, check, compare, identify
from kleak_runbook.evidence.specs import SPECS


@dataclass(frozen=True)
class Match:
    id: str
    title: str
    why: str
    confidence: str  # "matched" | "version-only"
    fix: str
    workaround: str
    links: tuple[str, ...]
    escalate_to: str
    verified: bool
    trap: bool = False
    needs: tuple[str, ...] = ()  # evidence specs that would confirm a version-only match
    source: str = "bundled"  # Entry.source


def _human(value: object, unit: str | None) -> str:
    if value is None:
        return "not reported by this kernel"
    if unit == "bytes" and isinstance(value, (int, float)) and not isinstance(value, bool):
        size = float(value)
        for suffix in ("B", "KiB", "MiB", "GiB", "TiB"):
            if abs(size) < 1024 or suffix == "TiB":
                return f"{size:.0f} {suffix}" if suffix == "B" else f"{size:.1f} {suffix}"
            size /= 1024
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _quoted(entry: Entry, evaluate: Callable[[str], object]) -> list[str]:
    quoted = []
    for show in entry.show:
        try:
            value = _human(evaluate(show.expr), show.unit)
        except Exception:  # evidence missing: the signature held without it, so just skip the quote
            continue
        quoted.append(f"{show.label}: {value}" + (f" ({show.expect})" if show.expect else ""))
    return quoted


def evidence_needed(names: Sequence[str]) -> list[tuple[str, str]]:
    """(context name, evidence spec) for each name that evidence supplies, in order, once each.

    >>> evidence_needed(["kind", "kmem", "mem_total", "slab"])
    [('kmem', 'meminfo'), ('slab', 'slabinfo')]
    """
    out: list[tuple[str, str]] = []
    for name in names:
        for spec in CONTEXT.get(name, ()):
            if spec not in {s for _, s in out}:
                out.append((name, spec))
    return out


def describe_evidence(needed: Sequence[tuple[str, str]]) -> str:
    """'/proc/slabinfo (slab)': where each piece of evidence is read on the host, and the name
    the signature reads it by.

    >>> describe_evidence([("slab", "slabinfo"), ("cgroups", "cgroups")])
    '/proc/slabinfo (slab), /proc/cgroups (cgroups)'
    """
    parts = []
    for name, spec in needed:
        where = SPECS[spec].command or SPECS[spec].host_path
        parts.append(f"{where} ({name})")
    return ", ".join(parts)


def _version_only(entry: Entry, needed: Sequence[tuple[str, str]]) -> str:
    if needed:
        return f"version matches; evidence {describe_evidence(needed)} would confirm it"
    return f"version matches; the evidence signature `{entry.signature}` would confirm it"


def _range_why(identity: KernelIdentity, result: RangeCheck) -> str:
    """Which range matched and which version was compared."""
    assert result.range is not None
    where = "kernel.org" if result.range.stream == "any" else result.range.stream
    span = f"[{result.range.start or '…'}, {result.range.to_before or '…'})"
    if result.range.stream == "any" and result.version != identity.release:
        return f"kernel {identity.release} (upstream {result.version}) is in {where} {span}"
    return f"kernel {result.version} is in {where} {span}"


def _missing(entry: Entry, evaluate: Callable[[str], object]) -> list[tuple[str, str]]:
    """The evidence the signature reads that is not in the context (asked as ``name is defined``)."""
    missing = []
    for name, spec in evidence_needed(entry.reads):
        try:
            present = bool(evaluate(f"{name} is defined"))
        except Exception:
            present = False
        if not present:
            missing.append((name, spec))
    return missing


def match(
    entries: Sequence[Entry],
    identity: KernelIdentity,
    evaluate: Callable[[str], object],
    kind: str,
) -> list[Match]:
    """The entries that apply to this kernel and verdict kind, with a sentence saying why.

    ``evaluate`` runs an expression over the host's evidence. If the signature cannot be
    evaluated, the entry is reported on its version alone ("version-only"), naming the evidence
    that was missing and would confirm it (``needs``).
    """
    found = []
    for entry in entries:
        if entry.kind != "any" and entry.kind != kind:
            continue
        result = check(identity, entry.affected)
        if not result.affected or result.range is None:
            continue
        why = _range_why(identity, result)
        confidence, needs = "matched", tuple[str, ...]()
        if entry.signature is None:
            why += "; no evidence signature to check"
        else:
            try:
                held = evaluate(entry.signature)
            except Exception as exc:
                missing = _missing(entry, evaluate)
                if entry.trap and missing and result.range.to_before is None:
                    # a reading trap of every kernel since long ago, whose evidence is absent, says
                    # nothing about this host (the ZFS ARC trap on a host that shows no ZFS)
                    continue
                confidence, needs = "version-only", tuple(spec for _, spec in missing)
                if missing:
                    why += "; " + _version_only(entry, missing)
                else:  # the evidence is there, but not what the signature reads (a field this kernel lacks)
                    why += f"; version matches; the evidence signature `{entry.signature}` could not be checked ({_reason(exc)})"
            else:
                if not held:
                    continue
                quoted = _quoted(entry, evaluate) or [f"evidence signature `{entry.signature}` holds"]
                why += "; " + "; ".join(quoted)
        found.append(
            Match(
                id=entry.id,
                title=entry.title,
                why=why,
                confidence=confidence,
                fix=entry.fix,
                workaround=entry.workaround,
                links=entry.links,
                escalate_to=entry.escalate_to,
                verified=entry.verified,
                trap=entry.trap,
                needs=needs,
                source=entry.source,
            )
        )
    return found


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@functools.lru_cache(maxsize=1)
def bundled_entries() -> tuple[Entry, ...]:
    return load_knowledge(bundled_knowledge_dir())


@functools.lru_cache(maxsize=4)
def _with_env(dirs: tuple[str, ...]) -> tuple[Entry, ...]:
    return load_all(environ={KNOWLEDGE_ENV: os.pathsep.join(dirs)}) if dirs else bundled_entries()


def default_entries() -> tuple[Entry, ...]:
    """The bundled entries plus those of the ``KLEAK_KNOWLEDGE`` directories (read once per value)."""
    return _with_env(tuple(str(d) for d in env_knowledge_dirs()))


def known_bugs(
    kernel: Kernel, context: Mapping[str, Any], kind: str, entries: Sequence[Entry] | None = None
) -> list[dict[str, Any]]:
    """The knowledge-base entries that match this kernel, verdict kind and evidence, as documents.

    ``entries`` defaults to ``default_entries()`` (bundled + ``KLEAK_KNOWLEDGE``); pass
    ``load_all(dirs)`` to add ``--knowledge`` directories.
    """
    if kernel.identity is None:
        return []
    ev = Evaluator()
    ctx = {**context, "kind": kind}
    chosen = default_entries() if entries is None else entries
    out = []
    for mt in match(chosen, kernel.identity, lambda expr: ev.evaluate(expr, ctx), kind):
        d = {
            k: getattr(mt, k)
            for k in ("id", "title", "why", "confidence", "fix", "workaround", "escalate_to", "verified")
        }
        d["links"] = list(mt.links)
        d["trap"] = mt.trap
        d["needs"] = list(mt.needs)
        d["source"] = mt.source
        out.append(d)
    return out


def _fixed_in(entry: Entry, result: RangeCheck) -> tuple[str, list[str]]:
    """(stream, versions): the fixed versions of the stream the kernel was compared in that are
    newer than it, nearest first (for ``any``: kernel.org releases)."""
    assert result.range is not None and result.version is not None
    stream = result.range.stream
    versions = [f.version for f in entry.fixed_in if f.stream == stream]
    newer = [v for v in versions if compare(stream, v, result.version) > 0]
    newer.sort(key=functools.cmp_to_key(functools.partial(compare, stream)))
    return stream, newer


def bugs_for_kernel(
    release: str,
    proc_version: str | None = None,
    version_signature: str | None = None,
    os_release_id: str | None = None,
    entries: Sequence[Entry] | None = None,
) -> list[dict[str, Any]]:
    """Every entry whose affected ranges include this kernel, of any kind, as documents.

    No evidence is evaluated: an entry with a signature is ``version-only`` and ``why`` names the
    evidence that would confirm it (``needs``: spec names); one without is ``matched``.
    ``fixed_in`` lists the fixed versions newer than the kernel in the stream it was compared in
    (``fixed_in_stream``; ``any`` means kernel.org). Sorted: bugs before traps, verified first,
    then by id. ``entries`` defaults to ``default_entries()``.

    >>> bug = bugs_for_kernel("3.10.0-957.21.3.el7.x86_64")[0]
    >>> bug["id"], bug["confidence"], bug["needs"]
    ('memcg-dying-cgroups-percpu', 'version-only', ['cgroups', 'meminfo'])
    """
    identity = identify(release, proc_version, os_release_id, version_signature)
    chosen = default_entries() if entries is None else entries
    out = []
    for entry in chosen:
        result = check(identity, entry.affected)
        if not result.affected or result.range is None:
            continue
        why = _range_why(identity, result)
        if entry.signature is None:
            confidence, needed = "matched", []
            why += "; no evidence signature to check"
        else:
            confidence, needed = "version-only", evidence_needed(entry.reads)
            why += "; " + _version_only(entry, needed)
        stream, fixed = _fixed_in(entry, result)
        out.append(
            {
                "id": entry.id,
                "title": entry.title,
                "kind": entry.kind,
                "why": why,
                "confidence": confidence,
                "needs": [spec for _, spec in needed],
                "fixed_in": fixed,
                "fixed_in_stream": stream,
                "fix": entry.fix,
                "workaround": entry.workaround,
                "escalate_to": entry.escalate_to,
                "links": list(entry.links),
                "verified": entry.verified,
                "trap": entry.trap,
                "source": entry.source,
            }
        )
    out.sort(key=lambda d: (d["trap"], not d["verified"], d["id"]))
    return out
