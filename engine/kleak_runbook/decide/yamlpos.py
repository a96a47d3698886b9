"""YAML loading that remembers where every value came from (file, line, YAML path).

>>> doc = load_text("a:\\n  - b: 1\\n", "x.yaml")
>>> doc.data, doc.line("a[0].b")
({'a': [{'b': 1}]}, 2)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from kleak_runbook.errors import RunbookError


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


def load_text(text: str, file: str) -> Located:
    try:
        node = yaml.compose(text, Loader=_FastLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark else None
        raise RunbookError(file, line, "", f"YAML syntax error: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise RunbookError(file, None, "", f"YAML error: {exc}") from None
    doc = Located(file, None)
    if node is None:
        return doc
    doc.data = _convert(node, "", doc.lines, file)
    return doc


def _convert(node: yaml.Node, path: str, lines: dict[str, int], file: str) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node, file)
            if not isinstance(key, str):
                raise RunbookError(file, key_node.start_mark.line + 1, path, f"key {key!r} is not a string")
            sub = f"{path}.{key}" if path else key
            if key in out:
                raise RunbookError(file, key_node.start_mark.line + 1, sub, "duplicate key")
            out[key] = _convert(value_node, sub, lines, file)
            lines[sub] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(v, f"{path}[{i}]", lines, file) for i, v in enumerate(node.value)]
    return _scalar(node, file)


def _scalar(node: yaml.Node, file: str) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        raise RunbookError(file, node.start_mark.line + 1, "", "complex keys are not supported")
    return _Loader("").construct_object(node, deep=True)
