"""Walking a runbook: collect what a step needs, evaluate its rules, follow the branch.

Hosts move through the tree together where they can: all hosts waiting at the same step are
collected in one Ansible run (a fleet runs in parallel), then each follows its own branch.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from jinja2 import nodes

from kleak_runbook.decide import context as ctxmod
from kleak_runbook.decide.expressions import Evaluator, ExpressionError
from kleak_runbook.decide.runbook import Runbook, Step
from kleak_runbook.derive.metrics import Metrics, compute
from kleak_runbook.errors import KleakError
from kleak_runbook.evidence.collector import Collector, ProbeCall, Request
from kleak_runbook.evidence.specs import SAMPLED, STATIC
from kleak_runbook.evidence.store import EvidenceStore
from kleak_runbook.probes import PROBES

MAX_VISITS = 100


def utcnow() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


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
class HostWalk:
    host: str
    store: EvidenceStore
    started_at: str
    current: str
    visits: list[Visit] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    terminal: Step | None = None
    summary: str = ""
    metrics: Metrics | None = None
    facts: ctxmod.KernelFacts | None = None
    context: dict[str, Any] = field(default_factory=dict)
    unevaluated: list[str] = field(default_factory=list)
    verdict: str | None = None
    kind: str | None = None
    notes: list[str] = field(default_factory=list)
    finished_at: str | None = None


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
    ) -> None:
        self.rb = runbook
        self.collector = collector
        self.store_for = store_for
        self.params = {**runbook.params, **params}
        self.consent = consent | frozenset(runbook.allow_intrusive)
        self.samples = samples
        self.interval = interval
        self.say = say
        self.ev = Evaluator()
        self.walks: dict[str, HostWalk] = {}

    def warm_up(self) -> threading.Thread:
        """Do the fixed per-run work (compile the rules, load the knowledge base, import the report
        code) in a thread while the first samples are being taken, which is mostly waiting."""

        def work() -> None:
            time.sleep(0.5)  # let the main thread start Ansible first: it holds the GIL while importing
            from kleak_runbook.decide import knowledge_bridge
            from kleak_runbook.report import result

            result.report_environment().get_template("report.md.j2")
            for step in self.rb.steps.values():
                for rule in step.rules:
                    self.ev.compile(rule.when)
            with contextlib.suppress(Exception):  # a broken knowledge base is reported later, in the main thread
                knowledge_bridge.entries()

        t = threading.Thread(target=work, name="kleak-warm-up", daemon=True)
        t.start()
        return t

    def run(self, hosts: list[str] | None) -> dict[str, HostWalk]:
        """Walk every host to a terminal step; ``hosts=None`` takes every host of the target."""
        warm = self.warm_up() if self.collector.live else None
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
                    walk = self.walks[host] = HostWalk(host, self.store_for(host), before, step_id)
                nxt = self._advance(walk, step)
                if nxt is not None:
                    pending.setdefault(nxt, [])
                    members = pending[nxt]
                    assert members is not None
                    members.append(host)
        if warm is not None:
            warm.join()
        for walk in self.walks.values():
            walk.finished_at = walk.finished_at or utcnow()
        return self.walks

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

    def _advance(self, walk: HostWalk, step: Step) -> str | None:
        store = walk.store
        if store.unreachable is not None:
            walk.visits.append(Visit(step.id, step.title, note=f"host unreachable: {store.unreachable}"))
            walk.verdict, walk.kind = "inconclusive", "unknown"
            walk.summary = f"The host could not be reached: {store.unreachable}"
            walk.finished_at = utcnow()
            return None
        if len(walk.visits) >= MAX_VISITS:
            raise KleakError(f"{self.rb.file}: walked more than {MAX_VISITS} steps on {walk.host}")
        walk.facts = ctxmod.kernel_facts(store) if walk.facts is None or not walk.facts.release else walk.facts
        walk.metrics = compute(store, walk.facts.upstream)
        walk.context = ctxmod.build(store, walk.metrics, walk.facts, self.params, self.consent, walk.findings)
        visit = Visit(step.id, step.title)
        walk.visits.append(visit)
        if step.terminal:
            walk.terminal = step
            walk.verdict, walk.kind = step.verdict, step.kind
            if step.summary:
                try:
                    walk.summary = self.ev.render(step.summary, walk.context)
                except ExpressionError as exc:
                    walk.summary = f"(summary could not be rendered: {exc})"
            self._guards(walk)
            walk.finished_at = utcnow()
            return None
        for rule in step.rules:
            try:
                fired = bool(self.ev.evaluate(rule.when, walk.context))
            except ExpressionError as exc:
                visit.unevaluated.append({"rule": rule.name, "reason": str(exc)})
                walk.unevaluated.append(f"{step.id}: {rule.name}: {exc}")
                continue
            if not fired:
                continue
            finding = None
            if rule.finding:
                try:
                    finding = self.ev.render(rule.finding, walk.context)
                except ExpressionError as exc:
                    finding = f"{rule.name} (finding text could not be rendered: {exc})"
                walk.findings.append(finding)
            if rule.next is None:
                continue
            visit.rule, visit.when, visit.finding, visit.next = rule.name, rule.when, finding, rule.next
            visit.inputs = self._inputs(rule.when, walk.context)
            return rule.next
        visit.rule, visit.next = "default", step.default
        return step.default

    def _guards(self, walk: HostWalk) -> None:
        """Engine-side limits on what a runbook may conclude from the evidence it had."""
        m = walk.metrics
        if walk.verdict == "leak" and (m is None or m.sample_count < 3 or m.times is None):
            walk.verdict = "suspected-leak"
            walk.notes.append(
                "fewer than three timed samples cannot show steady growth (two always look steady): "
                "a leak verdict is reported as suspected-leak; sample again with --samples 3 or more"
            )
        if walk.verdict == "no-leak" and walk.unevaluated:
            walk.verdict = "inconclusive"
            walk.notes.append(
                "rules that could have found a leak could not be evaluated ("
                + "; ".join(walk.unevaluated[:3])
                + "): no-leak cannot be claimed"
            )
        if m is None or m.sample_count == 0:
            walk.verdict, walk.kind = "inconclusive", "unknown"
            walk.notes.append("/proc/meminfo was not collected: no verdict is possible")

    def _inputs(self, expr: str, context: dict[str, Any]) -> dict[str, Any]:
        """The values an expression read: each maximal dotted name in it, evaluated."""
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
