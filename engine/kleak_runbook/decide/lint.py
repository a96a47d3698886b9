"""Warnings about a valid runbook: rules that read evidence no step on the way to them collects."""

from __future__ import annotations

from collections.abc import Iterable

from kleak_runbook.decide.expressions import Evaluator
from kleak_runbook.decide.runbook import Runbook, Step
from kleak_runbook.decide.schema import uncollected


def warnings(runbook: Runbook) -> list[str]:
    """Rules that read evidence no step on the way to them collects: they can never be evaluated."""
    ev = Evaluator()

    def names_read(step: Step) -> Iterable[tuple[str, str]]:
        for rule in step.rules:
            for name in ev.check(rule.when)[1]:
                yield f"{rule.path}.when", name

    doc = runbook.doc
    return [
        f"{runbook.file}:{doc.line(where) if doc else '?'}: {where}: warning: reads {name}, but no step on the way "
        f"here collects {spec}"
        for where, name, spec in uncollected(runbook.steps, runbook.start, names_read)
    ]
