"""Execution nodes: a fleet split across hosts that run the play, over ansible-runner's streaming.

The protocol is the one AWX uses over Receptor: the controller packs the private data dir and
the run's arguments (``transmit``), a node unpacks and runs them (``ansible-runner worker``,
reading its stdin and writing events to its stdout), and the controller turns the stream back
into events (``process``). Here the pipe between them is ``ssh user@node ansible-runner worker``,
so a node needs only ansible-runner (and Ansible); each event goes to the same handler as a
local run, so evidence lands in the same bundles as it arrives.

A node that dies (its ssh or worker ends before the stream's end) is reported with the hosts
it held; those of its hosts that had not finished are run again, once, on a node still alive
(or on the controller when none is). Evidence the dead node already sent is kept.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kleak_runbook.errors import UsageError
from kleak_runbook.evidence.collector import Request
from kleak_runbook.evidence.hostgroup import inventory_groups, inventory_hosts, write_group
from kleak_runbook.evidence.runner import MAX_EVENT_RES, write_extravars
from kleak_runbook.evidence.wire import ScriptBuilder
from kleak_runbook.paths import playbook_dir
from kleak_runbook.progress import Progress

# the controller's own paths mean nothing on a node; every other ANSIBLE_* setting is passed on
_LOCAL_ONLY = ("ANSIBLE_SSH_CONTROL_PATH_DIR", "ANSIBLE_LOCAL_TEMP", "ANSIBLE_CONFIG")
# task-level events: the host is done with the task (all loop items) on that node
_HOST_DONE = ("runner_on_ok", "runner_on_failed", "runner_on_unreachable", "runner_on_skipped")


@dataclass
class Node:
    spec: str  # as given: user@host[:port][=GROUP]
    destination: str  # user@host
    port: int | None
    group: str | None
    dead: str | None = None  # why it was given up

    @classmethod
    def parse(cls, spec: str) -> Node:
        where, _, group = spec.partition("=")
        destination, _, port = where.partition(":")
        user, at, host = destination.partition("@")
        if not at or not user or not host or (port and not (port.isascii() and port.isdigit())):
            raise UsageError(f"--execution-node {spec}: expected USER@HOST[:PORT][=GROUP]")
        if port and not 0 < int(port) < 65536:
            raise UsageError(f"--execution-node {spec}: port {port} out of range")
        return cls(spec, destination, int(port) if port else None, group or None)


@dataclass
class Outcome:
    """What ``AnsibleCollector.collect`` reads of a run: status, rc, stdout."""

    status: str
    rc: int | None
    stdout: Any = None


@dataclass
class NodeRun:
    node: Node
    hosts: list[str]
    done: set[str] = field(default_factory=set)
    status: str = "unstarted"
    error: str = ""


def split(hosts: Sequence[str], nodes: Sequence[Node], groups: dict[str, list[str]]) -> list[tuple[Node, list[str]]]:
    """Hosts of a node's ``=GROUP`` go to it (shared evenly by nodes naming the same group);
    the rest are dealt evenly to the nodes without a group (to all nodes if every one has one)."""
    alive = [n for n in nodes if n.dead is None]
    if not alive:
        return []
    share: dict[int, list[str]] = {id(n): [] for n in alive}
    placed: set[str] = set()
    for group in dict.fromkeys(n.group for n in alive if n.group):
        members = [h for h in hosts if h in set(groups.get(group or "", [])) and h not in placed]
        owners = [n for n in alive if n.group == group]
        for i, host in enumerate(members):
            share[id(owners[i % len(owners)])].append(host)
            placed.add(host)
    rest = [h for h in hosts if h not in placed]
    takers = [n for n in alive if n.group is None] or alive
    for i, host in enumerate(rest):
        share[id(takers[i % len(takers)])].append(host)
    return [(n, share[id(n)]) for n in alive if share[id(n)]]


class NodeCollector:
    """Runs the inner ``AnsibleCollector``'s plays on execution nodes instead of the controller."""

    live = True

    def __init__(self, inner: Any, specs: Sequence[str], runner: str, progress: Progress) -> None:
        self.inner = inner
        self.target = inner.target
        self.workdir: Path = inner.workdir
        self.nodes = [Node.parse(s) for s in specs]
        self.runner = runner
        self.progress = progress
        self.incidents: list[dict[str, Any]] = []  # nodes that died, with the hosts they held
        self._local_run = inner._run
        inner._run = self._run  # the inner collector builds batches and handles events; we carry them
        self._procs: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()

    def collect(self, request: Request, hosts: Sequence[str] | None, store_for: Any) -> list[str]:
        return list(self.inner.collect(request, hosts, store_for))

    def close(self) -> None:
        self.inner.close()

    # --- one play, split over the nodes ---------------------------------------------------------
    def _run(
        self,
        private: Path,
        batches: dict[str, ScriptBuilder],
        hosts: Sequence[str] | None,
        handler: Callable[[dict[str, Any]], bool],
        request: Request,
    ) -> Outcome:
        t = self.target
        wanted = list(hosts) if hosts is not None else inventory_hosts(t.inventory, t.limit)
        groups = inventory_groups(t.inventory) if any(n.group for n in self.nodes) else {}
        plan = split(wanted, self.nodes, groups)
        if not plan:  # every node has died: the controller carries on alone
            return self._local_run(private, batches, wanted, handler, request)  # type: ignore[no-any-return]
        runs = self._run_all(plan, private, batches, handler, request)
        for run in runs:
            if run.node.dead is None:
                continue
            left = [h for h in run.hosts if h not in run.done]
            incident = {"node": run.node.spec, "reason": run.node.dead, "hosts": run.hosts, "retried": left}
            self.incidents.append(incident)
            self.progress.say(
                f"execution node {run.node.spec} died ({run.node.dead}) holding {len(run.hosts)} hosts; "
                f"{len(left)} unfinished: running them again elsewhere"
            )
            if left:
                retry = split(left, self.nodes, {})
                if retry:
                    again = self._run_all(retry, private, batches, handler, request)
                    incident["retried_on"] = sorted({r.node.spec for r in again})
                    lost = [h for r in again if r.node.dead for h in r.hosts if h not in r.done]
                    if lost:  # retried once only: these hosts end without a verdict, and say so
                        incident["lost"] = lost
                else:  # no node left: the controller runs them itself
                    incident["retried_on"] = ["controller"]
                    self._local_run(
                        Path(tempfile.mkdtemp(prefix="local-", dir=private)), batches, left, handler, request
                    )
        return Outcome("successful", 0)

    def _run_all(
        self,
        plan: list[tuple[Node, list[str]]],
        private: Path,
        batches: dict[str, ScriptBuilder],
        handler: Callable[[dict[str, Any]], bool],
        request: Request,
    ) -> list[NodeRun]:
        runs = [NodeRun(node, hosts) for node, hosts in plan]
        threads = [
            threading.Thread(target=self._stream, args=(run, private, batches, handler, request), daemon=True)
            for run in runs
        ]
        for th in threads:
            th.start()
        try:
            for th in threads:
                th.join()
        except KeyboardInterrupt:
            with self._lock:
                for proc in self._procs:
                    proc.kill()
            raise
        return runs

    def _stream(
        self,
        run: NodeRun,
        private: Path,
        batches: dict[str, ScriptBuilder],
        handler: Callable[[dict[str, Any]], bool],
        request: Request,
    ) -> None:
        """transmit → ``ssh node ansible-runner worker`` → process, for one node's share of hosts."""
        import ansible_runner

        data = Path(tempfile.mkdtemp(prefix="node-", dir=private))  # what the node gets
        back = Path(tempfile.mkdtemp(prefix="back-", dir=private))  # what the processor keeps
        try:
            kwargs = self._prepare(data, run, batches, request)

            def on_event(event: dict[str, Any]) -> bool:
                host = (event.get("event_data") or {}).get("host")
                if event.get("event") in _HOST_DONE and host:
                    run.done.add(host)
                return handler(event)

            proc = self._start_ssh(run.node, back / "ssh.stderr")
            assert proc.stdin is not None and proc.stdout is not None
            sender = threading.Thread(target=_transmit, args=(ansible_runner, kwargs, proc.stdin), daemon=True)
            sender.start()
            processor = ansible_runner.run(
                streamer="process", _input=proc.stdout, private_data_dir=str(back), event_handler=on_event, quiet=True
            )
            run.status = processor.status
            proc.stdout.close()
            proc.wait()
            sender.join(timeout=5)
            _judge(run, proc.returncode, back / "ssh.stderr")
        except OSError as exc:
            run.node.dead = f"could not start ssh: {exc.strerror or exc}"
        finally:
            shutil.rmtree(data, ignore_errors=True)
            shutil.rmtree(back, ignore_errors=True)

    def _start_ssh(self, node: Node, stderr: Path) -> subprocess.Popen[bytes]:
        # ssh's stderr goes to a file: a pipe nobody reads while the stream runs could fill and stall it
        with open(stderr, "wb") as err_file:
            proc = subprocess.Popen(self._ssh(node), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err_file)
        with self._lock:
            self._procs.add(proc)
        return proc

    def _prepare(self, data: Path, run: NodeRun, batches: dict[str, ScriptBuilder], request: Request) -> dict[str, Any]:
        """The private data dir the node gets (project, inventory, env) and the run's arguments."""
        t = self.target
        (data / "project").mkdir()
        shutil.copy(playbook_dir() / "collect.yml", data / "project" / "collect.yml")
        inventory = data / "inventory"
        inventory.mkdir()
        for i, source in enumerate(t.inventory):
            _copy_inventory(Path(source), inventory, i)
        write_group(inventory, "kleak_node", run.hosts)
        per_batch = max(30.0, request.interval * 2 + 30)
        batch_docs = [
            {"label": b.label, "command": b.as_raw_command(), "timeout": int(per_batch)} for b in batches.values()
        ]
        write_extravars(data, {"kleak_target": "all", "kleak_batches": batch_docs, **t.extra_vars})
        return {
            "private_data_dir": str(data),
            # absolute paths inside the data dir: transmit sends them relative, the worker re-roots them
            "playbook": str(data / "project" / "collect.yml"),
            "inventory": str(inventory),
            "limit": "kleak_node",
            "cmdline": " ".join(shlex.quote(c) for c in _cmdline(t)),
            "envvars": _envvars(request, t.port),
            "timeout": int(request.timeout + request.samples * request.interval + 60),
            "suppress_env_files": True,
            "suppress_output_file": True,  # else the play's stdout comes back a second time, zipped
            "quiet": True,
        }

    def _ssh(self, node: Node) -> list[str]:
        runner = self.runner
        path = f'PATH={shlex.quote(os.path.dirname(runner))}:"$PATH" ' if os.path.isabs(runner) else ""
        remote = f'd=$(mktemp -d) && {path}exec {shlex.quote(runner)} worker --private-data-dir "$d" --delete'
        cmd = ["ssh", "-o", "BatchMode=yes", *shlex.split(os.environ.get("KLEAK_NODE_SSH_ARGS", ""))]
        if node.port:
            cmd += ["-p", str(node.port)]
        return [*cmd, node.destination, remote]


