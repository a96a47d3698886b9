"""Runbooks: YAML decision trees, loaded and validated before anything runs.

Every problem is a ``RunbookError`` naming file, line and YAML path; ``validate`` collects all
of them, ``load`` raises the first. See README.md ("Runbook format") for the schema.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kleak_runbook.decide import checks
from kleak_runbook.decide.schema import RULE_NAMES
from kleak_runbook.decide.yamlpos import Located, load_text, read_text
from kleak_runbook.errors import RunbookError
from kleak_runbook.evidence.specs import SPECS
from kleak_runbook.memo import memo
from kleak_runbook.paths import runbook_dir
from kleak_runbook.probes import CONSENTS, PROBES

VERDICTS = ("leak", "suspected-leak", "no-leak", "inconclusive")
KINDS = ("slab-unreclaimable", "slab-reclaimable", "vmalloc", "page-allocator", "percpu", "none", "unknown")
CULPRIT_SOURCES = ("slab-unreclaimable", "slab-reclaimable", "vmalloc", "percpu", "page-allocator", "none")
MAX_SAMPLES = 10_000
MAX_SECONDS = 24 * 3600  # a step's interval or timeout
_ID = re.compile(r"^[a-z][a-z0-9_-]*$")
_TOP_KEYS = {"name", "description", "version", "params", "start", "defaults", "steps", "allow_intrusive"}
_STEP_KEYS = {
    "id",
    "title",
    "description",
    "collect",
    "samples",
    "interval",
    "timeout",
    "probe",
    "rules",
    "default",
    "verdict",
    "kind",
    "summary",
    "culprits",
}
_RULE_KEYS = {"name", "when", "finding", "next"}


@dataclass(frozen=True)
class Rule:
    name: str
    when: str
    finding: str | None
    next: str | None
    path: str


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    description: str
    collect: tuple[str, ...]
    samples: int
    interval: float
    timeout: float
    probes: tuple[str, ...]
    rules: tuple[Rule, ...]
    default: str | None
    verdict: str | None
    kind: str | None
    summary: str | None
    culprits: str
    path: str

    @property
    def terminal(self) -> bool:
        return self.verdict is not None


@dataclass(frozen=True)
class Runbook:
    name: str
    description: str
    file: str
    params: dict[str, Any]
    start: str
    steps: dict[str, Step]
    allow_intrusive: tuple[str, ...] = ()
    doc: Located | None = field(default=None, compare=False, repr=False)

    @property
    def intrusive_probes(self) -> tuple[str, ...]:
        names = {PROBES[p].consent for s in self.steps.values() for p in s.probes if PROBES[p].consent}
        return tuple(sorted(n for n in names if n))

    @property
    def needs_root(self) -> bool:
        return any(c in ("slabinfo", "vmallocinfo") for s in self.steps.values() for c in s.collect)


def resolve(name_or_path: str) -> Path:
    """A bundled runbook name (``kernel-memory-leak``) or a path to a YAML file."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        return p
    return runbook_dir() / f"{name_or_path}.yaml"


def bundled() -> list[Path]:
    return sorted(runbook_dir().glob("*.yaml"))


def load(path: Path) -> Runbook:
    runbook, problems = _load(path)
    if problems:
        raise problems[0]
    assert runbook is not None
    return runbook


def validate(path: Path) -> list[RunbookError]:
    return _load(path)[1]


def _load(path: Path) -> tuple[Runbook | None, list[RunbookError]]:
    try:
        doc = load_text(read_text(path), str(path))  # capped at 1 MiB, no NUL bytes, UTF-8
    except RunbookError as exc:
        return None, [exc]
    checker = _Checker(doc)
    runbook = checker.check()
    memo().save()  # the parses this check did, for the next run (kleak_runbook.memo)
    return (runbook if not checker.problems else None), checker.problems


