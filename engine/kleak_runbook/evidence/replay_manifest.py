"""``manifest.json`` of a saved bundle, checked field by field before anything trusts it.

A manifest that is not what ``EvidenceStore.finalize`` writes is refused with one line naming
the field (``bundle/manifest.json: samples: expected a list``): replaying half of a corrupt
manifest would judge evidence that is not what was collected.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from kleak_runbook.errors import InputError


@dataclass(frozen=True)
class ProbeInfo:
    ran: bool = True
    reason: str = ""
    args: tuple[str, ...] = ()


@dataclass(frozen=True)
class Manifest:
    host: str | None = None
    unreachable: str | None = None
    interrupted: str | None = None  # the run that wrote the bundle was cut short: what was under way
    uptimes: dict[int, float] = field(default_factory=dict)  # sample index -> host uptime (s)
    probes: dict[str, ProbeInfo] = field(default_factory=dict)
    gaps: tuple[tuple[str, str, str], ...] = ()  # (item, status, reason)


def _type(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__)


class _Checker:
    def __init__(self, name: str) -> None:
        self.name = name

    def fail(self, where: str, expected: str, value: Any) -> InputError:
        return InputError(f"{self.name}: {where}: expected {expected}, got {_type(value)}")

    def string(self, value: Any, where: str, optional: bool = True) -> str | None:
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise self.fail(where, "a string", value)
        return value

    def number(self, value: Any, where: str) -> float | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(where, "a number of seconds", value)
        if not math.isfinite(value) or value < 0:
            raise InputError(f"{self.name}: {where}: expected a number of seconds, got {value}")
        return float(value)

    def index(self, value: Any, where: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1_000_000:
            raise self.fail(where, "a sample number (0 or more)", value)
        return value

    def obj(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, "an object", value)
        return value

    def lst(self, value: Any, where: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(where, "a list", value)
        return value


def parse_manifest(data: bytes, name: str) -> Manifest:
    """The checked manifest; ``name`` is how error messages call the file."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise InputError(f"{name}: not valid JSON ({reason})") from None
    c = _Checker(name)
    if not isinstance(doc, dict):
        raise InputError(f"{name}: expected a JSON object, got {_type(doc)}")
    host = c.string(doc.get("host"), "host")
    if host is not None and (not host.strip() or len(host) > 255 or not host.isprintable()):
        raise InputError(f"{name}: host: expected a host name, got {host[:40]!r}")
    unreachable = c.string(doc.get("unreachable"), "unreachable")
    cut = doc.get("interrupted")
    if cut is True:  # bundles of earlier versions said only that
        cut = "before the run finished"
    interrupted = c.string(cut if cut is not False else None, "interrupted")
    uptimes: dict[int, float] = {}
    for i, sample in enumerate(c.lst(doc.get("samples", []), "samples")):
        where = f"samples[{i}]"
        sample = c.obj(sample, where)
        index = c.index(sample.get("index"), f"{where}.index")
        c.string(sample.get("wall"), f"{where}.wall")
        up = c.number(sample.get("uptime"), f"{where}.uptime")
        if up is not None:
            uptimes[index] = up
    probes: dict[str, ProbeInfo] = {}
    for pname, info in c.obj(doc.get("probes", {}), "probes").items():
        where = f"probes.{pname}"
        info = c.obj(info, where)
        ran = info.get("ran", True)
        if not isinstance(ran, bool):
            raise c.fail(f"{where}.ran", "true or false", ran)
        args = c.lst(info.get("args", []), f"{where}.args")
        for j, arg in enumerate(args):
            c.string(arg, f"{where}.args[{j}]", optional=False)
        reason = c.string(info.get("reason", ""), f"{where}.reason") or ""
        probes[pname] = ProbeInfo(ran, reason, tuple(args))
    gaps = []
    for i, gap in enumerate(c.lst(doc.get("gaps", []), "gaps")):
        gap = c.obj(gap, f"gaps[{i}]")
        item, status, reason = (
            c.string(gap.get(k), f"gaps[{i}].{k}", optional=False) or "" for k in ("item", "status", "reason")
        )
        gaps.append((item, status, reason))
    return Manifest(host, unreachable, interrupted, uptimes, probes, tuple(gaps))


def parse_action(data: bytes, name: str) -> dict[str, str]:
    """A probe's ``<action>.json``: an object of strings (numbers are kept as their text)."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):
        raise InputError(f"{name}: not valid JSON") from None
    if not isinstance(doc, dict):
        raise InputError(f"{name}: expected a JSON object, got {_type(doc)}")
    out: dict[str, str] = {}
    for key, value in doc.items():
        if isinstance(value, str):
            out[key] = value
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = str(value)
        else:
            raise InputError(f"{name}: {key}: expected a string, got {_type(value)}")
    return out
