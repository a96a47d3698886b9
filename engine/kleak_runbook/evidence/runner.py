"""Running the collection play through ansible-runner: environment, signals, and the pty close.

Secrets never reach a command line: ``-e`` variables travel in the private data dir's
``env/extravars`` file (mode 0600), which ansible-runner hands to ansible-playbook as ``@file``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from kleak_runbook.evidence.collector import Request
from kleak_runbook.evidence.wire import ScriptBuilder
from kleak_runbook.paths import playbook_dir

# ansible-runner drops an event's result above MAX_EVENT_RES (700 kB by default); a big
# /proc/vmallocinfo is several MB. Raise it; wire.py's byte counts catch any loss left.
MAX_EVENT_RES = str(512 * 1024 * 1024)
# One batch goes as an ad-hoc `ansible -m raw -a <script>`: the same raw exec and the same
# events, without loading a playbook and templating a loop, which costs ansible-playbook
# ~0.2 s of CPU more than `ansible` (bench/README.md). Several batches (samples) need the loop.
# The script is then an argument: Linux caps one at 128 KiB (MAX_ARG_STRLEN).
MAX_ADHOC_SCRIPT = 64 * 1024
MAX_READ = 64 * 1024  # bytes of Ansible's output ansible-runner reads at a time (_big_reads)
POLL_S = 0.05  # how often the run looks at Ctrl-C, at replies all in, and at work to do while waiting


def _children(pid: int) -> list[int]:
    try:  # the kernel's own list (CONFIG_PROC_CHILDREN): one read instead of every process's stat
        tasks = os.listdir(f"/proc/{pid}/task")
        return [int(c) for t in tasks for c in Path(f"/proc/{pid}/task/{t}/children").read_text().split()]
    except (OSError, ValueError):
        pass
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[1] == str(pid):
            out.append(int(stat.parent.name))
    return out


def _is_ansible(pid: int) -> bool:
    """Whether the process runs ansible-playbook or ansible (as a script: its interpreter comes first)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:2]
    except OSError:
        return False
    return any(os.path.basename(a) in (b"ansible", b"ansible-playbook") for a in argv)


def _stop_playbook() -> bool:
    """Kill what ansible-playbook (or ad-hoc ansible) started (local shells, ssh clients: a remote
    script's trap then disarms what it armed) so its pty closes now: ansible-runner, once cancelled,
    kills the playbook's process group but then waits up to 5 s for the pty, which those still hold."""
    todo = [p for p in _children(os.getpid()) if _is_ansible(p)]
    tree: list[int] = []
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(_children(pid))
    for pid in reversed(tree):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return True


def _stop_when_done(handler: Any, finished: Callable[[], bool] | None) -> Any:
    """``handler``, then, once ``finished`` says every reply is in, Ansible stopped at once.

    ansible-runner asks the cancel callback only when a read of Ansible's output times out
    (``POLL_S``), so the run would otherwise go on for up to that long after the last reply, while
    Ansible ends its task and prints its recap. Killed here, as ansible-runner's own cancel would
    (the process group), its pty ends now; the cancel callback that runs next sees ``finished``
    and the run ends ``canceled``, as before. Every script has ended by then: its reply is complete."""
    if finished is None:
        return handler
    stopped: list[bool] = []

    def on_event(event: dict[str, Any]) -> Any:
        keep = handler(event)
        if not stopped and finished():
            stopped.append(True)
            for pid in _children(os.getpid()):
                if _is_ansible(pid):
                    with contextlib.suppress(OSError):
                        group = os.getpgid(pid)  # its own (pexpect's setsid): never ours
                        os.killpg(group, signal.SIGKILL) if group != os.getpgrp() else os.kill(pid, signal.SIGKILL)
        return keep

    return on_event


