"""YAML loading that remembers where every value came from (file, line, YAML path).

Runbooks and knowledge files may come from strangers, so loading is bounded: a file larger than
``MAX_BYTES``, a NUL byte, text that is not UTF-8, nesting deeper than ``MAX_DEPTH``, more than
``MAX_NODES`` values after aliases are expanded (an "alias bomb"), a recursive alias, or any tag
beyond plain YAML (strings, numbers, booleans, null, timestamps, lists, mappings) is one
``RunbookError`` naming file and line. Merge keys (``<<: *defaults``) work as in Ansible.

>>> doc = load_text("a:\\n  - b: 1\\n", "x.yaml")
>>> doc.data, doc.line("a[0].b")
({'a': [{'b': 1}]}, 2)
>>> load_text("a: &x {b: 1, c: 2}\\nd:\\n  <<: *x\\n  c: 3\\n", "x.yaml").data["d"]
{'b': 1, 'c': 3}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kleak_runbook.errors import RunbookError

MAX_BYTES = 1024 * 1024  # a runbook or knowledge file; the bundled ones are under 100 KiB
MAX_DEPTH = 100  # nested lists and mappings; runbooks nest about 6 deep
MAX_NODES = 100_000  # values after alias expansion; the largest bundled file has about 5,000

_TAG = "tag:yaml.org,2002:"
# plain YAML only: what the resolver gives untagged scalars, and the same tags written out
_SCALAR_TAGS = {_TAG + t for t in ("str", "int", "float", "bool", "null", "timestamp")}


@dataclass
class Located:
    file: str
    data: Any
    lines: dict[str, int] = field(default_factory=dict)

    def line(self, path: str) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path.rsplit(".", 1)[0] if "." in path else (path.rsplit("[", 1)[0] if "[" in path else "")
        return self.lines.get("")

    def error(self, path: str, reason: str) -> RunbookError:
        return RunbookError(self.file, self.line(path), path, reason)


class _Loader(yaml.SafeLoader):
    pass


# libyaml's composer keeps line marks too and is several times faster than the pure-Python one
_FastLoader = getattr(yaml, "CSafeLoader", _Loader)
# scalars only (no state kept between them): the safe constructors for the tags in _SCALAR_TAGS
_CONSTRUCTOR = yaml.constructor.SafeConstructor()


def read_text(path: Path, max_bytes: int = MAX_BYTES) -> str:
    """A YAML file's text, refused (RunbookError) if too large, binary or not UTF-8."""
    file = str(path)
    try:
        with open(path, "rb") as fh:  # read at most one byte past the limit: /dev/zero is a file too
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise RunbookError(file, None, "", exc.strerror or str(exc)) from None
    if len(data) > max_bytes:
        raise RunbookError(file, None, "", f"larger than the {_size(max_bytes)} limit for a YAML file")
    nul = data.find(b"\0")
    if nul >= 0:
        raise RunbookError(file, data.count(b"\n", 0, nul) + 1, "", "contains a NUL byte (not a text file)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise RunbookError(file, line, "", f"not UTF-8 text (byte {exc.start})") from None


def load_text(text: str, file: str) -> Located:
    if len(text) > MAX_BYTES:
        raise RunbookError(file, None, "", f"larger than the {_size(MAX_BYTES)} limit for a YAML file")
    nul = text.find("\0")
    if nul >= 0:
        raise RunbookError(file, text.count("\n", 0, nul) + 1, "", "contains a NUL byte (not a text file)")
    from kleak_runbook.memo import memo

    book = memo()
    kept = book.get("yaml", text)  # the same text composed by an earlier run (kleak_runbook.memo)
    if isinstance(kept, list) and len(kept) == 2 and isinstance(kept[1], dict):
        return Located(file, kept[0], kept[1])
    doc = _compose(text, file)
    payload = [doc.data, doc.lines]
    try:  # kept only if JSON gives back exactly these values (no dates, no non-string keys)
        if json.loads(json.dumps(payload)) == payload:
            book.put("yaml", text, payload)
    except (TypeError, ValueError, RecursionError):
        pass
    return doc


def _compose(text: str, file: str) -> Located:
    try:
        _precheck(text, file)
        node = yaml.compose(text, Loader=_FastLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark else None
        problem = _one_line(exc.problem or exc.context or "")
        raise RunbookError(file, line, "", f"YAML syntax error: {problem}") from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (control characters)
        line = text.count("\n", 0, exc.position) + 1 if isinstance(exc.position, int) else None
        what = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        raise RunbookError(file, line, "", f"YAML error: unacceptable character {what}: {exc.reason}") from None
    except yaml.YAMLError as exc:
        raise RunbookError(file, None, "", f"YAML error: {_one_line(str(exc))}") from None
    doc = Located(file, None)
    if node is None:
        return doc
    doc.data = _Converter(file, doc.lines).convert(node, "", 0)
    return doc


def _precheck(text: str, file: str) -> None:
    """Depth and size from the event stream, before composing: libyaml's composer recurses in C
    (tens of thousands of nested brackets crash the interpreter) and composing is the slow part."""
    depth = 0
    for events, event in enumerate(yaml.parse(text, Loader=_FastLoader), 1):
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                line = event.start_mark.line + 1 if event.start_mark else None
                raise RunbookError(file, line, "", f"nested more than {MAX_DEPTH} levels deep")
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1
        if events > MAX_NODES:
            line = event.start_mark.line + 1 if event.start_mark else None
            raise RunbookError(file, line, "", f"more than {MAX_NODES} YAML values (the limit for one file)")


class _Converter:
    """Composed nodes to Python values; aliases are expanded (each use gets its own paths and
    lines), so expansion is counted and a node that contains itself is refused."""

    def __init__(self, file: str, lines: dict[str, int]) -> None:
        self.file, self.lines = file, lines
        self.count = 0
        self.open: set[int] = set()  # collection nodes being converted: the current ancestry

    def fail(self, node: yaml.Node, path: str, reason: str) -> RunbookError:
        return RunbookError(self.file, _line(node), path, reason)

    def convert(self, node: yaml.Node, path: str, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(node, path, f"aliases expand to more than {MAX_NODES} values (an alias bomb?)")
        self.lines[path] = _line(node)
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, path)
        if depth >= MAX_DEPTH:
            raise self.fail(node, path, f"nested more than {MAX_DEPTH} levels deep (through aliases)")
        if id(node) in self.open:
            raise self.fail(node, path, "recursive alias: a value that contains itself")
        self.open.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                if node.tag != _TAG + "map":
                    raise self.fail(node, path, f"tag {_short(node.tag)} is not allowed (plain YAML mappings only)")
                return self.mapping(node, path, depth)
            if isinstance(node, yaml.SequenceNode):
                if node.tag != _TAG + "seq":
                    raise self.fail(node, path, f"tag {_short(node.tag)} is not allowed (plain YAML lists only)")
                return [self.convert(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(node.value)]
            raise self.fail(node, path, f"unexpected YAML node {type(node).__name__}")
        finally:
            self.open.discard(id(node))

    def mapping(self, node: yaml.MappingNode, path: str, depth: int) -> dict[str, Any]:
        own: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        is_merge = [isinstance(k, yaml.ScalarNode) and k.tag == _TAG + "merge" for k, _ in node.value]
        # merged mappings first, so that the lines of the keys written here win
        for (_, value_node), merge in zip(node.value, is_merge):
            if merge:
                self.merge(value_node, path, depth, merged)
        for (key_node, value_node), merge in zip(node.value, is_merge):
            if merge:
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.fail(key_node, path, "complex keys are not supported")
            key = self.scalar(key_node, path)
            if not isinstance(key, str):
                raise self.fail(key_node, path, f"key {key!r} is not a string")
            sub = f"{path}.{key}" if path else key
            if key in own:
                raise self.fail(key_node, sub, "duplicate key")
            own[key] = self.convert(value_node, sub, depth + 1)
            self.lines[sub] = _line(key_node)
        if not merged:
            return own
        # keys written in the mapping win over merged ones (YAML merge key semantics)
        return {**{k: v for k, v in merged.items() if k not in own}, **own}

    def merge(self, value_node: yaml.Node, path: str, depth: int, merged: dict[str, Any]) -> None:
        sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
        line = self.lines.get(path)
        # in a list of merged mappings the first one wins: converted last, its values and lines stay
        for source in reversed(sources):
            if not isinstance(source, yaml.MappingNode):
                raise self.fail(source, path, "a merge key (<<) takes a mapping or a list of mappings")
            merged.update(self.convert(source, path, depth))
        if line is not None:  # converting a source re-recorded this mapping's own line
            self.lines[path] = line

    def scalar(self, node: yaml.ScalarNode, path: str) -> Any:
        if node.tag == _TAG + "value":  # a plain '=' (PyYAML's safe loader has no constructor for it)
            return node.value
        if node.tag not in _SCALAR_TAGS:
            raise self.fail(
                node, path, f"tag {_short(node.tag)} is not allowed (plain YAML only: strings, numbers, booleans, null)"
            )
        try:
            return _CONSTRUCTOR.yaml_constructors[node.tag](_CONSTRUCTOR, node)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
            shown = node.value if len(node.value) <= 40 else node.value[:40] + "…"
            reason = getattr(exc, "problem", None) or str(exc)
            raise self.fail(node, path, f"cannot read {shown!r} as {_short(node.tag)}: {_one_line(reason)}") from None


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1 if node.start_mark else 1  # composed nodes always have marks


def _short(tag: str) -> str:
    return "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "…"


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MiB" if n % (1024 * 1024) == 0 else f"{n} bytes"