class _Checker:
    def __init__(self, doc: Located) -> None:
        self.doc = doc
        self.problems: list[RunbookError] = []

    def bad(self, path: str, reason: str) -> None:
        self.problems.append(self.doc.error(path, reason))

    def check(self) -> Runbook | None:
        data = self.doc.data
        if not isinstance(data, dict):
            self.bad("", "a runbook is a mapping with name and steps")
            return None
        for key in sorted(set(data) - _TOP_KEYS):
            self.bad(key, f"unknown key (expected one of {', '.join(sorted(_TOP_KEYS))})")
        name = data.get("name")
        if not isinstance(name, str) or not name:
            self.bad("name", "name is required (a string)")
        params = data.get("params") or {}
        if not isinstance(params, dict):
            self.bad("params", "params must be a mapping of name: default value")
            params = {}
        for k, v in params.items():
            if not isinstance(v, (int, float, str, bool)):
                self.bad(f"params.{k}", "a param default must be a number, string or boolean")
        defaults = data.get("defaults") or {}
        if not isinstance(defaults, dict):
            self.bad("defaults", "defaults must be a mapping")
            defaults = {}
        allow = data.get("allow_intrusive") or []
        if not isinstance(allow, list) or any(a not in CONSENTS for a in allow):
            self.bad("allow_intrusive", f"a list of consent names ({', '.join(CONSENTS)})")
            allow = []
        raw_steps = data.get("steps")
        if not isinstance(raw_steps, list) or not raw_steps:
            self.bad("steps", "steps must be a non-empty list")
            return None
        names = RULE_NAMES
        steps: dict[str, Step] = {}
        for i, raw in enumerate(raw_steps):
            step = self.step(raw, f"steps[{i}]", defaults, names)
            if step is None:
                continue
            if step.id in steps:
                self.bad(f"steps[{i}].id", f"duplicate step id {step.id!r}")
                continue
            steps[step.id] = step
        start = data.get("start", next(iter(steps), None))
        if not isinstance(start, str) or start not in steps:
            self.bad("start", f"start step {start!r} is not defined")
            return None
        self.graph(steps, start)
        return Runbook(
            name=str(name),
            description=str(data.get("description", "")),
            file=self.doc.file,
            params=dict(params),
            start=start,
            steps=steps,
            allow_intrusive=tuple(allow),
            doc=self.doc,
        )

    def step(self, raw: Any, path: str, defaults: dict[str, Any], names: frozenset[str]) -> Step | None:
        if not isinstance(raw, dict):
            self.bad(path, "a step is a mapping")
            return None
        for key in sorted(set(raw) - _STEP_KEYS):
            self.bad(f"{path}.{key}", "unknown step key")
        sid = raw.get("id")
        if not isinstance(sid, str) or not _ID.match(sid):
            self.bad(f"{path}.id", "step id is required: lowercase letters, digits, _ and -")
            return None
        collect = raw.get("collect") or []
        if not isinstance(collect, list):
            self.bad(f"{path}.collect", "collect is a list of evidence names")
            collect = []
        for j, c in enumerate(collect):
            if not isinstance(c, str) or c not in SPECS:
                self.bad(f"{path}.collect[{j}]", f"unknown evidence name {c!r} (known: {', '.join(SPECS)})")
        collect = [c for c in collect if isinstance(c, str) and c in SPECS]
        samples = raw.get("samples", defaults.get("samples", 1))
        if not isinstance(samples, int) or isinstance(samples, bool) or not 1 <= samples <= MAX_SAMPLES:
            self.bad(f"{path}.samples", f"samples must be a whole number from 1 to {MAX_SAMPLES}")
            samples = 1
        interval = _seconds(raw.get("interval", defaults.get("interval", 0)))
        if interval is None:
            self.bad(f"{path}.interval", "interval must be seconds (5, 2.5 or '5s')")
            interval = 0.0
        timeout = _seconds(raw.get("timeout", defaults.get("timeout", 120)))
        if timeout is None or timeout <= 0:
            self.bad(f"{path}.timeout", "timeout must be positive seconds")
            timeout = 120.0
        raw_probe = raw.get("probe")
        probe_list = raw_probe if isinstance(raw_probe, list) else ([] if raw_probe is None else [raw_probe])
        probes = []
        for j, name in enumerate(probe_list):
            where = f"{path}.probe[{j}]" if isinstance(raw_probe, list) else f"{path}.probe"
            if not isinstance(name, str) or name not in PROBES:
                self.bad(where, f"unknown probe {name!r} (known: {', '.join(PROBES)})")
            else:
                probes.append(name)
        rules = []
        raw_rules = raw.get("rules") or []
        if not isinstance(raw_rules, list):
            self.bad(f"{path}.rules", "rules is a list")
            raw_rules = []
        for j, r in enumerate(raw_rules):
            rule = self.rule(r, f"{path}.rules[{j}]", names)
            if rule:
                rules.append(rule)
        verdict, kind = raw.get("verdict"), raw.get("kind")
        if verdict is not None and verdict not in VERDICTS:
            self.bad(f"{path}.verdict", f"verdict must be one of {', '.join(VERDICTS)}")
        if kind is not None and kind not in KINDS:
            self.bad(f"{path}.kind", f"kind must be one of {', '.join(KINDS)}")
        culprits = raw.get("culprits", kind if kind in CULPRIT_SOURCES else "none")
        if culprits not in CULPRIT_SOURCES:
            self.bad(f"{path}.culprits", f"culprits must be one of {', '.join(CULPRIT_SOURCES)}")
        for key in ("summary", "title", "description"):
            if key in raw and not isinstance(raw[key], str):
                self.bad(f"{path}.{key}", f"{key} must be a string")
        if isinstance(raw.get("summary"), str):
            self.template(raw["summary"], f"{path}.summary", names)
        default = raw.get("default")
        if verdict is not None:
            if verdict not in VERDICTS:
                verdict = None
            for key in ("rules", "default", "collect", "probe"):
                if key in raw:
                    self.bad(f"{path}.{key}", "a terminal step (with verdict) cannot also have " + key)
            if kind is None:
                self.bad(f"{path}.kind", "a terminal step needs kind")
        else:
            if default is None:
                self.bad(path, "a step without verdict needs default (the step to go to when no rule fires)")
            for key in ("kind", "summary", "culprits"):
                if key in raw:
                    self.bad(f"{path}.{key}", f"{key} belongs on a terminal step (with verdict)")
        return Step(
            id=sid,
            title=str(raw.get("title", sid)),
            description=str(raw.get("description", "")),
            collect=tuple(collect),
            samples=samples,
            interval=interval,
            timeout=timeout,
            probes=tuple(probes),
            rules=tuple(rules),
            default=default if isinstance(default, str) else None,
            verdict=verdict,
            kind=kind if kind in KINDS else None,
            summary=raw.get("summary") if isinstance(raw.get("summary"), str) else None,
            culprits=culprits if culprits in CULPRIT_SOURCES else "none",
            path=path,
        )

    def rule(self, raw: Any, path: str, names: frozenset[str]) -> Rule | None:
        if not isinstance(raw, dict):
            self.bad(path, "a rule is a mapping with when (and next and/or finding)")
            return None
        for key in sorted(set(raw) - _RULE_KEYS):
            self.bad(f"{path}.{key}", "unknown rule key")
        when = raw.get("when")
        if isinstance(when, bool):
            when = "true" if when else "false"
        if not isinstance(when, str) or not when.strip():
            self.bad(f"{path}.when", "when is required: an expression")
            return None
        err, read = checks.check(when)
        if err:
            self.bad(f"{path}.when", err)
            return None
        unknown = read - names
        if unknown:
            self.bad(f"{path}.when", f"unknown evidence name(s): {', '.join(sorted(unknown))}")
        finding = raw.get("finding")
        if finding is not None:
            if not isinstance(finding, str):
                self.bad(f"{path}.finding", "finding must be a string")
                finding = None
            else:
                self.template(finding, f"{path}.finding", names)
        nxt = raw.get("next")
        if nxt is not None and not isinstance(nxt, str):
            self.bad(f"{path}.next", "next must be a step id")
            nxt = None
        if nxt is None and finding is None:
            self.bad(path, "a rule needs next, finding, or both")
        return Rule(str(raw.get("name", when)), when, finding, nxt, path)

    def template(self, text: str, path: str, names: frozenset[str]) -> None:
        err = checks.template_error(text)
        if err:
            self.bad(path, err)
            return
        unknown = checks.template_names(text) - names
        if unknown:
            self.bad(path, f"unknown evidence name(s): {', '.join(sorted(unknown))}")

    def graph(self, steps: dict[str, Step], start: str) -> None:
        edges: dict[str, list[tuple[str, str]]] = {}
        for s in steps.values():
            out = [(r.next, f"{r.path}.next") for r in s.rules if r.next]
            if s.default:
                out.append((s.default, f"{s.path}.default"))
            for target, where in out:
                if target not in steps:
                    self.bad(where, f"step {target!r} is not defined")
            edges[s.id] = [(t, w) for t, w in out if t in steps]
        seen: set[str] = set()
        stack = [start]
        while stack:
            sid = stack.pop()
            if sid not in seen:
                seen.add(sid)
                stack.extend(t for t, _ in edges[sid])
        for s in steps.values():
            if s.id not in seen:
                self.bad(f"{s.path}.id", f"step {s.id!r} is unreachable from {start!r}")
        # cycles: iterative DFS with colours
        colour: dict[str, int] = {}
        for root in steps:
            if colour.get(root):
                continue
            work: list[tuple[str, int]] = [(root, 0)]
            colour[root] = 1
            while work:
                sid, i = work.pop()
                if i < len(edges[sid]):
                    work.append((sid, i + 1))
                    target, where = edges[sid][i]
                    if colour.get(target) == 1:
                        self.bad(where, f"cycle: {sid!r} leads back to {target!r}")
                    elif not colour.get(target):
                        colour[target] = 1
                        work.append((target, 0))
                else:
                    colour[sid] = 2


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if 0 <= value <= MAX_SECONDS else None  # also refuses nan and inf
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*", value)
        if m:
            n = float(m.group(1))
            seconds = {"ms": n / 1000, "m": n * 60}.get(m.group(2) or "s", n)
            return seconds if seconds <= MAX_SECONDS else None
    return None
