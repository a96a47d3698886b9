"""Known kernel bugs for a finished walk: the knowledge base matched on version and evidence."""

from __future__ import annotations

import functools
from typing import Any

from kleak_runbook.decide.expressions import Evaluator
from kleak_runbook.decide.walker import HostWalk


@functools.lru_cache(maxsize=1)
def entries() -> tuple[Any, ...]:
    from kleak_runbook.decide.knowledge import load_knowledge
    from kleak_runbook.paths import knowledge_dir

    return load_knowledge(knowledge_dir())


def known_bugs(walk: HostWalk, kind: str) -> list[dict[str, Any]]:
    from kleak_runbook.decide.knowledge import match
    from kleak_runbook.derive.kversion import identify

    facts = walk.facts
    if facts is None or not facts.release:
        return []
    loaded = entries()
    identity = identify(
        facts.release,
        proc_version=walk.store.static.get("version"),
        os_release_id=facts.distro_id,
        version_signature=facts.version_signature,
    )
    ev = Evaluator()
    ctx = {**walk.context, "kind": kind}
    matches = match(loaded, identity, lambda expr: ev.evaluate(expr, ctx), kind)
    out = []
    for mt in matches:
        d = {
            k: getattr(mt, k)
            for k in ("id", "title", "why", "confidence", "fix", "workaround", "escalate_to", "verified")
        }
        d["links"] = list(mt.links)
        for extra in ("trap",):
            if hasattr(mt, extra):
                d[extra] = getattr(mt, extra)
        out.append(d)
    return out
