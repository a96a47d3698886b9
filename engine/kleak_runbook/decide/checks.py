"""The Jinja2 parses that validate runbook and knowledge texts, through the persistent memo.

Validation asks three things of a text: an expression's syntax error or refusal and the names
it reads (``check``), a template's (``template_error``), and the names a template reads
(``template_names``). The answers depend only on the text and the parsing code, so they come
from ``kleak_runbook.memo`` when an earlier run has parsed the same text; Jinja2 and the
sandbox are imported only for a text the memo has not seen. What the answers mean (unknown
names, where in which file) is decided by the callers, every time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kleak_runbook.memo import memo

if TYPE_CHECKING:
    from kleak_runbook.decide.expressions import Evaluator

_EVALUATOR: list[Evaluator] = []


def _evaluator() -> Evaluator:
    if not _EVALUATOR:
        from kleak_runbook.decide.expressions import Evaluator

        _EVALUATOR.append(Evaluator())
    return _EVALUATOR[0]


def check(expr: str) -> tuple[str | None, set[str]]:
    """(syntax error or refusal, top-level names read) of a rule expression."""
    kept = memo().get("check", expr)
    if isinstance(kept, list) and len(kept) == 2 and isinstance(kept[1], list):
        return kept[0], set(kept[1])
    err, names = _evaluator().check(expr)
    memo().put("check", expr, [err, sorted(names)])
    return err, names


def template_error(text: str) -> str | None:
    """A text template's syntax error or refusal, or None."""
    kept: Any = memo().get("template_error", text)
    if isinstance(kept, list) and len(kept) == 1:
        return kept[0] if isinstance(kept[0], str) else None
    err = _evaluator().template_error(text)
    memo().put("template_error", text, [err])
    return err


def template_names(text: str) -> set[str]:
    """The names a text template reads from its context."""
    kept = memo().get("template_names", text)
    if isinstance(kept, list):
        return set(kept)
    names = _evaluator().template_names(text)
    memo().put("template_names", text, sorted(names))
    return names
