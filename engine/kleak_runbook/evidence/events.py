"""Ansible events → evidence: each loop item's reply is decoded and stored as it arrives."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kleak_runbook.evidence.collector import ProbeCall, Request, StoreFor
from kleak_runbook.evidence.specs import BY_RELPATH
from kleak_runbook.evidence.store import EvidenceStore
from kleak_runbook.evidence.wire import Reply, ScriptBuilder, decode
from kleak_runbook.probes import PROBES
from kleak_runbook.progress import Progress

# probes that arm something on the host: their hosts are disarmed at close unless a check came back
DISARMED = frozenset(name for name, p in PROBES.items() if p.disarm is not None)


def on_event(
    progress: Progress,
    probe_of: dict[str, ProbeCall],
    armed: set[str],
    disarmed: set[str],
    event: dict[str, Any],
    batches: dict[str, ScriptBuilder],
    seen: dict[str, HostState],
    store_for: StoreFor,
    request: Request,
) -> None:
    kind = event.get("event", "")
    data = event.get("event_data") or {}
    host = data.get("host")
    if not host:
        return
    if kind == "runner_on_start":
        seen.setdefault(host, HostState(set(batches)))
        progress.say(f"[{host}] {request.step}: collecting")
        return
    res = data.get("res") or {}
    # one event per loop item carries that batch's stdout; the task's closing event repeats
    # them all under "results" and is skipped
    if kind not in ("runner_item_on_ok", "runner_item_on_failed", "runner_on_unreachable") and not (
        kind in ("runner_on_ok", "runner_on_failed") and "results" not in res
    ):
        return
    state = seen.setdefault(host, HostState(set(batches)))
    store = store_for(host)
    if kind == "runner_on_unreachable" or (res.get("unreachable") and kind == "runner_item_on_failed"):
        if store.unreachable is None or store.unreachable.startswith(NO_REASON):
            store.unreachable = unreachable_reason(res)
            store.add_gap("host", "unreachable", store.unreachable)
            progress.say(f"[{host}] unreachable: {store.unreachable}")
        if state.pending:
            progress.host_finished(host, failed=True)
        state.pending.clear()
        return
    stdout = res.get("stdout")
    if not isinstance(stdout, str):
        text = str(res.get("msg", "no output")).strip()
        # Ansible's task timeout: "Timed out after 30 seconds." and a ``timedout`` key
        status = (
            "timeout" if res.get("timedout") or "timed out" in text.lower() or "timeout" in text.lower() else "error"
        )
        store.add_gap(request.step, status, text.splitlines()[-1] if text else status)
        if status == "timeout":
            progress.host_finished(host, failed=True)
        return
    marker = stdout.split(" ", 1)[0] if stdout.startswith("KLEAK-") else _find_marker(stdout, batches)
    builder = batches.get(marker or "")
    if builder is None:
        err = (str(res.get("stderr", "")) or str(res.get("msg", ""))).strip().splitlines()
        store.add_gap(request.step, "error", err[-1] if err else "reply without evidence")
        return
    state.pending.discard(builder.marker)
    reply = decode(stdout, builder.marker)
    call = probe_of.get(builder.marker)
    if call is not None and call.name in DISARMED:
        if builder.label.endswith("disarm check") and reply.complete:
            disarmed.add(host)
        else:
            armed.add(host)
    store_reply(store, reply, call)
    label = reply.batch or ""
    if not reply.complete:
        err = str(res.get("stderr", "")).strip().splitlines()
        store.add_gap(label, "truncated", err[-1] if err else "reply ended early")
    progress.say(f"[{host}] {label}: {sum(1 for i in reply.items if i.status == 'ok')} files")
    if not state.pending:
        progress.host_finished(host, failed=not reply.complete)
    if state.pending and request.interval and "sample" in label:
        progress.waiting(f"[{host}] {request.step}: next sample", request.interval)


# Ansible's words around ssh's own reason, and its summary of a loop that says nothing
_WRAPPERS = ("Task failed: ", "Failed to connect to the host via ssh: ", "Data could not be sent to remote host")
_GENERIC = ("All items completed", "unreachable", "")
NO_REASON = "unreachable"


# ssh's own diagnosis, wherever Ansible put it (alone, or after "Data could not be sent to remote
# host ...: " on one line, or among -vvv debug lines)
_SSH_SAYS = re.compile(
    r"(ssh: (connect to host|Could not resolve hostname) .+"
    r"|[^\s\"']+@[^\s\"']+: Permission denied .+"
    r"|Connection (timed out|closed|reset) .+"
    r"|kex_exchange_identification: .+"
    r"|Host key verification failed\.)$"
)


def _reason_of(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    for line in reversed(lines):
        said = _SSH_SAYS.search(line)
        if said:
            return said.group(1).strip()
    # otherwise ssh's diagnosis is its last line ("Bad port '70000'", ...)
    line = lines[-1] if lines else ""
    for wrapper in _WRAPPERS:
        line = line.replace(wrapper, "")
    return line.strip()


def unreachable_reason(res: dict[str, Any]) -> str:
    """Why a host could not be reached, in ssh's words where Ansible passed them on."""
    candidates = [str(res.get("msg", ""))]
    for item in res.get("results") or []:
        if isinstance(item, dict):
            candidates += [str(item.get("msg", "")), str(item.get("stderr", ""))]
    candidates.append(str(res.get("stderr", "")))
    for text in candidates:
        reason = _reason_of(text)
        if reason not in _GENERIC:
            return reason
    return NO_REASON + " (Ansible passed on no reason from ssh; -vvv shows ssh's own output)"


