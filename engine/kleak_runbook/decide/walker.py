"""Walking a runbook: collect what a step needs, evaluate its rules, follow the branch.

Hosts move through the tree together where they can: all hosts waiting at the same step are
collected in one Ansible run (a fleet runs in parallel), then each follows its own branch.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

from kleak_runbook.decide.runbook import Runbook, Step
from kleak_runbook.errors import KleakError
from kleak_runbook.evidence.collector import Collector, ProbeCall, Request
from kleak_runbook.evidence.specs import SAMPLED, STATIC
from kleak_runbook.evidence.store import EvidenceStore, utcnow
from kleak_runbook.probes import PROBES

if TYPE_CHECKING:  # the judging modules are imported when there is something to judge (see _derive)
    from jinja2 import nodes

    from kleak_runbook.decide.expressions import Evaluator
    from kleak_runbook.derive.kernel import Kernel
    from kleak_runbook.derive.metrics import Metrics
    from kleak_runbook.parsers.host import HostEvidence, HostParser

MAX_VISITS = 100


@dataclass
class Visit:
    step: str
    title: str
    rule: str | None = None
    when: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    finding: str | None = None
    next: str | None = None
    unevaluated: list[dict[str, str]] = field(default_factory=list)
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"step": self.step, "title": self.title}
        for key in ("rule", "when", "finding", "next", "note"):
            if getattr(self, key) is not None:
                d[key] = getattr(self, key)
        if self.inputs:
            d["inputs"] = self.inputs
        if self.unevaluated:
            d["unevaluated"] = self.unevaluated
        return d


@dataclass
class Derived:
    """One host's evidence as the rules see it, rebuilt only when new evidence arrived."""

    revision: int
    data_revision: int
    evidence: HostEvidence
    kernel: Kernel
    metrics: Metrics
    probes: dict[str, Any]
    context: dict[str, Any]


@dataclass
class HostWalk:
    """One host's way through the runbook: where it is and what it found."""

    host: str
    store: EvidenceStore
    started_at: str
    parser: HostParser
    visits: list[Visit] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    unevaluated: list[str] = field(default_factory=list)
    derived: Derived | None = None
    terminal: Step | None = None
    summary: str = ""
    finished_at: str | None = None

    @property
    def context(self) -> dict[str, Any]:
        return self.derived.context if self.derived else {}


