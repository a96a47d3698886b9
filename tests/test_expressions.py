"""Rule expressions run in Jinja2's sandbox: data, not code."""

from __future__ import annotations

import pytest

from kleak_runbook.decide.expressions import Evaluator, ExpressionError, human_bytes
from kleak_runbook.derive.series import Series


def test_ansible_style_conditions() -> None:
    ev = Evaluator()
    ctx = {"kmem": {"slab": Series.of([0, 100 * 1024, 200 * 1024], [0.0, 1.0, 2.0])}, "mem_total": 10 * 1024**2}
    assert ev.evaluate("kmem.slab.growth_bytes_per_s > 64 * KiB and kmem.slab.steady", ctx) is True
    assert ev.evaluate("kmem.slab > 0.5 * mem_total", ctx) is False
    assert ev.evaluate("kmem.percpu is defined", ctx) is False


@pytest.mark.parametrize(
    "expr",
    [
        "().__class__.__bases__[0].__subclasses__()",
        "kmem.__class__",
        "lipsum.__globals__",
        "cycler.__init__.__globals__.os",
        "kmem.slab.__dict__",
    ],
)
def test_escapes_are_refused(expr: str) -> None:
    with pytest.raises(ExpressionError):
        Evaluator().evaluate(expr, {"kmem": {"slab": Series.of([1], None)}})


def test_undefined_evidence_is_loud() -> None:
    with pytest.raises(ExpressionError, match="percpu"):
        Evaluator().evaluate("kmem.percpu > 0", {"kmem": {}})


def test_human_bytes() -> None:
    assert human_bytes(1536) == "1.5 KiB" and human_bytes(-2 * 1024**2, signed=True) == "-2.0 MiB"
    assert human_bytes(0, signed=True) == "0 B"
