"""Knowledge-base entries: their fields, and the checker that turns a file's YAML into entries,
naming file, line and YAML path for every problem (README of runbooks/knowledge)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from kleak_runbook.decide import checks
from kleak_runbook.decide.schema import KNOWLEDGE_NAMES
from kleak_runbook.decide.yamlpos import Located
from kleak_runbook.derive.kversion import RANGE_STREAMS, Range, compare, valid_version
from kleak_runbook.errors import RunbookError

BUNDLED = "bundled"  # Entry.source of the shipped entries
_T = TypeVar("_T")
KINDS = ("slab-unreclaimable", "slab-reclaimable", "vmalloc", "page-allocator", "percpu", "any")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*[a-z0-9]$")
_URL = re.compile(r"^https?://[^\s/]+\.[^\s]+$")
_FIELDS = {
    "id": True,
    "title": True,
    "kind": True,
    "verified": True,
    "affected": True,
    "links": True,
    "workaround": True,
    "fix": True,
    "escalate_to": True,
    "fixed_in": False,
    "signature": False,
    "show": False,
    "trap": False,
    "notes": False,
}


@dataclass(frozen=True)
class FixedIn:
    stream: str
    version: str


@dataclass(frozen=True)
class Show:
    """A value the match explanation quotes: ``label: value (expect)``."""

    label: str
    expr: str
    expect: str | None = None
    unit: str | None = None


@dataclass(frozen=True)
class Entry:
    id: str
    title: str
    kind: str
    verified: bool
    affected: tuple[Range, ...]
    links: tuple[str, ...]
    workaround: str
    fix: str
    escalate_to: str
    fixed_in: tuple[FixedIn, ...] = ()
    signature: str | None = None
    show: tuple[Show, ...] = ()
    trap: bool = False
    notes: str = ""
    file: str = ""
    line: int = 0
    source: str = BUNDLED  # "bundled", or the site-local directory the entry was loaded from
    reads: tuple[str, ...] = ()  # the context names the signature reads, in reading order


def _first_use(expr: str, name: str) -> tuple[int, str]:
    """Where ``name`` is first read in ``expr``: signatures name their evidence in reading order."""
    found = re.search(rf"(?<![\w.]){re.escape(name)}\b", expr)
    return (found.start() if found else len(expr), name)


class _Mapping(dict):  # type: ignore[type-arg]
    """A YAML mapping that remembers its own line and the line of each key."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[Any, int] = {}


def _with_lines(value: Any, path: str, doc: Located) -> Any:
    """The loaded data with each mapping's own line and its keys' lines (from yamlpos)."""
    if isinstance(value, dict):
        mapping = _Mapping(doc.line(path) or 1)
        for key, item in value.items():
            sub = f"{path}.{key}" if path else str(key)
            mapping[key] = _with_lines(item, sub, doc)
            mapping.key_lines[key] = doc.lines.get(sub, mapping.line)
        return mapping
    if isinstance(value, list):
        return [_with_lines(item, f"{path}[{i}]", doc) for i, item in enumerate(value)]
    return value