class Walker:
    def __init__(
        self,
        runbook: Runbook,
        collector: Collector,
        store_for: Callable[[str], EvidenceStore],
        params: dict[str, Any],
        consent: frozenset[str],
        samples: int | None = None,
        interval: float | None = None,
        say: Callable[[str], None] = lambda _m: None,
        prepare: Callable[[str], None] = lambda _h: None,
    ) -> None:
        self.rb = runbook
        self.collector = collector
        self.store_for = store_for
        self.params = {**runbook.params, **params}
        self.consent = consent | frozenset(runbook.allow_intrusive)
        self.samples = samples
        self.interval = interval
        self.say = say
        self.prepare = prepare  # called once per host, after its first evidence came, before rules read it
        self.walks: dict[str, HostWalk] = {}
        self.in_progress: tuple[str, int] | None = None  # (step, samples asked for) while collecting

    @cached_property
    def ev(self) -> Evaluator:
        from kleak_runbook.decide.expressions import Evaluator

        return Evaluator()

    def run(self, hosts: list[str] | None) -> dict[str, HostWalk]:
        """Walk every host to a terminal step; ``hosts=None`` takes every host of the target."""
        from kleak_runbook.parsers.host import HostParser

        pending: dict[str, list[str] | None] = {self.rb.start: hosts}
        while pending:
            step_id, group = next(iter(pending.items()))
            del pending[step_id]
            step = self.rb.steps[step_id]
            before = utcnow()
            seen = self._collect(step, group)
            for host in seen:
                walk = self.walks.get(host)
                if walk is None:
                    store = self.store_for(host)
                    self.prepare(host)
                    walk = self.walks[host] = HostWalk(host, store, before, HostParser(store))
                nxt = self._advance(walk, step)
                if nxt is not None:
                    pending.setdefault(nxt, [])
                    members = pending[nxt]
                    assert members is not None
                    members.append(host)
        for walk in self.walks.values():
            walk.finished_at = walk.finished_at or utcnow()
        return self.walks

    def walk_for(self, host: str, store: EvidenceStore) -> HostWalk:
        """The host's walk; one made now (with what was derived so far) for a host cut off early."""
        from kleak_runbook.parsers.host import HostParser

        walk = self.walks.get(host)
        if walk is None:
            self.prepare(host)
            walk = self.walks[host] = HostWalk(host, store, utcnow(), HostParser(store))
        if walk.derived is None or walk.derived.revision != store.revision:
            self._derive(walk)
        return walk

    def interruption(self, got: int) -> str:
        """What was under way when the run was interrupted (``got`` samples), in words for the report."""
        if self.in_progress is None:
            return "before any evidence was collected"
        step, wanted = self.in_progress
        if wanted:
            return f"in step {step} after {got} of {wanted} samples"
        return f"in step {step}"

    # --- one step ----------------------------------------------------------------------------
    def _collect(self, step: Step, group: list[str] | None) -> list[str]:
        first = group is None or any(not self.store_for(h).static for h in group)
        sampled = tuple(c for c in step.collect if c in SAMPLED)
        base = Request(
            step=step.id,
            specs=sampled,
            samples=((self.samples or step.samples) if step.samples > 1 or self.samples else 1) if sampled else 0,
            interval=self.interval if self.interval is not None else step.interval,
            static=STATIC if first else tuple(c for c in step.collect if c not in SAMPLED),
            timeout=step.timeout,
        )
        if group is not None:
            group = [h for h in group if self.store_for(h).unreachable is None]
            if not group:
                return []
        if not step.probes:
            if not (base.specs or base.static):
                return list(group or [])
            self.say(f"step {step.id}: {step.title}")
            self.in_progress = (step.id, base.samples)
            return self.collector.collect(base, group, self.store_for)
        # probes take arguments chosen per host (the cache that grows, ...): one collection per
        # distinct set of arguments, so a fleet with the same problem is still one Ansible run
        by_calls: dict[tuple[ProbeCall, ...], list[str]] = {}
        for host in group or []:
            by_calls.setdefault(self._probe_calls(step, host), []).append(host)
        seen: list[str] = []
        for calls, hosts in by_calls.items():
            request = replace(base, probes=calls)
            if not (request.specs or request.static or request.probes):
                seen.extend(hosts)
                continue
            self.say(f"step {step.id}: {step.title}")
            self.in_progress = (step.id, request.samples)
            seen.extend(self.collector.collect(request, hosts, self.store_for))
        return seen

    def _probe_calls(self, step: Step, host: str) -> tuple[ProbeCall, ...]:
        walk = self.walks.get(host)
        ctx = walk.context if walk else {}
        calls = []
        store = self.store_for(host)
        for name in step.probes:
            probe = PROBES[name]
            args = probe.args(ctx)
            if not self.collector.live:
                calls.append(ProbeCall(name, args))  # saved evidence: reading it changes nothing on any host
                continue
            consented = probe.consent is not None and probe.consent in self.consent
            if probe.intrusive and not consented:
                store.skip_probe(
                    name,
                    f"not consented: run with --allow-intrusive {probe.consent} to allow it ({probe.effect})",
                    args,
                )
                store.add_gap(f"probe {name}", "not-consented", f"--allow-intrusive {probe.consent} was not given")
                continue
            calls.append(ProbeCall(name, args, consented))
        return tuple(calls)

    def _derive(self, walk: HostWalk) -> Derived:
        """Parse, combine and derive what is new since the last step; the rule context over it."""
        from kleak_runbook.decide import context as ctxmod
        from kleak_runbook.derive.metrics import compute
        from kleak_runbook.probes.base import ProbeInputs

        d = walk.derived
        if d is not None and d.revision == walk.store.revision:
            d.context["findings"] = list(walk.findings)
            return d
        data_revision = walk.store.data_revision  # before parsing: a parse error is a gap, not data
        evidence = walk.parser.parse()
        if d is not None and d.data_revision == data_revision:  # only probes or gaps are new
            kernel, metrics = d.kernel, d.metrics
        else:
            kernel = d.kernel if d is not None and d.kernel.release else self._kernel(walk.store)
            metrics = compute(evidence, kernel)
        inputs = ProbeInputs(kernel, metrics, evidence.static.get("cmdline"))
        probes = {name: p.interpret(evidence.probes.get(name), inputs) for name, p in PROBES.items()}
        context = ctxmod.build(evidence, metrics, kernel, probes, self.params, self.consent, walk.findings)
        walk.derived = Derived(walk.store.revision, data_revision, evidence, kernel, metrics, probes, context)
        return walk.derived

    @staticmethod
    def _kernel(store: EvidenceStore) -> Kernel:
        from kleak_runbook.derive.kernel import Kernel

        errors: list[str] = []
        kernel = Kernel.of_texts(store.static, errors)
        for error in errors:
            spec, _, reason = error.partition(": ")
            store.add_gap(spec, "error", reason)
        return kernel

    def _advance(self, walk: HostWalk, step: Step) -> str | None:
        from kleak_runbook.decide.expressions import ExpressionError

        store = walk.store
        if store.unreachable is not None:
            walk.visits.append(Visit(step.id, step.title, note=f"host unreachable: {store.unreachable}"))
            walk.finished_at = utcnow()
            return None
        if len(walk.visits) >= MAX_VISITS:
            raise KleakError(f"{self.rb.file}: walked more than {MAX_VISITS} steps on {walk.host}")
        context = self._derive(walk).context
        visit = Visit(step.id, step.title)
        walk.visits.append(visit)
        if step.terminal:
            walk.terminal = step
            if step.summary:
                try:
                    walk.summary = self.ev.render(step.summary, context)
                except ExpressionError as exc:
                    walk.summary = f"(summary could not be rendered: {exc})"
            walk.finished_at = utcnow()
            return None
        for rule in step.rules:
            try:
                fired = bool(self.ev.evaluate(rule.when, context))
            except ExpressionError as exc:
                visit.unevaluated.append({"rule": rule.name, "reason": str(exc)})
                walk.unevaluated.append(f"{step.id}: {rule.name}: {exc}")
                continue
            if not fired:
                continue
            finding = None
            if rule.finding:
                try:
                    finding = self.ev.render(rule.finding, context)
                except ExpressionError as exc:
                    finding = f"{rule.name} (finding text could not be rendered: {exc})"
                walk.findings.append(finding)
            if rule.next is None:
                continue
            visit.rule, visit.when, visit.finding, visit.next = rule.name, rule.when, finding, rule.next
            visit.inputs = self._inputs(rule.when, context)
            return rule.next
        visit.rule, visit.next = "default", step.default
        return step.default

    def _inputs(self, expr: str, context: dict[str, Any]) -> dict[str, Any]:
        """The values an expression read: each maximal dotted name in it, evaluated."""
        from jinja2 import nodes

        from kleak_runbook.decide.expressions import ExpressionError

        out: dict[str, Any] = {}
        try:
            ast = self.ev.env.parse("{{ " + expr + " }}")
        except Exception:  # validated already; be safe in reporting
            return out
        for node in ast.find_all((nodes.Getattr, nodes.Name)):
            text = _dotted(node)
            if text is None or text in out or any(k.startswith(text + ".") for k in out):
                continue
            if any(text.startswith(k + ".") for k in list(out)):
                continue
            try:
                value = self.ev.evaluate(text, context)
            except ExpressionError:
                continue
            out[text] = _plain(value)
        return {k: v for k, v in out.items() if v is not None and not re.fullmatch(r"[A-Z][a-zA-Z]*B", k)}


def _dotted(node: nodes.Node) -> str | None:
    from jinja2 import nodes

    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr):
        inner = _dotted(node.node)
        return f"{inner}.{node.attr}" if inner else None
    return None


def _plain(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, (tuple, list)) and all(isinstance(v, (int, str)) for v in value):
        return list(value)
    return None
