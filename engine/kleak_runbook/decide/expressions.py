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

import functools
import inspect
import re
import string
import time
import types
from collections.abc import Callable, Iterable, Iterator, Mapping, MappingView, Sequence
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.filters import make_attrgetter
from jinja2.parser import Parser
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import _PassArg
from jinja2.visitor import NodeTransformer

CONSTANTS: dict[str, int] = {"KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}

MAX_WEIGHT = 1_000_000  # size of any one value built (characters of text, or items)
MAX_TEXT = 100_000  # characters of one rendered finding or summary
MAX_INT_BITS = 10_000  # about 3,000 decimal digits
MAX_RANGE = 100_000  # numbers in one range()
MAX_STEPS = 200_000  # per evaluation or rendering; a bundled rule takes a few dozen
MAX_SECONDS = 5.0  # per evaluation or rendering, the last resort
MAX_DEPTH = 60  # nesting of an expression or text (Python's compiler stops at 200 parentheses)


def human_bytes(value: Any, signed: bool = False) -> str:
    """1536 → '1.5 KiB' (binary units, as slabtop and the kernel docs use)."""
    try:
        n = float(value)
    except (TypeError, ValueError, OverflowError):
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
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return "n/a"


class ExpressionError(Exception):
    """An expression could not be evaluated (undefined evidence, type error, sandbox refusal)."""


class _Refused(SecurityError):
    """Something that would take too long or build too much; reported as ``refused: …``."""


# ---------------------------------------------------------------------------------------------
# sizes


def _weight(value: Any, limit: int = MAX_WEIGHT) -> int:
    """Roughly the length of ``str(value)``, counting shared parts each time they occur; stops
    counting once past ``limit``, so it costs at most about ``limit`` steps."""
    total = 0
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, (str, bytes, bytearray)):
            total += len(v)
        elif isinstance(v, bool) or v is None:
            total += 5
        elif isinstance(v, int):
            total += v.bit_length() // 3 + 1
        elif isinstance(v, (float, complex, range)):
            total += 24
        elif isinstance(v, Mapping):
            total += 2 + 4 * len(v)
            if total <= limit:
                stack.extend(v.keys())
                stack.extend(v.values())
        elif isinstance(v, (Sequence, AbstractSet, MappingView)):
            total += 2 + 2 * len(v)
            if total <= limit:
                stack.extend(v)  # type: ignore[arg-type]
        else:  # evidence objects, generators, undefined: opaque
            total += 16
        if total > limit:
            return total
    return total


def _fits(value: Any, what: str = "value") -> Any:
    if _weight(value) > MAX_WEIGHT:
        raise _Refused(f"{what} too large (more than {MAX_WEIGHT:,} characters or items)")
    return value


def _number(value: Any) -> Any:
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise _Refused(f"number too large (more than {MAX_INT_BITS:,} bits)")
    return value


def _limit(n: int, what: str) -> None:
    if n > MAX_WEIGHT:
        raise _Refused(f"{what} too large (more than {MAX_WEIGHT:,} characters or items)")


def _count(value: Any, limit: int = MAX_WEIGHT, what: str = "width") -> int:
    """A width, precision or count written in a format or passed to a method."""
    if isinstance(value, str):
        if len(value) > 7:
            raise _Refused(f"{what} {value[:20]}… too large (limit {limit:,})")
        value = int(value)
    if not isinstance(value, int):
        return 0
    if value > limit:
        raise _Refused(f"{what} {_short(value)} too large (limit {limit:,})")
    return value


def _repeat(left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int):
        if left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise _Refused(f"product too large (more than {MAX_INT_BITS:,} bits)")
        return
    seq, n = (left, right) if isinstance(right, int) else (right, left)
    if (
        isinstance(n, int)
        and isinstance(seq, (str, bytes, list, tuple))
        and n > 0
        and (len(seq) * n > MAX_WEIGHT or _weight(seq) * n > MAX_WEIGHT)
    ):
        raise _Refused(f"repetition too large ({type(seq).__name__} of {len(seq):,} times {n:,})")


def _power(base: Any, exp: Any) -> None:
    if (
        isinstance(base, int)
        and isinstance(exp, int)
        and exp > 0
        and abs(base) > 1
        and (exp > MAX_INT_BITS or exp * (abs(base).bit_length() - 1) > MAX_INT_BITS)
    ):
        raise _Refused(f"power too large ({_short(base)} ** {_short(exp)})")


def _short(n: int) -> str:
    return str(n) if n.bit_length() < 64 else f"a {n.bit_length()}-bit number"


_PERCENT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _args_weight(args: Any) -> int:
    values = list(args.values()) if isinstance(args, Mapping) else (list(args) if isinstance(args, tuple) else [args])
    return max((_weight(v) for v in values), default=0)


