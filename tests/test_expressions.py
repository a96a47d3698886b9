"""Rule expressions run in Jinja2's sandbox: data, not code."""

from __future__ import annotations

import time

import pytest

from kleak_runbook.decide.expressions import Evaluator, ExpressionError
from kleak_runbook.decide.units import human_bytes
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


# -- bounded evaluation (issue 8): refused quickly, as an ExpressionError, never a hang or a crash


@pytest.mark.parametrize(
    ("expr", "reason"),
    [
        ("9 ** (9 ** 9) > 0", "power too large"),
        ("2 ** 100000", "power too large"),
        ("'a' * 10**11", "repetition too large"),
        ("10**11 * 'a'", "repetition too large"),
        ("[1] * 10**10", "repetition too large"),
        ("'x' ~ 'y' * 10**9", "repetition too large"),
        ("(10 ** 3000) * (10 ** 3000)", "product too large"),
        ("range(10**12) | list", "range of more than"),
        ("range(10**4) | map('string') | join('x' * 1000)", "joined text too large"),
        ("'%1000000000d' % 1", "width 1000000000"),
        ("'%.1000000000f' % 1.0", "width 1000000000"),
        ("'%*d' % (10**9, 1)", "'*' widths"),
        ("'%(a)s%(a)s%(a)s%(a)s' % {'a': 'x' * 300000}", "formatted text too large"),
        ("'{:>1000000000}'.format(1)", "width 1000000000"),
        ("'{:{}}'.format(1, 10**9)", "nested fields"),
        ("'{0}{0}{0}'.format('x' * 500000)", "formatted text too large"),
        ("'{a:>1000000000}'.format_map({'a': 1})", "width 1000000000"),
        ("'%s' | format('x' * 10**6)", "formatted text too large"),
        ("'a'.center(10**9)", "width 1000000000"),
        ("'a'.ljust(10**9)", "width 1000000000"),
        ("'a'.zfill(10**9)", "width 1000000000"),
        ("('\t' * 1000).expandtabs(10**6)", "expanded text too large"),
        ("('a' * 1000).replace('a', 'b' * 10**4)", "replaced text too large"),
        ("('-' * 20000).join(['x'] * 100)", "joined text too large"),
        ("'abc'.translate({97: 'x'})", "translate"),
        ("'a' | center(10**9)", "width 1000000000"),
        ("('a' * 1000) | replace('a', 'a' * 1000) | replace('a', 'a' * 1000)", "replaced text too large"),
        ("('a\n' * 1000) | indent(10**4)", "indented text too large"),
        ("[1] | batch(10**9, 'x') | list", "batch size"),
        ("[1] | slice(10**9) | list", "number of slices"),
        ("[[1] * 10] * 10**5 | sum(start=[])", "sum adds numbers only"),
        ("[1, 2] | tojson(indent=10**6)", "tojson indent"),
        ("('x' * 600000) + ('y' * 600000)", "sum too large"),
        ("(range(10**5) | list) + (range(10**5) | list)", "evaluation steps"),
    ],
)
def test_resource_attacks_are_refused_quickly(expr: str, reason: str) -> None:
    start = time.monotonic()
    with pytest.raises(ExpressionError, match=r"^refused: ") as info:
        Evaluator().evaluate(expr, {})
    assert reason in str(info.value)
    assert time.monotonic() - start < 1


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{% set x = 'a' * 10**11 %}{{ x }}", "repetition too large"),
        ("{% for a in range(10**5) %}{% for b in range(10**5) %}{% endfor %}{% endfor %}", "evaluation steps"),
        ("{% for a in range(10**5) %}" + "x" * 100 + "{% endfor %}", "text longer than"),
        (
            "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
            "joined text",
        ),
        ("{% set ns = namespace(s=[1]) %}{% for i in range(64) %}{% set ns.s = [ns.s, ns.s] %}{% endfor %}", "list or"),
        ("{% set l = ['x' * 10**5] * 5 %}{% set m = [l, l, l] %}{{ [m, m, m] }}", "list or mapping too large"),
        ("{% include 'x' %}", "{% include %} is not allowed"),
        ("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", "{% macro %} is not allowed"),
    ],
)
def test_text_attacks_are_refused_quickly(text: str, reason: str) -> None:
    start = time.monotonic()
    with pytest.raises(ExpressionError, match=r"^refused: ") as info:
        Evaluator().render(text, {})
    assert reason in str(info.value)
    assert time.monotonic() - start < 6  # the evaluation deadline is 5 s; these take well under 1


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{% include 'x' %}", "{% include %}"),
        ("{% extends 'x' %}", "{% extends %}"),
        ("{% import 'x' as y %}", "{% import %}"),
        ("{% from 'x' import y %}", "{% from … import %}"),
        ("{% macro f() %}{% endmacro %}", "{% macro %}"),
        ("{% call f() %}{% endcall %}", "{% call %}"),
        ("{% filter upper %}{% endfilter %}", "{% filter %}"),
        ("{% set x %}y{% endset %}", "{% set … endset %}"),
        ("{% block b %}{% endblock %}", "{% block %}"),
        ("{% for x in y recursive %}{% endfor %}", "recursive loops"),
        ("{{ " + "(" * 300 + "1" + ")" * 300 + " }}", "nested"),
    ],
)
def test_validation_refuses_what_texts_cannot_do(text: str, reason: str) -> None:
    err = Evaluator().template_error(text)
    assert err is not None and reason in err


