"""Rule expressions and text templates from runbooks, evaluated in Jinja2's sandbox.

Expressions read like Ansible ``when:`` conditions (a Jinja2 expression without braces); no
Python ``eval`` anywhere. Undefined names and attributes raise (``StrictUndefined``), so a rule
that needs evidence the host did not give is reported as not evaluable instead of silently false.

Runbooks may come from strangers, so evaluation is bounded as well as sandboxed: every value an
expression or text builds (by an operator, ``~``, a list or dict literal, a filter, a call,
``%`` or ``format``) is checked *before* it is built against ``MAX_WEIGHT`` (about a million
characters or items), integers against ``MAX_INT_BITS``, and every step (loop iteration,
operator, attribute, call, filter) counts against ``MAX_STEPS`` and a ``MAX_SECONDS`` deadline.
Texts may use ``{% if %}``, ``{% for %}`` (not recursive), ``{% set x = … %}`` and ``{% with %}``;
include, import, extends, macros, call, filter and set blocks are refused (no loader, and a
buffered block could grow out of sight). Whatever goes wrong is one ``ExpressionError``.

>>> ev = Evaluator()
>>> ev.evaluate("x.growth > 64 * KiB and y is not none", {"x": {"growth": 70000}, "y": 1})
True
>>> ev.evaluate("9 ** (9 ** 9) > 0", {})
Traceback (most recent call last):
...
kleak_runbook.decide.expressions.ExpressionError: refused: power too large (9 ** 387420489)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from functools import cached_property
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, meta, nodes
from jinja2.environment import TemplateExpression
from jinja2.exceptions import SecurityError
from jinja2.parser import Parser

from kleak_runbook.decide.limits import _CURRENT, MAX_DEPTH, MAX_TEXT, _Budget, _Refused
from kleak_runbook.decide.sandbox import _env, _refusal


class ExpressionError(Exception):
    """An expression could not be evaluated (undefined evidence, type error, sandbox refusal)."""


class Evaluator:
    def __init__(self) -> None:
        self._cache: dict[str, Any] = {}

    @cached_property
    def env(self) -> Any:
        """Made when first needed: walkers and checkers are made before there is anything to parse."""
        return _env()

    def template_error(self, text: str) -> str | None:
        try:
            tree = self.env.parse(text)
        except TemplateSyntaxError as exc:
            return f"template syntax error: {_one_line(exc.message)}"
        except (RecursionError, MemoryError):
            return f"template nested too deeply (more than {MAX_DEPTH} levels)"
        reason = _refusal(tree)
        return f"refused: {reason}" if reason else None

    def check(self, expr: str) -> tuple[str | None, set[str]]:
        """(syntax error, top-level names read) from one parse: what validation needs."""
        try:
            tree = _parse_expression(self.env, expr)
        except TemplateSyntaxError as exc:
            return f"expression syntax error: {_one_line(exc.message)}", set()
        except (RecursionError, MemoryError):
            return f"expression nested too deeply (more than {MAX_DEPTH} levels)", set()
        reason = _refusal(tree)
        if reason:
            return f"refused: {reason}", set()
        # an expression cannot assign, so every Name it loads is read from the context
        return None, {n.name for n in tree.find_all(nodes.Name) if n.ctx == "load"} - set(self.env.globals)

    def template_names(self, text: str) -> set[str]:
        try:
            return set(meta.find_undeclared_variables(self.env.parse(text))) - set(self.env.globals)
        except (TemplateSyntaxError, RecursionError, MemoryError):
            return set()  # template_error says why

    def compile(self, expr: str) -> Any:
        fn = self._cache.get(expr)
        if fn is None:
            fn = self._cache[expr] = _compile_expression(self.env, expr)
        return fn

    def evaluate(self, expr: str, context: Mapping[str, Any]) -> Any:
        _CURRENT[0] = _Budget()
        with _as_expression_error():
            value = self.compile(expr)(**context)
        if isinstance(value, StrictUndefined):
            raise ExpressionError("result is undefined")
        return value

    def render(self, text: str, context: Mapping[str, Any]) -> str:
        _CURRENT[0] = budget = _Budget()
        with _as_expression_error():
            out: list[str] = []
            size = 0
            for chunk in self.env.from_string(text).generate(**context):
                budget.tick()
                size += len(chunk)
                if size > MAX_TEXT:
                    raise _Refused(f"text longer than {MAX_TEXT:,} characters")
                out.append(chunk)
            return str("".join(out)).strip()


def _parse_expression(env: Any, expr: str) -> nodes.Expr:
    """Exactly what ``compile_expression`` parses (a text like ``1 }}{{ 2`` is not one)."""
    parser = Parser(env, expr, state="variable")
    tree = parser.parse_expression()
    if not parser.stream.eos:
        raise TemplateSyntaxError("chunk after expression", parser.stream.current.lineno, None, None)
    return tree


def _compile_expression(env: Any, expr: str) -> Any:
    """``env.compile_expression(expr, undefined_to_none=False)``, the same nodes compiled the same
    way, with the compiled code kept in Jinja2's bytecode cache under the memo's directory
    (``kleak_runbook.memo``; Jinja2 checks the expression's text, its own version and Python's,
    the directory's name our sandbox's code). Compiling is most of what a rule's first evaluation
    costs; the sandbox's refusals and hardening run when the code is made, as they would."""
    from kleak_runbook.memo import expression_cache

    cache = expression_cache()
    bucket = (
        cache.get_bucket(env, hashlib.sha256(expr.encode("utf-8", "surrogatepass")).hexdigest(), None, expr)
        if cache
        else None
    )
    code = bucket.code if bucket is not None else None
    if code is None:
        node = _parse_expression(env, expr)
        node.set_environment(env)
        code = env.compile(nodes.Template([nodes.Assign(nodes.Name("result", "store"), node, lineno=1)], lineno=1))
        if cache is not None and bucket is not None:
            bucket.code = code
            with suppress(OSError):
                cache.set_bucket(bucket)
    return TemplateExpression(env.template_class.from_code(env, code, env.make_globals(None)), False)


def _one_line(text: Any, limit: int = 300) -> str:
    out = " ".join(str(text).split())
    return out if len(out) <= limit else out[:limit] + "…"


@contextmanager
def _as_expression_error() -> Iterator[None]:
    """What can go wrong evaluating runbook data becomes one ExpressionError, never a traceback."""
    try:
        yield
    except _Refused as exc:
        raise ExpressionError(f"refused: {_one_line(exc)}") from None
    except UndefinedError as exc:
        raise ExpressionError(_one_line(exc.message or "undefined")) from None
    except SecurityError as exc:
        raise ExpressionError(f"refused by the sandbox: {_one_line(exc)}") from None
    except TemplateSyntaxError as exc:
        raise ExpressionError(f"syntax error: {_one_line(exc.message)}") from None
    except RecursionError:
        raise ExpressionError("refused: nested too deeply (recursion limit)") from None
    except MemoryError:
        raise ExpressionError("refused: out of memory") from None
    except Exception as exc:  # anything else a stranger's expression can raise
        raise ExpressionError(f"{type(exc).__name__}: {_one_line(exc)}") from None
