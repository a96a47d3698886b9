"""Live collection through ansible-runner: one looped ``raw`` task, one exec per sample, SSH or local.

Scripts come from ``wire.ScriptBuilder``; the event handler decodes each reply as it arrives
and hands it to the host's ``EvidenceStore``, so evidence is on disk before the next sample.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kleak_runbook.errors import CollectionError, UsageError
from kleak_runbook.evidence import sshprep
from kleak_runbook.evidence.collector import ProbeCall, Request, StoreFor
from kleak_runbook.evidence.events import DISARMED, HostState, on_event
from kleak_runbook.evidence.runner import prompt_close, run_play
from kleak_runbook.evidence.specs import SPECS
from kleak_runbook.evidence.wire import ScriptBuilder
from kleak_runbook.probes import PROBES
from kleak_runbook.progress import Progress

ITEM_GAP_S = 0.15


@dataclass
class Target:
    host: str | None = None  # --host
    inventory: list[str] = field(default_factory=list)  # -i
    limit: str | None = None
    user: str | None = None
    port: int | None = None
    private_key: str | None = None
    become: bool = False
    become_user: str | None = None
    extra_vars: dict[str, str] = field(default_factory=dict)  # ansible_* from -e
    forks: int = 20
    verbose: int = 0


class AnsibleCollector:
    live = True

    def __init__(self, target: Target, progress: Progress) -> None:
        self.target = target
        self.progress = progress
        self.workdir = Path(tempfile.mkdtemp(prefix="kleak-ansible-"))
        self.control_dir = self.workdir / "cp"
        self.control_dir.mkdir()
        self._probe_of: dict[str, ProbeCall] = {}
        self._finished: Callable[[], bool] | None = None  # while collect() runs: every reply is in
        # work to do while the first play starts, in the main thread (runner._while_waiting)
        self.while_waiting: list[Callable[[], object]] = []
        # hosts a tracing probe ran on, and those whose disarm check came back: close() disarms the rest
        self._trace_hosts: set[str] = set()
        self._disarmed: set[str] = set()
        # ansible.cfg is read once: the ssh_args Ansible gets and the prewarmed master both use it
        cfg = sshprep.ansible_cfg(os.environ)
        self._ssh_args = self._ssh_options() + sshprep.user_ssh_args(os.environ, cfg)
        t = target
        self._warm = sshprep.start_master(
            t.host,
            self.control_dir,
            user=t.user,
            port=t.port,
            private_key=t.private_key,
            overrides=t.extra_vars,
            ssh_args=self._ssh_args,
            cfg=cfg,
        )

    # --- public ----------------------------------------------------------------------------
    def collect(self, request: Request, hosts: Sequence[str] | None, store_for: StoreFor) -> list[str]:
        batches = self._batches(request)
        seen: dict[str, HostState] = {}
        if any(c.name in DISARMED for c in request.probes):
            self._trace_hosts.update(hosts or [])

        def handler(event: dict[str, Any]) -> bool:
            on_event(
                self.progress,
                self._probe_of,
                self._trace_hosts,
                self._disarmed,
                event,
                batches,
                seen,
                store_for,
                request,
            )
            return False  # don't keep ansible-runner's own copy of the event on disk

        def finished() -> bool:  # one host, every batch answered (or the host is unreachable)
            return self.target.host is not None and bool(seen) and not any(s.pending for s in seen.values())

        private = Path(tempfile.mkdtemp(prefix="runner-", dir=self.workdir))
        self._finished = finished  # an attribute: _run's signature is what execution nodes wrap
        try:
            result = self._run(private, batches, hosts, handler, request)
        finally:
            self._finished = None
            shutil.rmtree(private, ignore_errors=True)
        if result.status == "timeout":
            for name, state in seen.items():
                if state.pending:
                    store_for(name).add_gap(request.step, "timeout", f"step timed out after {request.timeout:g}s")
        if not seen:
            if hosts is None and self.target.host is None:
                raise UsageError(f"no hosts matched {self.target.limit or 'all'} in {', '.join(self.target.inventory)}")
            err = (result.stdout.read() if result.stdout else "")[-400:].strip().replace("\n", " ")
            raise CollectionError(f"ansible did not run ({result.status}, rc={result.rc}): {err}")
        for name, state in seen.items():
            store = store_for(name)
            if store.unreachable is None and state.pending:
                missing = ", ".join(sorted(state.pending))
                store.add_gap(request.step, "error", f"no reply for {missing}")
            if self.target.host is not None:  # one host: its files reach the disk while it is judged
                store.sync_soon()
        return list(seen)

    def close(self) -> None:
        if self._trace_hosts - self._disarmed:
            self._disarm(sorted(self._trace_hosts - self._disarmed))
        if self._warm is not None and self._warm.poll() is None:
            self._warm.kill()
            self._warm.wait()
        # Close the SSH master connections this run opened (ControlPersist would keep them).
        for sock in self.control_dir.iterdir() if self.control_dir.exists() else []:
            subprocess.run(
                ["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "kleak"],
                capture_output=True,
                timeout=10,
                check=False,
            )
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _ssh_options(self) -> list[str]:
        """What every ssh of this run gets (Ansible's through ANSIBLE_SSH_ARGS, and the prewarmed
        master): one master per host kept for the run, on a path both name the same way."""
        opts = ["-o", "ControlMaster=auto", "-o", "ControlPersist=120s"]
        path = sshprep.shared_control_path(self.control_dir)
        if path is not None:
            opts += ["-o", f"ControlPath={path}"]
        return opts

    def _disarm(self, hosts: list[str]) -> None:
        """Last resort after an interrupted or failed tracing probe: remove our triggers."""
        b = ScriptBuilder.new("disarm tracing")
        for name in sorted(DISARMED):
            disarm = PROBES[name].disarm
            if disarm is not None:
                disarm(b, name)
                break  # one disarm removes every trigger this tool names
        private = Path(tempfile.mkdtemp(prefix="runner-", dir=self.workdir))
        try:
            self._run(private, {b.marker: b}, hosts, lambda _e: False, Request(step="disarm", timeout=30))
            self.progress.say(f"disarmed tracing on {', '.join(hosts)}")
        except Exception as exc:  # never let cleanup hide the original outcome
            self.progress.say(f"could not confirm tracing was disarmed on {', '.join(hosts)}: {exc}")
        finally:
            shutil.rmtree(private, ignore_errors=True)

    # --- batches ---------------------------------------------------------------------------
    def _batches(self, request: Request) -> dict[str, ScriptBuilder]:
        batches: dict[str, ScriptBuilder] = {}
        for i in range(request.samples if request.specs else 0):
            b = ScriptBuilder.new(f"{request.step} sample {i + 1}/{request.samples}")
            if i:
                # Ansible spends about this long between loop items; the host's uptime clock
                # still times every sample exactly, so rates do not depend on it
                b.sleep(max(0.0, request.interval - ITEM_GAP_S))
            b.timestamp()
            for name in request.specs:
                _add_spec(b, "sample/", name)
            if i == 0:
                for name in request.static:
                    _add_spec(b, "static/", name)
            batches[b.marker] = b
        for call in request.probes:
            b = ScriptBuilder.new(f"{request.step} probe {call.name}")
            PROBES[call.name].build(b, call.args, call.consented)
            batches[b.marker] = b
            self._probe_of[b.marker] = call
            disarm = PROBES[call.name].disarm
            if disarm is not None:
                d = ScriptBuilder.new(f"{request.step} probe {call.name} disarm check")
                disarm(d, call.name)
                batches[d.marker] = d
                self._probe_of[d.marker] = call
        if request.static and not request.specs and not request.probes:
            b = ScriptBuilder.new(f"{request.step} static")
            for name in request.static:
                _add_spec(b, "static/", name)
            batches[b.marker] = b
        return batches

    def _run(
        self,
        private: Path,
        batches: dict[str, ScriptBuilder],
        hosts: Sequence[str] | None,
        handler: Any,
        request: Request,
    ) -> Any:
        return run_play(
            self.target,
            self.control_dir,
            self._ssh_args,
            private,
            batches,
            hosts,
            handler,
            request,
            self._finished,
            self.while_waiting,
        )

    _prompt_close = staticmethod(prompt_close)


def _add_spec(b: ScriptBuilder, prefix: str, name: str) -> None:
    spec = SPECS[name]
    if spec.command:
        b.command(prefix + spec.relpath, spec.command, spec.max_bytes, spec.timeout_s)
    else:
        b.file(prefix + spec.relpath, spec.host_path, spec.max_bytes)
