"""Live collection through ansible-runner: one looped ``raw`` task, one exec per sample, SSH or local.

Scripts come from ``wire.ScriptBuilder``; the event handler decodes each reply as it arrives
and hands it to the host's ``EvidenceStore``, so evidence is on disk before the next sample.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kleak_runbook.errors import CollectionError, UsageError
from kleak_runbook.evidence import sshprep
from kleak_runbook.evidence.collector import ProbeCall, Request, StoreFor
from kleak_runbook.evidence.specs import BY_RELPATH, SPECS
from kleak_runbook.evidence.store import EvidenceStore
from kleak_runbook.evidence.wire import Reply, ScriptBuilder, decode
from kleak_runbook.paths import playbook_dir
from kleak_runbook.probes import PROBES, disarm_script
from kleak_runbook.progress import Progress

# ansible-runner drops an event's result above MAX_EVENT_RES (700 kB by default); a big
# /proc/vmallocinfo is several MB. Raise it; wire.py's byte counts catch any loss left.
MAX_EVENT_RES = str(512 * 1024 * 1024)
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
        seen: dict[str, _HostState] = {}
        if any(c.name.startswith("trace") for c in request.probes):
            self._trace_hosts.update(hosts or [])

        def handler(event: dict[str, Any]) -> bool:
            self._on_event(event, batches, seen, store_for, request)
            return False  # don't keep ansible-runner's own copy of the event on disk

        private = Path(tempfile.mkdtemp(prefix="runner-", dir=self.workdir))
        try:
            result = self._run(private, batches, hosts, handler, request)
        finally:
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
        disarm_script(b)
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
            PROBES[call.name].script(b, call.args, call.consented)
            batches[b.marker] = b
            self._probe_of[b.marker] = call
            if call.name.startswith("trace"):
                d = ScriptBuilder.new(f"{request.step} probe {call.name} disarm check")
                disarm_script(d, call.name)
                batches[d.marker] = d
                self._probe_of[d.marker] = call
        if request.static and not request.specs and not request.probes:
            b = ScriptBuilder.new(f"{request.step} static")
            for name in request.static:
                _add_spec(b, "static/", name)
            batches[b.marker] = b
        return batches

    # --- ansible-runner --------------------------------------------------------------------
    def _run(
        self,
        private: Path,
        batches: dict[str, ScriptBuilder],
        hosts: Sequence[str] | None,
        handler: Any,
        request: Request,
    ) -> Any:
        import ansible_runner  # slow import; only live runs pay for it

        t = self.target
        per_batch = max(30.0, request.interval * 2 + 30)
        extravars: dict[str, Any] = {
            "kleak_target": "all",
            "kleak_batches": [
                {
                    "label": b.label,
                    "command": b.as_raw_command(),
                    "timeout": int(per_batch),
                }
                for b in batches.values()
            ],
            **t.extra_vars,
        }
        cmdline: list[str] = [f"--forks={t.forks}"]
        if t.user:
            cmdline += ["-u", t.user]
        if t.private_key:
            cmdline += ["--private-key", t.private_key]
        if t.become:
            cmdline += ["--become"]
            if t.become_user:
                cmdline += ["--become-user", t.become_user]
        if t.verbose:
            cmdline.append("-" + "v" * t.verbose)
        limit: str | None = ",".join(hosts) if hosts is not None else t.limit
        inventory: Any
        if t.host is not None:
            hostvars: dict[str, Any] = {}
            if t.host in ("localhost", "127.0.0.1-local"):
                hostvars["ansible_connection"] = "local"
                hostvars["ansible_python_interpreter"] = "/usr/bin/env python3"
            inventory = {"all": {"hosts": {t.host: hostvars}}}
        else:
            inventory = [os.path.abspath(i) for i in t.inventory]
        env = {
            # ansible-playbook sits next to this interpreter in a venv that is not activated
            "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]),
            "MAX_EVENT_RES": MAX_EVENT_RES,
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(self.control_dir),
            # no -C: /proc text is small and compressing it costs more time than it saves
            "ANSIBLE_SSH_ARGS": shlex.join(self._ssh_args),
            # raw over `ssh -tt` would merge stderr into stdout and turn \n into \r\n.
            "ANSIBLE_SSH_USETTY": "False",
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
            "ANSIBLE_LOCAL_TEMP": str(private / "tmp"),
            "ANSIBLE_NOCOLOR": "True",
            "ANSIBLE_DEPRECATION_WARNINGS": "False",
            "ANSIBLE_TIMEOUT": str(int(min(30, request.timeout))),
        }
        if t.port:
            env["ANSIBLE_REMOTE_PORT"] = str(t.port)
        # ansible-runner installs SIGINT/SIGTERM handlers of its own and never gives them back,
        # which would swallow Ctrl-C: ours cancel the run and re-raise once it has stopped.
        interrupted: list[int] = []

        def on_signal(signum: int, _frame: Any) -> None:
            interrupted.append(signum)

        main = threading.current_thread() is threading.main_thread()
        saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)} if main else {}
        for s in saved:
            signal.signal(s, on_signal)
        try:
            result = self._runner_run(
                ansible_runner,
                private,
                inventory,
                limit,
                extravars,
                cmdline,
                env,
                handler,
                request,
                lambda: bool(interrupted),
            )
        finally:
            for s, h in saved.items():
                signal.signal(s, h)
        if interrupted:
            raise KeyboardInterrupt
        return result

    @staticmethod
    @contextlib.contextmanager
    def _prompt_close() -> Iterator[None]:
        """Stop ansible-runner idling 0.1 s after every playbook.

        Once ansible-playbook's output has reached EOF, ansible-runner closes the pty with
        ptyprocess, which then sleeps a fixed ``delayafterclose`` (0.1 s) "to give the kernel time
        to update process status" before checking whether the child is still alive. Measured
        here, that sleep was a tenth of a one-sample run's overhead, paid again for every step.
        While our run is in progress, close polls instead: it returns as soon as the child has
        exited, and waits no longer than before when it has not (then the original close,
        terminate included, runs unchanged).
        """
        import ptyprocess  # a dependency of pexpect, which ansible-runner drives

        original = ptyprocess.PtyProcess.close

        def close(self: Any, force: bool = True) -> None:
            if not self.closed:
                deadline = time.monotonic() + self.delayafterclose
                while self.isalive() and time.monotonic() < deadline:
                    time.sleep(0.002)
                self.delayafterclose = max(0.0, deadline - time.monotonic()) if self.isalive() else 0.0
            original(self, force)

        ptyprocess.PtyProcess.close = close
        try:
            yield
        finally:
            ptyprocess.PtyProcess.close = original

    def _runner_run(
        self,
        ansible_runner: Any,
        private: Path,
        inventory: Any,
        limit: str | None,
        extravars: dict[str, Any],
        cmdline: list[str],
        env: dict[str, str],
        handler: Any,
        request: Request,
        cancel: Any,
    ) -> Any:
        with self._prompt_close():
            return ansible_runner.run(
                cancel_callback=cancel,
                private_data_dir=str(private),
                playbook=str(playbook_dir() / "collect.yml"),
                inventory=inventory,
                limit=limit,
                extravars=extravars,
                cmdline=" ".join(shlex.quote(c) for c in cmdline),
                envvars=env,
                event_handler=handler,
                quiet=True,
                timeout=int(request.timeout + request.samples * request.interval + 60),
                suppress_env_files=True,
                suppress_output_file=True,
            )

    def _on_event(
        self,
        event: dict[str, Any],
        batches: dict[str, ScriptBuilder],
        seen: dict[str, _HostState],
        store_for: StoreFor,
        request: Request,
    ) -> None:
        kind = event.get("event", "")
        data = event.get("event_data") or {}
        host = data.get("host")
        if not host:
            return
        if kind == "runner_on_start":
            seen.setdefault(host, _HostState(set(batches)))
            self.progress.say(f"[{host}] {request.step}: collecting")
            return
        res = data.get("res") or {}
        # one event per loop item carries that batch's stdout; the task's closing event repeats
        # them all under "results" and is skipped
        if kind not in ("runner_item_on_ok", "runner_item_on_failed", "runner_on_unreachable") and not (
            kind in ("runner_on_ok", "runner_on_failed") and "results" not in res
        ):
            return
        state = seen.setdefault(host, _HostState(set(batches)))
        store = store_for(host)
        if kind == "runner_on_unreachable":
            msg = str(res.get("msg", "unreachable")).strip().splitlines()
            store.unreachable = msg[-1] if msg else "unreachable"
            store.add_gap("host", "unreachable", store.unreachable)
            state.pending.clear()
            self.progress.say(f"[{host}] unreachable: {store.unreachable}")
            return
        stdout = res.get("stdout")
        if not isinstance(stdout, str):
            text = str(res.get("msg", "no output")).strip()
            status = "timeout" if "timed out" in text or "timeout" in text.lower() else "error"
            store.add_gap(request.step, status, text.splitlines()[-1] if text else status)
            return
        marker = stdout.split(" ", 1)[0] if stdout.startswith("KLEAK-") else _find_marker(stdout, batches)
        builder = batches.get(marker or "")
        if builder is None:
            err = (str(res.get("stderr", "")) or str(res.get("msg", ""))).strip().splitlines()
            store.add_gap(request.step, "error", err[-1] if err else "reply without evidence")
            return
        state.pending.discard(builder.marker)
        reply = decode(stdout, builder.marker)
        call = self._probe_of.get(builder.marker)
        if call is not None and call.name.startswith("trace"):
            if builder.label.endswith("disarm check") and reply.complete:
                self._disarmed.add(host)
            else:
                self._trace_hosts.add(host)
        _store_reply(store, reply, call)
        label = reply.batch or ""
        if not reply.complete:
            err = str(res.get("stderr", "")).strip().splitlines()
            store.add_gap(label, "truncated", err[-1] if err else "reply ended early")
        self.progress.say(f"[{host}] {label}: {sum(1 for i in reply.items if i.status == 'ok')} files")
        if state.pending and request.interval and "sample" in label:
            self.progress.waiting(f"[{host}] {request.step}: next sample", request.interval)


@dataclass
class _HostState:
    pending: set[str]


def _add_spec(b: ScriptBuilder, prefix: str, name: str) -> None:
    spec = SPECS[name]
    if spec.command:
        b.command(prefix + spec.relpath, spec.command)
    else:
        b.file(prefix + spec.relpath, spec.host_path)


def _find_marker(stdout: str, batches: dict[str, ScriptBuilder]) -> str | None:
    # become (sudo) may print a banner before the script's first line
    for marker in batches:
        if marker in stdout:
            return marker
    return None


def _store_reply(store: EvidenceStore, reply: Reply, call: ProbeCall | None) -> None:
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