def _percent(fmt: str | bytes, args: Any) -> None:
    """``fmt % args`` builds at most the format, its widths, and each field's value."""
    text = fmt.decode("latin-1") if isinstance(fmt, bytes) else fmt
    fields = widths = 0
    for m in _PERCENT.finditer(text):
        fields += 1
        if "*" in (m.group(1), m.group(2)):
            raise _Refused("'*' widths in % formats")
        widths += _count(m.group(1) or 0) + _count(m.group(2) or 0)
    if fields:
        _limit(len(text) + widths + fields * _args_weight(args), "formatted text")


def _format(fmt: str, values: list[Any]) -> None:
    """``fmt.format(...)``: the same bound, from the fields' format specs."""
    fields = widths = 0
    for _, field_name, spec, _ in string.Formatter().parse(fmt):
        if field_name is None:
            continue
        fields += 1
        if spec and "{" in spec:
            raise _Refused("nested fields in a format spec")
        widths += sum(_count(n) for n in re.findall(r"\d+", spec or ""))
    if fields:
        _limit(len(fmt) + widths + fields * max((_weight(v) for v in values), default=0), "formatted text")


def _replace(s: Any, old: Any, new: Any, count: Any = -1) -> None:
    if not (isinstance(s, (str, bytes)) and isinstance(old, type(s)) and isinstance(new, type(s))):
        return
    hits = s.count(old) if old else len(s) + 1  # type: ignore[arg-type]
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    _limit(len(s) + hits * max(0, len(new) - len(old)), "replaced text")


def _joined(sep: Any, items: Iterable[Any]) -> list[Any]:
    """Materialize what a join joins (ticking each item) and check the result's size."""
    out = []
    for item in items:
        _budget().tick()
        out.append(item)
    sep_len = _weight(sep) if sep is not None else 0
    _limit(sum(_weight(i) for i in out) + max(0, len(out) - 1) * sep_len, "joined text")
    return out


# ---------------------------------------------------------------------------------------------
# the per-evaluation budget


class _Budget:
    __slots__ = ("deadline", "steps")

    def __init__(self) -> None:
        self.steps = MAX_STEPS
        self.deadline = time.monotonic() + MAX_SECONDS

    def tick(self) -> None:
        self.steps -= 1
        if self.steps < 0:
            raise _Refused(f"more than {MAX_STEPS:,} evaluation steps")
        if time.monotonic() > self.deadline:
            raise _Refused(f"evaluation took longer than {MAX_SECONDS:g} s")


_CURRENT = [_Budget()]


def _budget() -> _Budget:
    return _CURRENT[0]


def _bounded_range(*args: int) -> range:
    rng = range(*args)
    if len(rng) > MAX_RANGE:
        raise _Refused(f"range of more than {MAX_RANGE:,} numbers")
    return rng


# ---------------------------------------------------------------------------------------------
# filters: each counts a step; the ones that can multiply their input check first


def _f_center(a: dict[str, Any]) -> None:
    _limit(_weight(a["value"]) + _count(a["width"]), "centred text")


def _f_indent(a: dict[str, Any]) -> None:
    s, width = a["s"], a["width"]
    w = len(width) if isinstance(width, str) else _count(width)
    lines = s.count("\n") + 1 if isinstance(s, str) else 1
    _limit(_weight(s) + lines * w, "indented text")