def test_validation_of_expressions_never_raises() -> None:
    ev = Evaluator()
    assert "nested too deeply" in (ev.check("(" * 2000 + "1" + ")" * 2000)[0] or "")
    assert "nested more than" in (ev.check("x" + " | abs" * 100)[0] or "")
    assert "syntax error" in (ev.check("1 }}{% include 'x' %}{{ 1")[0] or "")  # a text, not an expression
    assert ev.check("range(3) | list | length > params.n * MiB") == (None, {"params"})  # globals are not evidence


@pytest.mark.parametrize(
    ("expr", "kind"),
    [
        ("1.5 ** 1e9", "OverflowError"),
        ("(10 ** 400) / 3.0", "OverflowError"),
        ("1 / 0", "ZeroDivisionError"),
        ("'{:d}'.format('x')", "ValueError"),
        ("x | round(2)", "TypeError"),
        ("{}['missing'] + 1", "missing"),
    ],
)
def test_any_exception_becomes_an_expression_error(expr: str, kind: str) -> None:
    with pytest.raises(ExpressionError, match=kind):
        Evaluator().evaluate(expr, {"x": "text"})


def test_sandbox_refusals_still_hold_inside_format() -> None:
    with pytest.raises(ExpressionError, match="refused"):
        Evaluator().evaluate("'{0.__class__}'.format(x)", {"x": 1})
    with pytest.raises(ExpressionError, match="refused"):
        Evaluator().evaluate("x.append(1)", {"x": []})  # runbook data is not changed by a rule


def test_ordinary_rules_and_texts_still_work() -> None:
    ev = Evaluator()
    slab = Series.of([10 * 1024**2, 20 * 1024**2, 30 * 1024**2], [0.0, 60.0, 120.0])
    ctx = {"kmem": {"slab": slab}, "params": {"a": 10, "min": 64}, "mem_total": 8 * 1024**3, "x": 0.425}
    assert ev.evaluate("kmem.slab.growth_bytes_per_s >= params.min * KiB and kmem.slab.steady", ctx) is True
    assert ev.evaluate("params.a / 4", ctx) == 2.5
    assert ev.evaluate("kmem.slab > 0.2 * mem_total", ctx) is False
    assert ev.evaluate("(x * 100) | round | int", ctx) == 42
    assert ev.evaluate("2 ** 64 > 10 ** 19 and 'ab' * 3 == 'ababab' and [0] * 3 == [0, 0, 0]", ctx) is True
    assert ev.evaluate("'%5.1f%%' % (x * 100)", ctx) == " 42.5%"
    assert ev.evaluate("'{:>6}'.format('a') ~ ('b' | center(3))", ctx) == "     a b "
    assert ev.evaluate("range(5) | map('string') | join(',')", ctx) == "0,1,2,3,4"
    assert ev.evaluate("[1, 2, 3] | sum", ctx) == 6
    text = "{% for v in kmem.slab.values %}{{ v | bytes }}{% if not loop.last %}, {% endif %}{% endfor %}"
    assert ev.render(text, ctx) == "10.0 MiB, 20.0 MiB, 30.0 MiB"
    assert (
        ev.render("{% set t = kmem.slab | bytes %}{{ t ~ ' of ' ~ (mem_total | bytes) }}", ctx) == "30.0 MiB of 8.0 GiB"
    )
