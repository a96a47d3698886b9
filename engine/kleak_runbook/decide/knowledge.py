"""The kernel-bug knowledge base: load ``runbooks/knowledge/*.yaml`` and match entries to a host.

An entry names the kernels it affects per stream (see ``kversion``), the kind of kernel memory
it is about, and an evidence signature: an Ansible-``when``-style expression the engine
evaluates in its sandbox. ``load_knowledge`` checks every file before anything runs and names
file, line and YAML path for each problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kleak_runbook.decide.expressions import Evaluator
from kleak_runbook.decide.schema import KNOWLEDGE_NAMES
from kleak_runbook.decide.yamlpos import Located, load_text
from kleak_runbook.derive.kversion import RANGE_STREAMS, Range, compare, valid_version
from kleak_runbook.errors import RunbookError

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
    """Turns one file's YAML into entries, raising RunbookError at the first problem."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.ev = Evaluator()

    def fail(self, line: int | None, path: str, reason: str) -> RunbookError:
        return RunbookError(self.file, line, path, reason)

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

    def expression(self, expr: str, line: int, path: str) -> None:
        err, names = self.ev.check(expr)
        if err:
            raise self.fail(line, path, f"bad expression {expr!r}: {err}")
        unknown = sorted(names - KNOWLEDGE_NAMES)
        if unknown:
            raise self.fail(line, path, f"expression uses unknown name(s) {', '.join(unknown)}")

    def ranges(self, entry: _Mapping, path: str) -> tuple[Range, ...]:
        result = []
        for index, raw in self.items(entry, "affected", path, required=True):
            where = f"{path}.affected[{index}]"
            item = self.mapping(raw, self.field_line(entry, "affected"), where)
            extra = set(item) - {"stream", "from", "to_before", "note"}
            if extra:
                raise self.fail(item.line, where, f"unknown field(s) {', '.join(sorted(map(str, extra)))}")
            stream = self.stream(item, where, RANGE_STREAMS)
            start = self.version(item, "from", where, stream, required=True)
            end = self.version(item, "to_before", where, stream, required=False)
            if start is not None and end is not None and compare(stream, start, end) >= 0:
                raise self.fail(item.line, where, f"empty range: from {start!r} is not before {end!r}")
            note = self.text(item, "note", where, required=False)
            result.append(Range(stream, start, end, note))
        return tuple(result)

    def fixes(self, entry: _Mapping, path: str) -> tuple[FixedIn, ...]:
        result = []
        for index, raw in self.items(entry, "fixed_in", path, required=False):
            where = f"{path}.fixed_in[{index}]"
            item = self.mapping(raw, self.field_line(entry, "fixed_in"), where)
            stream = self.stream(item, where, RANGE_STREAMS)
            version = self.version(item, "version", where, stream, required=True)
            assert version is not None
            result.append(FixedIn(stream, version))
        return tuple(result)

    def shows(self, entry: _Mapping, path: str) -> tuple[Show, ...]:
        result = []
        for index, raw in self.items(entry, "show", path, required=False):
            where = f"{path}.show[{index}]"
            item = self.mapping(raw, self.field_line(entry, "show"), where)
            label = self.text(item, "label", where)
            expr = self.text(item, "expr", where)
            assert label is not None and expr is not None
            self.expression(expr, self.field_line(item, "expr"), f"{where}.expr")
            unit = self.text(item, "unit", where, required=False)
            if unit not in (None, "bytes", "count"):
                raise self.fail(self.field_line(item, "unit"), f"{where}.unit", "unit is 'bytes' or 'count'")
            result.append(Show(label, expr, self.text(item, "expect", where, required=False), unit))
        return tuple(result)

    def flag(self, entry: _Mapping, key: str, path: str, required: bool) -> bool:
        if key not in entry:
            if required:
                raise self.fail(entry.line, path, f"missing required field {key!r}")
            return False
        if not isinstance(entry[key], bool):
            raise self.fail(self.field_line(entry, key), f"{path}.{key}", "must be true or false")
        return bool(entry[key])

    def entry(self, raw: object, line: int, path: str) -> Entry:
        entry = self.mapping(raw, line, path)
        unknown = [key for key in entry if key not in _FIELDS]
        if unknown:
            key = unknown[0]
            raise self.fail(self.field_line(entry, key), f"{path}.{key}", "unknown field")
        ident = self.text(entry, "id", path)
        assert ident is not None
        if not _SLUG.match(ident):
            raise self.fail(self.field_line(entry, "id"), f"{path}.id", f"{ident!r} is not a slug")
        path = f"{path}({ident})"
        kind = self.text(entry, "kind", path)
        if kind is None or kind not in KINDS:
            line = self.field_line(entry, "kind")
            raise self.fail(line, f"{path}.kind", f"kind is one of {', '.join(KINDS)}")
        links = []
        for index, url in self.items(entry, "links", path, required=True):
            if not isinstance(url, str) or not _URL.match(url):
                line = self.field_line(entry, "links")
                raise self.fail(line, f"{path}.links[{index}]", f"not a URL: {url!r}")
            links.append(url)
        signature = self.text(entry, "signature", path, required=False)
        if signature is not None:
            self.expression(signature, self.field_line(entry, "signature"), f"{path}.signature")
        return Entry(
            id=ident,
            title=self.text(entry, "title", path) or "",
            kind=kind,
            verified=self.flag(entry, "verified", path, required=True),
            affected=self.ranges(entry, path),
            links=tuple(links),
            workaround=self.text(entry, "workaround", path) or "",
            fix=self.text(entry, "fix", path) or "",
            escalate_to=self.text(entry, "escalate_to", path) or "",
            fixed_in=self.fixes(entry, path),
            signature=signature,
            show=self.shows(entry, path),
            trap=self.flag(entry, "trap", path, required=False),
            notes=self.text(entry, "notes", path, required=False) or "",
            file=self.file,
            line=entry.line,
        )


def load_file(path: Path, text: str) -> tuple[Entry, ...]:
    """Parse and check one knowledge file's text (``path`` only names it in errors)."""
    checker = _Checker(str(path))
    located = load_text(text, str(path))  # RunbookError with file:line on bad YAML
    document = _with_lines(located.data, "", located)
    if document is None:
        return ()
    if isinstance(document, _Mapping):
        return (checker.entry(document, document.line, "[0]"),)
    if not isinstance(document, list):
        raise checker.fail(1, "", "a knowledge file holds an entry or a list of entries")
    return tuple(checker.entry(raw, getattr(raw, "line", 1), f"[{i}]") for i, raw in enumerate(document))


def load_knowledge(directory: Path) -> tuple[Entry, ...]:
    """Load every ``*.yaml`` file of ``directory``, sorted by name; ids must be unique."""
    if not directory.is_dir():
        raise RunbookError(str(directory), None, "", "knowledge directory not found")
    entries: list[Entry] = []
    seen: dict[str, Entry] = {}
    for path in sorted(directory.glob("*.yaml")):
        for entry in load_file(path, path.read_text(encoding="utf-8")):
            if entry.id in seen:
                first = seen[entry.id]
                reason = f"duplicate id, first defined at {first.file}:{first.line}"
                raise RunbookError(entry.file, entry.line, entry.id, reason)
            seen[entry.id] = entry
            entries.append(entry)
    return tuple(entries)


def bundled_knowledge_dir() -> Path:
    """The shipped knowledge directory: inside the wheel, or ``runbooks/knowledge`` in a checkout."""
    from kleak_runbook.paths import knowledge_dir

    return knowledge_dir()