def _f_wordwrap(a: dict[str, Any]) -> None:
    s, width = a["s"], a["width"]
    n = _weight(s)
    if n > MAX_TEXT:
        raise _Refused(f"wordwrap of more than {MAX_TEXT:,} characters")
    wrap = a["wrapstring"]
    per = len(wrap) if isinstance(wrap, str) else 1
    _limit(n + (n // max(1, width if isinstance(width, int) else 1) + 1) * per, "wrapped text")


def _f_replace(a: dict[str, Any]) -> None:
    count = a["count"]
    _replace(a["s"], a["old"], a["new"], -1 if count is None else count)


def _f_join(a: dict[str, Any]) -> None:
    value = a["value"]
    if a["attribute"] is not None:
        getter = make_attrgetter(a["eval_ctx"].environment, a["attribute"])
        value = (getter(v) for v in value)
        a["attribute"] = None
    a["value"] = _joined(a["d"], value)


def _f_format(a: dict[str, Any]) -> None:
    if isinstance(a["value"], str):
        _percent(a["value"], a["kwargs"] or a["args"])


def _f_batch(a: dict[str, Any]) -> None:
    n = _count(a["linecount"], what="batch size")
    if a["fill_with"] is not None:
        _limit(n * (_weight(a["fill_with"]) + 2), "batch")


def _f_slice(a: dict[str, Any]) -> None:
    _count(a["slices"], 10_000, what="number of slices")


def _f_sum(a: dict[str, Any]) -> None:
    if not isinstance(a["start"], (int, float)):
        raise _Refused("sum adds numbers only")


def _f_tojson(a: dict[str, Any]) -> None:
    indent = a["indent"]
    if (len(indent) if isinstance(indent, str) else _count(indent)) > 16:
        raise _Refused("tojson indent larger than 16")


def _f_list(a: dict[str, Any]) -> None:
    out = []
    budget = _budget()
    for item in a["value"]:  # a generator may promise more than it should deliver
        budget.tick()
        out.append(item)
        if len(out) > MAX_WEIGHT:
            raise _Refused(f"list of more than {MAX_WEIGHT:,} items")
    a["value"] = out


_FILTER_CHECKS: dict[str, Callable[[dict[str, Any]], None]] = {
    "list": _f_list,
    "center": _f_center,
    "indent": _f_indent,
    "wordwrap": _f_wordwrap,
    "replace": _f_replace,
    "join": _f_join,
    "format": _f_format,
    "batch": _f_batch,
    "slice": _f_slice,
    "sum": _f_sum,
    "tojson": _f_tojson,
}
# HTML helpers with nothing to do in a plain-text report, and a lorem-ipsum generator
_DROPPED_FILTERS = ("urlize", "xmlattr")
_DROPPED_GLOBALS = ("lipsum", "cycler", "joiner")


def _guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    check = _FILTER_CHECKS.get(name)
    first = 1 if _PassArg.from_obj(func) is not None else 0  # context, eval context or environment
    inner = inspect.unwrap(func)
    # Jinja's async_variant wrappers take an eval context that the function they wrap does not
    skip = 1 if first and _PassArg.from_obj(inner) is None else 0
    sig = inspect.signature(inner) if check else None

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _budget().tick()
        if len(args) > first:
            _fits(args[first], f"input of the {name} filter")
        if check is not None and sig is not None:
            bound = sig.bind(*args[skip:], **kwargs)
            bound.apply_defaults()
            check(bound.arguments)
            args, kwargs = (*args[:skip], *bound.args), bound.kwargs
        return _fits(func(*args, **kwargs), f"result of the {name} filter")

    return guarded


# ---------------------------------------------------------------------------------------------
# str and bytes methods that can multiply (format and format_map are in wrap_str_format)


def _method_check(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    owner = getattr(obj, "__self__", None)
    if not isinstance(owner, (str, bytes)) or not isinstance(obj, types.BuiltinMethodType):
        return args
    name = obj.__name__
    arg = args[0] if args else next(iter(kwargs.values()), None)
    if name in ("center", "ljust", "rjust", "zfill"):
        _limit(len(owner) + _count(arg), "padded text")
    elif name == "expandtabs":
        tab = arg if isinstance(arg, int) else 8
        tabs = owner.count(b"\t") if isinstance(owner, bytes) else owner.count("\t")
        _limit(len(owner) + tabs * max(0, tab), "expanded text")
    elif name == "replace" and len(args) >= 2:
        _replace(owner, args[0], args[1], args[2] if len(args) > 2 else kwargs.get("count", -1))
    elif name == "join" and args:
        return (_joined(owner, args[0]), *args[1:])
    elif name == "translate":
        raise _Refused("str.translate")
    return args


# ---------------------------------------------------------------------------------------------
# the template tree: what texts may use, and where the checks go


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


class Evaluator:
    def __init__(self) -> None:
        self.env = _env()
        self._cache: dict[str, Any] = {}

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
            tree = self._parse_expression(expr)
        except TemplateSyntaxError as exc:
            return f"expression syntax error: {_one_line(exc.message)}", set()
        except (RecursionError, MemoryError):
            return f"expression nested too deeply (more than {MAX_DEPTH} levels)", set()
        reason = _refusal(tree)
        if reason:
            return f"refused: {reason}", set()
        # an expression cannot assign, so every Name it loads is read from the context
        return None, {n.name for n in tree.find_all(nodes.Name) if n.ctx == "load"} - set(self.env.globals)

    def _parse_expression(self, expr: str) -> nodes.Expr:
        """Exactly what ``compile_expression`` parses (a text like ``1 }}{{ 2`` is not one)."""
        parser = Parser(self.env, expr, state="variable")
        tree = parser.parse_expression()
        if not parser.stream.eos:
            raise TemplateSyntaxError("chunk after expression", parser.stream.current.lineno, None, None)
        return tree

    def template_names(self, text: str) -> set[str]:
        try:
            return set(meta.find_undeclared_variables(self.env.parse(text))) - set(self.env.globals)
        except (TemplateSyntaxError, RecursionError, MemoryError):
            return set()  # template_error says why

    def compile(self, expr: str) -> Any:
        fn = self._cache.get(expr)
        if fn is None:
            fn = self._cache[expr] = self.env.compile_expression(expr, undefined_to_none=False)
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