def write_extravars(private: Path, extravars: dict[str, Any]) -> None:
    """Variables go to ansible-playbook as ``-e @<private>/env/extravars`` (ansible-runner's own
    file), created 0600: passed as ``extravars=``, ansible-runner would put them inline on the
    command line, readable by any local user in /proc/<pid>/cmdline (``-e ansible_password=...``)."""
    env_dir = private / "env"
    env_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(env_dir / "extravars", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(extravars, fh)
    # ansible-runner looks at the cancel callback only when a read of the child's output times
    # out (output alone does not end a read): every pexpect_timeout. Its 5 s default would keep
    # a Ctrl-C waiting through a sample's sleep, and the run waiting for Ansible's own end after
    # the last reply is in (_done). (Given as run(settings=...), the value is dropped when
    # env/settings does not exist: it has to be this file.)
    (env_dir / "settings").write_text(json.dumps({"pexpect_timeout": POLL_S}), encoding="utf-8")


def run_play(
    target: Any,
    control_dir: Path,
    ssh_args: list[str],
    private: Path,
    batches: dict[str, ScriptBuilder],
    hosts: Sequence[str] | None,
    handler: Any,
    request: Request,
    finished: Callable[[], bool] | None = None,
    idle: list[Callable[[], object]] | None = None,
) -> Any:
    """Run the batches; ``finished`` says every reply the caller waits for is in (see ``_done``);
    ``idle`` is work to do while Ansible starts (see ``_while_waiting``), taken from the list."""
    import ansible_runner  # slow import; only live runs pay for it

    t = target
    per_batch = int(max(30.0, request.interval * 2 + 30))
    commands = [b.as_raw_command() for b in batches.values()]
    adhoc = len(commands) == 1 and len(commands[0]) <= MAX_ADHOC_SCRIPT
    extravars: dict[str, Any] = dict(t.extra_vars)
    if not adhoc:
        extravars["kleak_target"] = "all"
        extravars["kleak_batches"] = [
            {"label": b.label, "command": c, "timeout": per_batch} for b, c in zip(batches.values(), commands)
        ]
    write_extravars(private, extravars)
    cmdline: list[str] = [f"--forks={t.forks}"] + ([f"--task-timeout={per_batch}"] if adhoc else [])
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
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(control_dir),
        # no -C: /proc text is small and compressing it costs more time than it saves
        "ANSIBLE_SSH_ARGS": shlex.join(ssh_args),
        # raw over `ssh -tt` would merge stderr into stdout and turn \n into \r\n.
        "ANSIBLE_SSH_USETTY": "False",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_LOCAL_TEMP": str(private / "tmp"),
        "ANSIBLE_NOCOLOR": "True",
        "ANSIBLE_DEPRECATION_WARNINGS": "False",
        "ANSIBLE_TIMEOUT": str(int(min(30, request.timeout))),
        # what ansible-runner's awx_display prints for each result, besides the event it sends:
        # for an ad-hoc run it would be `minimal`, which prints the whole reply once more in
        # every event (a third of its size); `default` prints "changed: [host]". Nothing reads
        # that text (quiet=True, no stdout file): the reply is the event's own result.
        "ANSIBLE_STDOUT_CALLBACK": "default",
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
        what = {"module": "raw", "module_args": commands[0], "host_pattern": "all"} if adhoc else {}
        result = _runner_run(
            ansible_runner,
            private,
            inventory,
            limit,
            cmdline,
            env,
            _stop_when_done(handler, finished),
            request,
            lambda: _while_waiting(idle) or (bool(interrupted) and _stop_playbook()) or _done(finished),
            what,
        )
    finally:
        for s, h in saved.items():
            signal.signal(s, h)
    if interrupted:
        raise KeyboardInterrupt
    return result


def _while_waiting(idle: list[Callable[[], object]] | None) -> bool:
    """Do ``idle``'s work now, in this thread, while ansible-playbook imports for half a second.

    ansible-runner calls the cancel callback within ``POLL_S`` of starting the child, long before
    Ansible reaches the host; the work is what would otherwise follow the collection (compiling
    the report template, ...). The main thread does it, not a thread of its own: no import can
    then race another. A failure is ignored: the work is done (and fails properly) again where
    it is needed."""
    while idle:
        with contextlib.suppress(Exception):
            idle.pop(0)()
    return False


def _done(finished: Callable[[], bool] | None) -> bool:
    """Cancel the run once every reply is in: what Ansible does after the last item (the task's
    end, the play recap, its exit: ~0.1-0.2 s) brings nothing the tool reads, and a cancelled run
    is killed at once. Every script has ended by then (its reply is complete), so nothing is cut."""
    return finished is not None and finished()


@contextlib.contextmanager
def prompt_close() -> Iterator[None]:
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


@contextlib.contextmanager
def _big_reads() -> Iterator[None]:
    """ansible-runner's pexpect reads Ansible's output ``MAX_READ`` at a time, not 2,000 bytes.

    A reply travels as one event: the script's output twice over (``stdout`` and
    ``stdout_lines``), as JSON, in base64, several hundred KB through the pty. pexpect's default
    read size (2,000 bytes) made that hundreds of reads, each through its expect loop and
    ansible-runner's event filter; what arrives is the same either way."""
    import pexpect

    original = pexpect.spawn.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("maxread", MAX_READ)
        original(self, *args, **kwargs)

    pexpect.spawn.__init__ = init
    try:
        yield
    finally:
        pexpect.spawn.__init__ = original


def _runner_run(
    ansible_runner: Any,
    private: Path,
    inventory: Any,
    limit: str | None,
    cmdline: list[str],
    env: dict[str, str],
    handler: Any,
    request: Request,
    cancel: Any,
    what: dict[str, str],
) -> Any:
    """``what``: the ad-hoc module and its arguments; empty, the collection playbook."""
    with prompt_close(), _big_reads():
        return ansible_runner.run(
            cancel_callback=cancel,
            private_data_dir=str(private),
            **(what or {"playbook": str(playbook_dir() / "collect.yml")}),
            inventory=inventory,
            limit=limit,
            cmdline=" ".join(shlex.quote(c) for c in cmdline),
            envvars=env,
            event_handler=handler,
            quiet=True,
            timeout=int(request.timeout + request.samples * request.interval + 60),
            suppress_env_files=True,
            suppress_output_file=True,
        )
