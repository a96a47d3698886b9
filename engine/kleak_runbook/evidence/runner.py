"""Running the collection play through ansible-runner: environment, signals, and the pty close.

Secrets never reach a command line: ``-e`` variables travel in the private data dir's
``env/extravars`` file (mode 0600), which ansible-runner hands to ansible-playbook as ``@file``.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from kleak_runbook.evidence.collector import Request
from kleak_runbook.evidence.wire import ScriptBuilder
from kleak_runbook.paths import playbook_dir

# ansible-runner drops an event's result above MAX_EVENT_RES (700 kB by default); a big
# /proc/vmallocinfo is several MB. Raise it; wire.py's byte counts catch any loss left.
MAX_EVENT_RES = str(512 * 1024 * 1024)


def run_play(
    target: Any,
    control_dir: Path,
    ssh_args: list[str],
    private: Path,
    batches: dict[str, ScriptBuilder],
    hosts: Sequence[str] | None,
    handler: Any,
    request: Request,
) -> Any:
    import ansible_runner  # slow import; only live runs pay for it

    t = target
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
        result = _runner_run(
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


def _runner_run(
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
    with prompt_close():
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
