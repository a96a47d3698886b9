"""Known kernel bugs for a host: knowledge-base entries matched on kernel version and evidence."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kleak_runbook.decide.expressions import Evaluator
from kleak_runbook.decide.knowledge import Entry, bundled_knowledge_dir, load_knowledge
from kleak_runbook.derive.kernel import Kernel
from kleak_runbook.derive.kversion import KernelIdentity, check


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


def match(
    entries: tuple[Entry, ...] | list[Entry],
    identity: KernelIdentity,
    evaluate: Callable[[str], object],
    kind: str,
) -> list[Match]:
    """The entries that apply to this kernel and verdict kind, with a sentence saying why.

    ``evaluate`` runs a signature expression over the host's evidence; if it raises, the needed
    evidence is missing and the entry is reported on its version alone ("version-only").
    """
    found = []
    for entry in entries:
        if entry.kind != "any" and entry.kind != kind:
            continue
        result = check(identity, entry.affected)
        if not result.affected or result.range is None:
            continue
        where = "kernel.org" if result.range.stream == "any" else result.range.stream
        span = f"[{result.range.start or '…'}, {result.range.to_before or '…'})"
        why = f"kernel {result.version} is in {where} {span}"
        if result.range.stream == "any" and result.version != identity.release:
            why = f"kernel {identity.release} (upstream {result.version}) is in {where} {span}"
        confidence = "matched"
        if entry.signature is None:
            why += "; no evidence signature to check"
        else:
            try:
                held = evaluate(entry.signature)
            except Exception as exc:
                confidence = "version-only"
                why += f"; could not check the evidence signature `{entry.signature}` ({_reason(exc)})"
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
            )
        )
    return found


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@functools.lru_cache(maxsize=1)
def bundled_entries() -> tuple[Entry, ...]:
    return load_knowledge(bundled_knowledge_dir())


def known_bugs(kernel: Kernel, context: Mapping[str, Any], kind: str) -> list[dict[str, Any]]:
    """The knowledge-base entries that match this kernel, verdict kind and evidence, as documents."""
    if kernel.identity is None:
        return []
    ev = Evaluator()
    ctx = {**context, "kind": kind}
    out = []
    for mt in match(bundled_entries(), kernel.identity, lambda expr: ev.evaluate(expr, ctx), kind):
        d = {
            k: getattr(mt, k)
            for k in ("id", "title", "why", "confidence", "fix", "workaround", "escalate_to", "verified")
        }
        d["links"] = list(mt.links)
        d["trap"] = mt.trap
        out.append(d)
    return out