def _judge(run: NodeRun, returncode: int | None, stderr: Path) -> None:
    """A stream that ended without the run's final status means the node (or its ssh) died;
    "failed" is the play's own outcome (a host unreachable: ansible-playbook exits 4), not the node's."""
    if run.status in ("successful", "failed", "timeout"):
        return
    err = stderr.read_text(errors="replace").strip()
    last = err.splitlines()[-1] if err else f"worker stream ended ({run.status})"
    run.node.dead = f"ssh exit {returncode}: {last}"


def _transmit(ansible_runner: Any, kwargs: dict[str, Any], out: Any) -> None:
    try:
        ansible_runner.run(streamer="transmit", _output=out, **kwargs)
    except (OSError, ValueError):
        pass  # the node went away while we sent: the processor side reports it
    finally:
        with contextlib.suppress(OSError):
            out.close()


def _copy_inventory(source: Path, into: Path, index: int) -> None:
    """An inventory file (with the group_vars/host_vars beside it) or directory, for the node."""
    if source.is_dir():
        shutil.copytree(source, into / f"{index}-{source.name}")
        return
    shutil.copy(source, into / f"{index}-{source.name}")
    for extra in ("group_vars", "host_vars"):
        if (source.parent / extra).is_dir() and not (into / extra).exists():
            shutil.copytree(source.parent / extra, into / extra)


def _cmdline(t: Any) -> list[str]:
    out = [f"--forks={t.forks}"]
    if t.user:
        out += ["-u", t.user]
    if t.private_key:
        out += ["--private-key", t.private_key]
    if t.become:
        out += ["--become"] + (["--become-user", t.become_user] if t.become_user else [])
    if t.verbose:
        out.append("-" + "v" * t.verbose)
    return out


def _envvars(request: Request, port: int | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.startswith("ANSIBLE_") and k not in _LOCAL_ONLY}
    env.update(
        {
            "MAX_EVENT_RES": MAX_EVENT_RES,
            "ANSIBLE_SSH_USETTY": "False",
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
            "ANSIBLE_NOCOLOR": "True",
            "ANSIBLE_DEPRECATION_WARNINGS": "False",
            "ANSIBLE_TIMEOUT": str(int(min(30, request.timeout))),
        }
    )
    if port:
        env["ANSIBLE_REMOTE_PORT"] = str(port)
    return env
