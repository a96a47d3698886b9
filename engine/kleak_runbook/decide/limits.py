"""Size and step limits for the sandbox: every check runs before the value it guards is built.

A value's weight (characters or items, shared parts counted), powers, repetition, ``%`` and
``format`` widths, ``range`` and each filter's result; the step and time budget of one evaluation.
"""

from __future__ import annotations

import functools
import inspect
import re
import string
import time
import types
from collections.abc import Callable, Iterable, Mapping, MappingView, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

from jinja2.exceptions import SecurityError
from jinja2.filters import make_attrgetter
from jinja2.utils import _PassArg

MAX_WEIGHT = 1_000_000  # size of any one value built (characters of text, or items)
MAX_TEXT = 100_000  # characters of one rendered finding or summary
MAX_INT_BITS = 10_000  # about 3,000 decimal digits
MAX_RANGE = 100_000  # numbers in one range()
MAX_STEPS = 200_000  # per evaluation or rendering; a bundled rule takes a few dozen
MAX_SECONDS = 5.0  # per evaluation or rendering, the last resort
MAX_DEPTH = 60  # nesting of an expression or text (Python's compiler stops at 200 parentheses)


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
