"""The bounded sandbox rules and texts run in: Jinja2's immutable sandbox, with every way a
stranger's runbook could build a huge value, loop forever or reach out refused.

Powers, repetition, ``%`` and ``format`` widths, ``range``, filters and method calls are checked
before the value is built; loops and filters count steps against a budget (steps and wall time);
only ``if``/``for``/``set``/``with`` are allowed in texts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from kleak_runbook.decide.limits import (
    _DROPPED_FILTERS,
    _DROPPED_GLOBALS,
    MAX_DEPTH,
    _bounded_range,
    _budget,
    _fits,
    _format,
    _guard_filter,
    _limit,
    _method_check,
    _number,
    _percent,
    _power,
    _Refused,
    _repeat,
    _weight,
)
from kleak_runbook.decide.units import CONSTANTS, human_bytes, percent

_TAG_NAMES = {
    "Extends": "extends",
    "Include": "include",
    "Import": "import",
    "FromImport": "from … import",
    "Macro": "macro",
    "CallBlock": "call",
    "FilterBlock": "filter",
    "AssignBlock": "set … endset",
    "Block": "block",
    "ScopedEvalContextModifier": "autoescape",
    "EvalContextModifier": "autoescape",
}
_STATEMENTS = (nodes.Template, nodes.Output, nodes.If, nodes.For, nodes.Assign, nodes.With)


def _refusal(tree: nodes.Node) -> str | None:
    """Why a parsed expression or text is not allowed, or None."""
    stack: list[tuple[nodes.Node, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return f"nested more than {MAX_DEPTH} levels deep"
        if isinstance(node, nodes.For) and node.recursive:
            return "recursive loops are not allowed in runbook texts"
        if not isinstance(node, (nodes.Expr, nodes.Helper, *_STATEMENTS)):
            tag = _TAG_NAMES.get(type(node).__name__, type(node).__name__.lower())
            return f"{{% {tag} %}} is not allowed in runbook texts (only if, for, set and with)"
        stack.extend((child, depth + 1) for child in node.iter_child_nodes())
    return None


def _env_call(name: str, args: list[Any], lineno: int) -> nodes.Call:
    return nodes.Call(nodes.EnvironmentAttribute(name, lineno=lineno), args, [], None, None, lineno=lineno)


class _Harden(NodeTransformer):
    """Loops count their iterations, and ``~`` and non-constant literals check their size."""

    def __init__(self, env: _Sandbox) -> None:
        self.eval_ctx = nodes.EvalContext(env)

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)  # in place: a For stays a For
        node.iter = _env_call("kleak_loop", [node.iter], node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _env_call("kleak_concat", list(node.nodes), node.lineno)

    def _literal(self, node: nodes.Expr) -> nodes.Node:
        self.generic_visit(node)
        if getattr(node, "ctx", "load") != "load":
            return node
        try:
            node.as_const(self.eval_ctx)  # written out in full in the text: as large as the text
            return node
        except nodes.Impossible:
            return _env_call("kleak_build", [node], node.lineno)

    visit_List = visit_Tuple = visit_Dict = _literal


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})

    def __init__(self) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False, finalize=_fits)
        self.globals["range"] = _bounded_range
        for name in _DROPPED_GLOBALS:
            self.globals.pop(name, None)
        for name in _DROPPED_FILTERS:
            self.filters.pop(name, None)

    def guard_filters(self) -> None:
        self.filters = {name: _guard_filter(name, f) for name, f in self.filters.items()}

    def _generate(
        self, source: nodes.Template, name: str | None, filename: str | None, defer_init: bool = False
    ) -> str:
        reason = _refusal(source)
        if reason:
            raise _Refused(reason)
        source = _Harden(self).visit(source)
        source.set_environment(self)
        return super()._generate(source, name, filename, defer_init=defer_init)

    # the hooks the generated code calls

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _budget().tick()
        if operator == "**":
            _power(left, right)
        elif operator == "*":
            _repeat(left, right)
        elif operator == "%" and isinstance(left, (str, bytes)):
            _percent(left, right)
        elif operator == "+" and isinstance(left, (str, bytes, list, tuple)):
            _limit(_weight(left) + _weight(right), "sum")
        return _number(self.binop_table[operator](left, right))

    def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        _budget().tick()
        args = _method_check(obj, args, kwargs)
        return _fits(super().call(context, obj, *args, **kwargs), "result")

    def getattr(self, obj: Any, attribute: str) -> Any:
        _budget().tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _budget().tick()
        return super().getitem(obj, argument)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapper = super().wrap_str_format(value)
        if wrapper is None:
            return None
        fmt, is_map = value.__self__, value.__name__ == "format_map"

        def checked(*args: Any, **kwargs: Any) -> str:
            _budget().tick()
            mapping = args[0] if is_map and args and isinstance(args[0], Mapping) else {}
            _format(fmt, [*args, *kwargs.values(), *mapping.values()])
            return wrapper(*args, **kwargs)

        return checked

    # what _Harden calls

    def kleak_loop(self, iterable: Any) -> Iterator[Any]:
        budget = _budget()
        for item in iterable:
            budget.tick()
            yield item

    def kleak_concat(self, *parts: Any) -> str:
        _limit(sum(_weight(p) for p in parts), "joined text")
        return "".join(map(str, parts))

    def kleak_build(self, value: Any) -> Any:
        return _fits(value, "list or mapping")


def _env() -> _Sandbox:
    env = _Sandbox()
    env.filters["bytes"] = human_bytes
    env.filters["sbytes"] = lambda v: human_bytes(v, signed=True)
    env.filters["pct"] = percent
    env.guard_filters()
    env.globals.update(CONSTANTS)
    return env