class _Checker:
    """Turns one file's YAML into entries, collecting every problem (``problems``) with file:line."""

    def __init__(self, file: str, source: str) -> None:
        self.file = file
        self.source = source
        self.problems: list[RunbookError] = []

    def fail(self, line: int | None, path: str, reason: str) -> RunbookError:
        return RunbookError(self.file, line, path, reason)

    def attempt(self, check: Callable[..., _T], *args: Any) -> _T | None:
        """``check(*args)``, or None with the problem noted: one bad field does not hide the next."""
        try:
            return check(*args)
        except RunbookError as problem:
            self.problems.append(problem)
            return None

    def field_line(self, mapping: _Mapping, key: str) -> int:
        return mapping.key_lines.get(key, mapping.line)

    def text(self, mapping: _Mapping, key: str, path: str, required: bool = True) -> str | None:
        if key not in mapping:
            if required:
                raise self.fail(mapping.line, path, f"missing required field {key!r}")
            return None
        value = mapping[key]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(self.field_line(mapping, key), f"{path}.{key}", "must be a non-empty string")
        return value.strip()

    def version(self, mapping: _Mapping, key: str, path: str, stream: str, required: bool) -> str | None:
        if key not in mapping or mapping[key] is None:
            if required:
                raise self.fail(mapping.line, path, f"missing required field {key!r}")
            return None
        value, line = mapping[key], self.field_line(mapping, key)
        if not isinstance(value, str):
            raise self.fail(line, f"{path}.{key}", f"version {value!r} must be a quoted string")
        if not valid_version(stream, value):
            raise self.fail(line, f"{path}.{key}", f"{value!r} is not a valid {stream} version")
        return value

    def stream(self, mapping: _Mapping, path: str, allowed: tuple[str, ...]) -> str:
        stream = self.text(mapping, "stream", path)
        assert stream is not None
        if stream not in allowed:
            raise self.fail(
                self.field_line(mapping, "stream"),
                f"{path}.stream",
                f"unknown stream {stream!r} (one of: {', '.join(allowed)})",
            )
        return stream

    def items(self, mapping: _Mapping, key: str, path: str, required: bool) -> list[tuple[int, Any]]:
        if key not in mapping:
            if required:
                raise self.fail(mapping.line, path, f"missing required field {key!r}")
            return []
        value = mapping[key]
        if not isinstance(value, list) or (required and not value):
            raise self.fail(self.field_line(mapping, key), f"{path}.{key}", "must be a non-empty list")
        return list(enumerate(value))

    def mapping(self, value: object, line: int, path: str) -> _Mapping:
        if not isinstance(value, _Mapping):
            raise self.fail(line, path, "must be a mapping")
        return value

    def expression(self, expr: str, line: int, path: str) -> tuple[str, ...]:
        """The context names ``expr`` reads, after checking its syntax and that each name exists."""
        err, names = checks.check(expr)
        if err:
            raise self.fail(line, path, f"bad expression {expr!r}: {err}")
        unknown = sorted(names - KNOWLEDGE_NAMES)
        if unknown:
            raise self.fail(line, path, f"expression uses unknown name(s) {', '.join(unknown)}")
        return tuple(sorted(names, key=lambda name: _first_use(expr, name)))

    def one_range(self, entry: _Mapping, raw: object, where: str) -> Range | None:
        item = self.mapping(raw, self.field_line(entry, "affected"), where)
        before = len(self.problems)
        extra = set(item) - {"stream", "from", "to_before", "note"}
        if extra:
            self.problems.append(self.fail(item.line, where, f"unknown field(s) {', '.join(sorted(map(str, extra)))}"))
        stream = self.stream(item, where, RANGE_STREAMS)
        start = self.attempt(self.version, item, "from", where, stream, True)
        end = self.attempt(self.version, item, "to_before", where, stream, False)
        if start is not None and end is not None and compare(stream, start, end) >= 0:
            raise self.fail(item.line, where, f"empty range: from {start!r} is not before {end!r}")
        note = self.attempt(self.text, item, "note", where, False)
        return Range(stream, start, end, note) if len(self.problems) == before else None

    def ranges(self, entry: _Mapping, path: str) -> tuple[Range, ...]:
        result = []
        for index, raw in self.items(entry, "affected", path, required=True):
            found = self.attempt(self.one_range, entry, raw, f"{path}.affected[{index}]")
            if found is not None:
                result.append(found)
        return tuple(result)

    def one_fix(self, entry: _Mapping, raw: object, where: str) -> FixedIn:
        item = self.mapping(raw, self.field_line(entry, "fixed_in"), where)
        stream = self.stream(item, where, RANGE_STREAMS)
        version = self.version(item, "version", where, stream, required=True)
        assert version is not None
        return FixedIn(stream, version)

    def fixes(self, entry: _Mapping, path: str) -> tuple[FixedIn, ...]:
        found = [
            self.attempt(self.one_fix, entry, raw, f"{path}.fixed_in[{index}]")
            for index, raw in self.items(entry, "fixed_in", path, required=False)
        ]
        return tuple(fix for fix in found if fix is not None)

    def one_show(self, entry: _Mapping, raw: object, where: str) -> Show:
        item = self.mapping(raw, self.field_line(entry, "show"), where)
        label = self.text(item, "label", where)
        expr = self.text(item, "expr", where)
        assert label is not None and expr is not None
        self.expression(expr, self.field_line(item, "expr"), f"{where}.expr")
        unit = self.text(item, "unit", where, required=False)
        if unit not in (None, "bytes", "count"):
            raise self.fail(self.field_line(item, "unit"), f"{where}.unit", "unit is 'bytes' or 'count'")
        return Show(label, expr, self.text(item, "expect", where, required=False), unit)

    def shows(self, entry: _Mapping, path: str) -> tuple[Show, ...]:
        found = [
            self.attempt(self.one_show, entry, raw, f"{path}.show[{index}]")
            for index, raw in self.items(entry, "show", path, required=False)
        ]
        return tuple(show for show in found if show is not None)

    def flag(self, entry: _Mapping, key: str, path: str, required: bool) -> bool:
        if key not in entry:
            if required:
                raise self.fail(entry.line, path, f"missing required field {key!r}")
            return False
        if not isinstance(entry[key], bool):
            raise self.fail(self.field_line(entry, key), f"{path}.{key}", "must be true or false")
        return bool(entry[key])

    def ident(self, entry: _Mapping, path: str) -> str:
        ident = self.text(entry, "id", path)
        assert ident is not None
        if not _SLUG.match(ident):
            raise self.fail(self.field_line(entry, "id"), f"{path}.id", f"{ident!r} is not a slug")
        return ident

    def kind(self, entry: _Mapping, path: str) -> str:
        kind = self.text(entry, "kind", path)
        if kind is None or kind not in KINDS:
            raise self.fail(self.field_line(entry, "kind"), f"{path}.kind", f"kind is one of {', '.join(KINDS)}")
        return kind

    def links(self, entry: _Mapping, path: str) -> tuple[str, ...]:
        links = []
        for index, url in self.items(entry, "links", path, required=True):
            if not isinstance(url, str) or not _URL.match(url):
                line = self.field_line(entry, "links")
                raise self.fail(line, f"{path}.links[{index}]", f"not a URL: {url!r}")
            links.append(url)
        return tuple(links)

    def signature(self, entry: _Mapping, path: str) -> tuple[str | None, tuple[str, ...]]:
        signature = self.text(entry, "signature", path, required=False)
        if signature is None:
            return None, ()
        return signature, self.expression(signature, self.field_line(entry, "signature"), f"{path}.signature")

    def entry(self, raw: object, line: int, path: str) -> Entry | None:
        """The entry, or None when it has problems (each one noted in ``problems``)."""
        entry = self.mapping(raw, line, path)
        before = len(self.problems)
        for key in entry:
            if key not in _FIELDS:
                self.problems.append(self.fail(self.field_line(entry, key), f"{path}.{key}", "unknown field"))
        ident = self.attempt(self.ident, entry, path) or ""
        if ident:
            path = f"{path}({ident})"
        text, attempt = self.text, self.attempt
        entry_kind = attempt(self.kind, entry, path) or ""
        links = attempt(self.links, entry, path) or ()
        title = attempt(text, entry, "title", path) or ""
        verified = bool(attempt(self.flag, entry, "verified", path, True))
        affected = attempt(self.ranges, entry, path) or ()
        workaround = attempt(text, entry, "workaround", path) or ""
        fix = attempt(text, entry, "fix", path) or ""
        escalate_to = attempt(text, entry, "escalate_to", path) or ""
        fixed_in = attempt(self.fixes, entry, path) or ()
        shows = attempt(self.shows, entry, path) or ()
        trap = bool(attempt(self.flag, entry, "trap", path, False))
        notes = attempt(text, entry, "notes", path, False) or ""
        signature, reads = attempt(self.signature, entry, path) or (None, ())
        if len(self.problems) > before:
            return None
        return Entry(
            id=ident,
            title=title,
            kind=entry_kind,
            verified=verified,
            affected=affected,
            links=links,
            workaround=workaround,
            fix=fix,
            escalate_to=escalate_to,
            fixed_in=fixed_in,
            signature=signature,
            show=shows,
            trap=trap,
            notes=notes,
            file=self.file,
            line=entry.line,
            source=self.source,
            reads=reads,
        )