@dataclass
class HostState:
    pending: set[str]


def _find_marker(stdout: str, batches: dict[str, ScriptBuilder]) -> str | None:
    # become (sudo) may print a banner before the script's first line
    for marker in batches:
        if marker in stdout:
            return marker
    return None


def store_reply(store: EvidenceStore, reply: Reply, call: ProbeCall | None) -> None:
    sample = None
    items = reply.items
    if call is None and any(i.name.startswith("sample/") for i in items):
        wall, up = reply.times[0] if reply.times else (None, None)
        sample = store.new_sample(wall, up)
    if call is not None and call.name not in store.probes:
        store.start_probe(call.name, call.args)
    for item in items:
        where, _, rel = item.name.partition("/")
        probe_phase = None
        if where == "probe":
            probe, phase, rel = rel.split("/", 2)
            probe_phase = (probe, phase)
        spec = BY_RELPATH.get(rel)
        if probe_phase and (spec is None or phase == "data"):
            if item.status == "ok" and item.text is not None:
                store.add_probe_text(probe_phase[0], probe_phase[1], rel, rel, item.text)
            else:
                store.probe(probe_phase[0]).phases.setdefault("status", {})[rel] = item.status
            continue
        if spec is None:
            continue
        if item.status == "missing" and spec.optional:
            continue
        if item.status != "ok" or item.text is None:
            reason = {
                "denied": f"permission denied reading {spec.host_path}",
                "missing": f"{spec.host_path} does not exist on this kernel",
                "truncated": f"{spec.host_path} arrived truncated ({item.detail})",
                "toolarge": f"{spec.host_path} is {item.detail}: not read",
            }.get(item.status, f"{spec.host_path}: {item.status} {item.detail}".strip())
            store.add_gap(spec.name, item.status, reason)
            continue
        if probe_phase:
            store.add_probe_text(probe_phase[0], probe_phase[1], spec.name, rel, item.text)
        elif where == "static":
            store.add_static(spec.name, rel, item.text)
        elif sample is not None:
            store.add_sample_text(sample, spec.name, rel, item.text)
    if call is not None:
        for name, fields in reply.actions:
            store.add_probe_action(call.name, name, fields)
        if len(reply.times) >= 2:
            store.add_probe_action(
                call.name,
                "times",
                {
                    "before_wall": reply.times[0][0],
                    "after_wall": reply.times[-1][0],
                    "before_uptime": str(reply.times[0][1]),
                    "after_uptime": str(reply.times[-1][1]),
                },
            )
