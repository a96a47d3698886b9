"""Rule expressions and text templates from runbooks, evaluated in Jinja2's sandbox.

Expressions read like Ansible ``when:`` conditions (a Jinja2 expression without braces); no
Python ``eval`` anywhere. Undefined names and attributes raise (``StrictUndefined``), so a rule
that needs evidence the host did not give is reported as not evaluable instead of silently false.

>>> ev = Evaluator()
>>> ev.evaluate("x.growth > 64 * KiB and y is not none", {"x": {"growth": 70000}, "y": 1})
True
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

CONSTANTS: dict[str, int] = {"KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}


def human_bytes(value: Any, signed: bool = False) -> str:
    """1536 → '1.5 KiB' (binary units, as slabtop and the kernel docs use)."""
    try:
        n = float(value)
    except (TypeError, ValueError):
        return str(value)
    sign = "+" if signed and n > 0 else ("-" if n < 0 else "")
    n = abs(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{sign}{n:.0f} {unit}" if unit == "B" else f"{sign}{n:.1f} {unit}"
        n /= 1024
    return str(value)


def percent(value: Any, total: Any) -> str:
    try:
        return f"{100.0 * float(value) / float(total):.1f}%"
    except (TypeError, ValueError, ZeroDivisionError):
        return "n/a"


class ExpressionError(Exception):
    """An expression could not be evaluated (undefined evidence, type error, sandbox refusal)."""


def _env() -> SandboxedEnvironment:
    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
    env.filters["bytes"] = human_bytes
    env.filters["sbytes"] = lambda v: human_bytes(v, signed=True)
    env.filters["pct"] = percent
    env.globals.update(CONSTANTS)
    return env


class Evaluator:
    def __init__(self) -> None:
        self.env = _env()
        self._cache: dict[str, Any] = {}

    def template_error(self, text: str) -> str | None:
        try:
            self.env.parse(text)
        except TemplateSyntaxError as exc:
            return f"template syntax error: {exc.message}"
        return None

    def check(self, expr: str) -> tuple[str | None, set[str]]:
        """(syntax error, top-level names read) from one parse: what validation needs."""
        try:
            ast = self.env.parse("{{ " + expr + " }}")
        except TemplateSyntaxError as exc:
            return f"expression syntax error: {exc.message}", set()
        # an expression cannot assign, so every Name it loads is read from the context
        return None, {n.name for n in ast.find_all(nodes.Name) if n.ctx == "load"} - set(CONSTANTS)

    def template_names(self, text: str) -> set[str]:
        return set(meta.find_undeclared_variables(self.env.parse(text))) - set(CONSTANTS)

    def compile(self, expr: str) -> Any:
        fn = self._cache.get(expr)
        if fn is None:
            fn = self._cache[expr] = self.env.compile_expression(expr, undefined_to_none=False)
        return fn

    def evaluate(self, expr: str, context: Mapping[str, Any]) -> Any:
        fn = self.compile(expr)
        with _as_expression_error():
            value = fn(**context)
        if isinstance(value, StrictUndefined):
            raise ExpressionError("result is undefined")
        return value

    def render(self, text: str, context: Mapping[str, Any]) -> str:
        with _as_expression_error():
            return str(self.env.from_string(text).render(**context)).strip()


@contextmanager
def _as_expression_error() -> Iterator[None]:
    """What can go wrong evaluating runbook data becomes one ExpressionError, never a traceback."""
    try:
        yield
    except UndefinedError as exc:
        raise ExpressionError(exc.message or "undefined") from None
    except SecurityError as exc:
        raise ExpressionError(f"refused by the sandbox: {exc}") from None
    except (TypeError, ValueError, ZeroDivisionError, AttributeError, KeyError) as exc:
        raise ExpressionError(f"{type(exc).__name__}: {exc}") from None
